"""Imagery adapters: the only users of rasterio and pystac.

Scene metadata and footprints, STAC expansion, windowed reads warped onto site grids,
chip files (COG, PNG), plus the array maths of quality and co-registration.
"""

from sitewatch.imagery.coreg import ShiftEstimate, measure_shift
from sitewatch.imagery.discover import IngestInput, discover_inputs
from sitewatch.imagery.quality import assess_zone_quality, zone_masks
from sitewatch.imagery.scenes import SceneHints, read_scene, sha256_file
from sitewatch.imagery.warp import render_on_grid
from sitewatch.imagery.write import write_chip_cog, write_quicklook_png

__all__ = [
    "IngestInput",
    "SceneHints",
    "ShiftEstimate",
    "assess_zone_quality",
    "discover_inputs",
    "measure_shift",
    "read_scene",
    "render_on_grid",
    "sha256_file",
    "write_chip_cog",
    "write_quicklook_png",
    "zone_masks",
]
