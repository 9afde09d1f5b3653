"""Overlapping tiles over an image, each owning a core region; the cores partition the image.

A detection is kept only by the tile whose core holds its centre, so an object cut by a tile
border comes out exactly once as long as it lies wholly inside the owning tile, i.e. it reaches at
most `overlap_px / 2` beyond the core. Pure geometry.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sitewatch.errors import ConfigError


@dataclass(frozen=True)
class Tile:
    """A read window (row, col, rows, cols) and its core [core_row0, core_row1) x [core_col0, core_col1)."""

    row: int
    col: int
    rows: int
    cols: int
    core_row0: int
    core_row1: int
    core_col0: int
    core_col1: int

    def owns(self, x: float, y: float) -> bool:
        """Whether image point (x = column, y = row) falls in this tile's core."""
        return self.core_col0 <= x < self.core_col1 and self.core_row0 <= y < self.core_row1


def _starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, n - tile, step))
    starts.append(starts[-1] + step)  # the last tile is shorter: it ends at the image's edge
    return starts


def _cores(starts: list[int], n: int, tile: int) -> list[tuple[int, int]]:
    edges = [0]
    for prev, cur in itertools.pairwise(starts):
        edges.append((cur + min(n, prev + tile)) // 2)
    edges.append(n)
    return list(itertools.pairwise(edges))


def tile_image(rows: int, cols: int, tile_px: int, overlap_px: int) -> list[Tile]:
    """Tiles of at most `tile_px` a side, each overlapping the next by `overlap_px`.

    The tiles of a row (a column) start every `tile_px - overlap_px` pixels; the last one ends at
    the image's edge and is shorter, more than `overlap_px` and at most `tile_px`. (Until
    2026-12 the last one was a whole tile shifted back to end at the edge: on a 6144 px scene
    with 1024 px tiles and 128 px overlap, 7 x 1024 px of model input per row instead of
    6 x 1024 + 768; on a chip of 1100 px, 2 x 1024 instead of 1024 + 204.)

    Raises:
        ConfigError: sizes that cannot tile (overlap not smaller than the tile).
    """
    if tile_px <= 0 or overlap_px < 0 or overlap_px >= tile_px:
        raise ConfigError(
            f"tile {tile_px} px with overlap {overlap_px} px: need 0 <= overlap < tile"
        )
    if rows <= 0 or cols <= 0:
        return []
    rs, cs = _starts(rows, tile_px, overlap_px), _starts(cols, tile_px, overlap_px)
    rcore, ccore = _cores(rs, rows, tile_px), _cores(cs, cols, tile_px)
    return [
        Tile(r, c, min(tile_px, rows - r), min(tile_px, cols - c), r0, r1, c0, c1)
        for r, (r0, r1) in zip(rs, rcore, strict=True)
        for c, (c0, c1) in zip(cs, ccore, strict=True)
    ]
