"""Calibration files: free parameters with bounds and priors, targets, budget; validated with clear errors.

A calibration file (TOML, e.g. `calibration/leidschendam-voorburg.toml`) declares what is fitted
and to what. It is checked against the pydantic models below (unknown keys forbidden, declared
bounds, finite numbers, names that become file names are safe slugs); a bad file gives one
`CalibrationError` naming the file, the field and what is allowed, like `sim.scenario` does for
scenario files. A value given on the command line (`overrides`) is checked by the same rules and
named as its option (`--seed`). What needs the scenario and the observed data (paths, bounds the
scenario allows, observed years) is checked by `calibration.fit.load_checked`, before any fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.config import PathError, did_you_mean, field_name, first_problem, get_path, is_number, number_at, read_toml
from sim.files import FileProblem
from sim.parameters import Scenario, Slug, is_count
from sim.randomness import MAX_SEED
from sim.scenario import schema_field

CALIBRATION_DIR = Path(__file__).resolve().parent

STATISTICS = (
    "net_change",
    "gatekept_share",
    "participation_share",
    "consultant_caseload",
    "inflow_share_of_stock",
    "outflow_share_of_stock",
    "parttime_share",
    "work_share_of_outflow",
    "long_spell_share",
    "back_within_6m",
    "back_within_12m",
    "back_within_24m",
    "work_education_back_within_6m",
    "salaried_back_within_18m",
    "placements",
    "placements_first_half",
    "contact_trial_gain",
    "inflow_change",
    "outflow_change",
)
"""Secondary moments a calibration file may target (defined in `calibration.targets`)."""
CHANGES = ("inflow_change", "outflow_change")
"""The statistics that compare a flow between two years (or the same quarter of two years)."""


SEED_MAX = MAX_SEED


class CalibrationError(Exception):
    """A calibration file that cannot be used; the message names the file, the field and what is allowed."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file, self.field, self.message = file, field, message
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")


def option_name(key: str, options: set[str] | frozenset[str] = frozenset()) -> str:
    """The name to report a top-level field by: its command-line option when the value came from one."""
    return f"--{key.replace('_', '-')}" if key in options else key


def population_size(popsize: int, parameters: int) -> int:
    """Members of differential evolution's population: scipy's rule, at least 5 (its mutation needs 5)."""
    return max(5, popsize * parameters)


def minimum_budget(popsize: int, parameters: int) -> int:
    """Fewest evaluations a fit can be planned in: the first population, one polish step (a point and
    its finite-difference Jacobian, 2 x parameters + 1) and the Jacobian at the optimum (2 x parameters)."""
    return population_size(popsize, parameters) + (2 * parameters + 1) + 2 * parameters


class _Strict(BaseModel):
    # TOML has inf and nan: a bound, prior or weight of either would make the fit meaningless
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FreeParameter(_Strict):
    """One fitted scenario field, by its dotted path, with bounds and a normal prior."""

    path: str = Field(min_length=3, description="Dotted scenario path, e.g. work.elasticity_work.")
    lower: float = Field(description="Lower bound of the search.")
    upper: float = Field(description="Upper bound of the search.")
    start: float = Field(description="Starting value (put in the first population member).")
    prior_mean: float = Field(description="Mean of the normal prior (a penalty on the objective).")
    prior_sd: float = Field(gt=0, description="SD of the normal prior.")
    scales_with_population: bool = Field(
        False,
        description="A count (e.g. notifications a year), given at the region's full size and multiplied by "
        "population_scale before use. It follows from the path (sim/parameters.py marks the counts): "
        "leave it out, or give the same.",
    )
    source: str = Field(min_length=1, description="Where the bounds and prior come from.")

    @model_validator(mode="before")
    @classmethod
    def _count_from_the_schema(cls, data: Any) -> Any:
        # the schema is the one place that says what is a count: a flag given by hand can only agree
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            return data
        field = schema_field(data["path"])
        if field is None:  # not a scenario field: check_paths names it with the allowed ones
            return data
        count = is_count(field)
        given = data.get("scales_with_population")
        if given is None:
            return {**data, "scales_with_population": count}
        if isinstance(given, bool) and given != count:
            kind = "a count, which scales" if count else "not a count (a rate or a setting), which does not scale"
            raise ValueError(
                f"scales_with_population: {data['path']} is {kind} with the population (sim/parameters.py marks "
                f"the counts); leave the key out or give {str(count).lower()} (got {str(given).lower()})"
            )
        return data

    @model_validator(mode="after")
    def _order(self) -> FreeParameter:
        if not self.lower < self.upper:
            raise ValueError(f"lower ({self.lower}) must be below upper ({self.upper})")
        if not self.lower <= self.start <= self.upper:
            raise ValueError(f"start ({self.start}) must lie within [{self.lower}, {self.upper}]")
        return self


class StockTargets(_Strict):
    """December caseload per fitted year, compared as stocks."""

    relative_sd: float = Field(0.01, gt=0, le=1, description="Scale of a stock residual, share of the observed.")
    weight: float = Field(1.0, ge=0, description="Weight of each year's stock.")
    last_year: int | None = Field(
        None,
        ge=1900,
        le=2200,
        description="Last year whose December stock is a target (default: the last fitted year); the fitted years "
        "after it are simulated for the moments only, e.g. flows of years without an observed stock.",
    )


class ContactTrial(_Strict):
    """A caseload-reduction trial's design (statistic contact_trial_gain, sim.consultants.trial_job_finding_gain)."""

    caseload: float = Field(gt=0, description="Clients per consultant in the trial.")
    control_caseload: float = Field(gt=0, description="Clients per consultant of the control group.")
    months: float = Field(gt=0, le=120, description="Months over which finding a job is counted.")
    years_on: float = Field(ge=0, le=30, description="Years on assistance of the trial's clients at its start.")


class Moment(_Strict):
    """A secondary target: a statistic of the yearly table over some years."""

    statistic: Literal[STATISTICS]  # type: ignore[valid-type]
    years: list[int] = Field(min_length=1, description="Years the statistic is computed over.")
    value: float = Field(description="Target value.")
    sd: float = Field(gt=0, description="Scale of the residual (how far off is one unit of misfit).")
    weight: float = Field(1.0, ge=0, description="Weight in the objective.")
    bound: Literal["equal", "at_most"] = Field(
        "equal", description="`at_most`: only a value above the target is a misfit (a figure given as 'at most')."
    )
    source: str = Field(min_length=1, description="docs/domain.md section or document the value comes from.")
    trial: ContactTrial | None = Field(None, description="Statistic contact_trial_gain: the trial's design.")
    quarter: int | None = Field(
        None, ge=1, le=4, description="For inflow_change and outflow_change: the quarter of both years compared."
    )

    @model_validator(mode="after")
    def _trial_given(self) -> Moment:
        if (self.statistic == "contact_trial_gain") != (self.trial is not None):
            raise ValueError("trial: give it for statistic contact_trial_gain, and only for it")
        return self

    @model_validator(mode="after")
    def _change(self) -> Moment:
        if self.statistic in CHANGES:
            if len(self.years) != 2 or not self.years[0] < self.years[1]:
                raise ValueError(
                    f"years: {self.statistic} compares two years, [BASE, YEAR] with BASE first (got {self.years})"
                )
        elif self.quarter is not None:
            raise ValueError(f"quarter: only for {' and '.join(CHANGES)} (got it for {self.statistic})")
        return self

    @property
    def name(self) -> str:
        years = f"{self.years[0]}" if len(self.years) == 1 else f"{self.years[0]}-{self.years[-1]}"
        quarter = f" Q{self.quarter}" if self.quarter else ""
        return f"{self.statistic}{quarter} {years}"


class Calibration(_Strict):
    """A whole calibration file."""

    description: str = ""
    region: Slug = Field(
        description="Region key into calibration/data/observed_caseload.csv; also in the output folder's name."
    )
    scenario: str = Field("baseline", description="Scenario (shipped name or path) whose parameters are fitted.")
    population_scale: float = Field(
        1.0, gt=0, le=1, description="Simulated population as a share of the region's (1 = full size)."
    )
    fit_years: tuple[int, int] = Field((2013, 2019), description="First (the start stock) and last fitted year.")
    budget: int = Field(
        500,
        ge=4,
        le=100_000,
        description="Most model evaluations of the fit (each of `reps` replications); at least `minimum_budget`.",
    )
    reps: int = Field(4, ge=1, le=1000, description="Replications per evaluation, same seeds every evaluation.")
    seed: int = Field(20131231, ge=0, le=SEED_MAX, description="Root seed of the replications and of the optimiser.")
    popsize: int = Field(4, ge=2, le=100, description="Differential evolution population per free parameter.")
    polish_share: float = Field(
        0.25, ge=0, lt=1, description="Share of the budget for the local polish (which gets at least one step)."
    )
    fd_step: float = Field(0.1, gt=0, le=0.5, description="Finite-difference step, share of a parameter's range.")
    bootstrap: int = Field(400, ge=10, le=100_000, description="Bootstrap draws for the intervals.")
    band_draws: int = Field(16, ge=0, le=1000, description="Parameter draws simulated for the caseload band.")
    fitted_file: Slug = Field(
        description="Name of the fitted parameter TOML, written to the output folder and read from calibration/."
    )
    parameters: list[FreeParameter] = Field(min_length=1)
    stocks: StockTargets = StockTargets()
    moments: list[Moment] = Field(default_factory=list)

    @field_validator("fitted_file")
    @classmethod
    def _toml_name(cls, value: str) -> str:
        if not value.endswith(".toml"):
            raise ValueError(f"must end in .toml, e.g. fitted-REGION.toml; got {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Calibration:
        first, last = self.fit_years
        if not first < last:
            raise ValueError(f"fit_years: first ({first}) must be before last ({last})")
        paths = [p.path for p in self.parameters]
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise ValueError(f"parameters: {', '.join(dupes)} declared more than once")
        n = len(self.parameters)
        least = minimum_budget(self.popsize, n)
        if self.budget < least:
            population = population_size(self.popsize, n)
            raise ValueError(
                f"budget: at least {least} for {n} free parameter{'s' if n > 1 else ''} with popsize {self.popsize} "
                f"(first population {population}, one polish step {2 * n + 1}, Jacobian at the optimum {2 * n}); "
                f"got {self.budget}",
            )
        return self


def parse_years(text: str) -> tuple[int, int]:
    """'2013-2017' -> (2013, 2017); ValueError with the allowed form otherwise."""
    parts = text.strip().split("-")
    try:
        first, last = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (None, None)
    except ValueError:
        first = last = None
    if first is None or last is None or not first < last:
        raise ValueError(f"{text!r} is not a range of years; give FIRST-LAST, e.g. 2013-2017")
    return first, last


def check_paths(calibration: Calibration, scenario: Scenario, file: str) -> None:
    """Every free parameter must name a numeric scenario field; say which are allowed if not."""
    data = scenario.model_dump(mode="python")
    for i, p in enumerate(calibration.parameters):
        try:
            number_at(data, p.path, lists=False)
        except PathError as exc:
            raise CalibrationError(file, f"parameters[{i}].path", f"{p.path!r}: {exc}") from None


def kept_fields(calibration: Calibration, scenario: Scenario, file: str) -> list[str]:
    """The fields (dotted paths) of the fitted file already in calibration/ under `fitted_file`: the new
    fitted file keeps them, at their values in `scenario`. [] when there is none yet. CalibrationError
    when it is not a fitted parameter file (unreadable, or not scenario numbers): found before the fit,
    not when its outputs are written."""
    existing = CALIBRATION_DIR / calibration.fitted_file
    if not existing.exists():
        return []
    try:
        old = read_toml(existing)
    except FileProblem as exc:
        raise CalibrationError(file, "fitted_file", f"{existing}: {exc}") from None
    data = scenario.model_dump(mode="python")

    def leaves(table: Any, prefix: str) -> list[str]:
        # a table two levels down (a table of numbers, a named shock's fields) holds fields too
        if not isinstance(table, dict) or prefix.count(".") >= 2:
            return [prefix]
        return [path for key, value in table.items() for path in leaves(value, f"{prefix}.{key}")]

    fields = []
    for path in (leaf for block, table in old.items() for leaf in leaves(table, block)):
        try:
            value = get_path(data, path, lists=False)
        except PathError:
            value = None
        if not (is_number(value) or (isinstance(value, dict) and value and all(map(is_number, value.values())))):
            raise CalibrationError(
                file,
                "fitted_file",
                f"{existing} is not a fitted parameter file ({path} is not a numeric scenario field); "
                "name a file of the form fitted-REGION.toml",
            )
        fields.append(path)
    return fields


def validate(raw: dict[str, Any], file: str, options: set[str] | frozenset[str] = frozenset()) -> Calibration:
    """Validate a raw mapping; raise CalibrationError naming the first bad field (a top-level field in
    `options` came from the command line and is named as its option)."""
    if isinstance(raw.get("fit_years"), str):
        try:
            raw = {**raw, "fit_years": parse_years(raw["fit_years"])}
        except ValueError as exc:
            raise CalibrationError(file, option_name("fit_years", options), str(exc)) from None
    try:
        return Calibration.model_validate(raw)
    except ValidationError as exc:
        problem = first_problem(exc, Calibration)
        loc = problem.loc
        if loc and isinstance(loc[0], str):
            loc = (option_name(loc[0], options), *loc[1:])
        raise CalibrationError(file, field_name(loc) or "(top level)", problem.message) from None


def resolve_path(ref: str | Path) -> Path:
    """A calibration file by path, or by name in calibration/ (e.g. 'leidschendam-voorburg')."""
    path = Path(ref)
    if path.exists():
        return path.resolve()
    shipped = CALIBRATION_DIR / f"{ref}.toml"
    if shipped.exists():
        return shipped
    names = sorted(p.stem for p in CALIBRATION_DIR.glob("*.toml") if not p.stem.startswith("fitted-"))
    raise CalibrationError(
        str(ref), "", f"no such calibration file; shipped: {', '.join(names)}.{did_you_mean(str(ref), names)}"
    )


def load(ref: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Calibration, Path]:
    """Read and validate a calibration file; `overrides` (e.g. from the command line) replace top-level
    keys, and a bad one is named as its option (`--budget`)."""
    path = resolve_path(ref)
    try:
        raw = read_toml(path)
    except FileProblem as exc:
        raise CalibrationError(str(path), "", str(exc)) from None
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    raw.update(given)
    return validate(raw, str(path), frozenset(given)), path


def fitted_bounds(region: str) -> dict[str, tuple[float, float]]:
    """{path: (lower, upper)} of the parameters calibration/REGION.toml fits; {} without such a file.

    The file is read with the calibration's own checks (CalibrationError), so no bounds are
    taken from a file `caseload calibrate` would refuse.
    """
    path = CALIBRATION_DIR / f"{region}.toml"  # region names are slugs (schema): no path can leave the folder
    if not path.exists():
        return {}
    calibration, _ = load(path)
    return {p.path: (p.lower, p.upper) for p in calibration.parameters}
