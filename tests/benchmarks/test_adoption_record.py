"""The several-seed reading of benchmarks/adoption_record.py (a script, loaded from its path)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "adoption_record.py"
CLASSES = ("small_vehicle", "large_vehicle", "rail_car", "crane", "container")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("adoption_record", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figures(ap: float, lv: float) -> dict[str, Any]:
    sets = {s: {c: ap for c in CLASSES} for s in ("real 0.3", "real 0.5")}
    for s in ("generated 0.3", "generated 0.5"):
        sets[s] = {c: lv if c == "large_vehicle" else ap for c in CLASSES}
    return {"model": "m.onnx", "seed": 0, "mean_generated_AP50": ap, **sets}


def _write(folder: Path, name: str, figures: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(figures))


def test_several_seeds_are_read_on_their_mean(tmp_path: Path) -> None:
    ar = _script()
    # the candidate's large vehicles: 0.04 lower on one seed, 0.02 higher on the other two
    for seed, lv in ((1, 0.76), (2, 0.82), (3, 0.82)):
        _write(tmp_path / f"seed{seed}", "new.json", _figures(0.8, lv))
        _write(tmp_path / f"seed{seed}", "old.json", _figures(0.8, 0.8))
    one = ar.conditions(
        ar.figures(tmp_path, [1], "seed1/new.json"),
        ar.figures(tmp_path, [1], "seed1/old.json"),
        "within",
    )
    assert one["holds"]["large_vehicle within 0.03 at both GSDs"] is False
    new = ar.figures(tmp_path, [1, 2, 3], "new.json")
    assert abs(new["generated 0.3"]["large_vehicle"] - 0.8) < 1e-9
    assert abs(new["real 0.5"]["small_vehicle"] - 0.8) < 1e-9
    mean = ar.conditions(new, ar.figures(tmp_path, [1, 2, 3], "old.json"), "within")
    assert mean["holds"]["large_vehicle within 0.03 at both GSDs"] is True
    assert mean["differences"]["large_vehicle within 0.03 at both GSDs"] == [0.0, 0.0]


def test_the_record_of_several_seeds_names_each_seed(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    ar = _script()
    for seed, lv in ((1, 0.76), (2, 0.82), (3, 0.82)):
        for suffix in ("", "-int8"):
            _write(tmp_path / f"seed{seed}", f"sitewatch-det-2.0.0{suffix}.json", _figures(0.8, lv))
            _write(
                tmp_path / f"seed{seed}", f"sitewatch-det-1.0.0{suffix}.json", _figures(0.8, 0.8)
            )
    argv = ["x", str(tmp_path), "2.0.0", "1.0.0", "--config", "c.yaml", "--seed", "1", "2", "3"]
    monkeypatch.setattr("sys.argv", [*argv, "--focus-rule", "within"])
    ar.main()
    record = json.loads(capsys.readouterr().out)
    assert record["detection_conditions_hold"] is False  # the mean generated AP50 is not higher
    per_seed = record["per_seed_differences_int8"]
    assert per_seed["1"]["large_vehicle within 0.03 at both GSDs"] == [-0.04, -0.04]
    assert record["holds_fp32"]["large_vehicle within 0.03 at both GSDs"] is True
