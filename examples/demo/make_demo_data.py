"""Rebuild the bundled demo imagery from ../shared/data (run from the repository root).

Only sets that may ship are used (see ../shared/data/README.md):
* NAIP time series, North Dakota (US public domain): a 1.6 km x 1.6 km crop of each of the
  10 dates, all bands, losslessly recompressed; dates from the NAIP file names, written as a
  STAC ItemCollection.
* Joplin "pre" tiles (USDA NAIP, public domain): the two northern tiles, losslessly
  recompressed. The files carry no acquisition date; the STAC item gives 2010-06-01 as a
  stand-in (the imagery predates the 2011-05-22 tornado) and says so in its properties.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import rasterio
from rasterio.warp import transform_bounds
from rasterio.windows import Window

SHARED = Path("../shared/data")
OUT = Path("examples/demo/imagery")
NAIP_WINDOW = Window(300, 200, 320, 320)
JOPLIN_TILES = ["tile_337-9136.tif", "tile_1361-9136.tif"]


def _copy(src: Path, dst: Path, window: Window | None) -> dict[str, object]:
    with rasterio.open(src) as ds:
        win = window or Window(0, 0, ds.width, ds.height)
        profile = ds.profile
        profile.update(
            driver="GTiff",
            width=int(win.width),
            height=int(win.height),
            transform=ds.window_transform(win),
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress="deflate",
            predictor=2,
        )
        data = ds.read(window=win)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(dst, "w", **profile) as out:
            out.write(data)
            out.colorinterp = ds.colorinterp
        bbox = transform_bounds(ds.crs, "EPSG:4326", *rasterio.windows.bounds(win, ds.transform))
        return {"bbox": list(bbox), "epsg": ds.crs.to_epsg()}


def _item(item_id: str, asset: Path, when: str, info: dict[str, object], props: dict[str, object]) -> dict[str, object]:
    w, s, e, n = info["bbox"]  # type: ignore[misc]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": when, "proj:epsg": info["epsg"], **props},
        "assets": {"image": {"href": asset.name if asset.parent == OUT else str(asset.relative_to(OUT)), "type": "image/tiff; application=geotiff", "roles": ["data"]}},
        "links": [],
    }


def main() -> int:
    if not SHARED.is_dir():
        print(f"{SHARED} not found: run from the repository root with ../shared beside it")
        return 1
    naip_items = []
    for src in sorted((SHARED / "naip_timeseries_nd").glob("*.tif")):
        stamp = src.stem.rsplit("_", 1)[1]
        dst = OUT / "naip" / f"naip_nd_{stamp}.tif"
        info = _copy(src, dst, NAIP_WINDOW)
        when = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}T17:00:00Z"
        naip_items.append(_item(f"naip-nd-{stamp}", dst, when, info, {"platform": "naip", "gsd": 5.0, "sitewatch:note": "NAIP resampled to 5 m by the upstream data set; acquisition hour is a stand-in"}))
    joplin_items = []
    for name in JOPLIN_TILES:
        dst = OUT / "joplin" / f"joplin_pre_{name}"
        info = _copy(SHARED / "joplin_prepost_georef" / "pre" / name, dst, None)
        joplin_items.append(_item(f"joplin-pre-{Path(name).stem}", dst, "2010-06-01T17:00:00Z", info, {"platform": "naip", "gsd": 0.6, "sitewatch:note": "acquisition date not recorded in the files: 2010-06-01 is a stand-in (the imagery predates the 2011-05-22 tornado)"}))
    for name, items in (("naip_nd.json", naip_items), ("joplin_pre.json", joplin_items)):
        (OUT / name).write_text(json.dumps({"type": "FeatureCollection", "features": items}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
