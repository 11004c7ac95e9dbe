"""The explorer's settings as scenario files: a base scenario, the levers of its policy, a shock and
the horizon, written as the TOML `caseload run` reads (`scenario_text`) and loaded from that same
text (`build`), so what the explorer runs is what its exported file runs.

The levers set the policy of the base scenario's last period, from that period's start or from
the first compared year (2019) if it started before, so the history the calibration meets is
never changed. The explored policy is written in full (every lever field), and the schedule up to
it is kept; the shock is a shipped corona variant laid on the base, or none (the base's own
shocks at strength 0).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sim.files import slugify
from sim.parameters import LEVERS, Policy, Scenario
from sim.scenario import LoadedScenario, load, load_text, names_a_file

FIRST_LEVER_YEAR = 2019
"""The levers act from 1 January of this year at the earliest (the first compared year)."""

EXPLORED = "explored"
"""The name of the policy the levers make."""


@dataclass(frozen=True)
class ShockChoice:
    label: str
    include: str | None  # the shipped shock file laid on the base (none: switch the base's off)
    example: str | None  # a shipped scenario with it, whose shocks are the file's


SHOCKS: dict[str, ShockChoice] = {
    "scenario": ShockChoice("as the scenario has it", None, None),
    "none": ShockChoice("none", None, None),
    "mild": ShockChoice("mild corona (half the fitted shock, over by 2021)", "_corona-mild", "focus-corona-mild"),
    "corona": ShockChoice("corona, as fitted to 2020", "_corona", "focus-corona"),
    "severe": ShockChoice(
        "severe corona (1.5 times, longer, +1.5 points unemployment)", "_corona-severe", "focus-corona-severe"
    ),
}
ShockName = Literal["scenario", "none", "mild", "corona", "severe"]


@dataclass(frozen=True)
class LeverField:
    """One control: a field of a lever of the policy (sim/parameters.py), with its label."""

    path: str  # lever.field
    label: str
    kind: Literal["number", "optional", "choice", "routes"]
    choices: tuple[str, ...] = ()

    @property
    def lever(self) -> str:
        return self.path.split(".")[0]


SERVED_ROUTES = ("direct", "mediation", "development", "sheltered", "participation")
TRAJECTORY_ROUTES = ("development", "sheltered", "participation")

LEVER_FIELDS: tuple[LeverField, ...] = (
    LeverField("door.gatekeeper_share", "Gatekeeper: share of notifications stopped", "number"),
    LeverField("served.max_distance_months", "Served up to a distance of (months; 1000 = everyone)", "number"),
    LeverField("served.routes", "Routes the work consultants serve", "routes", SERVED_ROUTES),
    LeverField("staffing.rule", "Staffing rule", "choice", ("norm", "fixed", "budget")),
    LeverField("staffing.caseload_norm", "Caseload norm (clients per work consultant)", "number"),
    LeverField("staffing.work_consultants", "Team (FTE; rule fixed)", "optional"),
    LeverField("staffing.max_work_consultants", "Most FTE (rule norm; empty: no ceiling)", "optional"),
    LeverField("staffing.budget_eur_per_year", "Staff budget, EUR a year (rule budget)", "optional"),
    LeverField("contact.unserved_contacts_per_year", "Income consultant contacts a year for the unserved", "number"),
    LeverField("contact.guidance_share", "Participation clients guided extra (share)", "number"),
    LeverField("contact.guidance_contacts_per_year", "Their contacts a year", "number"),
    LeverField("contact.guidance_months", "Months the guidance runs", "number"),
    LeverField("trajectories.routes", "Routes that may start trajectories", "routes", TRAJECTORY_ROUTES),
    LeverField("trajectories.yearly_budget_eur", "Trajectory ceiling, EUR a year (empty: none)", "optional"),
    LeverField("aftercare.retention_share", "Aftercare: temporary workers kept in work (share)", "number"),
)
FIELDS_BY_PATH = {f.path: f for f in LEVER_FIELDS}


def lever_start(scenario: Scenario) -> dt.date:
    """The day the levers act from: the start of the scenario's last policy period, or 1 January
    FIRST_LEVER_YEAR if it started before."""
    return max(scenario.policy_schedule[-1].start, dt.date(FIRST_LEVER_YEAR, 1, 1))


def policy_from(scenario: Scenario) -> tuple[str, Policy]:
    """The policy in force at lever_start (the one the levers change) and its name."""
    name = scenario.policy_schedule[-1].policy
    return name, scenario.policies[name]


def lever_values(scenario: Scenario) -> dict[str, Any]:
    """Each control's value in the scenario's policy from lever_start (routes as tuples)."""
    _, policy = policy_from(scenario)
    values = {}
    for f in LEVER_FIELDS:
        lever, name = f.path.split(".")
        value = getattr(getattr(policy, lever), name)
        values[f.path] = tuple(value) if isinstance(value, list) else value
    return values


@dataclass(frozen=True)
class Settings:
    """What the explorer's controls hold for one side of the comparison."""

    base: str  # a shipped scenario's name or a TOML file's path
    shock: ShockName = "scenario"
    until: int | None = None  # the last simulated year (none: the base's)
    changes: dict[str, Any] = field(default_factory=dict)  # lever path -> value, where it differs from the base

    def changed_from(self, base: Scenario) -> dict[str, Any]:
        """The changes that really differ from the base's levers (routes compared as sets)."""
        own = lever_values(base)

        def same(a, b) -> bool:
            if isinstance(a, tuple | list) and isinstance(b, tuple | list):
                return set(a) == set(b)
            return a == b

        return {k: v for k, v in self.changes.items() if k in own and not same(own[k], v)}


def _include_ref(settings: Settings, base: LoadedScenario) -> str:
    """How the exported file includes the base: a shipped name as it is, a file by its full path
    (as the loader resolved it)."""
    return str(base.path) if names_a_file(settings.base) else settings.base


def default_name(settings: Settings, base: Scenario) -> str:
    """The base's name, with the shock chosen and `explored` when a lever changed."""
    parts = [base.name]
    if settings.shock != "scenario":
        parts.append(f"{settings.shock}-shock" if settings.shock != "none" else "no-shock")
    if settings.changed_from(base):
        parts.append(EXPLORED)
    return slugify("-".join(parts))


@functools.cache
def _shock_names(choice: ShockChoice) -> frozenset[str]:
    """The shocks a shipped shock file sets (read once: the page builds both sides on every change)."""
    return frozenset(load(choice.example).scenario.shocks) if choice.example else frozenset()


def _value_text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(value) if value else "none"
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def scenario_text(settings: Settings, base: LoadedScenario, name: str | None = None) -> str:
    """The scenario file of `settings` on `base` (the base's LoadedScenario), as TOML text with
    comments saying what changed; `name` defaults to default_name."""
    import tomli_w

    scenario = base.scenario
    changes = settings.changed_from(scenario)
    name = name or default_name(settings, scenario)
    shock = SHOCKS[settings.shock]
    includes = [_include_ref(settings, base)] + ([shock.include] if shock.include else [])
    start = lever_start(scenario)
    policy_name, policy = policy_from(scenario)
    own = lever_values(scenario)
    said = [f"{f}: {_value_text(v)} (was {_value_text(own[f])})" for f, v in changes.items()]
    description = scenario.description
    if changes:
        description += f"; the explorer's levers from {start}: " + "; ".join(said)
    if settings.shock != "scenario":
        description += f"; shock: {shock.label}"
    until = settings.until or scenario.simulation.until_year
    data: dict[str, Any] = {
        "include": includes if len(includes) > 1 else includes[0],
        "name": name,
        "description": description,
        "simulation": {"until_year": until},
    }
    if changes:
        levers = policy.model_dump(mode="python", exclude_none=True)
        for path, value in changes.items():
            lever, key = path.split(".")
            if value is None:
                levers[lever].pop(key, None)
            else:
                levers[lever][key] = list(value) if isinstance(value, tuple) else value
        levers["description"] = f"{policy_name} with the explorer's changes: {'; '.join(said)}"
        data["policies"] = {EXPLORED: {k: levers[k] for k in ("description", *LEVERS)}}
        kept = [p.model_dump(mode="python") for p in scenario.policy_schedule if p.start < start]
        data["policy_schedule"] = [*kept, {"start": start, "policy": EXPLORED}]
    off = set(scenario.shocks) - _shock_names(shock) if settings.shock != "scenario" else set()
    if off:
        data["shocks"] = {s: {"strength": 0.0} for s in sorted(off)}
    header = [
        f"# {name}: written by `caseload explore` on {dt.date.today()}; run it with `caseload run {name}.toml`.",
        f"# Based on {settings.base}" + (f", with the {shock.include} shock laid on it" if shock.include else "") + ".",
    ]
    if changes:
        header.append(f"# The policy {policy_name!r} from {start}, changed by the explorer (written in full below):")
        header += [f"#   {line}" for line in said]
    if off:
        header.append(f"# Switched off (strength 0): the base's shocks {', '.join(sorted(off))}.")
    return "\n".join(header) + "\n\n" + tomli_w.dumps(data)


def build(settings: Settings, folder: Path | None = None, name: str | None = None) -> tuple[LoadedScenario, str]:
    """The scenario of `settings` and its file's text, loaded from that text as if it were the file
    `folder/NAME.toml` (default: the working directory). Raises ScenarioError (file: field: what is
    allowed) for a base that cannot be loaded or a lever value the schema does not allow."""
    base = load(settings.base)
    chosen = name or default_name(settings, base.scenario)
    text = scenario_text(settings, base, chosen)
    return load_text(text, (folder or Path.cwd()) / f"{chosen}.toml"), text


def field_of(error_field: str) -> str | None:
    """The control a schema error's dotted field belongs to (`policies.explored.door.gatekeeper_share`
    -> `door.gatekeeper_share`), or None if it is not a lever's."""
    parts = error_field.split(".")
    if len(parts) >= 3 and parts[0] == "policies" and parts[1] == EXPLORED:
        path = ".".join(parts[2:4])
        if path in FIELDS_BY_PATH:
            return path
        # a lever's own check names its field (`staffing.work_consultants`); one that names none,
        # or a field without a control, is said beside the lever's first control
        lever = parts[2]
        return next((f.path for f in LEVER_FIELDS if f.lever == lever), None)
    if parts[0] == "simulation":
        return "until"
    return None
