"""A scripted activity campaign (or a quiet series) at a facility, rendered onto a real background
image as a dated series of satellite-like images with nuisances; pure numpy.

The facility has five zones laid out on the background (fractions of the crop): an assembly
building, a rail yard, propellant storage, a parking lot and a launch pad. A campaign, relative to
its event date E (days):
* large vehicles at the assembly building ramp from the usual 0-2 to 8-12 between E-35 and E-5;
* rail cars (a train of 5-8) stand in the rail yard from E-28 to E-8, containers from E-28 to E-12;
* two cranes stand at the assembly building from E-25, one is gone from E-6;
* tanker trucks (4-6) stand at propellant storage from E-14 to E;
* after E everything falls back to the usual level.
A quiet series keeps the usual level with its normal fluctuation (negative binomial counts).

Nuisances per image: sensor (0.5 m or 0.6 m GSD, its own colour gains and blur), the sun (shadow
direction, length and darkness), partial cloud (a soft blob over 20-70% of the image) or full
cloud, a misregistration of up to `max_shift_px`, and irregular revisits with longer gaps.
Objects that persist from one image to the next keep their place, so object change is real.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from sitewatch.core.models import ObjectClass
from sitewatch.train.degrade import resample_to_gsd
from sitewatch.train.synth import (
    CONTAINER_COLOURS,
    RAIL_COLOURS,
    VEHICLE_COLOURS,
    Part,
    Sun,
    crane,
    large_vehicle,
    render_parts,
    soften,
)

F32 = npt.NDArray[np.float32]
SV, LV, RC, CR, CO = (
    ObjectClass.SMALL_VEHICLE,
    ObjectClass.LARGE_VEHICLE,
    ObjectClass.RAIL_CAR,
    ObjectClass.CRANE,
    ObjectClass.CONTAINER,
)


class ScenarioKind(StrEnum):
    """A campaign with an event, or normal fluctuation only."""

    CAMPAIGN = "campaign"
    QUIET = "quiet"


# zone id: (kind, (x0, y0, x1, y1) as fractions of the background crop, classes)
ZONES: dict[str, tuple[str, tuple[float, float, float, float], tuple[ObjectClass, ...]]] = {
    "assembly": ("assembly", (0.42, 0.58, 0.72, 0.86), (SV, LV, CR)),
    "rail-yard": ("rail_yard", (0.05, 0.05, 0.95, 0.22), (RC, CO)),
    "propellant": ("propellant_storage", (0.06, 0.34, 0.32, 0.62), (LV,)),
    "parking": ("parking", (0.76, 0.62, 0.98, 0.98), (SV,)),
    "pad": ("launch_pad", (0.40, 0.28, 0.70, 0.50), (LV, CR)),
}
USUAL: dict[tuple[str, ObjectClass], float] = {
    ("assembly", SV): 4.0,
    ("assembly", LV): 1.0,
    ("parking", SV): 10.0,
    ("propellant", LV): 0.3,
    ("pad", LV): 0.4,
    ("rail-yard", RC): 0.0,
    ("rail-yard", CO): 0.0,
    ("assembly", CR): 0.0,
    ("pad", CR): 0.0,
}


@dataclass(frozen=True)
class Sensor:
    """How one simulated sensor sees: GSD, colour gains, blur and noise."""

    name: str
    gsd_m: float
    gains: tuple[float, float, float]
    blur_px: float
    noise: float


SENSORS = (
    Sensor("SimSat-A", 0.5, (1.0, 1.0, 1.0), 0.6, 2.0),
    Sensor("SimSat-B", 0.6, (1.08, 0.98, 0.9), 0.8, 3.0),
)


@dataclass(frozen=True)
class ScenarioOptions:
    """What to generate."""

    kind: ScenarioKind = ScenarioKind.CAMPAIGN
    seed: int = 0
    start: date = date(2018, 6, 1)
    days: int = 240
    event_day: int = 200  # days after start (campaigns)
    cloud_probability: float = 0.2
    full_cloud_probability: float = 0.05
    max_shift_px: float = 3.0
    long_gap_probability: float = 0.1


@dataclass
class ImagePlan:
    """One image of the series: its date, sensor, sun, clouds, shift and true object counts."""

    day: date
    sensor: Sensor
    sun: Sun
    shift_px: tuple[int, int]
    cloud: str  # none | partial | full
    counts: dict[tuple[str, ObjectClass], int] = field(default_factory=dict)


def revisit_days(options: ScenarioOptions, rng: np.random.Generator) -> list[int]:
    """Irregular revisit offsets from the start: 2-15 days apart, sometimes a 20-40 day gap."""
    out, d = [], int(rng.integers(0, 5))
    while d < options.days:
        out.append(d)
        gap = (
            rng.integers(20, 41)
            if rng.random() < options.long_gap_probability
            else rng.integers(2, 16)
        )
        d += int(gap)
    return out


def true_counts(
    kind: ScenarioKind, t: int, event: int, rng: np.random.Generator
) -> dict[tuple[str, ObjectClass], int]:
    """The counts of one day `t` (days from start) of a scenario."""

    def nb(mean: float) -> int:
        if mean <= 0:
            return 0
        r = 4.0  # overdispersion of normal activity
        return int(rng.negative_binomial(r, r / (r + mean)))

    counts = {key: nb(mean) for key, mean in USUAL.items()}
    if kind is ScenarioKind.QUIET:
        return counts
    e = t - event
    if -35 <= e <= -5:
        counts[("assembly", LV)] = max(
            counts[("assembly", LV)], round(2 + 8 * (e + 35) / 30) + nb(1)
        )
    elif -5 < e <= 0:
        counts[("assembly", LV)] = max(counts[("assembly", LV)], 8 + nb(2))
    if -28 <= e <= -8:
        counts[("rail-yard", RC)] = 5 + int(rng.integers(0, 4))
    if -28 <= e <= -12:
        counts[("rail-yard", CO)] = 4 + int(rng.integers(0, 3))
    if -25 <= e < -6:
        counts[("assembly", CR)] = 2
    elif -6 <= e <= 0:
        counts[("assembly", CR)] = 1
    if -14 <= e <= 0:
        counts[("propellant", LV)] = 4 + int(rng.integers(0, 3))
    if -3 <= e <= 0:
        counts[("pad", LV)] = 3 + int(rng.integers(0, 3))
    return counts


def plan_series(options: ScenarioOptions) -> list[ImagePlan]:
    """The dated images of a scenario (without pixels)."""
    rng = np.random.default_rng(options.seed)
    plans = []
    for t in revisit_days(options, rng):
        sensor = SENSORS[int(rng.integers(len(SENSORS)))]
        zenith = math.radians(rng.uniform(25, 65))
        sun = Sun(rng.uniform(0, 2 * math.pi), math.tan(zenith), rng.uniform(0.35, 0.6))
        u = rng.random()
        cloud = (
            "full"
            if u < options.full_cloud_probability
            else "partial"
            if u < options.cloud_probability
            else "none"
        )
        s = options.max_shift_px
        shift = (round(float(rng.uniform(-s, s))), round(float(rng.uniform(-s, s))))
        counts = true_counts(options.kind, t, options.event_day, rng)
        plans.append(
            ImagePlan(options.start + timedelta(days=t), sensor, sun, shift, cloud, counts)
        )
    return plans


@dataclass(frozen=True)
class Slot:
    """A fixed place for one object in a zone (metres from the crop's top-left), with its parts."""

    x_m: float
    y_m: float
    theta: float
    parts: tuple[Part, ...]
    length_m: float


def _car(rng: np.random.Generator) -> tuple[list[Part], float]:
    colour = tuple(float(c) for c in VEHICLE_COLOURS[int(rng.integers(len(VEHICLE_COLOURS)))])
    length = float(rng.uniform(4.0, 5.2))
    return [
        Part(0, 0, length, 1.85, colour, 1.5),
        Part(0.3, 0, length * 0.45, 1.5, tuple(c * 0.6 for c in colour), 1.6),
    ], length


def make_slots(
    size_m: tuple[float, float], seed: int, max_per: int = 16
) -> dict[tuple[str, ObjectClass], list[Slot]]:
    """Places for every zone and class, fixed for the whole scenario (objects keep their place)."""
    rng = np.random.default_rng(seed + 7919)
    w, h = size_m
    out: dict[tuple[str, ObjectClass], list[Slot]] = {}
    for zone, (_, (fx0, fy0, fx1, fy1), classes) in ZONES.items():
        x0, y0, x1, y1 = fx0 * w, fy0 * h, fx1 * w, fy1 * h
        taken: list[tuple[float, float, float]] = []
        for cls in classes:
            slots: list[Slot] = []
            if cls is RC:
                colour = tuple(float(c) for c in RAIL_COLOURS[int(rng.integers(len(RAIL_COLOURS)))])
                y = y0 + 0.3 * (y1 - y0)
                length = float(rng.uniform(13, 18))
                for i in range(max_per):
                    x = x0 + 10 + i * (length + 1.2) + length / 2
                    if x + length / 2 > x1:
                        break
                    slots.append(Slot(x, y, 0.0, (Part(0, 0, length, 3.1, colour, 4.0),), length))
                out[(zone, cls)] = slots
                continue
            tries = 0
            while len(slots) < max_per and tries < 400:
                tries += 1
                if cls is CR:
                    parts, length, _ = crane(rng)
                elif cls is LV:
                    parts, length, _ = large_vehicle(rng)
                elif cls is CO:
                    colour = tuple(
                        float(c)
                        for c in CONTAINER_COLOURS[int(rng.integers(len(CONTAINER_COLOURS)))]
                    )
                    parts, length = [Part(0, 0, 12.19, 2.44, colour, 2.6)], 12.19
                else:
                    parts, length = _car(rng)
                if cls is CO:
                    y_lo = y0 + 0.6 * (y1 - y0)
                    x, y = float(rng.uniform(x0 + 8, x1 - 8)), float(rng.uniform(y_lo, y1 - 3))
                else:
                    x = (
                        float(rng.uniform(x0 + length / 2, x1 - length / 2))
                        if x1 - x0 > length
                        else (x0 + x1) / 2
                    )
                    y = float(rng.uniform(y0 + 4, y1 - 4))
                radius = length / 2 + 1.5
                if any(math.hypot(x - a, y - b) < radius + r for a, b, r in taken):
                    continue
                theta = (
                    float(rng.choice([0.0, math.pi / 2]))
                    if cls is SV
                    else float(rng.uniform(0, math.pi))
                )
                taken.append((x, y, radius))
                slots.append(Slot(x, y, theta, tuple(parts), length))
            out[(zone, cls)] = slots
    return out


TRACK_COLOUR = (120.0, 110.0, 100.0)


def _cloud_mask(shape: tuple[int, int], rng: np.random.Generator, full: bool) -> F32:
    if full:
        return np.ones(shape, dtype=np.float32)
    noise = ndimage.gaussian_filter(rng.random(shape).astype(np.float32), sigma=min(shape) / 8)
    noise = (noise - noise.min()) / max(float(np.ptp(noise)), 1e-6)
    cover = float(rng.uniform(0.2, 0.7))
    thr = float(np.quantile(noise, 1 - cover))
    mask: F32 = np.clip((noise - thr) / 0.05, 0, 1).astype(np.float32)
    return mask


def render_image(
    background: F32,
    background_gsd_m: float,
    plan: ImagePlan,
    slots: dict[tuple[str, ObjectClass], list[Slot]],
    seed: int,
) -> tuple[npt.NDArray[np.uint8], dict[str, float]]:
    """The uint8 (3, rows, cols) image of one plan at its sensor's GSD, and each zone's cloud
    cover fraction."""
    rng = np.random.default_rng(seed)
    gsd = plan.sensor.gsd_m
    img, _, _ = resample_to_gsd(background, background_gsd_m, gsd, psf_px=plan.sensor.blur_px)
    img = img.copy()
    before = img.copy()
    rows, cols = img.shape[1:]
    # the rail track is always there
    _, (fx0, fy0, fx1, fy1), _ = ZONES["rail-yard"]
    w_m, h_m = cols * gsd, rows * gsd
    ty = (fy0 + 0.3 * (fy1 - fy0)) * h_m
    track = [
        Part(0, 0, (fx1 - fx0) * w_m, 3.4, TRACK_COLOUR, 0.0),
        Part(0, -0.72, (fx1 - fx0) * w_m, 0.12, (50.0, 45.0, 40.0), 0.0),
        Part(0, 0.72, (fx1 - fx0) * w_m, 0.12, (50.0, 45.0, 40.0), 0.0),
    ]
    render_parts(img, track, (fx0 + fx1) / 2 * w_m / gsd, ty / gsd, 0.0, gsd, plan.sun, rng)
    for key, n in sorted(plan.counts.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        for slot in slots.get(key, [])[:n]:
            render_parts(
                img,
                list(slot.parts),
                slot.x_m / gsd,
                slot.y_m / gsd,
                slot.theta,
                gsd,
                plan.sun,
                rng,
            )
    soften(img, before, plan.sensor.blur_px)
    g = np.array(plan.sensor.gains, dtype=np.float32)[:, None, None]
    img = img * g + rng.normal(0, plan.sensor.noise, img.shape).astype(np.float32)
    covers: dict[str, float] = {}
    if plan.cloud != "none":
        mask = _cloud_mask((rows, cols), rng, plan.cloud == "full")
        cloud = np.float32(rng.uniform(225, 250))
        img = img * (1 - mask) + cloud * mask
        for zone, (_, (a, b, c, d), _) in ZONES.items():
            covers[zone] = round(
                float(mask[int(b * rows) : int(d * rows), int(a * cols) : int(c * cols)].mean()), 3
            )
    dx, dy = plan.shift_px
    img = np.roll(img, (dy, dx), axis=(1, 2))
    out: npt.NDArray[np.uint8] = np.clip(img, 0, 255).astype(np.uint8)
    return out, covers


def scenario_truth(
    options: ScenarioOptions, plans: list[ImagePlan], covers: list[dict[str, float]]
) -> dict[str, Any]:
    """The ground truth document of a scenario."""
    event = options.start + timedelta(days=options.event_day)
    return {
        "kind": options.kind.value,
        "seed": options.seed,
        "start": options.start.isoformat(),
        "end": (options.start + timedelta(days=options.days)).isoformat(),
        "event_date": event.isoformat() if options.kind is ScenarioKind.CAMPAIGN else None,
        "campaign_start": (event - timedelta(days=35)).isoformat()
        if options.kind is ScenarioKind.CAMPAIGN
        else None,
        "generated": True,
        "images": [
            {
                "date": p.day.isoformat(),
                "sensor": p.sensor.name,
                "gsd_m": p.sensor.gsd_m,
                "shift_px": list(p.shift_px),
                "cloud": p.cloud,
                "zone_cloud_cover": c,
                "sun_shadow_dir_deg": round(math.degrees(p.sun.shadow_dir), 1),
                "counts": {
                    f"{z}/{cls.value}": n
                    for (z, cls), n in sorted(
                        p.counts.items(), key=lambda kv: (kv[0][0], kv[0][1].value)
                    )
                },
            }
            for p, c in zip(plans, covers, strict=True)
        ],
    }
