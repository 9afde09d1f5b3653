"""Windowed tile reads: the direct path for plain 8-bit scenes gives what the masked path gives."""

from __future__ import annotations

import numpy as np

from sitewatch.imagery.pixels import RasterTiles
from tests.conftest import MakeTiff


def test_plain_8bit_reads_match_the_masked_reads(make_tiff: MakeTiff) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(1, 256, (3, 160, 200), dtype=np.uint8)
    plain = make_tiff("plain.tif", data=data)
    # the same pixels with a nodata value none of them holds: read through the masked path
    tagged = make_tiff("tagged.tif", data=data, nodata=0)
    data_nd = data.copy()
    data_nd[:, 10:20, 30:50] = 0
    holed = make_tiff("holed.tif", data=data_nd, nodata=0)
    with RasterTiles(plain) as a, RasterTiles(tagged) as b, RasterTiles(holed) as c:
        assert a._all_valid and not b._all_valid
        for window in ((0, 0, 160, 200), (5, 7, 64, 96), (96, 136, 64, 64)):
            pa, va = a.read(*window)
            pb, vb = b.read(*window)
            np.testing.assert_array_equal(pa, pb)
            np.testing.assert_array_equal(va, vb)
            assert va.all() and pa.dtype == np.uint8 and pa.shape == (3, *window[2:])
        _, vc = c.read(0, 0, 160, 200)
        assert not vc[10:20, 30:50].any() and vc.sum() == 160 * 200 - 200


def test_coarser_reads_still_average(make_tiff: MakeTiff) -> None:
    data = np.zeros((3, 160, 200), dtype=np.uint8)
    data[:, :, 1::2] = 200  # stripes one pixel wide: averaged two by two, grey
    path = make_tiff("stripes.tif", data=data)
    with RasterTiles(path, scale=2.0) as src:
        pixels, valid = src.read(0, 0, 80, 100)
    assert valid.all() and np.all(np.abs(pixels.astype(int) - 100) <= 1)
