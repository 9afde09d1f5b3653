"""`sitewatch report`: a self-contained HTML and a PDF whose pages render (pdftoppm) and show the
overview, assessment, timelines, evidence, alerts and provenance; plain answers when there is
nothing yet or the site is unknown."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.pipeline.series import campaign, prepare, watchlist


def _pages(pdf: Path, out: Path) -> list[np.ndarray]:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian poppler-utils) is not installed; .ci/run installs it")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(out / "page")], check=True)
    return [np.asarray(Image.open(p).convert("L")) for p in sorted(out.glob("page-*.png"))]


def test_report_html_and_pdf(cli: Callable[..., Any], tmp_path: Path) -> None:
    model = prepare(cli, tmp_path, campaign(n=16))
    assert cli("run", "--model", str(model)).code == 0
    [alert] = json.loads(cli("alerts", "list", "--json").out)
    assert cli("alerts", "ack", alert["id"][:8], "--reviewer", "ana", "--note", "looking").code == 0
    r = cli("report", "factory", "--out", str(tmp_path / "rep"), "--json")
    assert r.code == 0, r.err
    paths = json.loads(r.out)
    html = Path(paths["html"]).read_text()
    # self-contained: every image is embedded, nothing is fetched
    assert html.count("data:image/png;base64,") >= 6
    assert not re.search(r"""src=["'](?!data:)""", html) and "<link" not in html
    for text in (
        "Generated factory",
        "Current assessment",
        "Launch preparation",
        "likely",
        "Alternatives",
        "Activity over time",
        "Evidence: before and after",
        "Alert history",
        "acknowledged by ana",
        "Provenance",
        "test-blobs",
        "launch-preparation@1.0.0",
    ):
        assert text in html, text
    pages = _pages(Path(paths["pdf"]), tmp_path)
    assert len(pages) >= 3
    for page in pages:
        assert page.std() > 10  # every page carries content, none is blank


def test_report_for_a_site_without_scenes_says_so(cli: Callable[..., Any], tmp_path: Path) -> None:
    wl = tmp_path / "w.geojson"
    wl.write_text(json.dumps(watchlist("empty-site")))
    assert cli("sites", "import", str(wl)).code == 0
    r = cli("report", "empty-site", "--out", str(tmp_path), "--json")
    assert r.code == 0, r.err
    html = Path(json.loads(r.out)["html"]).read_text()
    assert "Nothing to report yet for site &#x27;empty-site&#x27;: 0 scenes" in html
    assert len(_pages(Path(json.loads(r.out)["pdf"]), tmp_path)) == 1


def test_report_for_an_unknown_site_exits_2(cli: Callable[..., Any], tmp_path: Path) -> None:
    r = cli("report", "nowhere", "--out", str(tmp_path))
    assert r.code == 2 and "nowhere" in r.err and "Traceback" not in r.err
