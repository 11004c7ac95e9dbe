"""The report: every number in its tables is in the CSV files; the page is self-contained and renders."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import openpyxl
import pandas as pd
import pytest
from browser import MISSING, chromium
from matplotlib import image
from typer.testing import CliRunner

from cli import app

pytestmark = pytest.mark.cli

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "cmp"
    args = [
        "compare",
        "--parameter-draws",
        "0",
        "focus",
        "broad",
        "focus-participation",
        "--reps",
        "3",
        "--until",
        "2021",
        "--seed",
        "4",
        "--out",
        str(out),
        "--report",
        "--xlsx",
        "--discount-rate",
        "0.03",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


class _Cells(HTMLParser):
    """Collects <td> cells with their data-* attributes and text, and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict] = []
        self.links: list[str] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [v for k, v in attrs.items() if k in ("src", "href") and v]
        if tag == "td":
            self._open = {**attrs, "text": ""}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._open is not None:
            self.cells.append(self._open)
            self._open = None


def _cells(folder):
    parser = _Cells()
    parser.feed((folder / "report.html").read_text(encoding="utf-8"))
    return parser


def _number(text: str) -> tuple[float, float]:
    """Displayed number and half its last shown unit (the rounding tolerance)."""
    clean = text.replace(",", "").strip()
    decimals = len(clean.split(".")[1]) if "." in clean else 0
    return float(clean), 0.5 * 10.0**-decimals + 1e-9


def test_every_number_in_the_report_tables_comes_from_the_csv_files(folder):
    comparison = pd.read_csv(folder / "comparison.csv", dtype={"year": str}).set_index(["year", "metric", "scenario"])
    break_even = pd.read_csv(folder / "break_even.csv").set_index("scenario")
    parameters = pd.read_csv(folder / "parameters.csv", dtype=str, keep_default_na=False).set_index("parameter")
    manifest = json.loads((folder / "manifest.json").read_text())
    shares = pd.read_csv(folder / "attribution.csv", dtype={"year": str}).set_index(
        ["year", "metric", "scenario", "lever"]
    )
    checked = {"comparison.csv": 0, "break_even.csv": 0, "parameters.csv": 0, "manifest.json": 0, "attribution.csv": 0}
    for cell in _cells(folder).cells:
        source = cell.get("data-file")
        if source is None:
            continue
        key = dict(part.split("=", 1) for part in cell.get("data-key", "").split("|") if part)
        column, text = cell["data-col"], cell["text"].strip()
        if source == "comparison.csv":
            value = comparison.loc[(key["year"], key["metric"], key["scenario"]), column]
        elif source == "break_even.csv":
            value = break_even.loc[key["scenario"], column]
        elif source == "attribution.csv":
            value = shares.loc[(key["year"], key["metric"], key["scenario"], key["lever"]), column]
        elif source == "parameters.csv":
            assert text == parameters.loc[key["parameter"], column]
            checked[source] += 1
            continue
        else:
            assert text == str(manifest[column])
            checked[source] += 1
            continue
        if pd.isna(value):
            assert text in ("–", "not within horizon"), (source, key, column, text)
        else:
            shown, tolerance = _number(text)
            assert abs(shown - float(value)) <= tolerance, (source, key, column, text, value)
        checked[source] += 1
    assert checked["comparison.csv"] > 200 and all(checked.values()), checked


def test_report_is_self_contained_with_embedded_plots(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    links = _cells(folder).links
    assert links and all(link.startswith("data:image/png;base64,") for link in links)
    # two panels of waterfalls per scenario (2 x 2), paths, two of differences, two of composition
    assert html.count("data:image/png;base64,") == 9
    for heading in (
        "What each scenario assumes",
        "Headline",
        "What drives the difference",
        "Caseload paths",
        "Differences per year",
        "Composition",
        "Budget",
        "Break-even",
        "Other parameters that differ",
        "Run",
    ):
        assert heading in html
    # the policies in plain words; their raw paths only folded away below, side by side
    assert "from 2021-01-01: focus-participation: a gatekeeper stops" not in html  # focus has no gatekeeper
    assert "from 2021-01-01: focus-participation: no gatekeeper" in html
    assert "until 2018-12-31: broad: a gatekeeper stops 36% of notifications" in html
    assert "guided with 6 contacts a year for its first 24 months" in html
    before, folded = html.split("<details>", 1)
    assert "policy_schedule.2.policy" not in before and "policy_schedule.2.policy" in folded
    for words in ("stopped at the door", "inflow to benefit", "stopped at the door who applied again"):
        assert f"<td>{words}" in html  # in the headline


def test_a_folder_written_without_attribution_still_makes_its_report(folder, tmp_path):
    from sim.analysis.report import read_folder, workbook_bytes

    older = tmp_path / "older"
    shutil.copytree(folder, older)
    (older / "attribution.csv").unlink()
    manifest = json.loads((older / "manifest.json").read_text())
    del manifest["attribution"]
    (older / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["report", str(older)])
    assert result.exit_code == 0, result.output
    html = (older / "report.html").read_text(encoding="utf-8")
    assert "This folder has no attribution.csv" in html and html.count("data:image/png;base64,") == 5  # 1 + 2 + 2
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(read_folder(older))), read_only=True)
    assert "attribution" not in book.sheetnames


def test_the_workbook_attribution_sheet_is_attribution_csv(folder):
    book = openpyxl.load_workbook(folder / "comparison.xlsx", read_only=True)
    rows = list(book["attribution"].values)
    shares = pd.read_csv(folder / "attribution.csv", dtype={"year": str})
    assert list(rows[0]) == list(shares.columns) and len(rows) == len(shares) + 1
    for written, row in zip(rows[1:], shares.itertuples(index=False), strict=True):
        assert written[4] == row.lever and written[5] == pytest.approx(row.share_mean, rel=1e-12)


def test_workbook_holds_the_budget_and_difference_tables(folder):
    book = openpyxl.load_workbook(folder / "comparison.xlsx", read_only=True)
    assert book.sheetnames == [
        "budget",
        "assumptions",
        "run",
        "differences",
        "break_even",
        "attribution",
        "parameters",
    ]
    rows = list(book["differences"].values)
    csv = pd.read_csv(folder / "comparison.csv", dtype={"year": str})
    assert list(rows[0]) == list(csv.columns) and len(rows) == len(csv) + 1
    assert rows[1][4] == pytest.approx(csv.iloc[0]["mean"])
    assert {r[0] for r in rows[1:]} == {2019, 2020, 2021, "total"}  # years are numbers, 'total' is text
    budget = list(book["budget"].values)[1]  # the budget sheet is wide: its items in words in row 2
    assert {"benefits (BUIG)", "trajectories (participation budget)", "net saving vs focus"} <= set(budget)
    parameters = pd.read_csv(folder / "parameters.csv", dtype=str, keep_default_na=False)
    sheet = list(book["parameters"].values)
    assert list(sheet[0]) == list(parameters.columns) and len(sheet) == len(parameters) + 1
    for written, row in zip(sheet[1:], parameters.itertuples(index=False), strict=True):
        for cell, text in zip(written, row, strict=True):
            assert (cell == float(text)) if isinstance(cell, int | float) else (cell == text), (cell, text)


def test_report_command_rewrites_the_page_from_the_folder(folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "report.html").unlink()
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    assert (copy / "report.html").read_text(encoding="utf-8") == (folder / "report.html").read_text(encoding="utf-8")


def test_the_page_renders_in_headless_chromium(folder, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip(MISSING)
    png = tmp_path / "report.png"
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={png}",
        "--window-size=1280,2000",
        (folder / "report.html").as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert png.exists(), "chromium wrote no screenshot"
    assert png.stat().st_size > 50_000  # a blank 1280x2000 page compresses to a few kB
    pixels = image.imread(png)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    not_white = (pixels < 0.95).any(axis=2)
    assert not_white.mean() > 0.05  # text, tables and plots cover the page
    assert np.unique(pixels.reshape(-1, 3).round(2), axis=0).shape[0] > 50  # plot colours, not one flat tone


_PROBE = """<script>addEventListener('load', () => {
  const box = e => e.getBoundingClientRect();
  parent.postMessage(JSON.stringify({
    width: innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    images: [...document.images].map(i => [i.clientWidth, i.naturalWidth]),
    outside: [...document.querySelectorAll('body *')]
      .filter(e => box(e).right > innerWidth + 1 && !e.closest('.scroll')).map(e => e.tagName),
  }), '*');
});</script>"""


def _layout(browser: str, page, width: int, tmp_path) -> dict:
    """The report laid out `width` CSS pixels wide: in an iframe of that width, as a browser window
    cannot be made narrower than about 500 px; the page posts its measurements to the host."""
    probe = tmp_path / f"report-{width}.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    host = tmp_path / f"host-{width}.html"
    host.write_text(
        f"<!doctype html><body style='margin:0'><iframe src='{probe.name}' width='{width}' height='844'></iframe>"
        "<script>addEventListener('message', e => { const p = document.createElement('pre'); p.id = 'probe'; "
        "p.textContent = e.data; document.body.appendChild(p); });</script></body>",
        encoding="utf-8",
    )
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    command += [f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900", "--virtual-time-budget=10000"]
    shown = subprocess.run([*command, "--dump-dom", host.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="probe">(.*?)</pre>', shown.stdout, re.S)
    assert found, f"the page posted no measurements: {shown.stderr[-500:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_fits_a_phone_and_a_desktop_in_headless_chromium(folder, tmp_path, width):
    """Nothing but a table's own scroll box is wider than the screen, so the page never scrolls
    sideways; plots are shown at 0.6 of their size or more on a phone (10-point text stays 8 px or
    more) and whole on a desktop."""
    browser = chromium()
    if browser is None:
        pytest.skip(MISSING)
    layout = _layout(browser, folder / "report.html", width, tmp_path)
    assert layout["width"] == width
    assert layout["scrollWidth"] <= width, f"the page scrolls sideways at {width} px"
    assert layout["outside"] == [], f"wider than the screen and not in a scroll box: {layout['outside']}"
    assert len(layout["images"]) >= 5
    for shown, natural in layout["images"]:
        assert shown >= (0.6 if width < 600 else 1.0) * natural, (shown, natural)


def test_every_plot_says_what_it_shows_and_the_page_has_a_viewport(folder):
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in text
    alts = re.findall(r'<img alt="([^"]*)"', text)
    assert len(alts) == text.count("<img ") >= 5
    assert all(len(alt) > 40 for alt in alts) and len(set(alts)) == len(alts), alts
    assert any("December caseload by year of focus, broad, focus-participation" in alt for alt in alts)


def test_the_report_draws_the_observed_caseloads_it_is_given(folder):
    """The report reads no data files: the caller passes the observed series, by region."""
    from sim.analysis import report

    asked = []

    def observed(region):
        asked.append(region)
        return pd.Series({2014: 1759.0, 2015: 1852.0})

    with_points = report.render(folder, observed=observed)
    assert asked == ["leidschendam-voorburg"]
    without = report.render(folder)
    assert with_points != without  # the paths plot differs by the observed points
    assert with_points.count("<img") == without.count("<img")
