"""Running a Detector over an image of any size, tile batch by tile batch; pure (reads come in
through a callable), so memory is bounded by two batches of tiles whatever the image size.

Tiles are read one batch ahead on a worker thread while the model runs. Tiles with no valid
pixel, or whose valid pixels are all one value (empty), are skipped and counted. Invalid pixels
inside a tile are set to 0 before inference. Detections are merged by tile ownership; then
duplicates of long objects are suppressed among the detections whose centres lie near a core edge
shared by two tiles (the only place a second copy can come from). Objects longer than the overlap
(a 90 m crane is 300 px at 0.3 m; the default overlap is 128 px) cannot be seen whole by any tile:
where the model takes a class's boxes from footprints (`ModelInfo.footprint_classes`), a box that
reaches a tile border shared with a neighbour is a piece, kept whatever its centre, and the pieces
are joined with each other and with the overlapping detections near core edges
(`merge.join_pieces`) before that suppression. Only then, with whole objects at hand, are the
boxes shorter than their class's minimum length (`ModelInfo.min_length_m`, metres; the read
pixel size `pixel_m` converts) dropped: a crane cut by a tile border comes in pieces that may each
be short.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import Detection, ObjectClass
from sitewatch.core.ports import Detector
from sitewatch.detect.merge import (
    join_pieces,
    merge_detections,
    shift_detection,
    suppress_duplicates,
)
from sitewatch.detect.tiling import Tile, tile_image
from sitewatch.errors import ConfigError, InputError

ReadTile = Callable[[Tile], tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]]
TileProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class DetectOptions:
    """Tiling and thresholds. `tile_px` None: the model's own size; `overlap_px` None: 1/8 tile.

    `batch` 1 by default: on the CPU one 1024 px tile per call is the fastest per pixel (measured
    in onnxruntime on 2 threads: 29.5 MP/s at 1, 28.2 at 2, 25.2 at 4; the activations of several
    tiles no longer fit the caches). Larger batches help only accelerators.
    """

    tile_px: int | None = None
    overlap_px: int | None = None
    batch: int = 1
    thresholds: Mapping[ObjectClass, float] = field(default_factory=dict)
    nms_iou: float = 0.5
    force_gsd: bool = False

    def overlap_for(self, tile_px: int) -> int:
        """The overlap used with tiles of `tile_px`."""
        return self.overlap_px if self.overlap_px is not None else tile_px // 8

    def to_params(self, tile_px: int) -> dict[str, Any]:
        """The parameters as recorded with a detection set (and hashed into its id). The batch
        size is left out: it changes speed, never the detections."""
        return {
            "tile_px": tile_px,
            "overlap_px": self.overlap_for(tile_px),
            "thresholds": {c.value: t for c, t in self.thresholds.items()},
            "nms_iou": self.nms_iou,
        }


@dataclass(frozen=True)
class TiledResult:
    """Detections in image pixels and tile counts."""

    detections: list[Detection]
    tiles_run: int
    tiles_skipped: int
    tile_px: int


def detect_tiled(
    rows: int,
    cols: int,
    read_tile: ReadTile,
    detector: Detector,
    options: DetectOptions,
    progress: TileProgress | None = None,
    pixel_m: float | None = None,
) -> TiledResult:
    """Detect over a rows x cols image whose pixels `read_tile` supplies; `pixel_m`: the ground
    size of its pixels (as read), needed where the model declares minimum lengths.

    Raises:
        InputError: the model declares minimum lengths and `pixel_m` is not given.
    """
    minimum = detector.info.min_length_m
    if minimum and pixel_m is None:
        raise InputError(
            f"{detector.info.model_id} drops boxes shorter than "
            + ", ".join(f"{c.value} {m:g} m" for c, m in minimum.items())
            + ": the image's ground sample distance is needed"
        )
    tile_px = options.tile_px or detector.tile_px
    if options.batch < 1:
        raise ConfigError(f"batch {options.batch}: must be at least 1")
    tiles = tile_image(rows, cols, tile_px, options.overlap_for(tile_px))
    owned: list[Detection] = []
    near: list[Detection] = []  # centres close to an inner core edge: may be seen twice
    pieces: list[Detection] = []  # footprint boxes cut by an inner tile border: joined after
    footprint = frozenset(detector.info.footprint_classes)
    band = options.overlap_for(tile_px)
    run = skipped = 0
    pending: list[tuple[Tile, npt.NDArray[np.uint8]]] = []

    def flush() -> None:
        if not pending:
            return
        batch = np.stack([img for _, img in pending])
        results = detector.predict(batch)
        for (tile, _), dets in zip(pending, results, strict=True):
            whole = []
            for d in _filter(dets, options.thresholds):
                if d.object_class in footprint and _cut(tile, d, rows, cols):
                    pieces.append(shift_detection(d, tile.col, tile.row))
                else:
                    whole.append(d)
            for d in merge_detections([(tile, whole)]):
                # a whole footprint object may meet a neighbour's piece of it anywhere that
                # neighbour reaches, not only within the band of a core edge
                edge = d.object_class in footprint or _near_inner_edge(tile, d, band, rows, cols)
                (near if edge else owned).append(d)
        pending.clear()

    for done, (tile, (pixels, valid)) in enumerate(_prefetched(tiles, read_tile, options.batch), 1):
        all_valid = bool(valid.all())
        if not (all_valid or valid.any()) or _is_empty(pixels, valid, all_valid):
            skipped += 1
        else:
            shape = (3, _round_up(tile.rows), _round_up(tile.cols))
            if all_valid and pixels.shape == shape:
                padded = pixels  # nothing to mask or pad
            else:
                padded = np.zeros(shape, dtype=np.uint8)
                padded[:, : tile.rows, : tile.cols] = np.where(valid[None], pixels, 0)
            if pending and pending[0][1].shape != shape:
                flush()  # a batch holds tiles of one size (the last of a row is shorter)
            pending.append((tile, padded))
            run += 1
            if len(pending) >= options.batch:
                flush()
        if progress is not None:
            progress(done, len(tiles))
    flush()
    kept = owned + suppress_duplicates(join_pieces(pieces, near), options.nms_iou)
    if minimum and pixel_m is not None:
        kept = [d for d in kept if d.box.length_px * pixel_m >= minimum.get(d.object_class, 0.0)]
    return TiledResult(kept, run, skipped, tile_px)


def _prefetched(
    tiles: Sequence[Tile], read_tile: ReadTile, depth: int
) -> Iterator[tuple[Tile, tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]]]:
    """(tile, pixels) in tile order, reading up to `depth` tiles ahead on one worker thread.

    GDAL reads (and decompression) release the GIL, so the next batch is read while the model
    runs on the current one. Memory grows by at most `depth` tiles; reads stay sequential, on
    one thread, so one dataset handle serves them.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tile-read") as pool:
        ahead: deque[tuple[Tile, Future[tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]]]]
        ahead = deque()
        queue = iter(tiles)
        for tile in queue:
            ahead.append((tile, pool.submit(read_tile, tile)))
            if len(ahead) >= depth:
                break
        while ahead:
            tile, future = ahead.popleft()
            following = next(queue, None)
            if following is not None:
                ahead.append((following, pool.submit(read_tile, following)))
            yield tile, future.result()


def _near_inner_edge(tile: Tile, d: Detection, band: int, rows: int, cols: int) -> bool:
    """Whether a detection's centre lies within `band` px of a core edge shared with a neighbour.

    Only an object near such an edge can be detected by two tiles with its centres on both
    sides; suppression is limited to those, which keeps it cheap on dense scenes.
    """
    x, y = d.box.cx, d.box.cy
    reach = band + max(d.box.length_px, d.box.width_px) / 2
    return (
        (tile.core_col0 > 0 and x - tile.core_col0 < reach)
        or (tile.core_col1 < cols and tile.core_col1 - x < reach)
        or (tile.core_row0 > 0 and y - tile.core_row0 < reach)
        or (tile.core_row1 < rows and tile.core_row1 - y < reach)
    )


def _cut(tile: Tile, d: Detection, rows: int, cols: int, margin: float = 2.0) -> bool:
    """Whether a detection (tile pixels) reaches a border of its tile shared with a neighbour:
    the tile saw only part of the object."""
    x0, y0, x1, y1 = d.box.aabb()
    return (
        (tile.col > 0 and x0 <= margin)
        or (tile.col + tile.cols < cols and x1 >= tile.cols - margin)
        or (tile.row > 0 and y0 <= margin)
        or (tile.row + tile.rows < rows and y1 >= tile.rows - margin)
    )


def _round_up(n: int, multiple: int = 32) -> int:
    return -(-n // multiple) * multiple


def _is_empty(pixels: npt.NDArray[np.uint8], valid: npt.NDArray[np.bool_], all_valid: bool) -> bool:
    if all_valid:  # the common case, without copying the pixels
        flat = pixels.reshape(pixels.shape[0], -1)
        return bool((flat.max(axis=1) == flat.min(axis=1)).all())
    values = pixels[:, valid]
    return bool((values == values[:, :1]).all())


def _filter(
    detections: list[Detection], thresholds: Mapping[ObjectClass, float]
) -> list[Detection]:
    if not thresholds:
        return detections
    return [d for d in detections if d.score >= thresholds.get(d.object_class, 0.0)]


def detect_array(
    image: npt.NDArray[np.uint8],
    detector: Detector,
    options: DetectOptions,
    valid: npt.NDArray[np.bool_] | None = None,
    pixel_m: float | None = None,
) -> TiledResult:
    """Detect over an in-memory (3, rows, cols) image whose pixels are `pixel_m` on the ground
    (see `detect_tiled`)."""
    mask = np.ones(image.shape[1:], dtype=bool) if valid is None else valid

    def read(t: Tile) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
        win = (slice(t.row, t.row + t.rows), slice(t.col, t.col + t.cols))
        return image[(slice(None), *win)], mask[win]

    return detect_tiled(image.shape[1], image.shape[2], read, detector, options, pixel_m=pixel_m)
