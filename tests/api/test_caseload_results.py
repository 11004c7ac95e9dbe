"""Reading results back (caseload/results.py): every folder type round-trips, CSV and Parquet
alike; a folder that is not results is one error line; the objects show themselves in a notebook."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from folders import assert_same_results

import caseload
from caseload.results import FolderError
from sim.analysis.sensitivity import parameter_ranges, sensitivity_to_folder
from sim.replications import SerialExecutor

PNG = b"\x89PNG"


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as CSV keeps it: numbers as floats, text as text, every missing value alike."""
    return frame.apply(
        lambda c: c.astype("float64") if pd.api.types.is_numeric_dtype(c) else c.astype(object).where(c.notna(), None)
    )


@pytest.fixture(scope="module")
def short_run():
    return caseload.run("baseline", reps=2, seed=4, until=2016, events=True, workers=1)


@pytest.fixture(scope="module")
def comparison():
    return caseload.compare("focus", "broad", reps=2, seed=2, until=2020, workers=1)


@pytest.mark.unit
def test_a_parquet_run_folder_round_trips_exactly(tmp_path, short_run):
    folder = short_run.to_folder(tmp_path / "run", table_format="parquet")
    assert {p.name for p in folder.iterdir()} == {
        "yearly.parquet",
        "monthly.parquet",
        "events.parquet",
        "manifest.json",
    }
    back = caseload.read(folder)
    assert isinstance(back, caseload.RunResults) and back.folder == folder
    # typed: the model's own column types come back, text as pandas' text
    text = {c: "str" for c in short_run.yearly.columns if short_run.yearly[c].dtype == object}
    pd.testing.assert_frame_equal(back.yearly, short_run.yearly.astype(text))
    pd.testing.assert_frame_equal(back.monthly, short_run.monthly, check_dtype=False)
    pd.testing.assert_frame_equal(back.events, short_run.events, check_dtype=False)
    assert back.scenario == short_run.scenario and back.seed == 4 and back.replications == 2
    assert back.manifest["table_format"] == "parquet"
    assert back.manifest == json.loads((folder / "manifest.json").read_text())


@pytest.mark.unit
def test_a_csv_run_folder_round_trips_and_writes_itself_again_byte_for_byte(tmp_path, short_run):
    folder = short_run.to_folder(tmp_path / "run")
    back = caseload.read(folder)
    for name in ("yearly", "monthly", "events"):
        pd.testing.assert_frame_equal(_plain(getattr(back, name)), _plain(getattr(short_run, name)))
    back.to_folder(tmp_path / "again")
    assert_same_results(folder, tmp_path / "again")
    # and read as CSV, written as Parquet, read again: the same numbers
    again = caseload.read(back.to_folder(tmp_path / "parquet", table_format="parquet"))
    pd.testing.assert_frame_equal(_plain(again.yearly), _plain(short_run.yearly))


@pytest.mark.unit
def test_a_comparison_folder_round_trips_and_its_report_is_the_one_made_in_memory(tmp_path, comparison):
    folder = comparison.to_folder(tmp_path / "cmp")
    back = caseload.read(folder)
    assert isinstance(back, caseload.ComparisonResults)
    assert set(back.tables) == set(comparison.tables)
    for name, table in comparison.tables.items():
        pd.testing.assert_frame_equal(_plain(back.tables[name]), _plain(table), obj=name)
    assert back.scenarios == comparison.scenarios and back.manifest["created"] == comparison.manifest["created"]
    assert back.report_html() == comparison.report_html()
    back.to_folder(tmp_path / "again")
    assert_same_results(folder, tmp_path / "again")


@pytest.mark.unit
def test_a_comparison_exports_its_report_and_workbook(tmp_path, comparison):
    folder = comparison.to_folder(tmp_path / "cmp", report=True, workbook=True)
    assert (folder / "report.html").read_text(encoding="utf-8") == comparison.report_html()
    assert (folder / "comparison.xlsx").read_bytes()[:2] == b"PK"


@pytest.mark.unit
def test_a_comparison_draws_the_reports_figures_and_shows_its_headline(comparison):
    for figures in (
        comparison.plot_paths(),
        comparison.plot_differences(),
        comparison.plot_composition(),
        comparison.plot_attribution(),
    ):
        # the report's panels: figures a notebook shows side by side, each with its text alternative
        assert figures and all(fig._repr_png_().startswith(PNG) for fig in figures)
        assert len(figures.alts) == len(figures) and figures._repr_html_().count("<img") == len(figures)
    shown = comparison._repr_html_()
    assert "broad against focus" in shown and 'data-file="comparison.csv"' in shown and "Break-even" in shown
    assert len(comparison.totals()) == comparison.table["metric"][comparison.table["year"] == "total"].nunique()
    with pytest.raises(ValueError, match="give one of broad"):
        comparison.plot_attribution("focus")


@pytest.mark.unit
def test_a_run_shows_its_years_and_draws_its_path(short_run):
    shown = short_run._repr_html_()
    assert "baseline" in shown and "<table" in shown and "2016" in shown
    assert short_run.plot()._repr_png_().startswith(PNG)
    assert list(short_run.summary()["year"]) == [2013, 2014, 2015, 2016]


@pytest.mark.cli
def test_a_sensitivity_folder_round_trips(tmp_path):
    a, b = (caseload.scenario(n, until=2020) for n in ("focus", "broad"))
    ranges = parameter_ranges(a, b, ["work.elasticity_work"], 0.25)
    tables = sensitivity_to_folder(a, b, ranges, tmp_path / "sens", seed=1, reps=2, executor=SerialExecutor())
    back = caseload.read(tmp_path / "sens")
    assert isinstance(back, caseload.SensitivityResults)
    pd.testing.assert_frame_equal(_plain(back.table), _plain(tables["sensitivity.csv"]))
    assert back.plot_tornado()._repr_png_().startswith(PNG)
    assert "<img" in back._repr_html_()


@pytest.mark.cli
def test_a_calibration_folder_round_trips_with_its_fitted_scenario(tmp_path):
    from calibration.config import Calibration
    from calibration.pipeline import run_calibration
    from calibration.report import write_outputs

    calibration = Calibration.model_validate(
        {
            "region": "leidschendam-voorburg",
            "fit_years": (2013, 2015),
            "budget": 12,
            "reps": 1,
            "seed": 5,
            "bootstrap": 50,
            "band_draws": 2,
            "fitted_file": "fitted-test.toml",
            "parameters": [
                {
                    "path": "inflow.base_notifications_per_year",
                    "lower": 500.0,
                    "upper": 1500.0,
                    "start": 800.0,
                    "prior_mean": 900.0,
                    "prior_sd": 500.0,
                    "source": "test",
                }
            ],
        }
    )
    result = run_calibration(calibration, tmp_path / "state", SerialExecutor())
    folder = write_outputs(result, tmp_path / "cal", "test")
    back = caseload.read(folder)
    assert isinstance(back, caseload.CalibrationResults)
    pd.testing.assert_frame_equal(back.caseload, result.path, check_dtype=False)
    pd.testing.assert_frame_equal(_plain(back.estimates), _plain(result.uncertainty.table))
    fitted = back.scenario()
    assert fitted.inflow.base_notifications_per_year == pytest.approx(result.fit.theta[0], rel=1e-5)
    assert back.plot()._repr_png_().startswith(PNG) and "<img" in back._repr_html_()


@pytest.mark.unit
def test_folders_that_are_not_results_are_one_error_naming_the_file(tmp_path, short_run):
    with pytest.raises(FolderError, match="no such folder"):
        caseload.read(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FolderError, match="no manifest.json"):
        caseload.read(tmp_path / "empty")
    folder = short_run.to_folder(tmp_path / "run")
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "monthly.csv").unlink()
    with pytest.raises(FolderError, match=r"broken/monthly.csv: missing \(nor monthly.parquet\)"):
        caseload.read(broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    (broken / "manifest.json").write_text(json.dumps({**manifest, "command": "dance"}))
    with pytest.raises(FolderError, match="command: 'dance' is not a command"):
        caseload.read(broken)
    (broken / "manifest.json").write_text("[1, 2")
    with pytest.raises(FolderError, match="not JSON"):
        caseload.read(broken)
    # a comparison folder is checked as the report checks it, in the same one line
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "manifest.json").write_text(json.dumps({"command": "compare"}))
    with pytest.raises(FolderError, match="not a comparison folder"):
        caseload.read(tmp_path / "cmp")


@pytest.mark.unit
def test_figures_in_a_notebook_carry_the_alt_text_that_says_what_they_show():
    from caseload.results import Figures
    from sim.analysis.plots import subplots

    fig, ax = subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 2])
    shown = Figures([(fig, 'December caseload of "focus", 2019-2030')])._repr_html_()
    assert 'alt="December caseload of &quot;focus&quot;, 2019-2030"' in shown
    assert 'alt="plot"' not in shown
