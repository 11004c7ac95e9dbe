"""One replication: the SimPy environment, the chain's calendar processes and the monthly step.

Design (for speed, see README 'Performance'): the intake chain runs as calendar processes on
shared queues (a weekly information meeting, a working-day process for diagnosis, intake and
grants); each client's monthly hazards, route reviews and distance changes are evaluated in one
vectorised step at each month end, with per-client keyed random numbers. A run is a pure
function of (scenario, seed).
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR, Calendar
from sim.clients import ClientTable, Exit, Group, Route, State, add_initial_stock, category_of, route_of, target_groups
from sim.consultants import assign_consultants, contact_intensity, contact_level, contact_levels
from sim.drivers import state_pension_age, unemployment_pct
from sim.events import Event, EventLog
from sim.inflow import add_notifications, expected_notifications, monthly_notification_rates
from sim.intake import IntakeChain
from sim.money import benefit_client_months, benefit_spending_eur, trajectory_prices, trajectory_spending_eur
from sim.parameters import CATEGORIES, TARGET_GROUPS, Policy, Scenario
from sim.policies import policy_periods_on
from sim.randomness import Streams
from sim.results import build_tables
from sim.routes import (
    choose_trajectories,
    participation_review_chance,
    review_due,
    review_months_by_route,
    review_routes,
    trajectory_choice_table,
    trajectory_eligible,
    trajectory_routes,
)
from sim.shocks import ShockEffect
from sim.work import (
    EXIT_COLUMNS,
    JOB_PARTTIME,
    base_hazard_table,
    contract_months,
    exit_happens,
    exit_kind,
    hazard_class,
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


# keyed streams drawn for every client on benefit each month, for those who leave (the contract
# only matters for temporary jobs, but drawing it with the others costs less than another call),
# and for those who may start a trajectory (its type only matters for those who start)
_EVERYONE_STREAMS = ("exit", "review", "rediagnosis")
_EXIT_STREAMS = ("exit_reason", "job_type", "exit_day", "contract")
_TRAJECTORY_STREAMS = ("trajectory", "trajectory_type")
_DURATION_BOUNDS_YEARS = (1.0, 2.0, 4.0)  # stock_duration_lt1, _1_2, _2_4, _4plus
_STOCK_CATEGORY_COLUMNS = [f"stock_{name}" for name in CATEGORIES]
_STOCK_DURATION_COLUMNS = ["stock_duration_lt1", "stock_duration_1_2", "stock_duration_2_4", "stock_duration_4plus"]
_PARTICIPATION, _NONE, _DIRECT, _MEDIATION = Route.PARTICIPATION, Route.NONE, Route.DIRECT, Route.MEDIATION


@dataclass(frozen=True)
class _PolicyTables:
    """What the month step looks up for a policy, made once a run rather than every month."""

    policy: Policy
    p_review: float  # chance of the participation talk in a month
    trajectory_routes: np.ndarray  # per route: may start a trajectory


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
            self.table, scenario.region, self.streams.generator("initial_stock"), 0.0,
            state_pension_age(scenario.drivers, self.calendar.first_year),
        )
        self.log.record(0.0, stock, Event.GRANTED, self.table.route[stock])
        self.initial_stock = len(stock)
        self.rows: list[dict] = []
        schedule = scenario.policy_schedule
        self._period_start_days = [self.calendar.day(p.start) for p in schedule]
        self._period_starts = np.array(self._period_start_days)
        self._period_gatekeeper = np.array([scenario.policies[p.policy].gatekeeper_share for p in schedule])
        self._policy_tables = {
            name: _PolicyTables(policy, participation_review_chance(policy), trajectory_routes(policy))
            for name, policy in scenario.policies.items()
        }
        self.chain = IntakeChain(
            self.env, self.table, scenario.chain, scenario.inflow, self.log, self._gatekeeper_share_on,
            first_meeting_day=self.calendar.first_weekday_on_or_after(scenario.chain.information_meeting_weekday),
            weekday_of_day0=self.calendar.origin.weekday(),
        )
        basket = scenario.trajectories.basket
        # indexed by trajectory type, plus one entry past the basket for "not in a trajectory"
        self._no_trajectory = len(basket)
        self._traj_work = np.array([*(b.work_multiplier for b in basket), 1.0])
        self._traj_gain = np.array([*(b.distance_gain_months_per_month for b in basket), 0.0])
        self._traj_months = np.array([b.duration_months for b in basket])
        self._traj_price = trajectory_prices(scenario)
        self._traj_choice = trajectory_choice_table(scenario)
        self._base_hazard = base_hazard_table(scenario.work)
        self._education_hazard = np.where(
            np.arange(len(TARGET_GROUPS)) == Group.YOUNG, scenario.work.education_per_month_young, 0.0
        )
        self._review_months = review_months_by_route(scenario)
        self.env.process(self._months())

    def _gatekeeper_share_on(self, days: np.ndarray) -> np.ndarray:
        """Gatekeeper share of the policy in force on each simulation day."""
        return self._period_gatekeeper[policy_periods_on(self._period_starts, days)]

    def _policy_period(self, day: float) -> tuple[str, float]:
        """Name and start day of the policy in force on `day`: policy_periods_on for one day
        (bisect, as a numpy call costs more for a single value)."""
        period = max(bisect.bisect_right(self._period_start_days, day) - 1, 0)
        return self.scenario.policy_schedule[period].policy, self._period_start_days[period]

    def _months(self):
        scenario = self.scenario
        months = zip(self.calendar.month_starts(), self._notification_rates, strict=True)
        for index, ((year, month, start, end), (shock, rates)) in enumerate(months):
            ids = add_notifications(self.table, scenario, self.streams, index, rates, start, end, shock)
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
        distance = t.distance_diag[ids]
        cat = category_of(distance, t.sheltered[ids], t.community_service[ids])
        route = route_of(cat, distance)
        t.category[ids] = cat
        t.route[ids] = route
        t.state[ids] = State.ON_BENEFIT
        t.spell_start_day[ids] = day
        t.route_start_day[ids] = day
        self.log.record(day, ids, Event.GRANTED, route)
        return len(ids)

    def _return_from_temporary_work(self, index: int, start: float, end: float) -> int:
        """Temporary contracts that ended: back on assistance unless aftercare holds (revolving door)."""
        t, work = self.table, self.scenario.work
        temp = t.in_state(State.TEMPORARY_WORK)
        ending = temp[t.contract_end_day[temp] < end]
        if len(ending) == 0:
            return 0
        kept = self.streams.keyed_uniforms("aftercare", index, t.key[ending]) < work.aftercare_retention_share
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
        policy_name, policy_start = self._policy_period(start)
        rules = self._policy_tables[policy_name]
        policy = rules.policy
        row: dict = {"year": year, "month": month, "policy": policy_name,
                     "notifications": notifications, "gatekept": gatekept}
        granted = self._grant(start, end)
        returned = self._return_from_temporary_work(index, start, end)
        row["returns"] = returned
        row["inflow"] = granted + returned

        # below, arrays run over the clients on benefit (`on`) and positions index into them; values
        # that depend on a few codes (hazard by class, contacts by level, ...) come from tables made
        # once a run: with ~2,000 clients the cost is the number of numpy calls, not the arithmetic
        on = t.in_state(State.ON_BENEFIT)
        # keyed draws: one per client and stream, whatever subset asks, so streams that only a few
        # clients need (job type, contract, trajectory type, ...) are drawn for those few only
        key = t.key[on]  # draws are keyed on the client's random key, not the row (sim/clients.py)
        u_exit, u_review, u_rediagnosis = self.streams.keyed_block(_EVERYONE_STREAMS, index, key)
        spell = t.spell_start_day[on]
        exposure_start = np.maximum(spell, start)
        exposure_days = end - exposure_start
        exposure = exposure_days / DAYS_PER_MONTH
        route = t.route[on].astype(np.intp)  # codes as indices: lookups by int8 take numpy's slow path
        parttime = t.parttime[on]
        distance = t.distance_true[on]
        birth = t.birth_day[on]
        groups = target_groups((end - birth) / DAYS_PER_YEAR, t.refugee[on])
        years_on = (end - spell) / DAYS_PER_YEAR

        # state pension (AOW) at the age in force this year
        pension_day = birth + state_pension_age(sc.drivers, year) * DAYS_PER_YEAR
        pensioned = (pension_day < end).nonzero()[0]

        # who has a work consultant, and how much contact each gets
        guided = None
        if (end - policy_start) / DAYS_PER_MONTH <= policy.participation_guidance_months:
            guided = (route == _PARTICIPATION) & (t.u_guided[on] < policy.participation_guidance_share)
            if not guided.any():
                guided = None
        guidance = assign_consultants(t.distance_diag[on], route != _NONE, policy, sc.contact)
        levels = contact_levels(guidance, policy)
        level = contact_level(guidance.served, guided)
        intensity_levels = contact_intensity(levels, sc.contact)
        intensity = intensity_levels[level]
        contact_mult = (1.0 + sc.contact.contact_effect_max * intensity_levels)[level]
        in_trajectory = t.trajectory_end_day[on] > start
        trajectory = np.where(in_trajectory, t.trajectory_type[on].astype(np.intp), self._no_trajectory)

        # exits: competing risks for the month, the reason drawn only for those who leave
        u_pct = unemployment_pct(sc.drivers, year) + shock.unemployment_pct_add
        h_work = work_hazard(
            self._base_hazard, sc.work, hazard_class(distance, groups, route, parttime), years_on,
            contact_mult, self._traj_work[trajectory], market_multiplier(sc, u_pct) * shock.work_multiplier,
        )
        h_education = self._education_hazard[groups]
        h_total = h_work + h_education + sc.work.other_exit_per_month
        leaves = exit_happens(h_total, exposure, u_exit)
        leaves[pensioned] = False
        hit = leaves.nonzero()[0]
        # the draws for those who leave, and (for whoever stays of them) for part-time jobs that may
        # end and trajectories that may start, in one pass
        part_timers = parttime.nonzero()[0]
        may_start = (~in_trajectory & trajectory_eligible(route, rules.trajectory_routes, guided)).nonzero()[0]
        (u_reason, u_job, u_day, u_contract), (u_end,), (u_start, u_type) = self.streams.keyed_blocks(
            [(_EXIT_STREAMS, key[hit]), (("parttime_end",), key[part_timers]), (_TRAJECTORY_STREAMS, key[may_start])],
            index,
        )
        kind = exit_kind(h_work[hit], h_education[hit], sc.work.other_exit_per_month, u_reason)
        jobs = job_types(sc.work, parttime[hit], u_job)
        hit_reason = np.where(kind == 0, jobs, np.where(kind == 1, Exit.EDUCATION, Exit.OTHER))
        hit_day = exposure_start[hit] + u_day * exposure_days[hit]
        reason = np.zeros(len(on), dtype=np.int8)
        reason[hit] = hit_reason
        reason[pensioned] = Exit.PENSION
        exit_day = np.full(len(on), end)
        exit_day[hit] = hit_day
        exit_day[pensioned] = np.clip(pension_day[pensioned], exposure_start[pensioned], end)
        leaving = reason != Exit.NONE  # a part-time job (JOB_PARTTIME) keeps a partial benefit
        left = leaving.nonzero()[0]

        # benefit paid this month (share as at the start of the month)
        days_paid = exposure_days.copy()
        days_paid[left] = exit_day[left] - exposure_start[left]
        share = np.where(parttime, sc.work.parttime_benefit_share, 1.0)
        client_months = benefit_client_months(days_paid, share)
        row["benefit_client_months"] = client_months
        row["benefit_spending_eur"] = benefit_spending_eur(sc, client_months)

        leavers = on[left]
        leaver_reason = reason[left]
        t.exit_day[leavers] = exit_day[left]
        t.exit_reason[leavers] = leaver_reason
        t.parttime[leavers] = False
        t.trajectory_end_day[leavers] = -np.inf
        t.state[leavers] = State.LEFT
        temporary = hit_reason == Exit.WORK_TEMPORARY
        t.state[on[hit[temporary]]] = State.TEMPORARY_WORK
        t.contract_end_day[on[hit[temporary]]] = (
            hit_day[temporary] + contract_months(sc.work, u_contract[temporary]) * DAYS_PER_MONTH
        )
        self.log.record(exit_day[left], leavers, Event.EXIT, leaver_reason)
        row["outflow"] = len(leavers)
        counts = np.bincount(leaver_reason, minlength=Exit.OTHER + 1)
        row.update(zip(EXIT_COLUMNS.values(), counts[list(EXIT_COLUMNS)].tolist(), strict=True))

        # part-time jobs: new ones keep a partial benefit; some end
        new_parttime = hit[hit_reason == JOB_PARTTIME]
        t.parttime[on[new_parttime]] = True
        self.log.record(hit_day[hit_reason == JOB_PARTTIME], on[new_parttime], Event.PARTTIME_START)
        row["placements_parttime"] = len(new_parttime)
        stay = ~leaving
        still = stay[part_timers]
        working, u_end = part_timers[still], u_end[still]
        ending_pt = on[working[u_end < -np.expm1(-sc.work.parttime_job_end_per_month * exposure[working])]]
        t.parttime[ending_pt] = False
        self.log.record(end, ending_pt, Event.PARTTIME_END)

        # distance: activation and contact shrink it, inactivity grows it (the granite stock)
        d = sc.distance
        activation = np.maximum(in_trajectory, intensity)
        drift = d.inactivity_drift_months_per_month * (1.0 + d.drift_growth_per_year * years_on)
        gain = d.activation_gain_months_per_month * activation + self._traj_gain[trajectory]
        change = (drift * (1.0 - activation) - gain) * exposure
        # written back for everyone on benefit at the start, leavers' own values restored
        # (fewer passes than picking out the stayers)
        new_distance = np.clip(distance + change, 0.0, d.max_months)
        new_distance[left] = distance[left]
        t.distance_true[on] = new_distance
        stayed = stay.nonzero()[0]
        stayers = on[stayed]

        # trajectories from the basket
        still = stay[may_start]
        eligible, u_start, u_type = may_start[still], u_start[still], u_type[still]
        starts = u_start < -np.expm1(-sc.trajectories.start_per_month * exposure[eligible])
        starting = eligible[starts]
        starter_ids = on[starting]
        types = choose_trajectories(self._traj_choice, groups[starting], u_type[starts])
        t.trajectory_type[starter_ids] = types
        t.trajectory_end_day[starter_ids] = end + self._traj_months[types] * DAYS_PER_MONTH
        t.trajectories_started[starter_ids] += 1
        self.log.record(end, starter_ids, Event.TRAJECTORY_START, types)
        row["trajectories_started"] = len(starter_ids)
        row["trajectory_spending_eur"] = trajectory_spending_eur(self._traj_price, types)

        # route reviews (time on the route as at the start of the step: nothing above moves a stayer)
        months_on_route = (end - t.route_start_day[on]) / DAYS_PER_MONTH
        due = (stay & review_due(route, months_on_route, u_review, self._review_months, rules.p_review)).nonzero()[0]
        changes = review_routes(t, on[due], end, sc, route[due], u_rediagnosis[due])
        self.log.record(end, changes.ids, Event.ROUTE_CHANGE, changes.new_route)
        # everyone still on benefit stayed: grants and returns came before the exits
        served = int(np.count_nonzero(guidance.served))
        self._record_stocks(row, stayers, years_on[stayed], guidance.caseload_per_consultant, served)
        self.rows.append(row)

    def _record_stocks(self, row: dict, now_on: np.ndarray, years_on: np.ndarray, caseload: float, served: int) -> None:
        t = self.table
        row["caseload"] = len(now_on)
        cats = np.bincount(t.category[now_on], minlength=len(CATEGORIES))
        row.update(zip(_STOCK_CATEGORY_COLUMNS, cats.tolist(), strict=True))
        row.update(zip(_STOCK_DURATION_COLUMNS, _counts_by_class(years_on, _DURATION_BOUNDS_YEARS), strict=True))
        row["stock_participation"] = int(np.count_nonzero(t.route[now_on] == _PARTICIPATION))
        row["stock_parttime"] = int(np.count_nonzero(t.parttime[now_on]))
        row["work_consultant_caseload"] = caseload if math.isfinite(caseload) else float("nan")
        row["clients_served"] = served
        row["in_chain"] = self.chain.waiting() + self.chain.in_intake()


def _counts_by_class(values: np.ndarray, bounds: tuple[float, ...]) -> list[int]:
    """How many values fall in each class [-inf, b0), [b0, b1), ..., [b_last, inf) (NaN: the last)."""
    below = [int(np.count_nonzero(values < b)) for b in bounds]
    return [below[0], *(b - a for a, b in itertools.pairwise(below)), len(values) - below[-1]]


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


