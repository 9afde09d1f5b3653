"""Rule packs: the shipped packs load; every bad pack is a RuleError naming the rule and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitewatch.errors import RuleError
from sitewatch.indicators.rules import parse_rule_pack

RULES = Path(__file__).resolve().parents[2] / "examples" / "rules"

GOOD: dict[str, Any] = {
    "pack": "p",
    "version": "1.0.0",
    "indicators": [
        {
            "id": "trucks",
            "zones": {"kinds": ["assembly"]},
            "metric": "anomaly",
            "class": "large_vehicle",
            "window_days": 14,
            "threshold": 0.95,
        },
        {
            "id": "razed",
            "zones": {"ids": ["pad"]},
            "metric": "changed_fraction",
            "window_days": 30,
            "threshold": 0.5,
        },
    ],
    "signatures": [
        {"id": "prep", "positive": ["trucks"], "negative": ["razed"], "includes": ["base"]},
        {"id": "base", "positive": ["trucks"]},
    ],
}


@pytest.mark.parametrize("name", ["launch-preparation.yaml", "construction.yaml"])
def test_shipped_packs_load(name: str) -> None:
    pack = parse_rule_pack(yaml.safe_load((RULES / name).read_text()), name)
    assert pack.version and pack.signatures and pack.ref.startswith(pack.id + "@")


def test_good_pack_resolves_includes() -> None:
    pack = parse_rule_pack(GOOD, "good.yaml")
    prep = pack.signatures[0]
    assert prep.positive == ("trucks",) and prep.negative == ("razed",)


def _bad(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (
            _bad(("indicators", 0, "metric"), "speed"),
            r"indicator 'trucks': field 'metric': unknown metric 'speed'",
        ),
        (
            _bad(("indicators", 0, "zones"), {"kinds": ["moon_base"]}),
            r"indicator 'trucks': field 'zones.kinds': unknown zone kind 'moon_base'",
        ),
        (
            _bad(("indicators", 0, "class"), "tank"),
            r"indicator 'trucks': field 'class': unknown class 'tank'",
        ),
        (
            _bad(("indicators", 0, "threshold"), 1.5),
            r"indicator 'trucks': field 'threshold': 1.5 is out of range",
        ),
        (_bad(("indicators", 1, "threshold"), -0.1), r"indicator 'razed': field 'threshold'"),
        (
            _bad(("indicators", 0, "threshold"), "high"),
            r"indicator 'trucks': field 'threshold': Input should be a valid number",
        ),
        (_bad(("indicators", 0, "window_days"), 0), r"indicator 'trucks': field 'window_days'"),
        (
            _bad(("indicators", 1, "class"), "crane"),
            r"indicator 'razed': field 'class': metric 'changed_fraction' takes no class",
        ),
        (
            _bad(("signatures", 1, "includes"), ["prep"]),
            r"signature '(prep|base)': field 'includes': cycle (prep -> base -> prep|base -> prep -> base)",
        ),
        (
            _bad(("signatures", 0, "positive"), ["nope"]),
            r"signature 'prep': field 'positive': unknown indicator 'nope'",
        ),
        (_bad(("signatures", 0, "prior"), 1.0), r"signature 'prep': field 'prior'"),
        (_bad(("alert_level",), "certain"), r"pack: field 'alert_level'"),
        (
            _bad(("indicators", 0, "colour"), "red"),
            r"indicator 'trucks': field 'colour': Extra inputs are not permitted",
        ),
    ],
)
def test_bad_packs_name_the_rule_and_field(doc: dict[str, Any], match: str) -> None:
    with pytest.raises(RuleError, match=r"rule pack bad.yaml: " + match):
        parse_rule_pack(doc, "bad.yaml")


def test_not_a_mapping() -> None:
    with pytest.raises(RuleError, match=r"rule pack bad\.yaml: pack"):
        parse_rule_pack(["a", "list"], "bad.yaml")
