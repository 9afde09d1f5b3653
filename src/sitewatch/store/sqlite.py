"""`SqliteStore`: the embedded default store, SQLite in WAL mode under $SITEWATCH_HOME.

Every write is one transaction: a failure (or a crash) part-way leaves the store as it was.
SQLAlchemy errors are wrapped into `StoreError` here and never leave this module.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from shapely.geometry import mapping, shape
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from sitewatch.core.models import (
    ChipRecord,
    Coregistration,
    Coverage,
    Detection,
    DetectionSet,
    DetectionSetRecord,
    ObjectClass,
    OrientedBox,
    RunReport,
    Scene,
    Site,
    SiteGrid,
    Zone,
    ZoneKind,
    ZoneQuality,
)
from sitewatch.errors import NotFoundError, StoreError
from sitewatch.store import schema as t
from sitewatch.store.analytics import AnalyticsStoreMixin
from sitewatch.types import utc_now

DB_NAME = "sitewatch.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def _geojson(geom: Any) -> str:
    return json.dumps(mapping(geom))


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest Alembic revision (no-op when it is there)."""
    cfg = _alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


INSERT_CHUNK = 5000  # rows per executemany: bounded memory for huge detection sets


class SqliteStore(AnalyticsStoreMixin):
    """The Store on one SQLite file (WAL journal, foreign keys on)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{db_path.parent}: cannot create the store folder: {exc}") from exc
        self.engine = create_engine(f"sqlite:///{db_path}")
        event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            migrate(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"{db_path}: cannot open or migrate the store: {exc}") from exc

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.db_path}: store operation failed: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.db_path}: store read failed: {exc}") from exc

    # sites -------------------------------------------------------------------------------
    def upsert_sites(self, sites: Sequence[tuple[Site, SiteGrid]]) -> None:
        """Insert or update sites, replacing their zones, all in one transaction.

        Scenes, coverage and chips of a site survive an update; its zone quality survives only
        when the zones are unchanged (same ids, kinds and geometries), else it is computed again
        with the next chips (`sitewatch run` remakes the chips whose quality is missing).
        """
        now = utc_now()
        with self._tx() as conn:
            for site, grid in sites:
                old = {
                    (r["id"], r["kind"], r["geometry"])
                    for r in conn.execute(
                        select(t.zones).where(t.zones.c.site_id == site.id)
                    ).mappings()
                }
                new = {(z.id, z.kind.value, _geojson(z.geometry)) for z in site.zones}
                same_zones = old == new
                if not same_zones:
                    # zone quality rows go with their zones (foreign key, cascade)
                    conn.execute(delete(t.zone_quality).where(t.zone_quality.c.site_id == site.id))
                    conn.execute(delete(t.zones).where(t.zones.c.site_id == site.id))
                values: dict[str, Any] = dict(
                    name=site.name,
                    geometry=_geojson(site.geometry),
                    gsd_m=site.gsd_m,
                    tags=list(site.tags),
                    notes=site.notes,
                    attributes=dict(site.attributes),
                    grid_crs=grid.crs,
                    grid_west=grid.west,
                    grid_north=grid.north,
                    grid_width=grid.width,
                    grid_height=grid.height,
                    updated_at=now,
                )
                stmt = sqlite_insert(t.sites).values(id=site.id, **values)
                conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
                for pos, z in enumerate(site.zones):
                    row = dict(
                        position=pos,
                        kind=z.kind.value,
                        name=z.name,
                        geometry=_geojson(z.geometry),
                        classes=[c.value for c in z.classes],
                        attributes=dict(z.attributes),
                    )
                    if same_zones:  # keep the rows (and their quality); refresh the rest
                        conn.execute(
                            update(t.zones)
                            .where(t.zones.c.site_id == site.id, t.zones.c.id == z.id)
                            .values(**row)
                        )
                    else:
                        conn.execute(insert(t.zones).values(site_id=site.id, id=z.id, **row))

    def _sites(self, conn: Connection, site_id: str | None) -> list[Site]:
        q = select(t.sites).order_by(t.sites.c.id)
        zq = select(t.zones).order_by(t.zones.c.site_id, t.zones.c.position)
        if site_id is not None:
            q = q.where(t.sites.c.id == site_id)
            zq = zq.where(t.zones.c.site_id == site_id)
        zones: dict[str, list[Zone]] = {}
        for r in conn.execute(zq).mappings():
            zones.setdefault(r["site_id"], []).append(
                Zone(
                    id=r["id"],
                    site_id=r["site_id"],
                    kind=ZoneKind(r["kind"]),
                    geometry=shape(json.loads(r["geometry"])),
                    classes=tuple(ObjectClass(c) for c in r["classes"]),
                    name=r["name"],
                    attributes=r["attributes"],
                )
            )
        return [
            Site(
                id=r["id"],
                name=r["name"],
                geometry=shape(json.loads(r["geometry"])),
                gsd_m=r["gsd_m"],
                tags=tuple(r["tags"]),
                notes=r["notes"],
                zones=tuple(zones.get(r["id"], [])),
                attributes=r["attributes"],
            )
            for r in conn.execute(q).mappings()
        ]

    def list_sites(self) -> list[Site]:
        """All sites, sorted by id."""
        with self._read() as conn:
            return self._sites(conn, None)

    def get_site(self, site_id: str) -> Site:
        """The site with this id; NotFoundError when unknown."""
        with self._read() as conn:
            found = self._sites(conn, site_id)
            if found:
                return found[0]
            known = [r[0] for r in conn.execute(select(t.sites.c.id).order_by(t.sites.c.id))]
        hint = (
            f"known sites: {', '.join(known)}"
            if known
            else "no sites yet: run 'sitewatch sites import FILE'"
        )
        raise NotFoundError(f"unknown site id '{site_id}' ({hint})")

    def get_grid(self, site_id: str) -> SiteGrid:
        """The fixed grid of a site; NotFoundError when unknown."""
        with self._read() as conn:
            r = conn.execute(select(t.sites).where(t.sites.c.id == site_id)).mappings().first()
        if r is None:
            self.get_site(site_id)  # raises NotFoundError with the known ids
            raise NotFoundError(f"unknown site id '{site_id}'")
        return SiteGrid(
            site_id=site_id,
            crs=r["grid_crs"],
            gsd_m=r["gsd_m"],
            west=r["grid_west"],
            north=r["grid_north"],
            width=r["grid_width"],
            height=r["grid_height"],
        )

    # scenes ------------------------------------------------------------------------------
    @staticmethod
    def _scene(r: Any) -> Scene:
        return Scene(
            id=r["id"],
            sha256=r["sha256"],
            path=r["path"],
            crs_wkt=r["crs_wkt"],
            crs_label=r["crs_label"],
            width=r["width"],
            height=r["height"],
            band_count=r["band_count"],
            dtype=r["dtype"],
            nodata=r["nodata"],
            gsd_m=r["gsd_m"],
            footprint=shape(json.loads(r["footprint"])),
            acquired_at=r["acquired_at"],
            sensor=r["sensor"],
            off_nadir_deg=r["off_nadir_deg"],
            sun_elevation_deg=r["sun_elevation_deg"],
            stac_item_id=r["stac_item_id"],
            overview_count=r["overview_count"],
            metadata=r["metadata"],
        )

    def find_scene_by_sha256(self, sha256: str) -> Scene | None:
        """The scene with these bytes, if any."""
        with self._read() as conn:
            r = conn.execute(select(t.scenes).where(t.scenes.c.sha256 == sha256)).mappings().first()
        return None if r is None else self._scene(r)

    def add_scene(self, scene: Scene, coverage: Sequence[Coverage]) -> None:
        """Insert a scene and its coverage rows in one transaction."""
        with self._tx() as conn:
            conn.execute(
                insert(t.scenes).values(
                    id=scene.id,
                    sha256=scene.sha256,
                    path=scene.path,
                    crs_wkt=scene.crs_wkt,
                    crs_label=scene.crs_label,
                    width=scene.width,
                    height=scene.height,
                    band_count=scene.band_count,
                    dtype=scene.dtype,
                    nodata=scene.nodata,
                    gsd_m=scene.gsd_m,
                    footprint=_geojson(scene.footprint),
                    acquired_at=scene.acquired_at,
                    sensor=scene.sensor,
                    off_nadir_deg=scene.off_nadir_deg,
                    sun_elevation_deg=scene.sun_elevation_deg,
                    stac_item_id=scene.stac_item_id,
                    overview_count=scene.overview_count,
                    metadata=dict(scene.metadata),
                    ingested_at=utc_now(),
                )
            )
            self._insert_coverage(conn, coverage)

    @staticmethod
    def _insert_coverage(conn: Connection, coverage: Sequence[Coverage]) -> None:
        for c in coverage:
            conn.execute(
                insert(t.coverage).values(
                    scene_id=c.scene_id,
                    site_id=c.site_id,
                    zone_id=c.zone_id or "",
                    covered_fraction=c.covered_fraction,
                )
            )

    def list_scenes(self, site_id: str | None = None) -> list[Scene]:
        """All scenes, or those covering a site, ordered by acquisition time then id."""
        q = select(t.scenes).order_by(t.scenes.c.acquired_at, t.scenes.c.id)
        if site_id is not None:
            covering = select(t.coverage.c.scene_id).where(
                t.coverage.c.site_id == site_id, t.coverage.c.zone_id == ""
            )
            q = q.where(t.scenes.c.id.in_(covering))
        with self._read() as conn:
            return [self._scene(r) for r in conn.execute(q).mappings()]

    def get_scene(self, scene_id: str) -> Scene:
        """The scene with this id (or a unique prefix of it); NotFoundError when unknown."""
        with self._read() as conn:
            rows = list(
                conn.execute(select(t.scenes).where(t.scenes.c.id.startswith(scene_id))).mappings()
            )
        if len(rows) == 1:
            return self._scene(rows[0])
        if not rows:
            raise NotFoundError(f"unknown scene id '{scene_id}'; see 'sitewatch scenes list'")
        raise NotFoundError(f"scene id prefix '{scene_id}' is ambiguous ({len(rows)} scenes)")

    # coverage ----------------------------------------------------------------------------
    def replace_coverage(self, site_id: str, coverage: Sequence[Coverage]) -> None:
        """Replace every coverage row of a site in one transaction."""
        with self._tx() as conn:
            conn.execute(delete(t.coverage).where(t.coverage.c.site_id == site_id))
            self._insert_coverage(conn, coverage)

    def list_coverage(
        self, site_id: str | None = None, scene_id: str | None = None
    ) -> list[Coverage]:
        """Coverage rows, filtered by site and/or scene."""
        q = select(t.coverage).order_by(
            t.coverage.c.scene_id, t.coverage.c.site_id, t.coverage.c.zone_id
        )
        if site_id is not None:
            q = q.where(t.coverage.c.site_id == site_id)
        if scene_id is not None:
            q = q.where(t.coverage.c.scene_id == scene_id)
        with self._read() as conn:
            return [
                Coverage(r["scene_id"], r["site_id"], r["zone_id"] or None, r["covered_fraction"])
                for r in conn.execute(q).mappings()
            ]

    # chips, quality, co-registration ----------------------------------------------------------
    def save_chip_results(
        self,
        chips: Sequence[ChipRecord],
        quality: Sequence[ZoneQuality],
        coregistrations: Sequence[Coregistration],
    ) -> None:
        """Record chips, zone quality and co-registrations (same keys replaced), in one transaction."""
        now = utc_now()
        with self._tx() as conn:
            for c in chips:
                conn.execute(
                    delete(t.chips).where(t.chips.c.site_id == c.site_id, t.chips.c.key == c.key)
                )
                conn.execute(
                    insert(t.chips).values(
                        site_id=c.site_id,
                        key=c.key,
                        acquired_on=c.acquired_on.isoformat(),
                        scene_ids=list(c.scene_ids),
                        tif_path=c.tif_path,
                        png_path=c.png_path,
                        valid_fraction=c.valid_fraction,
                        shift_dx_px=c.shift_px[0],
                        shift_dy_px=c.shift_px[1],
                        created_at=now,
                    )
                )
            for q in quality:
                conn.execute(
                    delete(t.zone_quality).where(
                        t.zone_quality.c.scene_id == q.scene_id,
                        t.zone_quality.c.site_id == q.site_id,
                        t.zone_quality.c.zone_id == q.zone_id,
                    )
                )
                conn.execute(
                    insert(t.zone_quality).values(
                        scene_id=q.scene_id,
                        site_id=q.site_id,
                        zone_id=q.zone_id,
                        covered_fraction=q.covered_fraction,
                        nodata_fraction=q.nodata_fraction,
                        cloud_score=q.cloud_score,
                        haze_score=q.haze_score,
                        usable=q.usable,
                        reason=q.reason,
                    )
                )
            for g in coregistrations:
                conn.execute(
                    delete(t.coregistrations).where(
                        t.coregistrations.c.site_id == g.site_id,
                        t.coregistrations.c.target_key == g.target_key,
                    )
                )
                conn.execute(
                    insert(t.coregistrations).values(
                        site_id=g.site_id,
                        target_key=g.target_key,
                        reference_key=g.reference_key,
                        dx_px=g.dx_px,
                        dy_px=g.dy_px,
                        confidence=g.confidence,
                        accepted=g.accepted,
                        reason=g.reason,
                        residual_dx_px=g.residual_dx_px,
                        residual_dy_px=g.residual_dy_px,
                        measured_at=now,
                    )
                )

    def list_chips(self, site_id: str, on: date | None = None) -> list[ChipRecord]:
        """Chips of a site, by date then key."""
        q = (
            select(t.chips)
            .where(t.chips.c.site_id == site_id)
            .order_by(t.chips.c.acquired_on, t.chips.c.key)
        )
        if on is not None:
            q = q.where(t.chips.c.acquired_on == on.isoformat())
        with self._read() as conn:
            return [
                ChipRecord(
                    site_id=r["site_id"],
                    key=r["key"],
                    acquired_on=date.fromisoformat(r["acquired_on"]),
                    scene_ids=tuple(r["scene_ids"]),
                    tif_path=r["tif_path"],
                    png_path=r["png_path"],
                    valid_fraction=r["valid_fraction"],
                    shift_px=(r["shift_dx_px"], r["shift_dy_px"]),
                )
                for r in conn.execute(q).mappings()
            ]

    # detections -----------------------------------------------------------------------------
    def save_detection_set(
        self,
        record: DetectionSetRecord,
        dset: DetectionSet,
        lonlat: Sequence[tuple[float, float] | None],
    ) -> None:
        """Store a detection set and its detections, replacing one with the same id."""
        transform = list(dset.transform)[:6] if dset.transform is not None else None
        with self._tx() as conn:
            conn.execute(delete(t.detection_sets).where(t.detection_sets.c.id == record.id))
            conn.execute(
                insert(t.detection_sets).values(
                    id=record.id,
                    target_kind=record.target_kind,
                    scene_id=record.scene_id,
                    site_id=record.site_id,
                    chip_key=record.chip_key,
                    model_id=dset.model.model_id,
                    model_sha256=dset.model.sha256,
                    model_layout=dset.model.layout,
                    params=dict(dset.params),
                    crs_wkt=dset.crs,
                    transform=transform,
                    tiles_run=dset.tiles_run,
                    tiles_skipped=dset.tiles_skipped_empty,
                    created_at=utc_now(),
                )
            )
            rows = (
                {
                    "set_id": record.id,
                    "n": n,
                    "object_class": d.object_class.value,
                    "score": d.score,
                    "cx_px": d.box.cx,
                    "cy_px": d.box.cy,
                    "length_px": d.box.length_px,
                    "width_px": d.box.width_px,
                    "angle_deg": d.box.angle_deg,
                    "lon": ll[0] if ll else None,
                    "lat": ll[1] if ll else None,
                }
                for n, (d, ll) in enumerate(zip(dset.detections, lonlat, strict=True))
            )
            while chunk := list(itertools.islice(rows, INSERT_CHUNK)):
                conn.execute(insert(t.detections), chunk)

    def list_detection_sets(
        self, site_id: str | None = None, scene_id: str | None = None
    ) -> list[DetectionSetRecord]:
        """Stored detection sets with per-class counts, optionally of one site or scene."""
        q = select(t.detection_sets).order_by(t.detection_sets.c.created_at, t.detection_sets.c.id)
        if site_id is not None:
            q = q.where(t.detection_sets.c.site_id == site_id)
        if scene_id is not None:
            q = q.where(t.detection_sets.c.scene_id == scene_id)
        with self._read() as conn:
            sets = list(conn.execute(q).mappings())
            counts: dict[str, dict[str, int]] = {}
            grouped = (
                select(t.detections.c.set_id, t.detections.c.object_class, func.count())
                .where(t.detections.c.set_id.in_([r["id"] for r in sets]))
                .group_by(t.detections.c.set_id, t.detections.c.object_class)
            )
            for set_id, cls, n in conn.execute(grouped):
                counts.setdefault(set_id, {})[cls] = n
            out = []
            for r in sets:
                out.append(
                    DetectionSetRecord(
                        r["id"],
                        r["target_kind"],
                        r["scene_id"],
                        r["site_id"],
                        r["chip_key"],
                        r["model_id"],
                        r["model_sha256"],
                        r["params"],
                        counts.get(r["id"], {}),
                        r["tiles_run"],
                        r["tiles_skipped"],
                    )
                )
            return out

    def list_detections(self, set_id: str) -> list[Detection]:
        """The detections of one stored set, in stored order."""
        q = select(t.detections).where(t.detections.c.set_id == set_id).order_by(t.detections.c.n)
        with self._read() as conn:
            return [
                Detection(
                    ObjectClass(r["object_class"]),
                    r["score"],
                    OrientedBox(
                        r["cx_px"], r["cy_px"], r["length_px"], r["width_px"], r["angle_deg"]
                    ),
                )
                for r in conn.execute(q).mappings()
            ]

    def list_quality(self, site_id: str) -> list[ZoneQuality]:
        """Zone quality rows of a site."""
        q = (
            select(t.zone_quality)
            .where(t.zone_quality.c.site_id == site_id)
            .order_by(t.zone_quality.c.scene_id, t.zone_quality.c.zone_id)
        )
        with self._read() as conn:
            return [ZoneQuality(**dict(r)) for r in conn.execute(q).mappings()]

    def list_coregistrations(self, site_id: str) -> list[Coregistration]:
        """Co-registrations of a site, by target key."""
        q = (
            select(t.coregistrations)
            .where(t.coregistrations.c.site_id == site_id)
            .order_by(t.coregistrations.c.target_key)
        )
        with self._read() as conn:
            return [
                Coregistration(**{k: v for k, v in r.items() if k != "measured_at"})
                for r in conn.execute(q).mappings()
            ]

    # runs --------------------------------------------------------------------------------
    def record_run(self, report: RunReport) -> None:
        """Record a finished run."""
        with self._tx() as conn:
            conn.execute(
                insert(t.runs).values(
                    id=report.run_id,
                    kind=report.kind,
                    started_at=report.started_at,
                    finished_at=report.finished_at,
                    status=report.status,
                    params=dict(report.params),
                    ok=list(report.ok),
                    skipped=[list(s) for s in report.skipped],
                    failed=[list(f) for f in report.failed],
                )
            )

    def list_runs(self, limit: int = 20) -> list[RunReport]:
        """The latest runs, newest first."""
        q = select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit)
        with self._read() as conn:
            return [
                RunReport(
                    run_id=r["id"],
                    kind=r["kind"],
                    started_at=r["started_at"],
                    finished_at=r["finished_at"],
                    ok=tuple(r["ok"]),
                    skipped=tuple((a, b) for a, b in r["skipped"]),
                    failed=tuple((a, b) for a, b in r["failed"]),
                    params=r["params"],
                )
                for r in conn.execute(q).mappings()
            ]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def open_store(home: Path) -> SqliteStore:
    """Open (creating and migrating if needed) the store under a sitewatch home folder."""
    return SqliteStore(home / DB_NAME)
