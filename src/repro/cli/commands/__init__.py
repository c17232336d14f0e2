"""One module per ``repro`` command: options, one library call, rendering."""
