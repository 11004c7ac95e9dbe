"""Bad scenario files fail loudly and cleanly, in the loader and in the command.

Hypothesis writes bad scenario files (wrong types, out-of-range values, unknown keys, huge
numbers, missing includes, include cycles, empty files, non-UTF-8 bytes, random text): each
gives one line `error: FILE: FIELD: ...`, exit 2 from the CLI, no traceback, no output folder.
Names that would become paths outside the results folder are refused the same way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner
from verification_scenarios import baseline

from cli import app
from sim.config import model_at
from sim.files import is_slug
from sim.parameters import LEVERS, Policy, Scenario
from sim.scenario import ScenarioError, load

pytestmark = pytest.mark.cli

runner = CliRunner()
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the fields a file can set, with their bounds --------------------------------------------------


def _bounds(field) -> dict[str, float]:
    out = {}
    for meta in field.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if getattr(meta, name, None) is not None:
                out[name] = getattr(meta, name)
    return out


def _scalar_fields() -> list[tuple[tuple[str, ...], type, dict]]:
    """(path, python type, bounds) of every scalar field in the single-table sections and a policy."""
    data = baseline().model_dump(mode="json")
    sections: list[tuple[tuple[str, ...], type[BaseModel]]] = []
    for name, field in Scenario.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            sections.append(((name,), model))
    sections.append((("policies", "focus"), Policy))
    # and each lever of a policy, a table of its own
    for lever in LEVERS:
        sections.append((("policies", "focus", lever), Policy.model_fields[lever].annotation))
    fields = []
    for prefix, model in sections:
        values = data
        for part in prefix:
            values = values[part]
        for name, field in model.model_fields.items():
            value = values.get(name)
            if isinstance(value, bool | int | float | str):
                fields.append(((*prefix, name), type(value), _bounds(field)))
    return fields


SCALAR_FIELDS = _scalar_fields()


NUMERIC_FIELDS = [f for f in SCALAR_FIELDS if f[1] in (int, float)]


BOUNDED_FIELDS = [f for f in NUMERIC_FIELDS if f[2]]


SECTIONS = sorted({f[0][:-1] for f in SCALAR_FIELDS})


def _toml_key(path: tuple[str, ...]) -> str:
    return ".".join(f'"{p}"' if not p.replace("_", "").isalnum() else p for p in path)


def _file(path: tuple[str, ...], literal: str) -> str:
    """A scenario file that includes the baseline and sets one field to a TOML literal."""
    return f'include = "baseline"\n[{_toml_key(path[:-1])}]\n{path[-1]} = {literal}\n'


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else str(value)
    return str(value)


# -- what every bad file must give -----------------------------------------------------------------


def assert_clean_failure(
    text: str | bytes, *fragments: str, name: str = "bad.toml", others: dict | None = None
) -> None:
    """`load` raises ScenarioError naming the file; the CLI exits 2 with one line and writes nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / name
        for other, content in (others or {}).items():
            (folder / other).write_text(content)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        with pytest.raises(ScenarioError) as info:
            load(str(path))
        message = str(info.value)
        for fragment in fragments:
            assert fragment in message, (fragment, message)
        out = folder / "results"
        result = runner.invoke(app, ["run", "--parameter-draws", "0", str(path), "--until", "2014", "--out", str(out)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)
        assert not out.exists()
        assert sorted(p.name for p in folder.iterdir()) == sorted([name, *(others or {})])
        shown = runner.invoke(app, ["scenarios", "show", str(path)])
        assert shown.exit_code == 2 and shown.output.strip() == lines[0], shown.output


# -- Hypothesis: bad scenario files ----------------------------------------------------------------


@FUZZ
@given(st.sampled_from(SCALAR_FIELDS), st.data())
def test_wrong_types_name_the_field(field, data):
    path, kind, _ = field
    if kind in (int, float):
        choices = ['"lots"', "[1, 2]", "{ a = 1 }", "2020-01-01", '""']
    elif kind is bool:
        choices = ['"maybe"', "5", "[true]", "{ a = 1 }", "1.5"]
    else:
        choices = ["5", "[1]", "{ a = 1 }", "true", "2.5"]
    literal = data.draw(st.sampled_from(choices))
    assert_clean_failure(_file(path, literal), ".".join(path))


@FUZZ
@given(st.sampled_from(BOUNDED_FIELDS), st.data())
def test_out_of_range_values_name_the_field(field, data):
    path, kind, bounds = field
    side = data.draw(st.sampled_from(sorted(bounds)))
    margin = (
        data.draw(st.one_of(st.just(1), st.integers(1, 10**6)))
        if kind is int
        else data.draw(st.floats(1e-3, 1e6) | st.just(1e300))
    )
    limit = bounds[side]
    value = limit - margin if side in ("ge", "gt") else limit + margin
    if side == "gt" and kind is float:
        value = limit - margin  # strictly below a strict lower bound
    value = kind(value)
    assert_clean_failure(_file(path, _literal(value)), ".".join(path), "(got ")


@FUZZ
@given(st.sampled_from(SECTIONS), st.from_regex(r"\A[a-z][a-z_]{2,20}\Z"))
def test_unknown_keys_name_the_key_and_the_allowed_ones(section, key):
    allowed = set(model_at(Scenario, section).model_fields)
    if key in allowed:
        return
    assert_clean_failure(_file((*section, key), "1"), ".".join((*section, key)), "unknown field", "Allowed here")


@FUZZ
@given(
    st.sampled_from(NUMERIC_FIELDS),
    st.sampled_from(["1e308", "-1e308", "1e30", "100000000000000000000000000", "inf", "-inf", "nan"]),
)
def test_huge_numbers_are_an_error_naming_the_field_or_run_cleanly(field, literal):
    """A huge value is refused naming the field (or the inflow it would cause), or the run completes."""
    path, _, _ = field
    text = _file(path, literal)
    load_error = None
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "huge.toml"
        file.write_text(text)
        try:
            load(str(file))
        except ScenarioError as exc:
            load_error = str(exc)
    if load_error is not None:
        # the field itself, or the table whose check it breaks (inflow size, simulation years)
        assert any(name in load_error for name in (".".join(path), "inflow", "simulation")), load_error
        assert_clean_failure(text)
        return
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "huge.toml"
        file.write_text(text)
        out = Path(tmp) / "out"
        result = runner.invoke(app, ["run", "--parameter-draws", "0", str(file), "--until", "2014", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert {p.name for p in out.iterdir()} == {"yearly.csv", "monthly.csv", "manifest.json"}


@FUZZ
@given(
    st.one_of(
        st.just(""),
        st.text(alphabet=" \t\n", max_size=20),
        st.builds(
            lambda c: "# " + c + "\n", st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
        ),
    )
)
def test_empty_files(text):
    assert_clean_failure(text, "empty scenario file")


@FUZZ
@given(st.binary(min_size=1, max_size=200), st.booleans())
def test_non_utf8_bytes(raw, with_header):
    data = (b'include = "baseline"\n' if with_header else b"") + raw + b"\xff"
    assert_clean_failure(data, "not UTF-8", "bad.toml")


@FUZZ
@given(st.text(max_size=200))
def test_random_text_never_crashes(text):
    # anything but a full scenario: malformed TOML, unknown keys, or missing required fields
    assert_clean_failure(text, "bad.toml")


@FUZZ
@given(st.from_regex(r"\A[a-z][a-z0-9_-]{0,20}\Z"), st.booleans())
def test_missing_includes(name, as_path):
    ref = f"{name}.toml" if as_path else f"zz-{name}"
    assert_clean_failure(f'include = "{ref}"\n', "include", "does not exist" if as_path else "unknown scenario")


@FUZZ
@given(st.integers(1, 5))
def test_include_cycles(length):
    names = [f"c{i}.toml" for i in range(length)]
    files = {names[i]: f'include = "{names[(i + 1) % length]}"\n' for i in range(1, length)}
    assert_clean_failure(f'include = "{names[1 % length]}"\n', "include cycle", name=names[0], others=files)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("include = 5\n", ["include", "scenario name or path"]),
        ('include = ["baseline", 3]\n', ["include"]),
        ('include = "baseline"\nregion = 5\n', ["region", "valid dictionary"]),
        ('include = "baseline"\n[[chain]]\nx = 1\n', ["chain"]),
        (
            'include = "baseline"\n[work]\nbase_work_per_month = { close = 0.1, nearby = 0.2 }\n',
            ["work.base_work_per_month.nearby"],
        ),
        ('include = "baseline"\n[region]\nstock_category_shares = { 1a = 1.0 }\n', ["bad.toml: region", "add up to 1"]),
        (
            'include = "baseline"\n[inflow]\nnewcomer_age_shares = { under27 = 0.0 }\n',
            ["bad.toml: inflow", "add up to 1"],
        ),
        ('include = "baseline"\n[drivers]\nyears = [2013]\n', ["bad.toml: drivers.years", "has 1 values but"]),
        (
            'include = "baseline"\n[shocks.x]\nstart = 2020-01-01\nend = 2021-01-01\ninflow_multiplier = 1e300\n',
            ["inflow", "30,000,000"],
        ),
        ('include = "baseline"\n[inflow]\nreference_unemployment_pct = 1e-70\n', ["inflow.reference_unemployment_pct"]),
        ('include = "baseline"\n[shocks.x]\nstart = "soon"\nend = 2021-01-01\n', ["shocks.x.start"]),
        (
            'include = "baseline"\n[shocks.x]\nstart = 2020-04-01\nend = 2020-10-01\nfade_months = 9\n',
            ["bad.toml: shocks.x.fade_months", "at most the shock's length"],
        ),
        (
            'include = "baseline"\n[[shocks]]\nname = "x"\nstart = 2020-01-01\nend = 2021-01-01\n',
            ["bad.toml: shocks", "[shocks.NAME]"],
        ),
    ],
)
def test_specific_bad_files(text, fragments):
    assert_clean_failure(text, "bad.toml", *fragments)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            'include = "focus"\n[[policy_schedule]]\nstart = 2013-01-01\npolicy = "focus"\n'
            '[[policy_schedule]]\nstart = 2013-01-01\npolicy = "broad"\n',
            ["policy_schedule[1].start", "the same date"],
        ),
        (
            'include = "baseline"\n[[policy_schedule]]\nstart = 0\npolicy = "focus"\n',
            ["policy_schedule[0].start", "a number is not a date"],
        ),
        (
            'include = "baseline"\n[money]\nstate_grant_eur_per_year = { total = 5.0 }\n',
            ["money.state_grant_eur_per_year", "years from 1990 to 2100", "'total'"],
        ),
        (
            'include = "baseline"\n[shocks.x]\nstart = 2020-03-01\nend = 2020-01-01\n',
            ["shocks.x.end", "must be after start"],
        ),
        ('include = "baseline"\n[simulation]\nuntil_year = 2000\n', ["simulation.until_year", "after start_year"]),
    ],
)
def test_silent_surprises_are_errors_naming_the_field(text, fragments):
    assert_clean_failure(text, "bad.toml", *fragments)


POLICY = 'include = "baseline"\n[policies.x]\nbased_on = "focus"\n'
"""A file with a policy `x` based on focus; each case below adds one mistake to it."""


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('include = "baseline"\n[policies.x]\nbased_on = "nosuch"\n', ["policies", "x.based_on", "'nosuch'"]),
        (POLICY + 'door = "nosuch"\n', ["policies", "x.door", "names policy 'nosuch'"]),
        (
            'include = "baseline"\n[policies.x]\nbased_on = "y"\n[policies.y]\nbased_on = "x"\n',
            ["policies", "based_on", "in a circle"],
        ),
        (POLICY + "lever = 1\n", ["policies.x.lever", "unknown field", "Allowed here: aftercare"]),
        (POLICY + "door = { gatekeeper = 0.3 }\n", ["policies.x.door.gatekeeper", "Did you mean 'gatekeeper_share'?"]),
        (POLICY + "door = { gatekeeper_share = 1.5 }\n", ["policies.x.door.gatekeeper_share", "(got 1.5)"]),
        (POLICY + 'staffing = { rule = "fixed" }\n', ["policies.x.staffing.work_consultants", "rule 'fixed' needs it"]),
        (
            POLICY + 'staffing = { rule = "budget" }\n',
            ["policies.x.staffing.budget_eur_per_year", "rule 'budget' needs it"],
        ),
        (POLICY + "contact = { guidance_share = 0.2 }\n", ["policies.x.contact.guidance_months", "must be above 0"]),
        (
            POLICY + 'served = { max_distance_months = 24, routes = ["direct", "direct"] }\n',
            ["policies.x.served.routes", "names a route twice"],
        ),
        (
            POLICY + 'trajectories = { routes = ["sheltered", "sheltered"] }\n',
            ["policies.x.trajectories.routes", "names a route twice"],
        ),
    ],
)
def test_a_wrong_policy_lever_is_an_error_naming_the_field(text, fragments):
    """Mistakes in the levers, based_on and levers by name: one line naming the field, exit 2,
    nothing written (tests/test_parameters.py has the schema's side of each)."""
    assert_clean_failure(text, "bad.toml: ", *fragments)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "[money]\nwork_consultant_eur_per_fte_year = -80000.0\n",
            ["money.work_consultant_eur_per_fte_year", "greater than 0"],
        ),
        ("[money]\nincome_consultant_eur_per_contact = nan\n", ["money.income_consultant_eur_per_contact"]),
        ("[money]\naftercare_eur_per_placement = inf\n", ["money.aftercare_eur_per_placement"]),
        ("[money]\nbenefit_indexation_per_year = 0.9\n", ["money.benefit_indexation_per_year", "(got 0.9)"]),
        ('[money]\nstate_grant_eur_per_year = { "next" = 1.0 }\n', ["money.state_grant_eur_per_year", "years"]),
        ("[money]\nsafety_net_half_share = 0.05\n", ["money.safety_net_half_share", "at least"]),
        (POLICY + "trajectories = { yearly_budget_eur = -1.0 }\n", ["policies.x.trajectories.yearly_budget_eur"]),
        (POLICY + 'staffing = { rule = "budget", budget_eur_per_year = -5.0 }\n', ["budget_eur_per_year"]),
    ],
)
def test_a_wrong_price_salary_grant_or_ceiling_is_an_error_naming_the_field(text, fragments):
    """Money: a negative or non-finite price or salary, an indexation out of range, a grant key that
    is not a year, safety-net bands the wrong way round, a negative ceiling or staff budget."""
    if not text.startswith("include"):
        text = 'include = "baseline"\n' + text
    assert_clean_failure(text, "bad.toml: ", *fragments)


# -- names that become paths -----------------------------------------------------------------------


@FUZZ
@given(st.text(alphabet=st.sampled_from("ab/\\.-_ é\u202e:~$"), min_size=0, max_size=12))
def test_a_scenario_name_never_points_outside_its_folder(name):
    """A generated name is a safe slug (and then one folder name), or refused naming the field."""
    text = f'include = "baseline"\nname = "{name.replace(chr(92), chr(92) * 2)}"\n'
    if is_slug(name):
        scenario = validate_file(text)
        folder = Path("results") / f"{scenario.name}-seed42"
        assert folder.parent == Path("results") and len(folder.parts) == 2 and ".." not in folder.parts
    else:
        assert_clean_failure(text, "bad.toml: name", "becomes a file or folder name")


def validate_file(text: str) -> Scenario:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_text(text)
        return load(str(path)).scenario


@pytest.mark.parametrize("name", ["../x", "/etc/x", "broad/../broad", ".hidden", "", "a..b", "a/b"])
def test_names_that_are_paths_are_refused(name):
    assert_clean_failure(f'include = "baseline"\nname = "{name}"\n', "bad.toml: name")
