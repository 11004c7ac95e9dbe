"""One replication: the SimPy environment, the chain's calendar processes and the monthly step.

Design (for speed, see README 'Performance'): the intake chain runs as calendar processes on
shared queues (a weekly information meeting, a working-day process for diagnosis, intake and
grants); each client's monthly hazards, route reviews and distance changes are evaluated in one
vectorised step at each month end, with per-client keyed random numbers. A run is a pure
function of (scenario, seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR, Calendar
from sim.clients import ClientTable, Exit, Group, Route, State, add_initial_stock, category_of, route_of
from sim.consultants import assign_consultants, contact_intensity
from sim.drivers import state_pension_age, unemployment_pct
from sim.events import Event, EventLog
from sim.inflow import add_notifications, expected_notifications, notification_rates_per_year
from sim.intake import IntakeChain
from sim.money import benefit_client_months, benefit_spending_eur, trajectory_prices, trajectory_spending_eur
from sim.parameters import CATEGORIES, Scenario
from sim.policies import policy_period_on, policy_periods_on
from sim.randomness import Streams
from sim.results import build_tables
from sim.routes import choose_trajectories, review_routes, trajectory_choice_table, trajectory_eligible
from sim.shocks import ShockEffect, effect_on
from sim.work import (
    EXIT_COLUMNS,
    JOB_PARTTIME,
    contract_months,
    exit_happens,
    exit_kind,
    job_types,
    market_multiplier,
    work_hazard,
)


@dataclass
class RunResult:
    """Tables of one replication."""

    yearly: pd.DataFrame
    monthly: pd.DataFrame
    events: pd.DataFrame | None
    client_events: int  # state changes of clients (the model's events)
    kernel_events: int  # events SimPy scheduled
    meeting_seats: list[int] = field(default_factory=list)


# keyed streams drawn for every client on benefit each month, and for those who leave
_EVERYONE_STREAMS = ("exit", "review", "rediagnosis")
_EXIT_STREAMS = ("exit_reason", "job_type", "exit_day")
_DURATION_BOUNDS_YEARS = np.array([1.0, 2.0, 4.0])  # stock_duration_lt1, _1_2, _2_4, _4plus
_PARTICIPATION, _NONE, _DIRECT, _MEDIATION = Route.PARTICIPATION, Route.NONE, Route.DIRECT, Route.MEDIATION


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
        clients = scenario.region.initial_stock + expected_notifications(scenario)
        capacity = min(scenario.region.initial_stock * (1 + 0.6 * years), 1.1 * clients)
        self.table = ClientTable(capacity=int(capacity) + 1024)
        stock = add_initial_stock(
            self.table, scenario.region, self.streams.generator("initial_stock"), 0.0,
            state_pension_age(scenario.drivers, self.calendar.first_year),
        )
        self.log.record(0.0, stock, Event.GRANTED, self.table.route[stock])
        self.initial_stock = len(stock)
        self.rows: list[dict] = []
        self.chain = IntakeChain(
            self.env, self.table, scenario.chain, scenario.inflow, self.log, self._gatekeeper_share_on,
            first_meeting_day=self.calendar.first_weekday_on_or_after(scenario.chain.information_meeting_weekday),
            weekday_of_day0=self.calendar.origin.weekday(),
        )
        basket = scenario.trajectories.basket
        self._traj_work = np.array([b.work_multiplier for b in basket])
        self._traj_gain = np.array([b.distance_gain_months_per_month for b in basket])
        self._traj_months = np.array([b.duration_months for b in basket])
        self._traj_price = trajectory_prices(scenario)
        self._traj_choice = trajectory_choice_table(scenario)
        self.env.process(self._months())

    def _gatekeeper_share_on(self, days: np.ndarray) -> np.ndarray:
        """Gatekeeper share of the policy in force on each simulation day."""
        sc = self.scenario
        starts = np.array([self.calendar.day(p.start) for p in sc.policy_schedule])
        shares = np.array([sc.policies[p.policy].gatekeeper_share for p in sc.policy_schedule])
        return shares[policy_periods_on(starts, days)]

    def _months(self):
        scenario = self.scenario
        for index, (year, month, start, end) in enumerate(self.calendar.month_starts()):
            shock = effect_on(scenario.shocks, self.calendar.date(start + 14))
            rates = notification_rates_per_year(scenario, year, month, shock)
            ids = add_notifications(
                self.table, scenario, self.streams.generator("notifications", index), rates, start, end, shock
            )
            gatekept = self.chain.notify(ids)
            yield self.env.timeout(end - self.env.now)
            self._month_end(index, year, month, start, end, shock, len(ids), gatekept)

    def run(self) -> None:
        self.env.run(until=self.calendar.end_day + 0.01)

    # -- the monthly step -------------------------------------------------------------------
    def _grant(self, start: float, end: float) -> int:
        """Benefits whose dream-job period ended this month start: category and route set."""
        t = self.table
        self.chain.settle()
        ids = self.chain.benefits_starting_before(end)
        if len(ids) == 0:
            return 0
        day = t.grant_day[ids]
        cat = category_of(t.distance_diag[ids], t.sheltered[ids], t.community_service[ids])
        t.category[ids] = cat
        t.route[ids] = route_of(cat, t.distance_diag[ids])
        t.state[ids] = State.ON_BENEFIT
        t.spell_start_day[ids] = day
        t.route_start_day[ids] = day
        self.log.record(day, ids, Event.GRANTED, t.route[ids])
        return len(ids)

    def _return_from_temporary_work(self, index: int, start: float, end: float) -> int:
        """Temporary contracts that ended: back on assistance unless aftercare holds (revolving door)."""
        t, work = self.table, self.scenario.work
        temp = t.in_state(State.TEMPORARY_WORK)
        ending = temp[t.contract_end_day[temp] < end]
        if len(ending) == 0:
            return 0
        kept = self.streams.keyed_uniforms("aftercare", index, ending) < work.aftercare_retention_share
        t.state[ending[kept]] = State.LEFT
        back = ending[~kept]
        back_day = np.maximum(t.contract_end_day[back], start)
        t.state[back] = State.ON_BENEFIT
        t.spell_start_day[back] = back_day
        t.route_start_day[back] = back_day
        route = t.route[back]
        t.route[back] = np.where(route == _DIRECT, _MEDIATION, route)
        t.contract_end_day[back] = np.inf
        t.exit_reason[back] = Exit.NONE
        t.returns[back] += 1
        self.log.record(back_day, back, Event.RETURN)
        return len(back)

    def _month_end(
        self, index: int, year: int, month: int, start: float, end: float,
        shock: ShockEffect, notifications: int, gatekept: int,
    ) -> None:
        t, sc = self.table, self.scenario
        policy_name, policy_start = policy_period_on(sc, self.calendar.date(start))
        policy = sc.policies[policy_name]
        row: dict = {"year": year, "month": month, "policy": policy_name,
                     "notifications": notifications, "gatekept": gatekept}
        granted = self._grant(start, end)
        returned = self._return_from_temporary_work(index, start, end)
        row["returns"] = returned
        row["inflow"] = granted + returned

        on = t.in_state(State.ON_BENEFIT)
        # keyed draws: one per client and stream, whatever subset asks, so streams that only a few
        # clients need (job type, contract, trajectory type, ...) are drawn for those few only
        u_exit, u_review, u_rediagnosis = self.streams.keyed_block(_EVERYONE_STREAMS, index, on)
        spell = t.spell_start_day[on]
        exposure_start = np.maximum(spell, start)
        exposure_days = end - exposure_start
        exposure = exposure_days / DAYS_PER_MONTH
        route = t.route[on]
        groups = t.groups(on, end)
        parttime = t.parttime[on]
        years_on = (end - spell) / DAYS_PER_YEAR

        # state pension (AOW) at the age in force this year
        pension_day = t.birth_day[on] + state_pension_age(sc.drivers, year) * DAYS_PER_YEAR
        pensioned = pension_day < end

        # who has a work consultant, and how much contact each gets
        months_into_policy = (end - self.calendar.day(policy_start)) / DAYS_PER_MONTH
        guided = (
            (route == _PARTICIPATION) & (t.u_guided[on] < policy.participation_guidance_share)
            & (months_into_policy <= policy.participation_guidance_months)
        )
        guidance = assign_consultants(t.distance_diag[on], route != _NONE, policy, sc.contact)
        contacts = np.where(guidance.served, guidance.contacts_per_served_per_year, policy.unserved_contacts_per_year)
        if guided.any():
            contacts = np.where(guided, np.maximum(contacts, policy.participation_guidance_contacts_per_year), contacts)
        intensity = contact_intensity(contacts, sc.contact)
        in_trajectory = t.trajectory_end_day[on] > start
        trajectory_type = t.trajectory_type[on]
        trajectory_mult = np.where(in_trajectory, self._traj_work[trajectory_type], 1.0)

        # exits: competing risks for the month, the reason drawn only for those who leave
        u_pct = unemployment_pct(sc.drivers, year) + shock.unemployment_pct_add
        h_work = work_hazard(
            sc.work, t.distance_true[on], groups, route, parttime, years_on,
            1.0 + sc.contact.contact_effect_max * intensity, trajectory_mult,
            market_multiplier(sc, u_pct) * shock.work_multiplier,
        )
        h_education = np.where(groups == Group.YOUNG, sc.work.education_per_month_young, 0.0)
        h_total = h_work + h_education + sc.work.other_exit_per_month
        hit = np.flatnonzero(exit_happens(h_total, exposure, u_exit) & ~pensioned)
        u_reason, u_job, u_day = self.streams.keyed_block(_EXIT_STREAMS, index, on[hit])
        kind = exit_kind(h_work[hit], h_education[hit], sc.work.other_exit_per_month, u_reason)
        jobs = job_types(sc.work, parttime[hit], u_job)
        reason = np.zeros(len(on), dtype=np.int8)
        reason[hit] = np.where(kind == 0, jobs, np.where(kind == 1, Exit.EDUCATION, Exit.OTHER))
        reason[pensioned] = Exit.PENSION
        exit_day = np.full(len(on), end)
        exit_day[hit] = exposure_start[hit] + u_day * exposure_days[hit]
        exit_day[pensioned] = np.clip(pension_day[pensioned], exposure_start[pensioned], end)
        new_parttime = np.zeros(len(on), dtype=bool)
        new_parttime[hit] = reason[hit] == JOB_PARTTIME
        leaving = reason != Exit.NONE
        leaving[new_parttime] = False

        # benefit paid this month (share as at the start of the month)
        days_paid = np.where(leaving, exit_day - exposure_start, exposure_days)
        share = np.where(parttime, sc.work.parttime_benefit_share, 1.0)
        client_months = benefit_client_months(days_paid, share)
        row["benefit_client_months"] = client_months
        row["benefit_spending_eur"] = benefit_spending_eur(sc, client_months)

        leavers = on[leaving]
        leaver_reason = reason[leaving]
        t.exit_day[leavers] = exit_day[leaving]
        t.exit_reason[leavers] = leaver_reason
        t.parttime[leavers] = False
        t.trajectory_end_day[leavers] = -np.inf
        t.state[leavers] = State.LEFT
        temporary = leavers[leaver_reason == Exit.WORK_TEMPORARY]
        t.state[temporary] = State.TEMPORARY_WORK
        u_contract = self.streams.keyed_uniforms("contract", index, temporary)
        t.contract_end_day[temporary] = t.exit_day[temporary] + contract_months(sc.work, u_contract) * DAYS_PER_MONTH
        self.log.record(exit_day[leaving], leavers, Event.EXIT, leaver_reason)
        row["outflow"] = len(leavers)
        counts = np.bincount(leaver_reason, minlength=Exit.OTHER + 1)
        for code, column in EXIT_COLUMNS.items():
            row[column] = int(counts[code])

        # part-time jobs: new ones keep a partial benefit; some end
        t.parttime[on[new_parttime]] = True
        self.log.record(exit_day[new_parttime], on[new_parttime], Event.PARTTIME_START)
        row["placements_parttime"] = int(new_parttime.sum())
        stay = ~leaving
        working = np.flatnonzero(stay & parttime)
        u_end = self.streams.keyed_uniforms("parttime_end", index, on[working])
        ending_pt = on[working[u_end < -np.expm1(-sc.work.parttime_job_end_per_month * exposure[working])]]
        t.parttime[ending_pt] = False
        self.log.record(end, ending_pt, Event.PARTTIME_END)

        # distance: activation and contact shrink it, inactivity grows it (the granite stock)
        d = sc.distance
        activation = np.maximum(in_trajectory, intensity)
        drift = d.inactivity_drift_months_per_month * (1.0 + d.drift_growth_per_year * years_on)
        gain = d.activation_gain_months_per_month * activation + np.where(in_trajectory, self._traj_gain[trajectory_type], 0.0)
        change = (drift * (1.0 - activation) - gain) * exposure
        stayers = on[stay]
        t.distance_true[stayers] = np.clip(t.distance_true[stayers] + change[stay], 0.0, d.max_months)
        t.contacts[stayers] += (contacts[stay] / 12.0) * exposure[stay]

        # trajectories from the basket
        eligible = np.flatnonzero(stay & ~in_trajectory & trajectory_eligible(route, policy, guided))
        u_start = self.streams.keyed_uniforms("trajectory", index, on[eligible])
        starting = eligible[u_start < -np.expm1(-sc.trajectories.start_per_month * exposure[eligible])]
        starter_ids = on[starting]
        u_type = self.streams.keyed_uniforms("trajectory_type", index, starter_ids)
        types = choose_trajectories(self._traj_choice, groups[starting], u_type)
        t.trajectory_type[starter_ids] = types
        t.trajectory_end_day[starter_ids] = end + self._traj_months[types] * DAYS_PER_MONTH
        t.trajectories_started[starter_ids] += 1
        self.log.record(end, starter_ids, Event.TRAJECTORY_START, types)
        row["trajectories_started"] = len(starter_ids)
        row["trajectory_spending_eur"] = trajectory_spending_eur(self._traj_price, types)

        # route reviews
        changes = review_routes(t, stayers, end, sc, policy, u_review[stay], u_rediagnosis[stay])
        self.log.record(end, changes.ids, Event.ROUTE_CHANGE, changes.new_route)
        # everyone still on benefit stayed: grants and returns came before the exits
        self._record_stocks(row, stayers, end, guidance.caseload_per_consultant, int(guidance.served.sum()))
        self.rows.append(row)

    def _record_stocks(self, row: dict, now_on: np.ndarray, end: float, caseload: float, served: int) -> None:
        t = self.table
        row["caseload"] = len(now_on)
        cats = np.bincount(t.category[now_on], minlength=len(CATEGORIES))
        for i, name in enumerate(CATEGORIES):
            row[f"stock_{name}"] = int(cats[i])
        duration_class = np.searchsorted(_DURATION_BOUNDS_YEARS, (end - t.spell_start_day[now_on]) / DAYS_PER_YEAR, side="right")
        durations = np.bincount(duration_class, minlength=4)
        for i, name in enumerate(("lt1", "1_2", "2_4", "4plus")):
            row[f"stock_duration_{name}"] = int(durations[i])
        row["stock_participation"] = int((t.route[now_on] == _PARTICIPATION).sum())
        row["stock_parttime"] = int(t.parttime[now_on].sum())
        row["work_consultant_caseload"] = caseload if math.isfinite(caseload) else float("nan")
        row["clients_served"] = served
        row["in_chain"] = self.chain.waiting() + self.chain.in_intake()


def run(
    scenario: Scenario, seed: np.random.SeedSequence | int, record_events: bool = False, replication: int = 0
) -> RunResult:
    """Run one replication of `scenario` for `seed`; a pure function of both."""
    model = Model(scenario, seed, record_events)
    model.run()
    yearly, monthly = build_tables(model, replication)
    return RunResult(
        yearly=yearly,
        monthly=monthly,
        events=model.log.frame() if record_events else None,
        client_events=model.log.count,
        kernel_events=next(model.env._eid),
        meeting_seats=model.chain.seats_taken,
    )


