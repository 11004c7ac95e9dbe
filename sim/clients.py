"""Clients and their state, held column-wise (one numpy array per attribute) for speed.

A client (bijstandscliënt) exists from notification (melding) on. Every client is in exactly
one `State` at a time; only `ON_BENEFIT` counts in the caseload.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from sim.calendar import DAYS_PER_YEAR
from sim.compiled import compiled
from sim.parameters import AGE_CLASSES, CATEGORIES, DURATION_CLASSES, Region


class State:
    """Client states (plain int codes: numpy compares them fast; IntEnum lookups were a hot spot)."""

    WAITING_MEETING = 0  # notified, waiting for the information meeting
    IN_INTAKE = 1  # seated: diagnosis, intake and the dream-job period until the benefit starts
    ON_BENEFIT = 4
    TEMPORARY_WORK = 5
    LEFT = 6
    GATEKEPT = 7
    REFUSED = 8
    WORK_BEFORE_BENEFIT = 9


class Route:
    NONE = 0
    DIRECT = 1  # direct mediation by the employer service point (WSP)
    MEDIATION = 2  # 1A: "Focus on work", then mediation
    DEVELOPMENT = 3  # 1B, 1C: development route with trajectories
    SHELTERED = 4  # 2B: sheltered work / jobs agreement
    PARTICIPATION = 5  # 2A, 3A, 3B


class Category:
    C1A = 0
    C1B = 1
    C1C = 2
    C2A = 3
    C2B = 4
    C3A = 5
    C3B = 6


CATEGORY_GROUP = np.array([0, 0, 0, 1, 1, 2, 2], dtype=np.intp)
"""Category 1A..3B to its group: 1 (0-24 months), 2 (24-48), 3 (48+), as 0, 1, 2."""


class Exit:
    NONE = 0
    WORK_FULLTIME = 1
    WORK_TEMPORARY = 2
    SELF_EMPLOYMENT = 3
    EDUCATION = 4
    PENSION = 5
    OTHER = 6


class Group:
    """Target groups with special routes (doelgroepen)."""

    YOUNG = 0
    OLDER = 1
    REFUGEE = 2
    OTHER = 3


_FIELDS: dict[str, tuple[type, float]] = {
    # the client's random key: keyed draws use it, not the row, so rows may shift when inflow
    # changes and everyone keeps their own draws (sim/inflow.arrival_key; the stock: its rows)
    "key": (np.int64, -1),
    "state": (np.int8, -1),
    "route": (np.int8, 0),
    "category": (np.int8, -1),
    "birth_day": (np.float64, 0.0),
    "refugee": (np.bool_, False),
    "sheltered": (np.bool_, False),
    "community_service": (np.bool_, False),
    "distance_true": (np.float64, 0.0),
    "distance_diag": (np.float64, 0.0),
    "notification_day": (np.float64, np.nan),
    "grant_day": (np.float64, np.nan),
    "spell_start_day": (np.float64, np.nan),
    "route_start_day": (np.float64, np.nan),
    "route_start_distance": (np.float64, np.nan),  # true distance when the route began (sim/routes.py)
    "parttime": (np.bool_, False),
    "active": (np.bool_, False),  # in an activity on the participation route (sim/participation.py)
    "trajectory_type": (np.int16, -1),
    "trajectory_end_day": (np.float64, -np.inf),
    "trajectories_started": (np.int16, 0),
    "contract_end_day": (np.float64, np.inf),
    "return_day": (np.float64, np.inf),  # a leaver comes back on this day (sim/returns.py)
    "exit_day": (np.float64, np.nan),
    "exit_reason": (np.int8, 0),
    "returns": (np.int16, 0),
    # personal draws made at notification, the same in every scenario (common random numbers)
    "u_entitlement": (np.float64, 1.0),  # low = least likely entitled: gatekept first, refused at intake
    "u_dream": (np.float64, 1.0),
    "u_dream_days": (np.float64, 0.0),
    "z_diag": (np.float64, 0.0),
    "u_guided": (np.float64, 1.0),
    "u_reapply": (np.float64, 1.0),  # low = applies again after being stopped at the door
    "u_reapply_delay": (np.float64, 0.5),
}


Columns = TypeVar("Columns", bound=tuple)  # a NamedTuple of column names


@functools.cache
def _column_getter(record: type) -> Callable[[object], tuple]:
    # one C-level getter per record: the month end asks for columns several times a month
    fields = record._fields
    if len(fields) == 1:  # attrgetter of one name gives the value, not a tuple
        return lambda table: (getattr(table, fields[0]),)
    return operator.attrgetter(*fields)


class ClientTable:
    """Column store of all clients ever notified; ids are row numbers, in order of arrival."""

    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0
        self._capacity = max(16, capacity)
        for name, (dtype, fill) in _FIELDS.items():
            setattr(self, name, np.full(self._capacity, fill, dtype=dtype))

    def add(self, count: int) -> np.ndarray:
        """Reserve `count` new rows and return their ids."""
        if self.n + count > self._capacity:
            # grow by half: at national size a doubled table would hold hundreds of MB unused
            new_capacity = max(self._capacity * 3 // 2, self.n + count)
            for name, (dtype, fill) in _FIELDS.items():
                old = getattr(self, name)
                grown = np.full(new_capacity, fill, dtype=dtype)
                grown[: self.n] = old[: self.n]
                setattr(self, name, grown)
            self._capacity = new_capacity
        ids = np.arange(self.n, self.n + count, dtype=np.int64)
        self.n += count
        return ids

    def view(self, name: str) -> np.ndarray:
        """The used part of one column."""
        return getattr(self, name)[: self.n]

    def in_state(self, state: State) -> np.ndarray:
        return (self.view("state") == state).nonzero()[0]

    def columns(self, record: type[Columns]) -> Columns:
        """The current arrays (whole capacity) of the columns a NamedTuple `record` names, for
        compiled code: the record says what it reads and writes. Ask again after the table grows,
        which replaces the arrays."""
        return record._make(_column_getter(record)(self))


_YOUNG, _OLDER, _REFUGEE, _OTHER = Group.YOUNG, Group.OLDER, Group.REFUGEE, Group.OTHER
YOUNG_AGE = 27.0
"""Under this age a client is young: the target group with its own routes, and under the
Participatiewet the one that searches four weeks before applying (art. 41(4))."""


@compiled
def target_group(age: float, refugee: bool) -> int:
    """Target group from age in years and refugee status (refugee status first, then age)."""
    if refugee:
        return _REFUGEE
    if age < YOUNG_AGE:
        return _YOUNG
    return _OLDER if age >= 50 else _OTHER


CATEGORY_BOUNDS = np.array([3.0, 12.0, 24.0, 48.0])
CATEGORY_BY_BAND = np.array([Category.C1A, Category.C1B, Category.C1C, Category.C2A, Category.C3B], dtype=np.int8)
ROUTE_BY_CATEGORY = np.array(
    [
        Route.MEDIATION,
        Route.DEVELOPMENT,
        Route.DEVELOPMENT,
        Route.PARTICIPATION,
        Route.SHELTERED,
        Route.PARTICIPATION,
        Route.PARTICIPATION,
    ],
    dtype=np.int8,
)
_C2A, _C2B, _C3A, _C3B = Category.C2A, Category.C2B, Category.C3A, Category.C3B
_DIRECT = Route.DIRECT


@compiled
def diagnosed_distance(distance_true: float, error_sd_months: float, z: float) -> float:
    """What a diagnosis finds: the true distance plus a normal error (`z` standard normal), at least 0."""
    return max(0.0, distance_true + error_sd_months * z)


@compiled
def diagnosed_category(distance_months: float, sheltered: bool, community_service: bool) -> int:
    """Category from the diagnosed distance (docs/domain.md routing table), for one client."""
    band = 0
    while band < len(CATEGORY_BOUNDS) and CATEGORY_BOUNDS[band] <= distance_months:
        band += 1
    category = CATEGORY_BY_BAND[band]
    if category == _C2A and sheltered:
        return _C2B
    if category == _C3B and community_service:
        return _C3A
    return category


@compiled
def category_of(distance_months: np.ndarray, sheltered: np.ndarray, community_service: np.ndarray) -> np.ndarray:
    """Category from the diagnosed distance, for each client (diagnosed_category)."""
    out = np.empty(len(distance_months), np.int8)
    for k in range(len(out)):
        out[k] = diagnosed_category(distance_months[k], sheltered[k], community_service[k])
    return out


def route_of(category: np.ndarray, distance_months: np.ndarray | None = None) -> np.ndarray:
    """Route for a category; under one month goes to direct mediation (with no distance given: never)."""
    route = ROUTE_BY_CATEGORY[category]
    if distance_months is not None:
        route[distance_months < 1] = _DIRECT
    return route


# range of each class, keyed by its position in CATEGORIES, DURATION_CLASSES or AGE_CLASSES
# (distance 48+ drawn as 48 + exponential, duration 4+ as 4 + exponential)
_CATEGORY_RANGE = {0: (0, 3), 1: (3, 12), 2: (12, 24), 3: (24, 48), 4: (24, 48), 5: (48, None), 6: (48, None)}
_DURATION_RANGE = {0: (0, 1), 1: (1, 2), 2: (2, 4), 3: (4, None)}
_AGE_RANGE = {0: (18, 27), 1: (27, 50), 2: (50, 65)}


def _from_ranges(rng: np.random.Generator, codes: np.ndarray, ranges: dict, tail_mean: float) -> np.ndarray:
    out = np.empty(len(codes))
    for code, (low, high) in ranges.items():
        mask = codes == code
        k = int(mask.sum())
        if high is None:
            out[mask] = low + rng.exponential(tail_mean, k)
        else:
            out[mask] = rng.uniform(low, high, k)
    return out


def _pick(rng: np.random.Generator, shares: dict, n: int, classes: tuple[str, ...]) -> np.ndarray:
    """A class for each of `n` clients by `shares`, as its position in `classes` (int8 codes)."""
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    code_of_key = np.array([classes.index(k) for k in keys], dtype=np.int8)
    return code_of_key[rng.choice(len(keys), size=n, p=p / p.sum())]


def add_initial_stock(
    table: ClientTable, region: Region, rng: np.random.Generator, day0: float, pension_age: float
) -> np.ndarray:
    """The December stock: on benefit at day 0 with composition by category, duration and age."""
    n = region.initial_stock
    ids = table.add(n)
    if n == 0:
        return ids
    cats = _pick(rng, region.stock_category_shares, n, CATEGORIES)
    distance = _from_ranges(rng, cats, _CATEGORY_RANGE, tail_mean=region.stock_far_distance_tail_months)
    durations = _from_ranges(
        rng,
        _pick(rng, region.stock_duration_shares, n, DURATION_CLASSES),
        _DURATION_RANGE,
        tail_mean=region.stock_long_duration_tail_years,
    )
    age_range = {**_AGE_RANGE, AGE_CLASSES.index("50plus"): (50, pension_age)}
    ages = _from_ranges(rng, _pick(rng, region.stock_age_shares, n, AGE_CLASSES), age_range, tail_mean=0.0)
    ages = np.maximum(ages, 18 + durations)  # nobody received assistance before 18
    ages = np.minimum(ages, pension_age - 1e-3)
    table.key[ids] = ids
    table.birth_day[ids] = day0 - ages * DAYS_PER_YEAR
    table.refugee[ids] = rng.random(n) < region.refugee_share_of_stock
    table.sheltered[ids] = cats == Category.C2B
    table.community_service[ids] = cats == Category.C3A
    table.distance_true[ids] = distance
    table.distance_diag[ids] = distance
    table.category[ids] = cats
    route = route_of(cats)
    table.route[ids] = route
    table.state[ids] = State.ON_BENEFIT
    spell_start = day0 - durations * DAYS_PER_YEAR
    table.spell_start_day[ids] = spell_start
    table.grant_day[ids] = spell_start
    table.notification_day[ids] = spell_start
    # time already spent on the current route: uniform over the route's allowed length
    route_months = np.where(route == Route.MEDIATION, 3.0, np.where(route == Route.DEVELOPMENT, 24.0, 12.0))
    table.route_start_day[ids] = np.maximum(spell_start, day0 - rng.random(n) * route_months * DAYS_PER_YEAR / 12)
    table.route_start_distance[ids] = distance
    table.u_guided[ids] = rng.random(n)
    return ids
