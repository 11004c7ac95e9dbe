"""The explorer's page (Shiny for Python): choose a reference and a scenario, move the scenario's
levers, a shock and the horizon, and see the caseload, the difference with what drives it, and the
euros, with their ranges, as `caseload compare` would give them.

Every change answers first with the live comparison (`reps` paired replications, noise intervals),
then, in the same background job, the split by lever and the parameter draws' total intervals and
fan charts; the sections are the report's own (sim/analysis/report.SECTIONS). A value the schema
does not allow shows the schema's message beside its control, and nothing runs or is written.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from shiny import App, Inputs, Outputs, Session, reactive, render, ui

from caseload.explore import DRAWS, HORIZON, REPS, export
from caseload.explore.levers import FIELDS_BY_PATH, LEVER_FIELDS, SHOCKS, Settings, build, field_of, lever_values
from caseload.explore.runner import Job, Request, Runner, Stage
from sim.scenario import ScenarioError, load

POLL_SECONDS = 0.1
"""How often the page looks at a running job (the status line and each stage as it ends)."""


def control_id(path: str) -> str:
    """A lever field's input id (`door.gatekeeper_share` -> `lever_door__gatekeeper_share`)."""
    return "lever_" + path.replace(".", "__")


def explorer_scenarios() -> list[str]:
    """The shipped scenarios the explorer lists: the default region's (the national ones run at the
    country's size, minutes a comparison, and load by file path if wanted)."""
    from sim.catalogue import shipped_names

    return [n for n in shipped_names() if not n.startswith("national")]


def _control(path: str, value: Any):
    f = FIELDS_BY_PATH[path]
    cid = control_id(path)
    if f.kind == "choice":
        widget = ui.input_select(cid, f.label, list(f.choices), selected=value)
    elif f.kind == "routes":
        widget = ui.input_checkbox_group(cid, f.label, list(f.choices), selected=list(value), inline=True)
    else:
        widget = ui.input_numeric(cid, f.label, value)
    return ui.div(widget, ui.output_ui(f"err_{cid}"), class_="lever")


LEVER_GROUPS = {
    "door": "Door",
    "served": "Who is served",
    "staffing": "Staffing",
    "contact": "Contact and guidance",
    "trajectories": "Trajectories",
    "aftercare": "Aftercare",
}

CSS = """
.lever .err, .err{color:#b3261e;font-size:.85em;margin:-.6em 0 .6em}
#status{font-size:.95em;margin:.2em 0 .6em}
#status .running{color:#8a5a00} #status .done{color:#1b5e20} #status .failed{color:#b3261e}
.explored img{max-width:100%;height:auto}
pre.toml{font-size:.78em;max-height:420px;overflow:auto;background:#f6f8fa;padding:8px}
"""


def page(default_reference: str, default_scenario: str, until: int, reps: int, draws: int, folder: Path):
    """The explorer's UI, opening on `default_reference` against `default_scenario`."""
    from sim.analysis.report import PAGE_CSS

    names = explorer_scenarios()
    values = lever_values(load(default_scenario).scenario)

    def chosen(ref: str) -> tuple[str, str]:
        """(the list's choice, the file field) for a side opened on `ref`: a file, or a scenario not
        listed (national), goes in the file field."""
        return (ref, "") if ref in names else (names[0], ref)

    reference_choice, reference_file = chosen(default_reference)
    scenario_choice, scenario_file = chosen(default_scenario)
    groups = []
    for lever, title in LEVER_GROUPS.items():
        controls = [_control(f.path, values[f.path]) for f in LEVER_FIELDS if f.lever == lever]
        groups.append(ui.accordion_panel(title, *controls, value=lever))
    sidebar = ui.sidebar(
        ui.input_select("reference", "Reference", names, selected=reference_choice),
        ui.input_text("reference_file", "…or a reference scenario file (path)", reference_file, update_on="blur"),
        ui.output_ui("err_reference"),
        ui.input_select("scenario", "Scenario (its levers below)", names, selected=scenario_choice),
        ui.input_text("scenario_file", "…or a scenario file (path)", scenario_file, update_on="blur"),
        ui.output_ui("err_scenario"),
        ui.input_select("shock", "Shock (both sides)", {k: v.label for k, v in SHOCKS.items()}, selected="scenario"),
        ui.input_numeric(
            "until", f"Horizon: last year ({HORIZON[0]}-{HORIZON[1]})", until, min=HORIZON[0], max=HORIZON[1]
        ),
        ui.output_ui("err_until"),
        ui.output_ui("lever_start"),
        ui.accordion(*groups, id="levers", open=False, multiple=True),
        ui.input_numeric("reps", "Paired replications", reps, min=REPS[0], max=REPS[1]),
        ui.output_ui("err_reps"),
        ui.input_switch("attribution", "Split the difference by lever", True),
        ui.input_numeric("draws", "Parameter draws for total ranges (0: none)", draws, min=DRAWS[0], max=DRAWS[1]),
        ui.output_ui("err_draws"),
        width=380,
        open="always",
    )
    main = ui.navset_card_tab(
        ui.nav_panel(
            "Caseload",
            ui.output_ui("headline"),
            ui.output_ui("paths", class_="explored"),
            ui.output_ui("uncertainty", class_="explored"),
        ),
        ui.nav_panel(
            "Difference",
            ui.output_ui("differences", class_="explored"),
            ui.output_ui("attribution", class_="explored"),
        ),
        ui.nav_panel("Euros", ui.output_ui("budget"), ui.output_ui("break_even")),
        ui.nav_panel("Assumptions", ui.output_ui("assumptions"), ui.output_ui("files")),
        ui.nav_panel(
            "Export",
            ui.p(
                "Save the comparison on screen as the folder `caseload compare` writes (tables, report.html, "
                "comparison.xlsx), or the settings as scenario files `caseload run` and `caseload compare` read. "
                "Nothing is replaced: name a folder that does not exist yet."
            ),
            ui.input_text("export_folder", "Folder for the comparison", str(folder / "explore-comparison")),
            ui.input_action_button("export_comparison", "Save comparison"),
            ui.output_ui("exported_comparison"),
            ui.input_text("export_files", "Folder for the scenario files", str(folder / "explore-scenarios")),
            ui.input_action_button("export_settings", "Save scenario files"),
            ui.output_ui("exported_settings"),
        ),
        id="tabs",
    )
    return ui.page_sidebar(
        sidebar,
        ui.tags.style(PAGE_CSS.replace("body{", ".explored-body{") + CSS),
        ui.output_ui("status"),
        main,
        title="caseload explore",
        fillable=False,
    )


def _lever_inputs(input: Inputs) -> dict[str, Any]:
    """The lever controls' values (numbers, None for an empty optional field, routes as tuples)."""
    values = {}
    for f in LEVER_FIELDS:
        value = input[control_id(f.path)]()
        if f.kind == "routes":
            value = tuple(value or ())
        values[f.path] = value
    return values


def _count_error(value, bounds: tuple[int, int], what: str) -> str | None:
    """What is wrong with a count control's value, or None."""
    low, high = bounds
    if isinstance(value, int) and low <= value <= high:
        return None
    return f"give {low} to {high} {what} (a whole number)"


def _error(message: str | None):
    return ui.div(message, class_="err") if message else None


def make_app(
    runner: Runner,
    reference: str = "focus",
    scenario: str = "broad",
    until: int = 2030,
    reps: int = 20,
    draws: int = 20,
    folder: Path | None = None,
    seed: int = 42,
) -> App:
    """The explorer as an ASGI app on `runner`'s pool; exports go under `folder` by default."""
    folder = Path(folder or Path.cwd() / "results")

    def server(input: Inputs, output: Outputs, session: Session) -> None:
        job: reactive.Value[Job | None] = reactive.value(None)
        shown = {name: reactive.value(None) for name in ("live", "split", "spread")}
        status_line = reactive.value("")

        def side(choice: str, file: str) -> str:
            return file.strip() or choice

        @reactive.effect
        @reactive.event(input.scenario, input.scenario_file)
        def _levers_of_new_base() -> None:
            """A new base scenario: its levers in the controls."""
            try:
                values = lever_values(load(side(input.scenario(), input.scenario_file())).scenario)
            except ScenarioError:
                return  # said beside the file field by `sides`
            for f in LEVER_FIELDS:
                cid, value = control_id(f.path), values[f.path]
                if f.kind == "choice":
                    ui.update_select(cid, selected=value)
                elif f.kind == "routes":
                    ui.update_checkbox_group(cid, selected=list(value))
                else:
                    ui.update_numeric(cid, value=value)

        @reactive.calc
        def sides() -> dict:
            """Both sides built from the controls: {"reference", "scenario": (LoadedScenario, text)} or
            {"errors": {control: message}}."""
            errors: dict[str, str] = {}
            until = input.until()
            if not isinstance(until, int | float) or not HORIZON[0] <= until <= HORIZON[1]:
                errors["until"] = f"give a year from {HORIZON[0]} to {HORIZON[1]}"
            built = {}
            for key, choice, file, changes in (
                ("reference", input.reference(), input.reference_file(), {}),
                ("scenario", input.scenario(), input.scenario_file(), _lever_inputs(input)),
            ):
                if errors.get("until"):
                    break
                settings = Settings(side(choice, file), input.shock(), int(until), changes)
                try:
                    built[key] = build(settings, folder)
                except ScenarioError as exc:
                    where = field_of(exc.field) if key == "scenario" else None
                    errors[where or key] = exc.message if where else str(exc)
            if not errors and built["reference"][0].scenario.name == built["scenario"][0].scenario.name:
                errors["scenario"] = (
                    "the scenario is the reference with nothing changed: change a lever or the scenario"
                )
            return {"errors": errors} if errors else built

        def _numbers() -> tuple[int, int] | None:
            reps, draws = input.reps(), input.draws()
            ok = _count_error(reps, REPS, "replications") is None and _count_error(draws, DRAWS, "draws") is None
            return (reps, draws) if ok else None

        @reactive.effect
        def _start() -> None:
            """Any change: give up the running job, start the new one."""
            built = sides()
            numbers = _numbers()
            attribution = input.attribution()
            with reactive.isolate():
                old = job.get()
            if old is not None:
                old.cancel()
            if "errors" in built or numbers is None:
                job.set(None)
                status_line.set("")
                return
            reps, draws = numbers
            ref, other = built["reference"][0], built["scenario"][0]
            stages = [Stage("live", Request(ref, other, reps, seed))]
            if attribution:
                stages.append(Stage("split", Request(ref, other, reps, seed, attribution=True)))
            if draws:
                stages.append(Stage("spread", Request(ref, other, 2, seed, parameter_draws=draws)))
            for value in shown.values():
                value.set(None)
            job.set(runner.start(stages))

        @reactive.effect
        def _poll() -> None:
            current = job.get()
            if current is None:
                return
            if current.running is not None:
                reactive.invalidate_later(POLL_SECONDS)
            for stage in current.stages:
                if stage.result is not None and shown[stage.name].set(stage.result):  # unchanged: no redraw
                    session.on_flushed(stage.shown.set, once=True)
            status_line.set(_status_text(current))

        @render.ui
        def status():
            return ui.HTML(status_line.get())

        def errors() -> dict[str, str]:
            return sides().get("errors", {})

        def said(control: str):
            """The error beside one control: the schema's message for it, or nothing."""

            def message():
                return _error(errors().get(control))

            return render.ui(message)

        for name in ("reference", "scenario", "until"):
            output(id=f"err_{name}")(said(name))
        for f in LEVER_FIELDS:
            output(id=f"err_{control_id(f.path)}")(said(f.path))

        @render.ui
        def err_reps():
            return _error(_count_error(input.reps(), REPS, "replications"))

        @render.ui
        def err_draws():
            return _error(_count_error(input.draws(), DRAWS, "draws"))

        @render.ui
        def lever_start():
            from caseload.explore.levers import lever_start as start_of

            built = sides()
            if "errors" in built:
                return None
            scenario = built["scenario"][0].scenario
            return ui.p(f"The levers set the policy in force from {start_of(scenario)}.", class_="note")

        def best() -> Any:
            """The fullest result shown so far: the split has the live numbers and attribution too."""
            return shown["split"].get() or shown["live"].get()

        def section(name: str, source=None):
            from sim.analysis.report import section_html

            result = source() if source else best()
            if result is None:
                return None
            return ui.HTML(section_html(result.data, name))

        @render.ui
        def headline():
            result = best()
            if result is None:
                return None
            said = ui.tags.ul(*(ui.tags.li(line) for line in result.summary()), class_="summary")
            return ui.div(said, section("headline"))

        @render.ui
        def paths():
            return section("paths")

        @render.ui
        def uncertainty():
            spread = shown["spread"].get()
            if spread is None:
                return ui.p(
                    "Total ranges (parameters and simulation) and fan charts come with parameter draws, after the live answer."
                    if input.draws()
                    else "Parameter draws are off: the ranges are simulation noise only.",
                    class_="note",
                )
            return ui.div(
                ui.h4(
                    f"Parameters and simulation: {spread.manifest['parameter_draws']['used']} draws x 2 replications"
                ),
                section("uncertainty", shown["spread"].get),
            )

        @render.ui
        def differences():
            return section("differences")

        @render.ui
        def attribution():
            split = shown["split"].get()
            if split is None:
                return ui.p(
                    "The split by lever comes after the live answer."
                    if input.attribution()
                    else "Split by lever is off.",
                    class_="note",
                )
            return section("attribution", shown["split"].get)

        @render.ui
        def budget():
            return section("budget")

        @render.ui
        def break_even():
            return section("break_even")

        @render.ui
        def assumptions():
            return section("assumptions")

        @render.ui
        def files():
            built = sides()
            if "errors" in built:
                return None
            return ui.div(
                *(
                    ui.div(ui.h4(f"{key}: {loaded.scenario.name}.toml"), ui.tags.pre(text, class_="toml"))
                    for key, (loaded, text) in built.items()
                )
            )

        @render.ui
        @reactive.event(input.export_comparison)
        def exported_comparison():
            result = best()
            if result is None:
                return _error("nothing to save yet: wait for the comparison")
            try:
                written = export.comparison(result, input.export_folder())
            except export.ExportError as exc:
                return _error(str(exc))
            return ui.p(f"saved in {written}", class_="done")

        @render.ui
        @reactive.event(input.export_settings)
        def exported_settings():
            built = sides()
            if "errors" in built:
                return _error("fix the settings marked in red first")
            try:
                written = export.scenario_files(
                    {key: text for key, (_, text) in built.items()},
                    {key: loaded.scenario.name for key, (loaded, _) in built.items()},
                    input.export_files(),
                )
            except export.ExportError as exc:
                return _error(str(exc))
            ref, other = (html.escape(str(p)) for p in written)
            return ui.HTML(
                f"<p class='done'>saved {ref} and {other}; run them with "
                f"<code>caseload compare {ref} {other} --reps {input.reps()} --seed {seed}</code></p>"
            )

        def _give_up() -> None:
            with reactive.isolate():
                current = job.get()
            if current is not None:
                current.cancel()

        session.on_ended(_give_up)

    return App(page(reference, scenario, until, reps, draws, folder), server)


STAGE_WORDS = {
    "live": "the comparison",
    "split": "the split by lever",
    "spread": "the parameter draws",
}


def _status_text(job: Job) -> str:
    """The job in one line: what runs now (with its progress) or what was done, and any error."""
    failed = next((s for s in job.stages if s.error), None)
    if failed is not None:
        return (
            f"<span class='failed'>{html.escape(STAGE_WORDS[failed.name])} failed: {html.escape(failed.error)}</span>"
        )
    running = job.running
    if running is not None:
        progress = f" ({running.done} of {running.total} replications)" if running.total else ""
        return f"<span class='running' data-state='running'>Running {STAGE_WORDS[running.name]}{progress}…</span>"
    done = [s for s in job.stages if s.result is not None]
    if len(done) < len(job.stages):  # given up for a newer one
        return "<span class='running' data-state='running'>Running…</span>"
    parts = [f"{STAGE_WORDS[s.name]} " + ("from memory" if s.cached else f"in {s.seconds:.1f} s") for s in done]
    return f"<span class='done' data-state='done'>Done: {', '.join(parts)}.</span>"
