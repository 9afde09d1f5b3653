"""Pixels for the detector: whole small frames (PNG/JPEG/TIFF) and windowed tiles of large scenes,
converted to 8-bit RGB.

Scenes that are not 8-bit are stretched linearly between the 0.5th and 99.5th percentiles of their
valid pixels, taken once per scene from a read of at most `STATS_MAX_PX` a side (served from
overviews when present), so every tile of a scene gets the same stretch. One band is repeated to
three; of four or more bands the ones tagged red, green and blue are used, else the first three.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from sitewatch.errors import ImageryReadError, InputError
from sitewatch.imagery.warp import GDAL_CACHE_MB

STATS_MAX_PX = 1024

U8 = npt.NDArray[np.uint8]


def _rgb_bands(ds: Any) -> list[int]:
    if ds.count < 3:
        return [1, 1, 1]
    interp = list(ds.colorinterp)
    wanted = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    if all(w in interp for w in wanted):
        return [interp.index(w) + 1 for w in wanted]
    return [1, 2, 3]


def _stretch(ds: Any, bands: list[int], nodata: float | None = None) -> tuple[float, float] | None:
    if ds.dtypes[0] == "uint8":
        return None
    factor = max(1, int(np.ceil(max(ds.width, ds.height) / STATS_MAX_PX)))
    shape = (len(bands), max(1, ds.height // factor), max(1, ds.width // factor))
    data = ds.read(bands, out_shape=shape, masked=True, resampling=Resampling.nearest)
    if nodata is not None:
        data = np.ma.masked_where(np.broadcast_to((data == nodata).all(axis=0), data.shape), data)
    values = data.compressed()
    if values.size == 0:
        return (0.0, 1.0)
    lo, hi = np.percentile(values, [0.5, 99.5])
    return float(lo), float(max(hi, lo + 1e-6))


def to_uint8(data: npt.NDArray[Any], stretch: tuple[float, float] | None) -> U8:
    """8-bit pixels from any numeric array, with a linear stretch (None: already 8-bit)."""
    if stretch is None:
        return np.asarray(data, dtype=np.uint8).copy()
    lo, hi = stretch
    scaled = (data.astype(np.float32) - lo) * (255.0 / (hi - lo))
    out: U8 = np.clip(scaled, 0, 255).astype(np.uint8)
    return out


def read_image(path: Path) -> U8:
    """A whole frame as 8-bit RGB (3, rows, cols); for training and evaluation frames."""
    return read_frame(path)[0]


def read_frame(path: Path, nodata: float | None = None) -> tuple[U8, npt.NDArray[np.bool_]]:
    """A whole frame as 8-bit RGB (3, rows, cols) and where it has data (rows, cols).

    No data is where the file's own mask says so and, with `nodata`, where every band holds that
    value (for files that do not tag it, such as chips with a black collar); the stretch of a
    frame that is not 8-bit is taken over its valid pixels only."""
    try:
        with (
            warnings.catch_warnings(),
            rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB),
        ):
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                bands = _rgb_bands(ds)
                stretch = _stretch(ds, bands, nodata)
                raw = ds.read(bands)
                valid = (ds.read_masks(bands) > 0).all(axis=0)
    except RasterioError as exc:
        raise ImageryReadError(f"{path}: cannot read pixels ({exc})") from exc
    if nodata is not None:
        valid &= ~(raw == nodata).all(axis=0)
    return to_uint8(raw, stretch), valid


def read_image_size(path: Path) -> tuple[int, int]:
    """(rows, cols) of a frame without reading its pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                return int(ds.height), int(ds.width)
    except RasterioError as exc:
        raise ImageryReadError(f"{path}: cannot read ({exc})") from exc


class RasterTiles:
    """Windowed 8-bit RGB reads of one scene, with a valid mask; open it with `with`.

    `scale` > 1 reads the scene coarser than native (for imagery finer than the model's range):
    a tile of `size` output pixels then covers `size * scale` scene pixels, averaged. `scale` < 1
    reads it finer (for imagery coarser than the model's working GSD), interpolated bilinearly.
    """

    def __init__(self, path: Path, scale: float = 1.0) -> None:
        self.path = path
        self.scale = scale
        self._env: Any = None
        self._ds: Any = None
        self._all_valid = False

    def __enter__(self) -> RasterTiles:
        try:
            self._env = rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)
            self._env.__enter__()
            self._ds = rasterio.open(self.path)
            self.bands = _rgb_bands(self._ds)
            self.stretch = _stretch(self._ds, self.bands)
            self._all_valid = all(
                self._ds.mask_flag_enums[b - 1] == [MaskFlags.all_valid] for b in self.bands
            )
        except RasterioError as exc:
            self.__exit__(None, None, None)
            raise ImageryReadError(f"{self.path}: cannot open ({exc})") from exc
        if self._ds.dtypes[0] not in ("uint8", "uint16", "int16", "float32"):
            dtype = self._ds.dtypes[0]
            self.__exit__(None, None, None)
            raise InputError(f"{self.path}: pixel type {dtype} is not supported")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ds is not None:
            self._ds.close()
            self._ds = None
        if self._env is not None:
            self._env.__exit__(exc_type, exc, tb)
            self._env = None

    @property
    def crs_wkt(self) -> str | None:
        """The scene's CRS as WKT (None when it has none)."""
        return self._ds.crs.to_wkt() if self._ds.crs else None

    @property
    def transform(self) -> Affine:
        """Output-pixel -> CRS transform (the scene's, scaled by `scale`)."""
        transform: Affine = self._ds.transform @ Affine.scale(self.scale)
        return transform

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) in output pixels (after `scale`)."""
        return (
            int(np.ceil(self._ds.height / self.scale)),
            int(np.ceil(self._ds.width / self.scale)),
        )

    def read(self, row: int, col: int, rows: int, cols: int) -> tuple[U8, npt.NDArray[np.bool_]]:
        """RGB (3, rows, cols) and valid mask (rows, cols) of an output-pixel window."""
        s = self.scale
        window = Window(col * s, row * s, cols * s, rows * s)
        # the common case (an 8-bit scene without nodata, mask or alpha, read at its own GSD):
        # the pixels as decoded, without a mask to read, resample or copy
        direct = s == 1 and self._all_valid and self.stretch is None
        try:
            if direct:
                pixels: U8 = self._ds.read(self.bands, window=window)
                return pixels, np.ones((rows, cols), dtype=bool)
            data = self._ds.read(
                self.bands,
                window=window,
                out_shape=(3, rows, cols),
                boundless=False,
                resampling=_resampling(s),
                masked=True,
            )
        except RasterioError as exc:
            raise ImageryReadError(f"{self.path}: cannot read window {window} ({exc})") from exc
        valid: npt.NDArray[np.bool_] = np.asarray(~np.ma.getmaskarray(data).any(axis=0))
        return to_uint8(np.ma.getdata(data), self.stretch), valid


def _resampling(scale: float) -> Resampling:
    """Averaging when reading coarser than native, bilinear when finer, none at native."""
    if scale > 1:
        return Resampling.average
    return Resampling.bilinear if scale < 1 else Resampling.nearest
