"""Generated change pairs for training the change model from one date of real imagery with
building footprints (no labelled change pair is needed, and none that may ship exists).

Every pair is cut from a real tile resampled to a GSD drawn around the working GSD, with the same
rotation and flip for both dates, then one of:
- construction (or, one time in three, demolition): the *after* crop is real; in the *before*
  crop a random subset of the buildings (with a 2-pixel margin for their edges and shadows) is
  replaced by bare ground: pixels of another crop where it has no buildings, or the surrounding
  ground smeared inwards, with texture noise and a feathered seam. Change: the removed footprints.
- two unrelated crops (single-temporal supervision, "STAR": Zheng et al., ICCV 2021): the change
  is the symmetric difference of their footprints, so fields, roads and trees that differ
  between the two crops are taught as no change;
- no change: the same crop twice.
Each date then gets its own photometry (per-band gain, gamma, saturation, a colour-mixing
"season" shift, haze, blur, sensor noise) and the before date a misregistration of up to 2 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from sitewatch.train.degrade import colour_look

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FootprintTile:
    """One real tile with its footprint mask."""

    name: str
    image: npt.NDArray[np.uint8]  # (3, H, W)
    mask: Mask
    gsd_m: float


@dataclass(frozen=True)
class ChangePair:
    before: F32  # (3, H, W) 0-255
    after: F32
    change: Mask
    before_buildings: Mask
    after_buildings: Mask
    kind: str


class PairSource:
    """Draws generated change pairs from footprint tiles (see module docstring)."""

    def __init__(
        self,
        tiles: list[FootprintTile],
        crop_px: int,
        gsd_range_m: tuple[float, float],
        seed: int,
        mix: tuple[float, float, float] = (0.55, 0.25, 0.2),
    ) -> None:
        if not tiles:
            raise ValueError("no footprint tiles to draw change pairs from")
        self.tiles = tiles
        self.crop = crop_px
        self.gsd_range = gsd_range_m
        self.rng = np.random.default_rng(seed)
        p = np.asarray(mix, dtype=np.float64)
        self.mix = p / p.sum()

    def _crop(self, gsd: float, k: int, flip: bool) -> tuple[F32, Mask]:
        rng = self.rng
        tile = self.tiles[int(rng.integers(len(self.tiles)))]
        zoom = tile.gsd_m / gsd
        n = int(np.ceil(self.crop / zoom)) + 2
        h, w = tile.mask.shape
        y, x = int(rng.integers(0, h - n + 1)), int(rng.integers(0, w - n + 1))
        img = tile.image[:, y : y + n, x : x + n].astype(np.float32)
        mask = tile.mask[y : y + n, x : x + n]
        img = ndimage.zoom(img, (1, zoom, zoom), order=1, prefilter=False)
        mask = ndimage.zoom(mask.astype(np.float32), zoom, order=1, prefilter=False) > 0.5
        img, mask = img[:, : self.crop, : self.crop], mask[: self.crop, : self.crop]
        img, mask = np.rot90(img, k, (1, 2)), np.rot90(mask, k)
        if flip:
            img, mask = img[:, :, ::-1], mask[:, ::-1]
        return np.ascontiguousarray(img), np.ascontiguousarray(mask)

    def sample(self) -> ChangePair:
        rng = self.rng
        gsd = float(rng.uniform(*self.gsd_range))
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        after, mask_a = self._crop(gsd, k, flip)
        kind = str(rng.choice(["construction", "unrelated", "none"], p=self.mix))
        if kind == "construction":
            other, other_mask = self._crop(gsd, int(rng.integers(4)), bool(rng.integers(2)))
            before, mask_b, change = _remove_buildings(after, mask_a, other, other_mask, rng)
            if rng.random() < 1 / 3:
                kind = "demolition"
                before, after, mask_b, mask_a = after, before, mask_a, mask_b
        elif kind == "unrelated":
            before, mask_b = self._crop(gsd, int(rng.integers(4)), bool(rng.integers(2)))
            change = mask_a ^ mask_b
        else:
            before, mask_b, change = after.copy(), mask_a.copy(), np.zeros_like(mask_a)
        dy, dx = (int(v) for v in rng.integers(-2, 3, size=2))
        before = np.roll(before, (dy, dx), axis=(1, 2))
        mask_b = np.roll(mask_b, (dy, dx), axis=(0, 1))
        return ChangePair(
            photometric(before, rng), photometric(after, rng), change, mask_b, mask_a, kind
        )


def _remove_buildings(
    image: F32, mask: Mask, other: F32, other_mask: Mask, rng: np.random.Generator
) -> tuple[F32, Mask, Mask]:
    """`image` with a random subset of its buildings replaced by bare ground."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return image.copy(), mask.copy(), np.zeros_like(mask)
    chosen = rng.random(n + 1) < rng.uniform(0.4, 1.0)
    chosen[0] = False
    if not chosen[1:].any():
        chosen[int(rng.integers(1, n + 1))] = True
    removed = chosen[labels]
    region = ndimage.binary_dilation(removed, iterations=2)
    # ground smeared in from outside the region, then textured
    _, (iy, ix) = ndimage.distance_transform_edt(region | (mask & ~removed), return_indices=True)
    smeared = image[:, iy, ix]
    smeared = ndimage.gaussian_filter(smeared, (0, 2.0, 2.0))
    texture = ndimage.gaussian_filter(rng.normal(0, 1, image.shape[1:]), 1.0)
    smeared = smeared + texture[None] * float(rng.uniform(2, 10))
    fill = smeared
    if rng.random() < 0.5:
        usable = ~ndimage.binary_dilation(other_mask, iterations=3)
        fill = np.where(usable[None], other, smeared)
    alpha = ndimage.gaussian_filter(region.astype(np.float32), 1.0)
    alpha = np.maximum(alpha, region.astype(np.float32))
    before = image * (1 - alpha[None]) + fill * alpha[None]
    return before.astype(np.float32), mask & ~removed, removed


def photometric(image: F32, rng: np.random.Generator) -> F32:
    """One date's look: gain, gamma, saturation, colour mixing, haze, blur and noise."""
    x = colour_look(image / 255.0, rng)
    if rng.random() < 0.3:
        haze = rng.uniform(0.05, 0.3)
        x = x * (1 - haze) + haze * rng.uniform(0.7, 1.0)
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        x = ndimage.gaussian_filter(x, (0, sigma, sigma))
    x = x + rng.normal(0, rng.uniform(0, 0.025), x.shape)
    out: F32 = (np.clip(x, 0, 1) * 255).astype(np.float32)
    return out
