"""Ingest: files, folders and STAC documents -> scenes with footprints and site/zone coverage.

Per file: hash, read metadata and footprint, compute coverage for every site, then write the
scene and its coverage in one transaction. The same bytes twice are one scene ("known").
A bad file is recorded as failed and the batch goes on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sitewatch.core.models import Coverage, RunReport, Scene, Site
from sitewatch.core.ports import Store
from sitewatch.errors import InputError, SitewatchError
from sitewatch.geo.coverage import compute_coverage
from sitewatch.imagery.discover import IngestInput, discover_inputs
from sitewatch.imagery.scenes import read_scene, sha256_file
from sitewatch.pipeline.progress import Progress, no_progress
from sitewatch.types import utc_now


class IngestOutcome(StrEnum):
    """What happened to one input."""

    ADDED = "added"
    KNOWN = "known"
    NO_SITE = "no_site"
    FAILED = "failed"


@dataclass(frozen=True)
class IngestItem:
    """One input's result."""

    path: str
    outcome: IngestOutcome
    scene_id: str | None = None
    message: str = ""
    bad_input: bool = False
    coverage: tuple[Coverage, ...] = ()


@dataclass
class IngestResult:
    """Everything one ingest did, and its run record."""

    items: list[IngestItem] = field(default_factory=list)
    report: RunReport | None = None

    def count(self, outcome: IngestOutcome) -> int:
        """How many inputs ended with this outcome."""
        return sum(1 for i in self.items if i.outcome == outcome)

    @property
    def bad_input(self) -> bool:
        """True when some input was refused as bad input."""
        return any(i.bad_input for i in self.items)


def _ingest_one(inp: IngestInput, store: Store, sites: list[Site]) -> IngestItem:
    path = inp.path
    digest = sha256_file(path)
    known = store.find_scene_by_sha256(digest)
    if known is not None:
        return IngestItem(str(path), IngestOutcome.KNOWN, known.id, f"already known as {known.id}")
    scene: Scene = read_scene(path, inp.hints, sha256=digest)
    coverage = [row for site in sites for row in compute_coverage(scene.id, scene.footprint, site)]
    store.add_scene(scene, coverage)
    outcome = IngestOutcome.ADDED if coverage else IngestOutcome.NO_SITE
    msg = "" if coverage else "overlaps no watched site"
    return IngestItem(str(path), outcome, scene.id, msg, coverage=tuple(coverage))


def ingest_paths(
    paths: list[Path],
    store: Store,
    acquired_fallback: datetime | None = None,
    progress: Progress = no_progress,
) -> IngestResult:
    """Ingest files, folders and STAC documents; carry on past bad items and record the run.

    Raises:
        InputError: only for problems with the arguments themselves (a path that does not
            exist, an invalid STAC document): nothing has been ingested then.
    """
    started = utc_now()
    inputs = discover_inputs(paths, acquired_fallback)
    result = IngestResult()
    sites = store.list_sites()
    for n, inp in enumerate(inputs):
        progress(n, len(inputs), inp.path.name)
        try:
            item = _ingest_one(inp, store, sites)
        except InputError as exc:
            item = IngestItem(str(inp.path), IngestOutcome.FAILED, None, str(exc), bad_input=True)
        except SitewatchError as exc:
            item = IngestItem(str(inp.path), IngestOutcome.FAILED, None, str(exc))
        result.items.append(item)
    progress(len(inputs), len(inputs), "done")
    report = RunReport(
        run_id=str(uuid.uuid4()),
        kind="ingest",
        started_at=started,
        finished_at=utc_now(),
        ok=tuple(i.scene_id or i.path for i in result.items if i.outcome != IngestOutcome.FAILED),
        skipped=tuple(
            (i.path, i.message) for i in result.items if i.outcome == IngestOutcome.KNOWN
        ),
        failed=tuple(
            (i.path, i.message) for i in result.items if i.outcome == IngestOutcome.FAILED
        ),
        params={
            "paths": [str(p) for p in paths],
            "acquired_fallback": acquired_fallback.isoformat() if acquired_fallback else None,
        },
    )
    store.record_run(report)
    result.report = report
    return result
