"""Generated objects for the classes without public overhead labels: rail cars, cranes, containers,
and extra large vehicles, drawn onto real backgrounds at the background's GSD.

Each object is a set of oriented rectangles in metres (body parts with a colour, a texture, a
height and the height of their underside). Drawing is anti-aliased (analytic pixel coverage),
and every part casts a shadow: its footprint swept away from the sun from its underside's
shift to its top's (height x tan(sun zenith)), darkening the ground. A box standing on the
ground thus has its shadow attached to it; a crane jib held up on its mast casts a strip far
off, joined to the crane by the mast's shadow. Until 2026-11-24 only the top was shifted, which
gave vehicles and containers a floating dark copy of their roof under a low sun. The sun
azimuth and zenith are drawn once per image, so all shadows of an image agree. What is drawn is
then blurred with a Gaussian PSF (`soften`), as the background was when it was resampled. An object
goes where the footprints of its parts overlap no object already there (up to five positions
tried; trains cross anything). Label boxes take the long side as length. An object is labelled
when its centre lies in the image, and its label is the part inside the image (`visible_part`):
until 2026-11-24 it was the whole box, which no detector can find where a 90 m crane leaves a
50 m frame. Every label made here is
marked generated; figures measured on such data are reported as generated.

Sizes: containers ISO 20 ft / 40 ft (6.06 / 12.19 x 2.44 m, 2.6 m high, stacked 1-3); rail cars
12-22 x 2.9-3.2 m on ballasted track; tower crane jibs 30-65 m, mobile crane booms 15-40 m, gantry
cranes 20-35 x 10-25 m; rigid trucks 8-11 m, tractors with box, tank or flatbed trailers 10-17 m,
buses 10-13 m and articulated buses 17-21 m (with roof units); cabs show a dark windscreen.

Moorings (`mooring`, drawn where `GeneratorOptions.moorings` says) are not labelled: a strip of
dark water along a pier, with boats of 6-16 m moored side by side, stern to the pier (or alongside
it), on one or both sides. They are negatives: rows of long light hulls on water that are neither
large vehicles nor containers. Why: trained on rows of parked large vehicles (`vehicle_rows`), a
detector called the moored boats of a real marina (DOTA P0706) large vehicles. With
`quay_vehicles`, a mooring may get 1-3 labelled large vehicles parked on its quay, along the
water's edge or nose to it, so that hulls and trucks are seen side by side (`_draw_quay_vehicles`).

Large-vehicle colours: white, dark grey, red, blue and light grey (`VEHICLE_COLOURS`); with
`wide_palette` also school-bus yellow, its faded tan, orange, green and brown
(`WIDE_VEHICLE_COLOURS`). Why: yellow was drawn only on cranes and containers, and real yellow
school buses parked in rows came out as containers (sitewatch-det-0.19.0). At the herringbone
depot of `benchmarks/depot_counts.py` the palette did not help (det-0.24.0: tan buses 25 to 21 of
46 found); angled bays (`large_vehicle_row`'s `angled`) did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import shapely
from scipy import ndimage

from sitewatch.core.models import ObjectClass, OrientedBox
from sitewatch.detect.merge import extent_on_axes

F32 = npt.NDArray[np.float32]

CONTAINER_COLOURS = [
    (150, 40, 35),
    (30, 70, 140),
    (40, 110, 60),
    (210, 110, 30),
    (120, 120, 125),
    (225, 225, 220),
    (110, 70, 45),
    (200, 170, 40),
    (20, 100, 120),
]
RAIL_COLOURS = [(85, 50, 35), (40, 40, 42), (110, 110, 110), (35, 55, 100), (120, 60, 40)]
CRANE_COLOURS = [(230, 190, 30), (235, 235, 230), (200, 60, 40), (240, 140, 30)]
VEHICLE_COLOURS = [(235, 235, 235), (60, 60, 65), (180, 30, 30), (30, 60, 150), (200, 200, 190)]
# added by `wide_palette`: school-bus yellow, its faded tan, orange, green, brown
WIDE_VEHICLE_COLOURS = [
    *VEHICLE_COLOURS,
    (235, 180, 30),
    (220, 195, 125),
    (235, 125, 35),
    (50, 95, 55),
    (120, 85, 55),
]
GLASS = (45.0, 50.0, 55.0)
WATER_COLOURS = [(20, 35, 35), (25, 40, 50), (35, 50, 45), (15, 25, 30), (45, 60, 70), (50, 55, 45)]
PIER_COLOURS = [(150, 110, 85), (160, 160, 155), (120, 95, 75), (190, 185, 175), (100, 100, 100)]
HULL_COLOURS = [(235, 235, 235), (215, 218, 220), (245, 245, 240), (190, 195, 200), (40, 60, 120)]
DECK_COLOURS = [(150, 120, 85), (70, 72, 75), (200, 200, 195), (235, 235, 230)]
ROOF_UNIT_COLOURS = [(175, 178, 180), (90, 92, 95), (210, 210, 205)]
SHADOW_STEP_PX = 1.0  # a swept shadow is drawn as copies of the footprint at most this far apart
PSF_SIGMA_PX = (0.4, 0.9)  # Gaussian blur of drawn objects, drawn per image (the sensor's PSF)


@dataclass(frozen=True)
class Part:
    """One oriented rectangle of an object, in metres relative to the object's centre."""

    du_m: float  # offset along the object's axis
    dv_m: float  # offset across it
    length_m: float
    width_m: float
    colour: tuple[float, ...]
    height_m: float
    stripes_m: float = 0.0  # period of darker bands along the axis (lattice, ribs); 0: none
    base_m: float = 0.0  # height of its underside: 0 stands on the ground, > 0 is held up


@dataclass(frozen=True)
class Sun:
    """Direction shadows fall (radians, image frame) and shadow length per metre of height."""

    shadow_dir: float
    shadow_per_m: float
    darkness: float


@dataclass(frozen=True)
class GeneratorOptions:
    """What `add_generated` draws besides single objects; each a probability unless said.

    `vehicle_rows`: that a large-vehicle draw is a row parked side by side
    (`large_vehicle_row`); `angled_rows`: that such a row stands in angled bays;
    `moorings`: that an unlabelled mooring of boats (`mooring`) is drawn first;
    `quay_vehicles`: that a mooring drawn gets 1-3 large vehicles (labelled) parked on its quay
    (`_draw_quay_vehicles`); `wide_palette` (a switch): large vehicles take their colours from
    WIDE_VEHICLE_COLOURS instead of VEHICLE_COLOURS. All off (PLAIN) draws what earlier
    versions drew, bit for bit. A new option is added here and as the `TrainConfig` field of
    the same name (the YAML key); `TrainConfig.generator_options` and the sample source pass it
    through.
    """

    vehicle_rows: float = 0.0
    moorings: float = 0.0
    quay_vehicles: float = 0.0
    wide_palette: bool = False
    angled_rows: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vehicle_rows", "moorings", "quay_vehicles", "angled_rows"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"GeneratorOptions.{name} is a probability, 0-1")


PLAIN = GeneratorOptions()


def draw_sun(rng: np.random.Generator) -> Sun:
    """A random sun: zenith 20-65 degrees, shadows 35-60% dark."""
    zenith = math.radians(rng.uniform(20, 65))
    return Sun(rng.uniform(0, 2 * math.pi), math.tan(zenith), rng.uniform(0.35, 0.6))


def _coverage(
    shape: tuple[int, int], cx: float, cy: float, half_l: float, half_w: float, theta: float
) -> tuple[tuple[slice, slice], F32, F32] | None:
    """Anti-aliased coverage of a rotated rectangle (pixels), and the along-axis coordinate."""
    rows, cols = shape
    reach = abs(half_l * math.cos(theta)) + abs(half_w * math.sin(theta)) + 1.5
    reach_y = abs(half_l * math.sin(theta)) + abs(half_w * math.cos(theta)) + 1.5
    x0, x1 = max(0, int(cx - reach)), min(cols, int(cx + reach) + 2)
    y0, y1 = max(0, int(cy - reach_y)), min(rows, int(cy + reach_y) + 2)
    if x0 >= x1 or y0 >= y1:
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xs + 0.5 - cx, ys + 0.5 - cy
    u = dx * math.cos(theta) + dy * math.sin(theta)
    v = -dx * math.sin(theta) + dy * math.cos(theta)
    cov = np.clip(half_l + 0.5 - np.abs(u), 0, 1) * np.clip(half_w + 0.5 - np.abs(v), 0, 1)
    return (slice(y0, y1), slice(x0, x1)), cov.astype(np.float32), u.astype(np.float32)


def _at(
    cx: float, cy: float, theta: float, gsd_m: float, du: float, dv: float
) -> tuple[float, float]:
    """Pixel position of an offset (du along the object's axis, dv across it; metres)."""
    ct, st = math.cos(theta), math.sin(theta)
    return cx + (du * ct - dv * st) / gsd_m, cy + (du * st + dv * ct) / gsd_m


def render_parts(
    image: F32,
    parts: list[Part],
    cx: float,
    cy: float,
    theta: float,
    gsd_m: float,
    sun: Sun,
    rng: np.random.Generator,
    mask: F32 | None = None,
) -> None:
    """Draw an object's shadows then its parts onto a float (3, rows, cols) image, in place;
    `mask` (rows, cols), where given, takes the parts' coverage (their footprints, no shadow)."""
    shape = image.shape[1:]

    def centre(p: Part, lift_m: float) -> tuple[float, float]:
        px, py = _at(cx, cy, theta, gsd_m, p.du_m, p.dv_m)
        off = lift_m * sun.shadow_per_m / gsd_m
        return px + off * math.cos(sun.shadow_dir), py + off * math.sin(sun.shadow_dir)

    shade = np.ones(shape, dtype=np.float32)
    for p in parts:
        if p.height_m <= 0:
            continue
        # the shadow of a solid from its underside to its top: the footprint swept along the
        # shadow direction, in steps of at most SHADOW_STEP_PX
        reach_px = (p.height_m - p.base_m) * sun.shadow_per_m / gsd_m
        steps = max(1, math.ceil(reach_px / SHADOW_STEP_PX))
        for k in range(steps + 1):
            lift = p.base_m + (p.height_m - p.base_m) * k / steps
            sx, sy = centre(p, lift)
            got = _coverage(shape, sx, sy, p.length_m / 2 / gsd_m, p.width_m / 2 / gsd_m, theta)
            if got is not None:
                win, cov, _ = got
                shade[win] = np.minimum(shade[win], 1 - sun.darkness * cov)
    image *= shade[None]
    for p in parts:
        px, py = centre(p, 0.0)
        got = _coverage(shape, px, py, p.length_m / 2 / gsd_m, p.width_m / 2 / gsd_m, theta)
        if got is None:
            continue
        win, cov, u = got
        if mask is not None:
            mask[win] = np.maximum(mask[win], cov)
        colour = np.array(p.colour, dtype=np.float32) * rng.uniform(0.85, 1.1)
        tone = np.ones_like(cov)
        if p.stripes_m > 0:
            tone = 0.8 + 0.2 * np.cos(2 * math.pi * u * gsd_m / p.stripes_m)
        fill = colour[:, None, None] * tone[None]
        image[(slice(None), *win)] = image[(slice(None), *win)] * (1 - cov) + fill * cov


def _pick(rng: np.random.Generator, colours: list[tuple[int, int, int]]) -> tuple[float, ...]:
    c = colours[int(rng.integers(len(colours)))]
    return tuple(float(v) for v in c)


def container_block(rng: np.random.Generator) -> list[tuple[float, float, list[Part]]]:
    """A block of containers: (du, dv, parts) per container, offsets in metres."""
    length = 12.19 if rng.random() < 0.6 else 6.06
    n_long, n_across = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    stack = int(rng.integers(1, 4))
    out = []
    for i in range(n_long):
        for j in range(n_across):
            du = (i - (n_long - 1) / 2) * (length + 0.6)
            dv = (j - (n_across - 1) / 2) * (2.44 + 0.3)
            colour = _pick(rng, CONTAINER_COLOURS)
            out.append((du, dv, [Part(0, 0, length, 2.44, colour, 2.6 * stack, 0.0)]))
    return out


def rail_train(rng: np.random.Generator, reach_m: float) -> tuple[list[Part], list[Part]]:
    """Track parts (unlabelled) and a list of car parts (one Part each) along the track."""
    track = [
        Part(0, 0, reach_m, 3.4, (120, 110, 100), 0.0),
        Part(0, -0.72, reach_m, 0.12, (50, 45, 40), 0.0),
        Part(0, 0.72, reach_m, 0.12, (50, 45, 40), 0.0),
    ]
    kind = int(rng.integers(4))
    n = int(rng.integers(2, 8))
    length = float(rng.uniform(12, 22))
    colour = _pick(rng, RAIL_COLOURS)
    cars, pos = [], -(n * (length + 1.2)) / 2 + length / 2 + rng.uniform(-10, 10)
    for _ in range(n):
        stripes = 2.0 if kind == 1 else 0.0
        if kind == 2:  # tank car: light ridge along the top
            cars.append(Part(pos, 0, length, 3.0, colour, 4.0, 0.0))
            cars.append(
                Part(pos, 0, length * 0.95, 0.8, tuple(min(255, c * 1.8) for c in colour), 4.2)
            )
        else:
            cars.append(Part(pos, 0, length, 3.1, colour, 4.0 if kind != 3 else 1.2, stripes))
        pos += length + float(rng.uniform(0.8, 1.6))
    return track, cars


def crane(rng: np.random.Generator) -> tuple[list[Part], float, float]:
    """Parts of a tower, mobile or gantry crane, and its label length and width (metres)."""
    colour = _pick(rng, CRANE_COLOURS)
    kind = int(rng.integers(3))
    if kind == 0:  # tower crane seen from above: jib, counter-jib, counterweight, mast
        jib = float(rng.uniform(30, 65))
        counter = jib * float(rng.uniform(0.25, 0.35))
        height = float(rng.uniform(25, 50))
        total = jib + counter
        mast_u = -total / 2 + counter
        top = height - 1.5  # jibs are lattice girders about 1.5 m deep, held up by the mast
        parts = [
            Part(mast_u + jib / 2, 0, jib, 1.6, colour, height, 1.5, top),
            Part(mast_u - counter / 2, 0, counter, 2.2, colour, height, 1.5, top),
            Part(-total / 2 + 2.5, 0, 5.0, 3.0, (150, 150, 145), height, 0.0, top - 1.0),
            Part(mast_u, 0, 2.2, 2.2, colour, height),
        ]
        return parts, total, 3.0
    if kind == 1:  # mobile crane: carrier and boom along it
        carrier = float(rng.uniform(10, 15))
        boom = float(rng.uniform(15, 40))
        total = carrier + boom * 0.8
        tip = boom * float(rng.uniform(0.3, 0.8))  # the raised boom's tip height
        start = -total / 2 + carrier * 0.6
        parts = [
            Part(-total / 2 + carrier / 2, 0, carrier, 2.7, colour, 3.5),
            Part(-total / 2 + carrier * 0.55, 0, 3.0, 2.7, (60, 60, 60), 3.8),
        ]
        # the boom rises from the carrier: drawn as short pieces, each held up at its own
        # height, so that its shadow leaves the carrier and runs out to the tip's
        pieces = 24
        step = (tip - 4.0) / pieces
        for i in range(pieces):
            height = 4.0 + step * (i + 1)
            parts.append(
                Part(
                    start + boom * (i + 0.5) / pieces,
                    0.3,
                    boom / pieces,
                    1.0,
                    colour,
                    height,
                    2.5,
                    max(0.0, height - 1.0 - step),
                )
            )
        return parts, total, 3.0
    span = float(rng.uniform(20, 35))
    depth = float(rng.uniform(10, 25))
    parts = [
        Part(0, -depth / 2, span, 1.8, colour, 20.0, 3.0, 18.0),
        Part(0, depth / 2, span, 1.8, colour, 20.0, 3.0, 18.0),
        Part(0, 0, 3.0, depth, colour, 22.0, 0.0, 20.0),
    ]
    # four legs carry the girders down to the rails
    parts += [
        Part(su * (span / 2 - 0.6), sv * depth / 2, 1.2, 1.2, colour, 18.0)
        for su in (-1, 1)
        for sv in (-1, 1)
    ]
    return parts, span, depth + 1.8


def large_vehicle(
    rng: np.random.Generator, palette: list[tuple[int, int, int]] = VEHICLE_COLOURS
) -> tuple[list[Part], float, float]:
    """A bus (rigid or articulated, with roof units), a rigid truck, or a tractor with a box,
    tank or flatbed trailer: parts, label length and width (metres). Cabs show their windscreen
    as a dark band at the front. Bodies and cabs take their colours from `palette`."""
    colour = _pick(rng, palette)
    kind = rng.random()
    if kind < 0.35:  # bus: one body, or two joined by a dark bellows
        sections = [float(rng.uniform(10, 13))]
        if rng.random() < 0.3:
            sections = [float(rng.uniform(10, 12)), float(rng.uniform(6, 8))]
        total = sum(sections) + 1.0 * (len(sections) - 1)
        parts, u = [], -total / 2
        for i, length in enumerate(sections):
            parts.append(Part(u + length / 2, 0, length, 2.55, colour, 3.2))
            for _ in range(int(rng.integers(1, 3))):  # air-conditioning and ventilation units
                at = u + length * float(rng.uniform(0.2, 0.8))
                unit = _pick(rng, ROOF_UNIT_COLOURS)
                parts.append(Part(at, 0, float(rng.uniform(1.2, 3.0)), 1.8, unit, 3.5))
            u += length
            if i + 1 < len(sections):
                parts.append(Part(u + 0.5, 0, 1.0, 2.4, (40.0, 40.0, 42.0), 3.0))
                u += 1.0
        return parts, total, 2.55
    cab = 2.4
    if kind < 0.55:  # rigid truck: cab and box on one chassis
        body_l = float(rng.uniform(5, 8))
        body, height, stripes = _pick(rng, palette), 3.6, 0.0
    else:  # tractor and semi-trailer
        body_l = float(rng.uniform(7, 13.6))
        load = rng.random()
        if load < 0.3:  # tank: light ridge along the top
            body, height, stripes = (190.0, 190.0, 195.0), 3.5, 1.2
        elif load < 0.45:  # flatbed, carrying something
            body, height, stripes = (95.0, 90.0, 85.0), 1.5, 0.0
        else:
            body, height, stripes = _pick(rng, palette), 4.0, 0.0
    total = body_l + cab + 0.6
    front = total / 2
    parts = [
        Part(front - cab / 2, 0, cab, 2.5, colour, 3.0),
        Part(front - 0.3, 0, 0.5, 2.3, GLASS, 2.8),
        Part(-total / 2 + body_l / 2, 0, body_l, 2.5, body, height, stripes),
    ]
    if height < 2 and rng.random() < 0.7:  # cargo on a flatbed
        cargo = body_l * float(rng.uniform(0.3, 0.8))
        parts.append(
            Part(-total / 2 + body_l / 2, 0, cargo, 2.3, _pick(rng, CONTAINER_COLOURS), 2.8)
        )
    return parts, total, 2.55


def large_vehicle_row(
    rng: np.random.Generator,
    palette: list[tuple[int, int, int]] = VEHICLE_COLOURS,
    angled: float = 0.0,
) -> list[tuple[float, float, list[Part], float, float]]:
    """Large vehicles parked side by side, as at a bus depot or a truck park: 2-12 bays across,
    0.5-1.5 m apart, one model for most of the fleet (another in 30% of the bays), each shifted
    up to 0.6 m along the row, and a bay left empty now and then. Items (du, dv, parts, length,
    width) in metres, like a container block's. Why: containers were the only generated objects
    drawn side by side, and a real row of parked buses came out as containers.

    `angled`: the probability that the bays are angled (echelon parking, one half of a
    herringbone): the curb meets the vehicles at 35-65 degrees, so each vehicle stands
    (width + gap) / tan(angle) further along its axis than its neighbour, and the shadow of
    one falls on the next. Why: at a real depot parked in herringbone rows, a detector trained
    on square rows boxed the gap between two buses (`benchmarks/depot_counts.py`). 0 draws
    what earlier versions drew, bit for bit."""
    n = int(rng.integers(2, 13))
    fleet = large_vehicle(rng, palette)
    gap = float(rng.uniform(0.5, 1.5))
    stagger = 0.0
    if angled > 0 and rng.random() < angled:
        stagger = (2.55 + gap) / math.tan(math.radians(float(rng.uniform(35, 65))))
        stagger *= 1.0 if rng.random() < 0.5 else -1.0
    out = []
    for j in range(n):
        if j and rng.random() < 0.1:
            continue
        parts, length, width = fleet if rng.random() < 0.7 else large_vehicle(rng, palette)
        du = float(rng.uniform(-0.6, 0.6)) + (j - (n - 1) / 2) * stagger
        dv = (j - (n - 1) / 2) * (2.55 + gap)
        out.append((du, dv, parts, length, width))
    return out


def boat(rng: np.random.Generator) -> tuple[list[Part], float, float]:
    """A motor or sailing boat seen from above, bow towards +u: a hull narrowing in steps to a
    pointed bow, a deck or cabin on it and a dark cockpit aft; parts, length and beam (metres)."""
    length = float(rng.uniform(6, 16))
    beam = float(np.clip(length * rng.uniform(0.28, 0.38), 2.0, 5.0))
    hull, height = _pick(rng, HULL_COLOURS), float(rng.uniform(1.0, 1.8))
    body = length * 0.7
    parts = [Part(-length / 2 + body / 2, 0, body, beam, hull, height)]
    step = (length - body) / 3
    for i, narrow in enumerate((0.8, 0.55, 0.3)):  # the bow
        parts.append(
            Part(-length / 2 + body + step * (i + 0.5), 0, step, beam * narrow, hull, height)
        )
    cabin = length * float(rng.uniform(0.25, 0.45))
    parts.append(
        Part(
            length * float(rng.uniform(-0.1, 0.1)),
            0,
            cabin,
            beam * 0.6,
            _pick(rng, DECK_COLOURS),
            height + float(rng.uniform(0.5, 1.5)),
        )
    )
    parts.append(
        Part(-length / 2 + length * 0.1, 0, length * 0.15, beam * 0.7, (70.0, 70.0, 70.0), height)
    )
    return parts, length, beam


def mooring(
    rng: np.random.Generator,
) -> tuple[list[Part], list[tuple[float, float, float, list[Part]]]]:
    """A pier in a strip of water and the boats moored at it, in metres on the pier's axis:
    the water and pier parts, and per boat (du, dv, angle to the pier in radians, parts). Boats lie
    stern to the pier, 0.3-1.5 m apart (a berth left empty now and then), on one or both sides,
    or alongside it in a fifth of moorings."""
    reach = float(rng.uniform(40, 150))
    pier_w = float(rng.uniform(1.5, 4.0))
    alongside = rng.random() < 0.2
    sides = (-1, 1) if rng.random() < 0.7 else (int(rng.choice([-1, 1])),)
    boats: list[tuple[float, float, float, list[Part]]] = []
    deepest = 0.0
    for side in sides:
        u = -reach / 2
        while True:
            parts, length, beam = boat(rng)
            along = length if alongside else beam
            gap = float(rng.uniform(0.3, 1.5))
            if u + along > reach / 2:
                break
            if rng.random() > 0.12:
                if alongside:
                    angle = 0.0 if rng.random() < 0.5 else math.pi
                    dv = side * (pier_w / 2 + 0.3 + beam / 2)
                    deepest = max(deepest, beam + 0.3)
                else:
                    angle = side * math.pi / 2 + float(rng.uniform(-0.15, 0.15))
                    dv = side * (pier_w / 2 + float(rng.uniform(0.3, 1.5)) + length / 2)
                    deepest = max(deepest, length + 1.5)
                boats.append((u + along / 2, dv, angle, parts))
            u += along + gap
    across = 2 * (pier_w / 2 + deepest + float(rng.uniform(5, 30)))
    water = Part(0, 0, reach + float(rng.uniform(10, 60)), across, _pick(rng, WATER_COLOURS), 0.0)
    pier = Part(0, 0, reach + 4.0, pier_w, _pick(rng, PIER_COLOURS), 0.5)
    return [water, pier], boats


def _draw_mooring(
    image: F32,
    gsd_m: float,
    rng: np.random.Generator,
    occupied: list[OrientedBox],
    sun: Sun,
) -> tuple[float, float, float, Part] | None:
    """Draw a mooring (unlabelled) where its water overlaps nothing `occupied`, and add the water
    to `occupied` so that no generated object is drawn on it. Returns where the water lies
    (centre in pixels, angle, its part), None where it found no room."""
    ground, boats = mooring(rng)
    rows, cols = image.shape[1:]
    placed = _place(
        [(0.0, 0.0, ground[:1], ground[0].length_m, ground[0].width_m)],
        rows,
        cols,
        gsd_m,
        rng,
        occupied,
    )
    if placed is None:
        return None
    cx, cy, theta, (water,) = placed
    render_parts(image, ground, cx, cy, theta, gsd_m, sun, rng)
    for du, dv, angle, parts in boats:
        bx, by = _at(cx, cy, theta, gsd_m, du, dv)
        render_parts(image, parts, bx, by, theta + angle, gsd_m, sun, rng)
    occupied.append(water)
    return cx, cy, theta, ground[0]


def _draw_quay_vehicles(
    image: F32,
    gsd_m: float,
    rng: np.random.Generator,
    occupied: list[OrientedBox],
    sun: Sun,
    water: tuple[float, float, float, Part],
    palette: list[tuple[int, int, int]] = VEHICLE_COLOURS,
) -> list[tuple[ObjectClass, OrientedBox]]:
    """Draw 1-3 large vehicles (labelled) parked on the quay along one side of a mooring's
    water, 0.5-3 m from its edge, either along the edge or nose to it, where they overlap
    nothing `occupied`. Why: a light hull of 6-16 m and a white truck differ at 0.5 m mostly
    in what lies around them, so the network must see both side by side, not boats at the
    water and trucks elsewhere."""
    cx, cy, theta, part = water
    side = 1.0 if rng.random() < 0.5 else -1.0
    rows, cols = image.shape[1:]
    labels: list[tuple[ObjectClass, OrientedBox]] = []
    for _ in range(int(rng.integers(1, 4))):
        parts, length, width = large_vehicle(rng, palette)
        nose_in = rng.random() < 0.5
        across = length if nose_in else width
        du = float(rng.uniform(-0.45, 0.45)) * part.length_m
        dv = side * (part.width_m / 2 + float(rng.uniform(0.5, 3.0)) + across / 2)
        bx, by = _at(cx, cy, theta, gsd_m, du, dv)
        angle = theta + (math.pi / 2 if nose_in else 0.0)
        (box,), footprint = _layout([(0.0, 0.0, parts, length, width)], bx, by, angle, gsd_m)
        if not _free(occupied, footprint):
            continue
        render_parts(image, parts, bx, by, angle, gsd_m, sun, rng)
        occupied.append(box)
        if 0 <= box.cx < cols and 0 <= box.cy < rows:
            labels.append((ObjectClass.LARGE_VEHICLE, visible_part(box, cols, rows)))
    return labels


def _free(occupied: list[OrientedBox], parts: list[OrientedBox]) -> bool:
    """Whether no part footprint of a candidate overlaps an object already there.

    Footprints, not envelopes: a 90 m crane jib crossing a street diagonally has an envelope that
    covers the whole street, but it is only 1.6 m wide, so testing envelopes kept cranes out of
    almost every frame with vehicles in it (7% of training crops had one, against 35-46% for the
    other generated classes)."""
    if not occupied or not parts:
        return True
    a = shapely.polygons([b.corners() for b in parts])
    b = shapely.polygons([o.corners() for o in occupied])
    return not bool(shapely.intersects(a[:, None], b[None, :]).any())


def _label_box(
    cx: float, cy: float, length_px: float, width_px: float, theta: float
) -> OrientedBox:
    """A label box with its long side as length (a gantry crane can be deeper than its span)."""
    angle = math.degrees(theta)
    if width_px > length_px:
        length_px, width_px, angle = width_px, length_px, angle + 90.0
    return OrientedBox(cx, cy, length_px, width_px, angle % 180)


def visible_part(box: OrientedBox, cols: int, rows: int) -> OrientedBox:
    """The part of a label box inside the image, on the object's own axes: what an annotator
    draws for an object that the image edge cuts (a crane jib leaving the frame)."""
    poly = shapely.Polygon(box.corners())
    inside = poly.intersection(shapely.box(0, 0, cols, rows))
    if inside.area >= poly.area * 0.999 or inside.is_empty:
        return box
    t = math.radians(box.angle_deg)
    cx, cy, along, across = extent_on_axes(shapely.get_coordinates(inside), t)
    return _label_box(cx, cy, along, across, t)


PLACEMENT_TRIES = 5


def _layout(
    items: list[tuple[float, float, list[Part], float, float]],
    cx: float,
    cy: float,
    theta: float,
    gsd_m: float,
) -> tuple[list[OrientedBox], list[OrientedBox]]:
    """The label boxes of an object's items at a centre and angle, and their parts' footprints."""
    boxes, footprint = [], []
    for du, dv, parts, length, width in items:
        bx, by = _at(cx, cy, theta, gsd_m, du, dv)
        boxes.append(_label_box(bx, by, length / gsd_m, width / gsd_m, theta))
        for p in parts:
            px, py = _at(cx, cy, theta, gsd_m, du + p.du_m, dv + p.dv_m)
            footprint.append(
                OrientedBox(px, py, p.length_m / gsd_m, p.width_m / gsd_m, math.degrees(theta))
            )
    return boxes, footprint


def _place(
    items: list[tuple[float, float, list[Part], float, float]],
    rows: int,
    cols: int,
    gsd_m: float,
    rng: np.random.Generator,
    occupied: list[OrientedBox] | None,
) -> tuple[float, float, float, list[OrientedBox]] | None:
    """A centre, an angle and the label boxes of an object's items where their part footprints
    overlap nothing `occupied` (None: anywhere), trying up to PLACEMENT_TRIES positions."""
    for _ in range(PLACEMENT_TRIES if occupied is not None else 1):
        theta = float(rng.uniform(0, math.pi))
        cx, cy = float(rng.uniform(0, cols)), float(rng.uniform(0, rows))
        boxes, footprint = _layout(items, cx, cy, theta, gsd_m)
        if occupied is None or _free(occupied, footprint):
            return cx, cy, theta, boxes
    return None


def add_generated(
    image: F32,
    gsd_m: float,
    rng: np.random.Generator,
    classes: tuple[ObjectClass, ...],
    occupied: list[OrientedBox],
    count: int,
    masks: dict[ObjectClass, F32] | None = None,
    options: GeneratorOptions = PLAIN,
) -> list[tuple[ObjectClass, OrientedBox]]:
    """Draw up to `count` generated objects (or groups) of `classes` where nothing is yet.

    Returns the labels drawn (class and pixel box). `occupied` is extended in place. `masks`
    maps classes to (rows, cols) arrays that take the footprint coverage of every object of that
    class drawn, whether or not its centre (hence its label) falls inside the image.
    `options`: what else is drawn (`GeneratorOptions`); the default, PLAIN, draws what earlier
    versions drew, bit for bit.
    """
    o = options
    palette = WIDE_VEHICLE_COLOURS if o.wide_palette else VEHICLE_COLOURS
    rows, cols = image.shape[1:]
    sun = draw_sun(rng)
    before = image.copy()
    labels: list[tuple[ObjectClass, OrientedBox]] = []
    if o.moorings > 0 and rng.random() < o.moorings:
        water = _draw_mooring(image, gsd_m, rng, occupied, sun)
        if water is not None and o.quay_vehicles > 0 and rng.random() < o.quay_vehicles:
            labels += _draw_quay_vehicles(image, gsd_m, rng, occupied, sun, water, palette)
    for _ in range(count):
        cls = classes[int(rng.integers(len(classes)))]
        items: list[tuple[float, float, list[Part], float, float]] = []
        extra: list[Part] = []
        if cls is ObjectClass.CONTAINER:
            items = [(du, dv, p, p[0].length_m, 2.44) for du, dv, p in container_block(rng)]
        elif cls is ObjectClass.RAIL_CAR:
            extra, cars = rail_train(rng, reach_m=2 * max(rows, cols) * gsd_m)
            items = [(c.du_m, 0.0, [replace(c, du_m=0.0, dv_m=0.0)], c.length_m, 3.1) for c in cars]
            items = _merge_tank_tops(items, cars)
        elif (
            cls is ObjectClass.LARGE_VEHICLE
            and o.vehicle_rows > 0
            and rng.random() < o.vehicle_rows
        ):
            items = large_vehicle_row(rng, palette, o.angled_rows)
        else:
            parts, length, width = (
                crane(rng) if cls is ObjectClass.CRANE else large_vehicle(rng, palette)
            )
            items = [(0.0, 0.0, parts, length, width)]
        placed = _place(
            items, rows, cols, gsd_m, rng, None if cls is ObjectClass.RAIL_CAR else occupied
        )
        if placed is None:
            continue
        cx, cy, theta, boxes = placed
        if extra:
            render_parts(image, extra, cx, cy, theta, gsd_m, sun, rng)
        for (du, dv, parts, _, _), box in zip(items, boxes, strict=True):
            shifted = [replace(p, du_m=p.du_m + du, dv_m=p.dv_m + dv) for p in parts]
            mask = masks.get(cls) if masks else None
            render_parts(image, shifted, cx, cy, theta, gsd_m, sun, rng, mask)
            if 0 <= box.cx < cols and 0 <= box.cy < rows:
                labels.append((cls, visible_part(box, cols, rows)))
                occupied.append(box)
    soften(image, before, float(rng.uniform(*PSF_SIGMA_PX)))
    return labels


def soften(image: F32, before: F32, sigma_px: float) -> None:
    """Blur what was drawn onto `image` since it was `before` (objects and their shadows) with a
    Gaussian PSF of `sigma_px`, in place: the background already carries its sensor's blur, and
    objects drawn sharp on it stand out by their edges alone."""
    image[:] = before + ndimage.gaussian_filter(image - before, (0, sigma_px, sigma_px))


def _merge_tank_tops(
    items: list[tuple[float, float, list[Part], float, float]], cars: list[Part]
) -> list[tuple[float, float, list[Part], float, float]]:
    """Tank cars come as body + ridge parts at the same position: one labelled item each."""
    merged: list[tuple[float, float, list[Part], float, float]] = []
    for item, car in zip(items, cars, strict=True):
        if merged and abs(merged[-1][0] - car.du_m) < 1e-6:
            merged[-1][2].append(replace(car, du_m=0.0, dv_m=0.0))
            continue
        merged.append(item)
    return merged
