"""``repro add``: capture outputs as records, in small steps.

``verb`` runs the command (lock, batches, tags); for each file ``output``
reads its bytes once, ``models`` resolves and stores each model the
generation names, ``inputs`` finds its inputs and the parents they make,
and ``build`` lays what a live server observed over the file's metadata,
asks ``repro.verdict`` for the level and assembles the ``Record``. The
``Session`` holds what the files of one command share.

Write order (a crash can only leave unreferenced objects): model, input,
output and metadata objects first, then the record object, then the index
and the tag.
"""

from repro.api.add.build import Live
from repro.api.add.output import iso_time
from repro.api.add.verb import AddResult, Captured, add, iter_files

__all__ = ["AddResult", "Captured", "Live", "add", "iso_time", "iter_files"]
