"""Remotes: a copy of a store's objects, records and tags on an S3-compatible
object store or in a plain folder (a NAS share).

``spec`` names and parses remotes, ``base`` is the one ``Remote`` protocol,
``folder`` and ``s3`` implement it, ``index`` keeps the remote's own index of
its contents (never a listing of the bucket), ``pack`` packs small objects and
``transfer`` moves what is missing in either direction. Nothing here imports
``repro.api``.
"""
