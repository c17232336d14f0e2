"""repro: a versioned object store with a lineage graph for generated images."""

__version__ = "0.1.0"
