"""One replication: the SimPy environment, its two calendar processes and the month end.

How a run goes (docs/model.md 'Time: what is timed to the day, and what is reviewed monthly'):
SimPy runs two processes on one clock in days. The weekly information meeting seats those who
made contact (sim/intake.py). The month process creates each month's notifications at its start
(sim/inflow.py; the gatekeeper of the policy in force stops some) and at its end runs the month
end below: the diagnosis talks and intakes of those seated are booked, in queue order, into the
desks' working-day capacity and the dream-job periods settled (not simulated day by day: the
days come out the same); the benefits whose period ended start; temporary workers whose
contract ended come back; the consultants are assigned; then each client's exits, part-time
work, distance, trajectory and route review are evaluated in one compiled step
(sim/month_step.py) with per-client keyed random numbers.

This module only puts the rules in that order; each rule lives in the module named for it:
which policy is in force and what it does in sim/policies.py, contact in sim/consultants.py,
the labour market, exits and jobs in sim/work.py, distance in sim/distance.py, routes and
trajectories in sim/routes.py. A run is a pure function of (scenario, seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from sim.calendar import Calendar
from sim.clients import ClientTable, Exit, Route, State, add_initial_stock, category_of, route_of
from sim.consultants import (
    assign_consultants,
    clients_to_serve,
    contact_intensity,
    contact_levels,
    contact_multiplier,
    team_size,
)
from sim.drivers import state_pension_age
from sim.events import Event, EventLog
from sim.inflow import add_notifications, expected_notifications, monthly_notification_rates, newcomer_rules
from sim.intake import DoorOutcome, IntakeChain
from sim.money import (
    back_pay_client_months,
    benefit_client_months,
    benefit_spending_eur,
    staff_spending_eur,
    trajectory_prices,
    trajectory_spending_eur,
)
from sim.month_step import STOCK_COLUMNS, MonthColumns, MonthInputs, month_on_benefit, run_rules
from sim.month_step import STREAMS as MONTH_STREAMS
from sim.parameters import Policy, Scenario
from sim.policies import InForce, PolicySchedule, participation_guidance_on, team_due
from sim.randomness import Streams
from sim.results import build_tables, waits_by_grant_year
from sim.returns import ReturnColumns, cohort_counts_by_year, returns_before
from sim.shocks import ShockEffect
from sim.work import EXIT_COLUMNS, labour_market_multiplier


@dataclass
class RunResult:
    """Tables of one replication."""

    yearly: pd.DataFrame
    monthly: pd.DataFrame
    events: pd.DataFrame | None
    client_events: int  # state changes of clients (the model's events)
    kernel_events: int  # events SimPy scheduled
    meeting_seats: list[int] = field(default_factory=list)


PLACEMENT_COLUMNS = ["placements_category_1", "placements_category_2", "placements_category_3"]


class Model:
    """State of one replication while it runs."""

    def __init__(self, scenario: Scenario, seed: np.random.SeedSequence | int, record_events: bool = False) -> None:
        sim = scenario.simulation
        self.scenario = scenario
        self.calendar = Calendar.for_years(sim.start_year + 1 - sim.burn_in_years, sim.until_year)
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        self.log = EventLog(record_events)
        years = sim.until_year - self.calendar.first_year + 1
        # room for the stock and its growth, but never far beyond the clients the run can create
        # (a large stock with little inflow over a long horizon asked for tens of GB up front)
        self._notification_rates = monthly_notification_rates(scenario)  # once: start-up and run use them
        clients = scenario.region.initial_stock + expected_notifications(self._notification_rates)
        capacity = min(scenario.region.initial_stock * (1 + 0.6 * years), 1.1 * clients)
        self.table = ClientTable(capacity=int(capacity) + 1024)
        stock = add_initial_stock(
            self.table,
            scenario.region,
            self.streams.generator("initial_stock"),
            0.0,
            state_pension_age(scenario.drivers, self.calendar.first_year),
        )
        self.log.record(0.0, stock, Event.GRANTED, self.table.route[stock])
        # the stock's participation clients active as with the income consultant (sim/participation.py)
        u_active = self.streams.keyed_uniforms("initial_activity", 0, self.table.key[stock])
        in_participation = self.table.route[stock] == Route.PARTICIPATION
        share = scenario.participation.share_active_income_consultant
        self.table.active[stock] = in_participation & (u_active < share)
        self.initial_stock = len(stock)
        self.rows: list[dict] = []
        self.policies = PolicySchedule(scenario, self.calendar)
        self.chain = IntakeChain(
            self.env,
            self.table,
            scenario.chain,
            scenario.inflow,
            self.log,
            self.policies.gatekeeper_share_on,
            first_meeting_day=self.calendar.first_weekday_on_or_after(scenario.chain.information_meeting_weekday),
            weekday_of_day0=self.calendar.origin.weekday(),
        )
        self._traj_price = trajectory_prices(scenario)
        self._run_rules = run_rules(scenario)
        self._team_period: float | None = None  # the policy period the team was set in
        self._team_first_month = 0
        self._team_fte: float | None = None
        self._trajectory_spent: dict[int, float] = {}  # EUR of trajectories started, by year
        # clients back each month (exit day, why they had left, months away), counted by the year
        # they left once at the end (`cohorts`)
        self._back: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.env.process(self._months())

    def _months(self):
        scenario = self.scenario
        newcomers = newcomer_rules(scenario)
        months = zip(self.calendar.month_starts(), self._notification_rates, strict=True)
        for index, ((year, month, start, end), (shock, rates)) in enumerate(months):
            ids = add_notifications(self.table, scenario, self.streams, index, rates, start, end, shock, newcomers)
            door = self.chain.notify(ids, end)
            yield self.env.timeout(end - self.env.now)
            self._month_end(index, year, month, start, end, shock, len(ids), door)

    def run(self) -> None:
        self.env.run(until=self.calendar.end_day + 0.01)

    # -- the monthly step -------------------------------------------------------------------
    def _grant(self, index: int, start: float, end: float) -> tuple[int, float]:
        """Benefits whose dream-job period ended this month start: category and route set, and
        some keep a part-time job they came with (inflow.newcomer_parttime_share).
        Returns the number granted and the client-months of benefit owed from before the start."""
        t = self.table
        self.chain.settle()
        ids = self.chain.benefits_starting_before(end)
        if len(ids) == 0:
            return 0, 0.0
        day = t.grant_day[ids]
        distance = t.distance_diag[ids]
        cat = category_of(distance, t.sheltered[ids], t.community_service[ids])
        route = route_of(cat, distance)
        t.category[ids] = cat
        t.route[ids] = route
        t.state[ids] = State.ON_BENEFIT
        t.spell_start_day[ids] = day
        t.route_start_day[ids] = day
        t.route_start_distance[ids] = t.distance_true[ids]
        u_parttime = self.streams.keyed_uniforms("newcomer_parttime", index, t.key[ids])
        t.parttime[ids] = u_parttime < self.scenario.inflow.newcomer_parttime_share
        self.log.record(day, ids, Event.GRANTED, route)
        owed = back_pay_client_months(self.scenario.money, t.notification_day[ids], t.birth_day[ids], day)
        return len(ids), owed

    def _returns(self, index: int, year: int, start: float, end: float, policy: Policy) -> int:
        """Leavers back on assistance: temporary contracts that ended (unless aftercare holds: the
        revolving door) and other leavers whose return day came; counted by the year they left."""
        t = self.table
        back = returns_before(
            t.columns(ReturnColumns),
            t.n,
            start,
            end,
            self.streams.bases(("aftercare",), index)[0],
            policy.aftercare.retention_share,
            float(state_pension_age(self.scenario.drivers, year)),
        )
        self.log.record(back.days, back.ids, Event.RETURN, back.reasons)
        if len(back.ids):
            self._back.append((t.exit_day[back.ids], back.reasons, back.months_away))
        return len(back.ids)

    def cohorts(self) -> dict[int, np.ndarray]:
        """Leavers back so far, by the year they left (sim/returns.COHORT_COLUMNS)."""
        if not self._back:
            return {}
        exit_day, reasons, away = (np.concatenate(part) for part in zip(*self._back, strict=True))
        return cohort_counts_by_year(self.calendar.years_of(exit_day), reasons, away)

    def _team(self, index: int, in_force: InForce, to_serve: int) -> float:
        """The team of work consultants this month: recomputed when the staffing rule says (a
        norm-following team every few months of its policy's period), kept in between."""
        staffing = in_force.rules.policy.staffing
        if in_force.start_day != self._team_period:
            self._team_period, self._team_first_month = in_force.start_day, index
        if team_due(staffing, index - self._team_first_month) or self._team_fte is None:
            self._team_fte = team_size(staffing, to_serve, self.scenario.money)
        return self._team_fte

    def _trajectory_budget_left(self, year: int, policy: Policy) -> float:
        """EUR the year's trajectory ceiling still allows (lever trajectories; inf without one)."""
        ceiling = policy.trajectories.yearly_budget_eur
        if ceiling is None:
            return np.inf
        return max(float(ceiling) - self._trajectory_spent.get(year, 0.0), 0.0)

    def _month_end(
        self,
        index: int,
        year: int,
        month: int,
        start: float,
        end: float,
        shock: ShockEffect,
        notifications: int,
        door: DoorOutcome,
    ) -> None:
        t, sc = self.table, self.scenario
        in_force = self.policies.in_force_on(start)
        rules = in_force.rules
        policy = rules.policy
        row: dict = {
            "year": year,
            "month": month,
            "policy": rules.name,
            "notifications": notifications,
            "gatekept": door.gatekept,
            "reapplications": door.reapplied,
        }
        granted, back_pay = self._grant(index, start, end)
        returned = self._returns(index, year, start, end, policy)
        row["returns"] = returned
        row["inflow"] = granted + returned

        # the clients on benefit (`on`): who a consultant serves needs them all at once (numpy),
        # the rest is one client at a time in compiled code (sim/month_step.py)
        on = t.in_state(State.ON_BENEFIT)
        distance_diag, route = t.distance_diag[on], t.route[on]
        to_serve = clients_to_serve(distance_diag, rules.served_routes[route], policy)
        team = self._team(index, in_force, int(np.count_nonzero(to_serve)))
        guidance = assign_consultants(distance_diag, to_serve, team, policy.staffing.caseload_norm, sc.contact)
        contacts = contact_levels(guidance, policy)
        intensity = contact_intensity(contacts, sc.contact)
        month = MonthInputs(
            start=start,
            end=end,
            pension_age=float(state_pension_age(sc.drivers, year)),  # AOW at the age in force this year
            market_multiplier=labour_market_multiplier(sc, year, shock),
            guidance_on=participation_guidance_on(in_force.guidance_end_day, start),
            guidance_share=float(policy.contact.guidance_share),
            trajectory_routes=rules.trajectory_routes,
            p_review=float(rules.review_chance),
            trajectory_budget_left=self._trajectory_budget_left(year, policy),
            contacts_per_year=contacts,
            contact_multiplier=contact_multiplier(intensity, sc.contact),
            intensity=intensity,
            bases=self.streams.bases(MONTH_STREAMS, index),
        )
        out = month_on_benefit(on, guidance.served, t.columns(MonthColumns), month, self._run_rules)

        client_months = benefit_client_months(out.days_paid, out.benefit_share) + back_pay
        row["benefit_client_months"] = client_months
        row["benefit_spending_eur"] = benefit_spending_eur(sc, client_months, year)
        leavers = on[out.left]
        self.log.record(out.left_day, leavers, Event.EXIT, out.left_reason)
        row["outflow"] = len(leavers)
        counts = np.bincount(out.left_reason, minlength=Exit.OTHER + 1)
        row.update(zip(EXIT_COLUMNS.values(), counts[list(EXIT_COLUMNS)].tolist(), strict=True))
        self.log.record(out.new_parttime_day, on[out.new_parttime], Event.PARTTIME_START)
        row["placements_parttime"] = len(out.new_parttime)
        row.update(zip(PLACEMENT_COLUMNS, out.placements.tolist(), strict=True))
        unserved, _, guided_unserved, guided_served = out.levels.tolist()
        placements = int(out.placements.sum())
        row.update(staff_spending_eur(sc.money, policy, team, unserved, guided_unserved + guided_served, placements))
        self.log.record(end, on[out.ended_parttime], Event.PARTTIME_END)
        starter_ids = on[out.started]
        self.log.record(end, starter_ids, Event.TRAJECTORY_START, out.started_type)
        row["trajectories_started"] = len(starter_ids)
        row["trajectory_spending_eur"] = spent = trajectory_spending_eur(self._traj_price, out.started_type)
        self._trajectory_spent[year] = self._trajectory_spent.get(year, 0.0) + spent

        self.log.record(end, on[out.moved], Event.ROUTE_CHANGE, out.moved_route)
        # everyone still on benefit stayed: grants and returns came before the exits
        row.update(zip(STOCK_COLUMNS, out.stocks.tolist(), strict=True))
        caseload = guidance.caseload_per_consultant
        row["work_consultants"] = guidance.work_consultants
        row["work_consultant_caseload"] = caseload if math.isfinite(caseload) else float("nan")
        row["clients_served"] = int(np.count_nonzero(guidance.served))
        in_participation = row["stock_participation"]
        row["participation_distance_mean"] = (
            out.participation_distance / in_participation if in_participation else float("nan")
        )
        row["in_chain"] = self.chain.waiting() + self.chain.in_intake()
        row["deterred"] = self.chain.deterred()
        self.rows.append(row)


def run(
    scenario: Scenario, seed: np.random.SeedSequence | int, record_events: bool = False, replication: int = 0
) -> RunResult:
    """Run one replication of `scenario` for `seed`; a pure function of both."""
    model = Model(scenario, seed, record_events)
    model.run()
    waits = waits_by_grant_year(model.table, model.calendar)
    yearly, monthly = build_tables(
        model.rows, waits, scenario.simulation.start_year, model.initial_stock, replication, model.cohorts()
    )
    return RunResult(
        yearly=yearly,
        monthly=monthly,
        events=model.log.frame() if record_events else None,
        client_events=model.log.count,
        kernel_events=next(model.env._eid),
        meeting_seats=model.chain.seats_taken,
    )
