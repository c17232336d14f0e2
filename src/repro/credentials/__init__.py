"""Content credentials for delivery: IPTC digital source type in XMP, and C2PA
manifests signed and validated with the C2PA reference library
(``c2pa-python``), built from a record's facts.
"""
