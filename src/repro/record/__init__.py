"""The record: one shape for what repro knows about an output.

A leaf package (it imports nothing else from repro): the typed parts of a
record (``types``), its words (``vocabulary``), the one spelling of a hash
(``hashes``), its canonical bytes (``codec``) and the schema check ``fsck``
runs (``check``).
"""

from repro.record.check import check
from repro.record.codec import (
    canonical_bytes,
    exact_numbers,
    from_bytes,
    looks_like_record,
    record_id,
)
from repro.record.hashes import is_blake3, normalise_hash
from repro.record.types import (
    SCHEMA,
    SCHEMAS,
    Assessment,
    Captured,
    InputEntry,
    ModelEntry,
    Output,
    Params,
    Parent,
    Reason,
    Record,
    SchemaError,
    Source,
    Tool,
)
from repro.record.vocabulary import LEVELS, worst_level

__all__ = [
    "LEVELS", "SCHEMA", "SCHEMAS", "Assessment", "Captured", "InputEntry", "ModelEntry", "Output",
    "Params", "Parent", "Reason", "Record", "SchemaError", "Source", "Tool", "canonical_bytes",
    "check", "exact_numbers", "from_bytes", "is_blake3", "looks_like_record", "normalise_hash",
    "record_id", "worst_level",
]
