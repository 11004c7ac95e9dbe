"""Results as objects: a run, a comparison, a sensitivity analysis or a calibration, made in
memory or read back from the folder a command wrote.

Each object holds the folder's tables (pandas), its manifest (a dict) and the resolved
scenario(s) (validated `Scenario` objects rebuilt from the manifest, so a folder says exactly
what it ran); it draws the report's figures (matplotlib figures, which a notebook shows) and
shows itself as HTML in a notebook (`_repr_html_`). `read` tells the kind of a folder from its
manifest and reads CSV and Parquet tables alike.
"""

from __future__ import annotations

import base64
import html
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.files import FileProblem, read_text
from sim.output import MANIFEST, OutputError
from sim.parameters import Scenario

MAX_MANIFEST_BYTES = 64_000_000
"""Largest manifest read: one holds every resolved parameter of each scenario, tens of kB."""


class FolderError(OutputError):
    """A folder that cannot be read as results; the message names the file, the field and what is allowed."""

    def __init__(self, file: str | Path, field: str, message: str) -> None:
        self.file, self.field, self.message = str(file), field, message
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")


_AGAIN = "write the folder again with the caseload command that made it"


def observed_caseload(region: str) -> pd.Series | None:
    """The observed December caseloads of a region (calibration/data), or None where there are none:
    drawn beside the simulated paths, as the command's report does."""
    from calibration.targets import observed_caseload as observed

    try:
        return observed(region)
    except KeyError:
        return None


def _png_html(fig, alt: str) -> str:
    """The figure as an inline image whose alt text says what it shows (as in the report)."""
    from sim.analysis.plots import png_bytes

    data = base64.b64encode(png_bytes(fig)).decode()
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


DRAWS_TABLES = ("bands", "variance", "break_even_draws")
"""The tables a comparison with parameter draws adds (docs/comparing.md)."""


class Figures(list):
    """The report's panels of one plot: matplotlib figures (each with its text alternative in
    `alts`), which a notebook shows side by side."""

    def __init__(self, figures: list) -> None:
        super().__init__(fig for fig, _ in figures)
        self.alts = [alt for _, alt in figures]

    def _repr_html_(self) -> str:
        return "".join(_png_html(fig, alt) for fig, alt in zip(self, self.alts, strict=True))


def _frame_html(frame: pd.DataFrame, floats: str = "{:,.1f}") -> str:
    return frame.to_html(index=False, float_format=floats.format, na_rep="–", border=0)


# -- reading a folder ----------------------------------------------------------------------------


def read_manifest(folder: Path) -> dict:
    """A results folder's manifest.json as a dict; FolderError if it is missing or not a JSON object."""
    path = folder / MANIFEST
    if not path.exists():
        raise FolderError(
            folder,
            "",
            f"not a results folder of caseload (no {MANIFEST}); write one with caseload run, compare, "
            "sensitivity or calibrate",
        )
    try:
        manifest = json.loads(read_text(path, MAX_MANIFEST_BYTES))
    except FileProblem as exc:
        raise FolderError(path, "", f"{exc}; {_AGAIN}") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FolderError(path, "", f"not JSON ({exc}); {_AGAIN}") from None
    if not isinstance(manifest, dict):
        raise FolderError(path, "", f"JSON but not an object of named fields; {_AGAIN}")
    return manifest


def read_table(folder: Path, name: str, required: bool = True) -> pd.DataFrame | None:
    """The table `name` (`yearly.csv`) of a folder, from `yearly.parquet` where that was written,
    else from the CSV file; None for a missing table that is not `required`.

    CSV text is read as written (a scenario may be named `NA`); empty cells are missing values.
    """
    csv = folder / name
    parquet = csv.with_suffix(".parquet")
    if parquet.is_file():
        try:
            return pd.read_parquet(parquet)
        except ImportError:
            raise FolderError(
                parquet, "", 'a Parquet table needs pyarrow, which is not installed; pip install -e ".[parquet]"'
            ) from None
        except (OSError, ValueError) as exc:
            raise FolderError(parquet, "", f"not a Parquet table ({exc}); {_AGAIN}") from None
    if not csv.is_file():
        if not required:
            return None
        raise FolderError(csv, "", f"missing (nor {parquet.name}); {_AGAIN}")
    try:
        return _read_csv(csv)
    except pd.errors.EmptyDataError:
        raise FolderError(csv, "", f"empty file; {_AGAIN}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise FolderError(csv, "", f"not a CSV table ({type(exc).__name__}); {_AGAIN}") from None


def _read_csv(path: Path) -> pd.DataFrame:
    return _whole_with_gaps(pd.read_csv(path, keep_default_na=False, na_values=[""]), path)


def _whole_with_gaps(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The table as it was written: whole-number columns with gaps (a flow in the start year, a
    break-even year not reached) as whole numbers with missing values (Int64), not as the floats
    CSV readers make of them, so a table read and written again gives the same file."""
    gaps = [c for c in frame.columns if frame[c].dtype == "float64" and frame[c].isna().any()]
    if not gaps:
        return frame
    text = pd.read_csv(path, usecols=gaps, dtype=str, keep_default_na=False)
    for column in gaps:
        written = text[column][text[column] != ""]
        if written.str.fullmatch(r"-?\d+").all():
            frame[column] = frame[column].astype("Int64")
    return frame


def _scenario(manifest: dict, path: Path, *keys: str) -> Scenario:
    """The resolved scenario the manifest holds under `parameters` (then `keys`)."""
    from pydantic import ValidationError

    node, where = manifest.get("parameters"), "parameters"
    for key in keys:
        node, where = (node.get(key) if isinstance(node, dict) else None), f"{where}.{key}"
    try:
        return Scenario.model_validate(node)
    except ValidationError as exc:
        problem = exc.errors()[0]
        spot = ".".join(str(p) for p in (where, *problem["loc"]))
        raise FolderError(
            path / MANIFEST, spot, f"{problem['msg']} (written by another version of caseload?); {_AGAIN}"
        ) from None


def _need(manifest: dict, folder: Path, key: str, kind: type | tuple[type, ...]) -> Any:
    value = manifest.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise FolderError(folder / MANIFEST, key, f"missing or not a {names}; {_AGAIN}")
    return value


READERS: dict[str, Any] = {}
"""The manifest's `command` -> the class that reads such a folder (filled in below)."""


def read(folder: str | Path):
    """A results folder read back: `RunResults`, `ComparisonResults`, `SensitivityResults` or
    `CalibrationResults`, by the command that wrote it (its manifest says which). Tables may be CSV
    or Parquet. FolderError (one line: file, field, what is allowed) if it cannot be read."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        raise FolderError(folder, "", f"not a results folder ({what})")
    manifest = read_manifest(folder)
    command = manifest.get("command")
    if command not in READERS:
        raise FolderError(
            folder / MANIFEST,
            "command",
            f"{command!r} is not a command whose folder can be read; one of {', '.join(READERS)}",
        )
    return READERS[command].from_folder(folder, manifest)


# -- a run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResults:
    """Replications of one scenario: `yearly` and `monthly` (one row per year or month and
    replication), `events` (the per-client event log, if recorded), `failures` (replications that
    failed, with their error), the resolved `scenario`; `manifest` and `folder` once written or read."""

    scenario: Scenario
    seed: int
    replications: int
    yearly: pd.DataFrame
    monthly: pd.DataFrame
    events: pd.DataFrame | None = None
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    client_events: int = 0
    manifest: dict | None = None
    folder: Path | None = None

    @classmethod
    def from_folder(cls, folder: Path, manifest: dict) -> RunResults:
        return cls(
            scenario=_scenario(manifest, folder),
            seed=_need(manifest, folder, "seed", int),
            replications=_need(manifest, folder, "replications", int),
            yearly=read_table(folder, "yearly.csv"),
            monthly=read_table(folder, "monthly.csv"),
            events=read_table(folder, "events.csv", required=False),
            failures=list(manifest.get("replications_failed") or []),
            seconds=float(manifest.get("run_seconds") or 0.0),
            client_events=int(manifest.get("client_events") or 0),
            manifest=manifest,
            folder=folder,
        )

    def summary(self, columns: list[str] | None = None, band: float = 0.90) -> pd.DataFrame:
        """Mean and a central `band` over replications per year (default: caseload, inflow, outflow, benefits)."""
        from sim.analysis.summary import summarise

        return summarise(
            self.yearly, columns or ["caseload_december", "inflow", "outflow", "benefit_spending_eur"], band
        )

    def plot(self, column: str = "caseload_december"):
        """A yearly column's mean and 90% band over replications (a matplotlib figure)."""
        from matplotlib.ticker import MaxNLocator

        from sim.analysis.plots import subplots

        s = self.summary([column])
        fig, ax = subplots((9, 4))
        (line,) = ax.plot(s["year"], s[f"{column}_mean"], marker="o", ms=3, label=self.scenario.name)
        ax.fill_between(s["year"], s[f"{column}_low"], s[f"{column}_high"], alpha=0.2, color=line.get_color())
        ax.set_xlabel("year")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(column)
        ax.set_title(f"{self.scenario.name}: {column}, mean and 90% band over {self.replications} replication(s)")
        ax.grid(alpha=0.3)
        return fig

    def to_folder(self, out: str | Path, force: bool = False, table_format: str = "csv") -> Path:
        """Write the folder `caseload run` writes (`table_format` "parquet": the tables as Parquet)."""
        from sim.runs import write_run

        tables = {"yearly.csv": self.yearly, "monthly.csv": self.monthly}
        if self.events is not None:
            tables["events.csv"] = self.events
        return write_run(
            self.scenario,
            out,
            tables,
            self.seed,
            self.replications,
            self.seconds,
            force,
            table_format=table_format,
            replications_failed=self.failures,
            client_events=self.client_events,
        )

    def _repr_html_(self) -> str:
        s = self.summary()
        shown = pd.DataFrame(
            {
                "year": s["year"].astype(int),
                "December caseload": s["caseload_december_mean"],
                "90% low": s["caseload_december_low"],
                "90% high": s["caseload_december_high"],
                "inflow": s["inflow_mean"],
                "outflow": s["outflow_mean"],
                "benefits, EUR million": s["benefit_spending_eur_mean"] / 1e6,
            }
        )
        where = f"; folder {html.escape(str(self.folder))}" if self.folder else ""
        failed = f"; <b>{len(self.failures)} failed</b>" if self.failures else ""
        return (
            f"<h3>{html.escape(self.scenario.name)}</h3><p>{self.replications} replication(s), seed {self.seed}"
            f"{failed}{where}; mean over replications</p>" + _frame_html(shown)
        )


# -- a comparison ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonResults:
    """Paired replications of scenarios against the first (the reference): `table`
    (comparison.csv: per year and over the horizon, each metric's mean, the reference's and the
    paired difference with its 95% interval), `break_even`, `attribution` (what drives each
    difference, or None), `parameters` (those that differ), `yearly` (each scenario's yearly table),
    the resolved `scenarios`, the `manifest`; `folder` once written or read.

    The figures are the report's own; `report_html()` is the report page, `to_folder` writes what
    `caseload compare` writes (with the report and the workbook if asked)."""

    data: dict
    scenarios: dict[str, Scenario]
    folder: Path | None = None
    plans: list = field(default_factory=list)

    @classmethod
    def from_folder(cls, folder: Path, manifest: dict) -> ComparisonResults:
        from sim.analysis.report import ReportError, read_folder

        try:
            data = read_folder(folder)
        except ReportError as exc:
            raise FolderError(exc.file, exc.field, exc.message) from None
        names = data["manifest"]["scenarios"]
        data["break_even"] = _whole_with_gaps(data["break_even"], folder / "break_even.csv")
        for name in names:
            data["yearly"][name] = _whole_with_gaps(data["yearly"][name], folder / "scenarios" / name / "yearly.csv")
        data["observed"] = observed_caseload(data["manifest"]["parameters"][names[0]]["region"]["name"])
        return cls(data, {n: _scenario(data["manifest"], folder, n) for n in names}, folder)

    @classmethod
    def from_paired(cls, paired, observed: bool = True) -> ComparisonResults:
        """From `sim.analysis.comparison.run_comparison`'s result (in memory)."""
        tables = paired.tables
        names = list(paired.scenarios)
        data = {
            "manifest": paired.manifest,
            "comparison": tables["comparison.csv"],
            "break_even": tables["break_even.csv"],
            "parameters": tables["parameters.csv"],
            "yearly": {n: tables[f"scenarios/{n}/yearly.csv"] for n in names},
            "attribution": tables.get("attribution.csv"),
            "observed": observed_caseload(paired.scenarios[names[0]].region.name) if observed else None,
        }
        for key in DRAWS_TABLES:  # with parameter draws only
            if f"{key}.csv" in tables:
                data[key] = tables[f"{key}.csv"]
        return cls(data, dict(paired.scenarios), None, list(paired.plans))

    @property
    def manifest(self) -> dict:
        return self.data["manifest"]

    @property
    def table(self) -> pd.DataFrame:
        return self.data["comparison"]

    @property
    def break_even(self) -> pd.DataFrame:
        return self.data["break_even"]

    @property
    def attribution(self) -> pd.DataFrame | None:
        return self.data["attribution"]

    @property
    def parameters(self) -> pd.DataFrame:
        return self.data["parameters"]

    @property
    def yearly(self) -> dict[str, pd.DataFrame]:
        return self.data["yearly"]

    @property
    def reference(self) -> str:
        return self.manifest["reference"]

    @property
    def years(self) -> tuple[int, int]:
        return (self.manifest["from_year"], self.manifest["until_year"])

    @property
    def failures(self) -> list[dict]:
        return list(self.manifest.get("replications_failed") or [])

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The folder's tables by file name, as `caseload compare` writes them."""
        tables = {
            "comparison.csv": self.table,
            "break_even.csv": self.break_even,
            "parameters.csv": self.parameters,
            **{f"scenarios/{n}/yearly.csv": y for n, y in self.yearly.items()},
        }
        if self.attribution is not None:
            tables["attribution.csv"] = self.attribution
        for key in DRAWS_TABLES:
            if self.data.get(key) is not None:
                tables[f"{key}.csv"] = self.data[key]
        return tables

    @property
    def uncertainty(self) -> dict[str, pd.DataFrame]:
        """With parameter draws: `bands` (fan charts' percentiles), `variance` (what drives the
        spread) and `break_even_draws` (share of draws broken even by each year); empty without."""
        return {key: self.data[key] for key in DRAWS_TABLES if self.data.get(key) is not None}

    def totals(self) -> pd.DataFrame:
        """The horizon's totals of each scenario against the reference (the report's headline table)."""
        t = self.table
        return t[(t["year"] == "total") & (t["scenario"] != t["reference"])].reset_index(drop=True)

    def summary(self) -> list[str]:
        """The comparison in words, as `caseload compare` prints it: differences, savings, break-even
        and what drives the difference."""
        from sim.analysis.attribution import sentences
        from sim.analysis.comparison import Comparison, summary_lines

        used = self.manifest.get("replications_used", 0)
        result = Comparison(
            self.table, self.break_even, list(range(used)), self.years, self.manifest.get("discount_rate", 0.0)
        )
        lines = summary_lines(result)
        if self.attribution is not None:
            lines += sentences(self.attribution, self.years, self.plans or None)
        return lines

    def plot_paths(self):
        """Each scenario's December caseload, mean and 90% band, and the observed years."""
        from sim.analysis.report import paths_figures

        return Figures(paths_figures(self.data))

    def plot_differences(self):
        """The difference from the reference per year (December caseload, cumulative net saving), 95% intervals."""
        from sim.analysis.report import differences_figures

        return Figures(differences_figures(self.data))

    def plot_composition(self):
        """The December stock by category and by years on assistance."""
        from sim.analysis.report import composition_figures

        return Figures(composition_figures(self.data))

    def plot_attribution(self, scenario: str | None = None):
        """The waterfall from the reference to `scenario` (default: the first other), factor by factor."""
        from sim.analysis.report import waterfall_figures

        if self.attribution is None:
            raise ValueError("this comparison has no attribution; compare with attribution=True")
        others = self.manifest["scenarios"][1:]
        scenario = scenario or others[0]
        if scenario not in others:
            raise ValueError(
                f"scenario: {scenario!r} is not compared with the reference; give one of {', '.join(others)}"
            )
        return Figures(waterfall_figures(self.data, scenario))

    def report_html(self) -> str:
        """The report page (what `caseload compare --report` writes), as HTML text."""
        from sim.analysis.report import page

        return page(self.data)

    def to_folder(self, out: str | Path, force: bool = False, report: bool = False, workbook: bool = False) -> Path:
        """Write what `caseload compare` writes into `out`, with report.html and comparison.xlsx if asked."""
        from sim.analysis.comparison import write_comparison

        fields = {k: v for k, v in self.manifest.items() if k != "written_by"}
        observed = self.data.get("observed")
        folder = write_comparison(
            self.tables,
            fields,
            out,
            force,
            report,
            workbook,
            (lambda _region: observed) if observed is not None else None,
        )
        return folder

    def _repr_html_(self) -> str:
        from sim.analysis.report import summary_html

        return summary_html(self.data)


# -- a sensitivity analysis -------------------------------------------------------------------------


SENSITIVITY_TABLES = ("sensitivity.csv", "global.csv", "global_samples.csv", "sobol.csv", "sobol_samples.csv")


@dataclass(frozen=True)
class SensitivityResults:
    """A sensitivity analysis of B against A: `tables` by file name (sensitivity.csv, and global.csv,
    sobol.csv with their samples where run), the `manifest`, the `folder`."""

    tables: dict[str, pd.DataFrame]
    manifest: dict
    folder: Path | None = None

    @classmethod
    def from_folder(cls, folder: Path, manifest: dict) -> SensitivityResults:
        tables = {"sensitivity.csv": read_table(folder, "sensitivity.csv")}
        for name in SENSITIVITY_TABLES[1:]:
            table = read_table(folder, name, required=False)
            if table is not None:
                tables[name] = table
        _need(manifest, folder, "scenarios", list)
        return cls(tables, manifest, folder)

    @property
    def table(self) -> pd.DataFrame:
        return self.tables["sensitivity.csv"]

    def _title(self) -> str:
        a, b = self.manifest["scenarios"][:2]
        return f"{b} vs {a}"

    def plot_tornado(self):
        """The tornado plot of the one-at-a-time settings (tornado.png)."""
        from sim.analysis.sensitivity import tornado_figure

        return tornado_figure(self.table, self._title())

    def plot_sobol(self):
        """The Sobol' indices (sobol.png); ValueError if none were computed."""
        from sim.analysis.sensitivity import sobol_figure

        if "sobol.csv" not in self.tables:
            raise ValueError("this analysis has no Sobol' indices; run it with --sobol N")
        return sobol_figure(self.tables["sobol.csv"], self._title())

    def _repr_html_(self) -> str:
        return (
            f"<h3>Sensitivity: {html.escape(self._title())}</h3>"
            + _frame_html(self.table)
            + _png_html(
                self.plot_tornado(), f"Tornado plot: how far each parameter moves the headline, {self._title()}"
            )
        )


# -- a calibration ------------------------------------------------------------------------------


CALIBRATION_TABLES = ("caseload.csv", "estimates.csv", "correlation.csv", "errors.csv")


@dataclass(frozen=True)
class CalibrationResults:
    """A calibration: `caseload` (per year: observed, simulated with its band, in or out of sample,
    the yardstick), `estimates` (each free parameter with its interval), `correlation`, `errors`
    (in and out of sample), the fitted parameter file's text (`fitted_toml`), the `manifest`."""

    tables: dict[str, pd.DataFrame]
    fitted_toml: str
    manifest: dict
    folder: Path | None = None

    @classmethod
    def from_folder(cls, folder: Path, manifest: dict) -> CalibrationResults:
        tables = {name: read_table(folder, name) for name in CALIBRATION_TABLES}
        calibration = _need(manifest, folder, "calibration", dict)
        name = calibration.get("fitted_file")
        path = folder / str(name)
        if not isinstance(name, str) or not path.is_file():
            raise FolderError(folder / MANIFEST, "calibration.fitted_file", f"names no file in the folder; {_AGAIN}")
        try:
            text = read_text(path)
        except FileProblem as exc:
            raise FolderError(path, "", f"{exc}; {_AGAIN}") from None
        return cls(tables, text, manifest, folder)

    @property
    def caseload(self) -> pd.DataFrame:
        return self.tables["caseload.csv"].set_index("year")

    @property
    def estimates(self) -> pd.DataFrame:
        return self.tables["estimates.csv"]

    @property
    def correlation(self) -> pd.DataFrame:
        return self.tables["correlation.csv"].set_index("parameter")

    @property
    def errors(self) -> pd.DataFrame:
        return self.tables["errors.csv"]

    @property
    def fitted(self) -> dict:
        """The fitted parameter file as nested values (what a scenario that includes it takes)."""
        return tomllib.loads(self.fitted_toml)

    def scenario(self, base: str | Path | Scenario | None = None) -> Scenario:
        """The scenario the calibration fitted (`base`, default the calibration's own) with the fitted
        values in place: what a run with the fitted parameters resolves to."""
        from sim.scenario import load, with_overrides

        if base is None:
            base = self.manifest["calibration"].get("scenario", "baseline")
        scenario = base if isinstance(base, Scenario) else load(base).scenario
        return with_overrides(scenario, self.fitted)

    def plot(self):
        """Observed and simulated December caseloads with the band, and the yardstick (as fit.png)."""
        from matplotlib.ticker import MaxNLocator

        from sim.analysis.plots import subplots

        c = self.caseload
        fig, ax = subplots((9, 4))
        ax.plot(c.index, c["observed"], "ks", label="observed")
        ax.plot(c.index, c["simulated"], "o-", label="simulated (mean)")
        low, high = ("low", "high") if "low" in c else ("sim_low", "sim_high")
        ax.fill_between(c.index, c[low], c[high], alpha=0.2, label="90% band")
        ax.plot(c.index, c["stockflow"], "--", label="stock-flow yardstick")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("year")
        ax.set_ylabel("clients on benefit, December")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return fig

    def _repr_html_(self) -> str:
        region = html.escape(str(self.manifest.get("region", "")))
        return (
            f"<h3>Calibration: {region}</h3>"
            + _frame_html(self.estimates, "{:.4g}")
            + _frame_html(self.errors, "{:,.2f}")
            + _png_html(
                self.plot(), f"Observed and simulated December caseloads of {region}, with the band and the yardstick"
            )
        )


READERS.update(
    {
        "run": RunResults,
        "compare": ComparisonResults,
        "sensitivity": SensitivityResults,
        "calibrate": CalibrationResults,
    }
)

__all__ = [
    "CalibrationResults",
    "ComparisonResults",
    "FolderError",
    "RunResults",
    "SensitivityResults",
    "observed_caseload",
    "read",
    "read_table",
]
