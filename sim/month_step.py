"""A month for the clients on benefit: exits, part-time work, distance, trajectories and which
routes are due for review, one client at a time in compiled code (numba).

Why compiled: a default region has about 1,700 clients on benefit, so the vectorised month step
spent its time on the ~270 numpy calls a month, not on the arithmetic (docs/performance.md
'Design for speed'). The loop below does the arithmetic in the order the rules were written,
draws the keyed numbers (sim/randomness.keyed_uniform) and applies to each client in turn the
rules of sim/work.py (exits, jobs, part-time work), sim/returns.py (who will come back),
sim/participation.py (activity on the participation route), sim/distance.py, sim/routes.py (reviews,
trajectories) and sim/consultants.py (contact levels). Who a consultant serves needs all
clients at once, so it stays in numpy before the loop (sim/model.py).

What crosses into compiled code are named records: the run's rules (RunRules, one record per
module that owns them), the month's inputs (MonthInputs), the client columns read and written
(MonthColumns); the month's outcome comes back as a MonthOutcome.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.clients import (
    CATEGORY_GROUP,
    ROUTE_BY_CATEGORY,
    Exit,
    Route,
    State,
    diagnosed_category,
    diagnosed_distance,
    target_group,
)
from sim.compiled import compiled
from sim.consultants import contact_level
from sim.distance import DistanceRules, activation, distance_after_month, distance_rules
from sim.parameters import CATEGORIES, Scenario
from sim.participation import ActivityRates, activity_rates, activity_start_hazard
from sim.randomness import keyed_uniform, normal_quantile
from sim.returns import ReturnRules, return_day, return_rules
from sim.routes import (
    CATEGORY_ON_ROUTE,
    ROUTE_AFTER_REVIEW,
    RouteRules,
    choose_trajectory,
    returns_from_participation,
    route_rules,
)
from sim.work import (
    WorkRules,
    contract_months,
    exit_kind,
    happens,
    hazard_class,
    job_type,
    parttime_job_ends,
    work_hazard,
    work_rules,
)

# the keyed streams of the month step, in the order of MonthInputs.bases
STREAMS = (
    "exit",
    "review",
    "rediagnosis",
    "exit_reason",
    "job_type",
    "exit_day",
    "contract",
    "parttime_end",
    "trajectory",
    "trajectory_type",
    "return",
    "activity",
)
# codes as module constants: compiled code reads plain ints, not class attributes
_PARTICIPATION = Route.PARTICIPATION
_NONE, _TEMPORARY, _EDUCATION, _PENSION, _OTHER_EXIT = (
    Exit.NONE,
    Exit.WORK_TEMPORARY,
    Exit.EDUCATION,
    Exit.PENSION,
    Exit.OTHER,
)
_LAST_WORK_EXIT = Exit.SELF_EMPLOYMENT  # exit codes 1-3 are jobs (sim/clients.Exit)
_LEFT, _TEMPORARY_WORK = State.LEFT, State.TEMPORARY_WORK
_DURATION_BOUNDS_YEARS = np.array([1.0, 2.0, 4.0])
# the month-end stock counts (MonthOutcome.stocks), in this order
STOCK_COLUMNS = [
    "caseload",
    *(f"stock_{name}" for name in CATEGORIES),
    "stock_duration_lt1",
    "stock_duration_1_2",
    "stock_duration_2_4",
    "stock_duration_4plus",
    "stock_participation",
    "stock_participation_active",
    "stock_parttime",
]
_BY_CATEGORY, _BY_DURATION = 1, 1 + len(CATEGORIES)
_PARTICIPATION_COUNT = _BY_DURATION + len(_DURATION_BOUNDS_YEARS) + 1
_ACTIVE_COUNT = _PARTICIPATION_COUNT + 1
_PARTTIME_COUNT, _N_STOCKS = _ACTIVE_COUNT + 1, len(STOCK_COLUMNS)
_EXIT, _REVIEW, _REDIAGNOSIS, _REASON, _JOB, _DAY, _CONTRACT, _PT_END, _TRAJ, _TRAJ_TYPE, _RETURN, _ACTIVITY = range(
    len(STREAMS)
)


class RunRules(NamedTuple):
    """What the month step looks up that is fixed for a run: the scenario's parameters and
    tables, one record per module whose rules they are."""

    work: WorkRules  # sim/work.work_rules
    distance: DistanceRules  # sim/distance.distance_rules
    routes: RouteRules  # sim/routes.route_rules
    returns: ReturnRules  # sim/returns.return_rules
    activity: ActivityRates  # sim/participation.activity_rates


class MonthInputs(NamedTuple):
    """What changes from month to month: the calendar, the market, the policy in force."""

    start: float
    end: float
    pension_age: float
    market_multiplier: float  # labour market and shock, on the job-finding hazard
    guidance_on: bool  # the policy's participation guidance runs this month
    guidance_share: float
    trajectory_routes: np.ndarray  # per route: may start a trajectory
    p_review: float  # chance of the participation talk
    trajectory_budget_left: float  # EUR the year's trajectory ceiling still allows (inf: no ceiling)
    contacts_per_year: np.ndarray  # by contact level (sim/consultants.contact_level)
    contact_multiplier: np.ndarray  # by contact level
    intensity: np.ndarray  # by contact level
    bases: np.ndarray  # keyed stream base words, in STREAMS order


class MonthColumns(NamedTuple):
    """The client table's columns the month step reads or writes (sim/clients.ClientTable)."""

    key: np.ndarray
    state: np.ndarray
    route: np.ndarray
    birth_day: np.ndarray
    refugee: np.ndarray
    spell_start_day: np.ndarray
    route_start_day: np.ndarray
    route_start_distance: np.ndarray
    category: np.ndarray
    sheltered: np.ndarray
    community_service: np.ndarray
    distance_diag: np.ndarray
    distance_true: np.ndarray
    parttime: np.ndarray
    active: np.ndarray
    trajectory_type: np.ndarray
    trajectory_end_day: np.ndarray
    trajectories_started: np.ndarray
    contract_end_day: np.ndarray
    return_day: np.ndarray
    exit_day: np.ndarray
    exit_reason: np.ndarray
    u_guided: np.ndarray


class MonthOutcome(NamedTuple):
    """Positions (into `on`) and values of what happened, for the event log and the month's row."""

    left: np.ndarray  # positions of leavers, in order
    left_day: np.ndarray
    left_reason: np.ndarray
    new_parttime: np.ndarray  # positions of part-time jobs found
    new_parttime_day: np.ndarray
    ended_parttime: np.ndarray  # positions of part-time jobs that ended
    started: np.ndarray  # positions of trajectory starts
    started_type: np.ndarray
    moved: np.ndarray  # positions of those a review moved to another route
    moved_route: np.ndarray
    days_paid: np.ndarray  # per position: days of benefit paid this month
    benefit_share: np.ndarray  # per position: share of a full benefit
    stocks: np.ndarray  # month-end counts, as STOCK_COLUMNS names them
    placements: np.ndarray  # exits to work and part-time jobs by category group (1, 2, 3) held this month
    participation_distance: float  # sum of the month-end participation stock's true distance
    levels: np.ndarray  # clients at each contact level (sim/consultants.contact_level) this month


def run_rules(scenario: Scenario) -> RunRules:
    """The month step's parameters and lookup tables, made once a run."""
    return RunRules(
        work=work_rules(scenario.work),
        distance=distance_rules(scenario.distance),
        routes=route_rules(scenario),
        returns=return_rules(scenario.returns),
        activity=activity_rates(scenario.participation),
    )


@compiled
def month_on_benefit(on: np.ndarray, served: np.ndarray, c: MonthColumns, m: MonthInputs, r: RunRules) -> MonthOutcome:
    """Run the month for the clients `on` (ids on benefit, ascending; `served`: by a consultant),
    writing their new state into the columns `c`."""
    w, rt = r.work, r.routes
    n = len(on)
    start, end = m.start, m.end
    left = np.empty(n, np.int64)
    left_day = np.empty(n)
    left_reason = np.empty(n, np.int8)
    new_pt = np.empty(n, np.int64)
    new_pt_day = np.empty(n)
    ended_pt = np.empty(n, np.int64)
    started = np.empty(n, np.int64)
    started_type = np.empty(n, np.int16)
    moved = np.empty(n, np.int64)
    moved_route = np.empty(n, np.int8)
    stocks = np.zeros(_N_STOCKS, np.int64)
    placements = np.zeros(3, np.int64)
    levels = np.zeros(4, np.int64)
    participation_distance = 0.0
    days_paid = np.empty(n)
    share = np.empty(n)
    n_left = n_new_pt = n_ended_pt = n_started = n_moved = 0
    no_trajectory = len(rt.trajectory_months)
    budget_left = m.trajectory_budget_left
    for p in range(n):
        i = on[p]
        key = c.key[i]
        spell = c.spell_start_day[i]
        exposure_start = max(spell, start)
        exposure_days = end - exposure_start
        exposure = exposure_days / DAYS_PER_MONTH
        route = np.int64(c.route[i])
        parttime = c.parttime[i]
        distance = c.distance_true[i]
        birth = c.birth_day[i]
        group = target_group((end - birth) / DAYS_PER_YEAR, c.refugee[i])
        years_on = (end - spell) / DAYS_PER_YEAR
        pension_day = birth + m.pension_age * DAYS_PER_YEAR
        pensioned = pension_day < end

        guided = m.guidance_on and route == _PARTICIPATION and c.u_guided[i] < m.guidance_share
        level = contact_level(served[p], guided)
        levels[level] += 1
        in_trajectory = c.trajectory_end_day[i] > start
        trajectory = np.int64(c.trajectory_type[i]) if in_trajectory else no_trajectory

        # exits: competing risks for the month (sim/work.py)
        h_work = work_hazard(
            w.base_hazard[hazard_class(distance, group, route, parttime)],
            w.scarring_per_year,
            years_on,
            m.contact_multiplier[level],
            rt.trajectory_work[trajectory],
            m.market_multiplier,
        )
        h_education = w.education_hazard[group]
        h_total = h_work + h_education + w.other_exit_per_month
        hit = (not pensioned) and happens(h_total, exposure, keyed_uniform(m.bases[_EXIT], key))
        reason = _NONE
        exit_day = end
        if hit:
            kind = exit_kind(h_work, h_education, w.other_exit_per_month, keyed_uniform(m.bases[_REASON], key))
            if kind == 0:
                reason = job_type(w.job_bounds, parttime, keyed_uniform(m.bases[_JOB], key))
            else:
                reason = _EDUCATION if kind == 1 else _OTHER_EXIT
            exit_day = exposure_start + keyed_uniform(m.bases[_DAY], key) * exposure_days
        elif pensioned:
            reason = _PENSION
            exit_day = min(max(pension_day, exposure_start), end)
        days_paid[p] = exit_day - exposure_start if reason != _NONE else exposure_days
        share[p] = w.parttime_benefit_share if parttime else 1.0

        if reason != _NONE:  # a part-time job (JOB_PARTTIME) keeps a partial benefit
            left[n_left] = p
            if reason <= _LAST_WORK_EXIT:
                placements[CATEGORY_GROUP[c.category[i]]] += 1
            left_day[n_left] = exit_day
            left_reason[n_left] = reason
            n_left += 1
            c.exit_day[i] = exit_day
            c.exit_reason[i] = reason
            c.parttime[i] = False
            c.active[i] = False
            c.trajectory_end_day[i] = -np.inf
            c.state[i] = _LEFT
            if reason == _TEMPORARY:
                c.state[i] = _TEMPORARY_WORK
                contract = contract_months(w.temporary_contract_months_mean, keyed_uniform(m.bases[_CONTRACT], key))
                c.contract_end_day[i] = exit_day + contract * DAYS_PER_MONTH
            u_return = keyed_uniform(m.bases[_RETURN], key)
            c.return_day[i] = return_day(r.returns, reason, exit_day, c.contract_end_day[i], u_return)
            continue

        # part-time jobs: a new one keeps a partial benefit; one held since the start may end
        if hit:
            c.parttime[i] = True
            new_pt[n_new_pt] = p
            placements[CATEGORY_GROUP[c.category[i]]] += 1
            new_pt_day[n_new_pt] = exit_day
            n_new_pt += 1
        # (a part-timer's new job is never part-time: see sim/work.job_type)
        if parttime and parttime_job_ends(w.parttime_job_end_per_month, exposure, keyed_uniform(m.bases[_PT_END], key)):
            c.parttime[i] = False
            ended_pt[n_ended_pt] = p
            n_ended_pt += 1

        # an activity on the participation route starts or stops (sim/participation.py)
        if route == _PARTICIPATION:
            u_activity = keyed_uniform(m.bases[_ACTIVITY], key)
            if c.active[i]:
                c.active[i] = not happens(r.activity.end, exposure, u_activity)
            else:
                start_hazard = activity_start_hazard(r.activity, m.contacts_per_year[level])
                c.active[i] = happens(start_hazard, exposure, u_activity)

        # distance: from the month's start, as the hazards above (sim/distance.py)
        c.distance_true[i] = distance_after_month(
            distance,
            activation(in_trajectory, m.intensity[level]),
            rt.trajectory_gain[trajectory],
            years_on,
            exposure,
            r.distance,
        )

        # trajectories from the basket for routes that buy them, or guided participation clients
        may_start = not in_trajectory and (m.trajectory_routes[route] or guided)
        if may_start and happens(rt.trajectory_start_per_month, exposure, keyed_uniform(m.bases[_TRAJ], key)):
            kind = choose_trajectory(rt.trajectory_choice, group, keyed_uniform(m.bases[_TRAJ_TYPE], key))
            may_start = rt.trajectory_price[kind] <= budget_left  # past the ceiling: wait for next year
        else:
            may_start = False
        if may_start:
            budget_left -= rt.trajectory_price[kind]
            c.trajectory_type[i] = kind
            c.trajectory_end_day[i] = end + rt.trajectory_months[kind] * DAYS_PER_MONTH
            c.trajectories_started[i] += 1
            started[n_started] = p
            started_type[n_started] = kind
            n_started += 1

        # route reviews: time on the route is up, or participation's talk; the re-diagnosis may
        # move the client (sim/routes.py)
        months_on_route = (end - c.route_start_day[i]) / DAYS_PER_MONTH
        if months_on_route >= rt.review_months[route] or (
            route == _PARTICIPATION and keyed_uniform(m.bases[_REVIEW], key) < m.p_review
        ):
            z = normal_quantile(keyed_uniform(m.bases[_REDIAGNOSIS], key))
            diagnosed = diagnosed_distance(c.distance_true[i], rt.diagnosis_error_sd_months, z)
            category = diagnosed_category(diagnosed, c.sheltered[i], c.community_service[i])
            target = ROUTE_AFTER_REVIEW[route, ROUTE_BY_CATEGORY[category]]
            if route == _PARTICIPATION and not returns_from_participation(
                c.distance_true[i], c.route_start_distance[i], rt.participation_return_min_fall_months
            ):
                target = route
            c.distance_diag[i] = diagnosed
            if target != route:
                c.category[i] = CATEGORY_ON_ROUTE[target, category]
                c.route[i] = target
                c.route_start_day[i] = end
                c.route_start_distance[i] = c.distance_true[i]
                c.active[i] = False
                moved[n_moved] = p
                moved_route[n_moved] = target
                n_moved += 1

        # the stock at the month end
        stocks[0] += 1
        stocks[_BY_CATEGORY + c.category[i]] += 1
        duration = 0
        for bound in _DURATION_BOUNDS_YEARS:
            if not years_on < bound:  # (NaN: the last class)
                duration += 1
        stocks[_BY_DURATION + duration] += 1
        if c.route[i] == _PARTICIPATION:
            stocks[_PARTICIPATION_COUNT] += 1
            stocks[_ACTIVE_COUNT] += c.active[i]
            participation_distance += c.distance_true[i]
        stocks[_PARTTIME_COUNT] += c.parttime[i]
    return MonthOutcome(
        left=left[:n_left],
        left_day=left_day[:n_left],
        left_reason=left_reason[:n_left],
        new_parttime=new_pt[:n_new_pt],
        new_parttime_day=new_pt_day[:n_new_pt],
        ended_parttime=ended_pt[:n_ended_pt],
        started=started[:n_started],
        started_type=started_type[:n_started],
        moved=moved[:n_moved],
        moved_route=moved_route[:n_moved],
        days_paid=days_paid,
        benefit_share=share,
        stocks=stocks,
        placements=placements,
        participation_distance=participation_distance,
        levels=levels,
    )
