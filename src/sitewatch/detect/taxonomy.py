"""The sitewatch taxonomy and the tables mapping public label sets onto it.

A value of None means "labelled in that set but not one of our classes": such objects are dropped,
and the class is not counted as labelled. The xView table lists all 60 classes so that nothing is
mapped by accident.
"""

from __future__ import annotations

from collections.abc import Mapping

from sitewatch.core.models import ObjectClass
from sitewatch.errors import ConfigError

SV = ObjectClass.SMALL_VEHICLE
LV = ObjectClass.LARGE_VEHICLE
RC = ObjectClass.RAIL_CAR
CR = ObjectClass.CRANE
CT = ObjectClass.CONTAINER

#: KIT AIS aerial cars and the Minsk drone set share these names (aerial.names).
KIT: Mapping[str, ObjectClass | None] = {
    "car": SV,
    "minibus": SV,  # vans and minibuses are under 6 m: small vehicles
    "truck": LV,
    "bus": LV,
    "cyclist": None,
}

#: DOTA v1/v1.5/v2 class names.
DOTA: Mapping[str, ObjectClass | None] = {
    "small-vehicle": SV,
    "large-vehicle": LV,
    "container-crane": CR,
    "plane": None,
    "ship": None,
    "storage-tank": None,
    "baseball-diamond": None,
    "tennis-court": None,
    "basketball-court": None,
    "ground-track-field": None,
    "harbor": None,
    "bridge": None,
    "helicopter": None,
    "roundabout": None,
    "soccer-ball-field": None,
    "swimming-pool": None,
    "airport": None,
    "helipad": None,
}

#: xView: type_id -> (name, our class).
XVIEW: Mapping[int, tuple[str, ObjectClass | None]] = {
    11: ("Fixed-wing Aircraft", None),
    12: ("Small Aircraft", None),
    13: ("Passenger/Cargo Plane", None),
    15: ("Helicopter", None),
    17: ("Passenger Vehicle", SV),
    18: ("Small Car", SV),
    19: ("Bus", LV),
    20: ("Pickup Truck", SV),
    21: ("Utility Truck", LV),
    23: ("Truck", LV),
    24: ("Cargo Truck", LV),
    25: ("Truck Tractor w/ Box Trailer", LV),
    26: ("Truck Tractor", LV),
    27: ("Trailer", LV),
    28: ("Truck Tractor w/ Flatbed Trailer", LV),
    29: ("Truck Tractor w/ Liquid Tank", LV),
    32: ("Crane Truck", CR),
    33: ("Railway Vehicle", RC),
    34: ("Passenger Car", RC),
    35: ("Cargo/Container Car", RC),
    36: ("Flat Car", RC),
    37: ("Tank car", RC),
    38: ("Locomotive", RC),
    40: ("Maritime Vessel", None),
    41: ("Motorboat", None),
    42: ("Sailboat", None),
    44: ("Tugboat", None),
    45: ("Barge", None),
    47: ("Fishing Vessel", None),
    49: ("Ferry", None),
    50: ("Yacht", None),
    51: ("Container Ship", None),
    52: ("Oil Tanker", None),
    53: ("Engineering Vehicle", LV),
    54: ("Tower crane", CR),
    55: ("Container Crane", CR),
    56: ("Reach Stacker", LV),
    57: ("Straddle Carrier", LV),
    59: ("Mobile Crane", CR),
    60: ("Dump Truck", LV),
    61: ("Haul Truck", LV),
    62: ("Scraper/Tractor", LV),
    63: ("Front loader/Bulldozer", LV),
    64: ("Excavator", LV),
    65: ("Cement Mixer", LV),
    66: ("Ground Grader", LV),
    71: ("Hut/Tent", None),
    72: ("Shed", None),
    73: ("Building", None),
    74: ("Aircraft Hangar", None),
    76: ("Damaged Building", None),
    77: ("Facility", None),
    79: ("Construction Site", None),
    83: ("Vehicle Lot", None),
    84: ("Helipad", None),
    86: ("Storage Tank", None),
    89: ("Shipping container lot", None),
    91: ("Shipping Container", CT),
    93: ("Pylon", None),
    94: ("Tower", None),
}

#: Our own names map onto themselves (YOLO files written by sitewatch, generated data).
SITEWATCH: Mapping[str, ObjectClass | None] = {c.value: c for c in ObjectClass}

_NAMED: Mapping[str, Mapping[str, ObjectClass | None]] = {
    "kit": KIT,
    "minsk": KIT,
    "dota": DOTA,
    "xview": {name: cls for name, cls in XVIEW.values()},
    "sitewatch": SITEWATCH,
}


def class_map(name_or_table: str | Mapping[str, str | None]) -> Mapping[str, ObjectClass | None]:
    """A label-name -> class table: one of the named tables, or a user table of names to our names.

    Raises:
        ConfigError: unknown table name or a target that is not one of our classes.
    """
    if isinstance(name_or_table, str):
        try:
            return _NAMED[name_or_table]
        except KeyError:
            raise ConfigError(
                f"class map {name_or_table!r}: unknown; use one of {sorted(_NAMED)} "
                "or a table of label names to sitewatch classes"
            ) from None
    out: dict[str, ObjectClass | None] = {}
    for label, target in name_or_table.items():
        out[str(label)] = parse_object_class(target, where=f"class map entry {label!r}")
    return out


def parse_object_class(value: object, where: str) -> ObjectClass | None:
    """Our class from its name; None or '' or 'ignore' means not one of ours."""
    if value is None or value in ("", "ignore"):
        return None
    try:
        return ObjectClass(str(value))
    except ValueError:
        raise ConfigError(
            f"{where}: {value!r} is not a sitewatch class; use one of "
            f"{[c.value for c in ObjectClass]} or 'ignore'"
        ) from None
