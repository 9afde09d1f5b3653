"""The site report as one self-contained HTML document (images embedded), and its PDF.

The HTML is built from plain values (no store, no I/O besides reading the image files it embeds);
the PDF is the same HTML laid out by WeasyPrint for A4 paper.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sitewatch.errors import InputError, MissingDependencyError

CSS = """
@page { size: A4; margin: 14mm 12mm; @bottom-right { content: counter(page) " / " counter(pages);
  font-size: 8pt; color: #666; } }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111; margin: 0 auto;
  max-width: 190mm; }
h1 { font-size: 17pt; margin: 0 0 2mm 0; } h2 { font-size: 13pt; border-bottom: 1px solid #999;
  margin-top: 7mm; } h3 { font-size: 11pt; margin: 4mm 0 1mm 0; }
.meta { color: #555; font-size: 9pt; } .level { font-weight: bold; font-size: 12pt; }
.box { border: 1px solid #bbb; border-radius: 3px; padding: 2mm 3mm; margin: 2mm 0; }
img { max-width: 100%; } table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
td, th { border: 1px solid #ccc; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; } .chart { page-break-inside: avoid; margin-bottom: 3mm; }
.generated { color: #a00; font-weight: bold; } .empty { font-size: 12pt; padding: 8mm 0; }
"""


@dataclass(frozen=True)
class AssessmentView:
    """What the report says about one signature."""

    name: str
    as_of: str
    likelihood: str
    confidence: str
    probability: float
    rationale: str
    alternatives: Sequence[str]


@dataclass(frozen=True)
class AlertView:
    """One alert with its review history."""

    id: str
    as_of: str
    title: str
    status: str
    reviews: Sequence[str]


@dataclass
class ReportData:
    """Everything the report shows; images are PNG files embedded when rendered."""

    site_id: str
    site_name: str
    generated_at: str
    notes: str = ""
    overview: Path | None = None
    assessments: list[AssessmentView] = field(default_factory=list)
    timelines: list[tuple[str, Path]] = field(default_factory=list)
    evidence: list[tuple[str, Path]] = field(default_factory=list)
    alerts: list[AlertView] = field(default_factory=list)
    scenes: list[list[str]] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    empty_reason: str | None = None


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(d: ReportData) -> str:
    """The report as one HTML document."""
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'/>",
        f"<title>sitewatch report: {e(d.site_name)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(d.site_name)} <span class='meta'>({e(d.site_id)})</span></h1>",
        f"<div class='meta'>sitewatch site report, generated {e(d.generated_at)}</div>",
    ]
    if d.notes:
        parts.append(f"<p class='meta'>{e(d.notes)}</p>")
    if d.empty_reason:
        parts.append(f"<p class='empty'>{e(d.empty_reason)}</p></body></html>")
        return "".join(parts)
    if d.overview:
        parts += ["<h2>Overview</h2>", _img(d.overview, "overview with zones")]
    parts.append("<h2>Current assessment</h2>")
    if not d.assessments:
        parts.append("<p>No assessment yet (no rule pack applies to this site's zones).</p>")
    for a in d.assessments:
        alts = "".join(f"<li>{e(x)}</li>" for x in a.alternatives) or "<li>none given</li>"
        parts.append(
            f"<div class='box'><h3>{e(a.name)}: <span class='level'>{e(a.likelihood)}</span>, "
            f"{e(a.confidence)} confidence <span class='meta'>(p = {a.probability:.2f}, as of "
            f"{e(a.as_of)})</span></h3><p>{e(a.rationale)}</p><b>Alternatives</b><ul>{alts}</ul>"
            "</div>"
        )
    parts.append("<h2>Activity over time</h2>")
    parts.append(
        "<p class='meta'>Counts per zone and class against the usual range (5-95% of the "
        "baseline); grey crosses mark dates the zone could not be seen (cloud, no coverage).</p>"
    )
    for title, path in d.timelines:
        parts.append(f"<div class='chart'>{_img(path, title)}</div>")
    if d.evidence:
        parts.append("<h2>Evidence: before and after</h2>")
        for title, path in d.evidence:
            parts.append(f"<div class='chart'><h3>{e(title)}</h3>{_img(path, title)}</div>")
    parts.append("<h2>Alert history</h2>")
    if d.alerts:
        parts.append(
            _table(
                ["alert", "as of", "title", "status", "reviews"],
                [
                    [a.id[:12], a.as_of, a.title, a.status, "; ".join(a.reviews) or "-"]
                    for a in d.alerts
                ],
            )
        )
    else:
        parts.append("<p>No alert.</p>")
    parts.append("<h2>Provenance</h2>")
    parts.append(_table(["item", "value"], d.provenance))
    parts.append("<h3>Scenes</h3>")
    parts.append(_table(["scene", "acquired", "sensor", "GSD m", "CRS", "file"], d.scenes))
    parts.append("</body></html>")
    return "".join(parts)


def write_report(d: ReportData, html_path: Path, pdf_path: Path | None) -> tuple[Path, Path | None]:
    """Write the HTML (and the PDF through WeasyPrint).

    Raises:
        InputError: a path that cannot be written. MissingDependencyError: no WeasyPrint.
    """
    text = render_html(d)
    try:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = html_path.with_name(html_path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(html_path)
    except OSError as exc:
        raise InputError(f"{html_path}: cannot write the report ({exc.strerror})") from exc
    if pdf_path is None:
        return html_path, None
    try:
        import weasyprint
    except ImportError as exc:  # pragma: no cover - weasyprint is a dependency
        raise MissingDependencyError("PDF reports need WeasyPrint: pip install weasyprint") from exc
    try:
        tmp_pdf = pdf_path.with_name(pdf_path.name + ".tmp")
        weasyprint.HTML(string=text).write_pdf(str(tmp_pdf))
        tmp_pdf.replace(pdf_path)
    except OSError as exc:
        raise InputError(f"{pdf_path}: cannot write the report ({exc.strerror})") from exc
    return html_path, pdf_path
