"""Orchestration: the only place where I/O meets compute. Idempotent, and records a RunReport."""

from sitewatch.pipeline.chips import ChipOptions, ChipResult, make_chips
from sitewatch.pipeline.ingest import IngestOutcome, IngestResult, ingest_paths
from sitewatch.pipeline.sites import import_sites

__all__ = [
    "ChipOptions",
    "ChipResult",
    "IngestOutcome",
    "IngestResult",
    "import_sites",
    "ingest_paths",
    "make_chips",
]
