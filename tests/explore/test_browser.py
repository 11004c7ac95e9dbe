"""The explorer in a real headless browser (Chromium driven by Playwright): it starts on loopback,
answers a changed lever with a visible running state, shows the numbers `caseload compare` gives
for the files it exports, says a bad value beside its control without running or writing, and
fits a desktop and a phone (screenshots at 1280 and 390 px)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("shiny", reason="the explorer's extra is not installed: pip install -e '.[explore]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra has it)")

from browser import MISSING, chromium  # noqa: E402

from sim.analysis.report import fmt  # noqa: E402

pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[2]
UNTIL = 2022  # short runs: the page and the command both to 2022
REPS = 4
STARTUP_SECONDS = 120
ANSWER_MS = 240_000


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`caseload explore` in a child process, its URL read from the line it prints once it listens."""
    folder = tmp_path_factory.mktemp("explore")
    port = _free_port()
    command = [sys.executable, "-c", "from cli import main; main()", "explore", "--port", str(port)]
    command += ["--reps", str(REPS), "--parameter-draws", "2", "--until", str(UNTIL), "--workers", "2"]
    command += ["--out", str(folder / "results")]
    proc = subprocess.Popen(
        command,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = proc.stdout.readline()  # blocks until the server listens, or the process ends
        assert line.startswith("caseload explore: http://127.0.0.1:"), line + proc.stderr.read()
        yield line.split()[2], folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def page(served):
    browser_path = chromium()
    if browser_path is None:
        pytest.skip(MISSING)
    url, _ = served
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        _wait_done(page)
        yield page
        browser.close()


def _wait_done(page) -> None:
    page.wait_for_selector("#status [data-state=done]", timeout=ANSWER_MS)


def _cells(page, within: str) -> list[tuple[str, str, str, str]]:
    """The report cells shown in `within`: (file, key, column, text)."""
    return page.eval_on_selector_all(
        f"{within} td[data-file]",
        "cells => cells.map(c => [c.dataset.file, c.dataset.key, c.dataset.col, c.innerText])",
    )


def _set(page, control: str, value: str) -> None:
    page.fill(f"#{control}", value)
    page.keyboard.press("Tab")  # numeric inputs send their value on change


def _open_lever(page, title: str) -> None:
    button = page.locator(f"button.accordion-button:has-text('{title}')")
    if button.get_attribute("aria-expanded") != "true":
        button.click()


def test_a_changed_lever_shows_the_numbers_of_caseload_compare(page, served, tmp_path):
    _, folder = served
    _open_lever(page, "Door")
    before = _cells(page, "#headline")
    # every state the status line takes from here on
    page.evaluate(
        "() => { window.states = []; new MutationObserver(() => { const s = document.querySelector('#status [data-state]');"
        " if (s) window.states.push(s.dataset.state); }).observe(document.querySelector('#status'),"
        " {childList: true, subtree: true}); }"
    )
    _set(page, "lever_door__gatekeeper_share", "0.21")
    page.wait_for_function("() => window.states.includes('running')", timeout=ANSWER_MS)
    _wait_done(page)
    shown = _cells(page, "#headline")
    assert shown != before, "the numbers did not change with the lever"
    assert page.locator("#paths img").count() >= 1 and page.locator("#uncertainty img").count() >= 1  # paths, fans
    page.get_by_role("tab", name="Difference").click()
    page.wait_for_selector("#attribution img", timeout=ANSWER_MS)  # the waterfall, lever by lever
    page.get_by_role("tab", name="Euros").click()
    page.wait_for_selector("#budget td[data-file]", timeout=ANSWER_MS)
    shown += _cells(page, "#budget") + _cells(page, "#break_even")

    # the settings as scenario files, compared by the command line
    page.get_by_role("tab", name="Export").click()
    page.fill("#export_files", str(tmp_path / "files"))
    page.click("#export_settings")
    page.wait_for_selector("#exported_settings .done", timeout=30_000)
    files = sorted((tmp_path / "files").glob("*.toml"))
    assert [f.name for f in files] == ["broad-explored.toml", "focus.toml"]
    out = tmp_path / "command"
    command = [sys.executable, "-c", "from cli import main; main()", "compare", str(files[1]), str(files[0])]
    command += ["--reps", str(REPS), "--seed", "42", "--parameter-draws", "0", "--no-attribution", "--out", str(out)]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stderr
    tables = {name: pd.read_csv(out / name) for name in ("comparison.csv", "break_even.csv")}
    checked = 0
    for file, key, column, text in shown:
        where = dict(part.split("=", 1) for part in key.split("|"))
        table = tables[file]
        row = table[(table[list(where)].astype(str) == pd.Series(where)).all(axis=1)]
        assert len(row) == 1, (file, key)
        value = row.iloc[0][column]
        if file == "comparison.csv":
            expected = fmt(value, where["metric"])
        else:  # break_even.csv: years, and euros (and exits) whole
            expected = _year(value) if column.startswith("break_even") else fmt(value, "x_eur")
        assert text == expected, (file, key, column)
        checked += 1
    assert checked > 50

    # the comparison on screen, saved as the folder the command writes
    page.fill("#export_folder", str(tmp_path / "saved"))
    page.click("#export_comparison")
    page.wait_for_selector("#exported_comparison .done", timeout=60_000)
    saved = tmp_path / "saved"
    assert {"comparison.csv", "break_even.csv", "attribution.csv", "report.html", "comparison.xlsx"} <= {
        p.name for p in saved.iterdir()
    }
    pd.testing.assert_frame_equal(pd.read_csv(saved / "comparison.csv"), tables["comparison.csv"])
    assert json.loads((saved / "manifest.json").read_text())["command"] == "compare"
    # saving again does not replace it
    page.click("#export_comparison")
    page.wait_for_selector("#exported_comparison .err", timeout=30_000)
    assert "exists" in page.inner_text("#exported_comparison")
    # nothing written where it was not asked
    assert not (folder / "results").exists()


def _year(value) -> str:
    return "not within horizon" if pd.isna(value) else str(int(value))


def test_a_value_out_of_range_says_the_schemas_message_and_runs_nothing(page, served):
    _, folder = served
    page.get_by_role("tab", name="Caseload").click()
    _open_lever(page, "Door")
    numbers = _cells(page, "#headline")
    _set(page, "lever_door__gatekeeper_share", "1.5")
    message = page.locator("#err_lever_door__gatekeeper_share .err")
    message.wait_for(timeout=30_000)
    assert "less than or equal to 1" in message.inner_text()
    assert page.locator("#status [data-state]").count() == 0  # nothing runs
    assert _cells(page, "#headline") == numbers  # the last answer stays on screen
    _set(page, "lever_door__gatekeeper_share", "0.21")
    message.wait_for(state="detached", timeout=30_000)
    _wait_done(page)
    assert not (folder / "results").exists()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_fits_a_desktop_and_a_phone(page, width, tmp_path):
    page.set_viewport_size({"width": width, "height": 900})
    page.get_by_role("tab", name="Caseload").click()
    _wait_done(page)
    shot = tmp_path / f"explore-{width}.png"
    # by the DevTools protocol: Playwright's own screenshot waits for document.fonts.ready, which
    # headless Chromium here leaves pending once the page has redrawn (no web font is used)
    cdp = page.context.new_cdp_session(page)
    shot.write_bytes(base64.b64decode(cdp.send("Page.captureScreenshot", {"format": "png"})["data"]))
    cdp.detach()
    assert shot.stat().st_size > 30_000  # a blank page compresses to a few kB
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"the page scrolls sideways at {width} px"
    widths = page.eval_on_selector_all("#paths img", "imgs => imgs.map(i => i.getBoundingClientRect().right)")
    assert widths and max(widths) <= width
    keep = os.environ.get("CASELOAD_SCREENSHOTS")
    if keep:  # where CI keeps artefacts
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
