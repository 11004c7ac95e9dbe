"""The shortcuts taken for speed give what the plain versions give.

- Compiled code (numba) draws the keyed numbers, inverse normals and categories that the numpy
  and scipy versions give, bit for bit, and its per-client rules agree with the array formulas.

- Keyed draws depend only on (seed, stream, key, client), so drawing for a subset of clients
  gives those clients' draws from the full set: the month step draws job types, contracts and
  the like only for the clients who need them.
- The desks book a whole batch in one compiled pass over free slots; the reference is the day-by-day
  first-come-first-served loop the model used before.
- The meeting queue is searched by notification day; the reference walks the queue.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.intake import WORK_TIME_OF_DAY, WorkingDayCapacity
from sim.model import Model
from sim.randomness import Streams


def reference_booking(ready_days: list[float], per_day: int, weekday_of_day0: int) -> list[float]:
    """Serve clients in order, `per_day` a working day, none before they are ready."""
    current, used, out = -1, 0, []
    for ready in ready_days:
        day = max(math.ceil(ready - WORK_TIME_OF_DAY), current)
        if day == current and used >= per_day:
            day += 1
        while (day + weekday_of_day0) % 7 >= 5:
            day += 1
        if day != current:
            current, used = day, 0
        used += 1
        out.append(day + WORK_TIME_OF_DAY)
    return out


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(st.lists(st.floats(0, 400, allow_nan=False), max_size=30), min_size=1, max_size=5),
    per_day=st.integers(1, 6),
    weekday=st.integers(0, 6),
)
def test_batch_booking_equals_the_day_by_day_loop(batches, per_day, weekday):
    desk = WorkingDayCapacity(per_day, weekday)
    booked = [d for batch in batches for d in desk.book(np.array(batch)).tolist()]
    assert booked == reference_booking([d for batch in batches for d in batch], per_day, weekday)


def test_a_desk_without_capacity_never_serves():
    assert np.isinf(WorkingDayCapacity(0, 0).book(np.zeros(3))).all()


def test_keyed_draws_of_a_subset_are_the_full_sets_draws():
    streams = Streams(np.random.SeedSequence(11, spawn_key=(3,)))
    ids = np.arange(5000)
    subset = np.sort(np.random.default_rng(0).choice(ids, 700, replace=False))
    full = streams.keyed_uniforms("job_type", 17, ids)
    assert np.array_equal(streams.keyed_uniforms("job_type", 17, subset), full[subset])
    assert not np.array_equal(streams.keyed_uniforms("exit", 17, subset), full[subset])
    assert not np.array_equal(streams.keyed_uniforms("job_type", 18, ids), full)


def _splitmix_reference(words: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser written with numpy arrays (wrapping uint64 arithmetic)."""
    x = words.copy()
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def test_the_compiled_hash_is_splitmix64_written_with_numpy():
    from sim.randomness import _mix_one

    words = np.random.default_rng(1).integers(0, 2**63, 200, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    expected = [int(v) for v in _splitmix_reference(words)]
    assert [int(_mix_one(w)) for w in words] == expected


def test_keyed_uniforms_are_uniform():
    n = 200_000
    u = Streams(5).keyed_uniforms("exit", 3, np.arange(n))
    assert ((u >= 0) & (u < 1)).all()
    # mean and share below 0.1 within 4 standard errors (fails by chance < 1 in 10,000)
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    assert abs((u < 0.1).mean() - 0.1) < 4 * math.sqrt(0.09 / n)


def test_meeting_queue_seats_in_order_of_notification(short_baseline):
    model = Model(short_baseline, 8, record_events=True)
    model.run()
    events = model.log.frame()
    seated = events[events["event"] == "information_meeting"]
    # queue order is notification order: client ids are given in order of notification
    assert (np.diff(seated["client"].to_numpy()) > 0).all()
    notified = events[events["event"] == "notified"].set_index("client")["day"]
    assert (np.diff(notified.reindex(seated["client"]).to_numpy()) >= 0).all()


def test_clients_never_ready_are_never_served_and_do_not_block_others():
    desk = WorkingDayCapacity(1, 0)
    days = desk.book(np.array([0.0, np.inf, 0.0]))
    assert days[1] == np.inf
    assert days[[0, 2]].tolist() == [0.5, 1.5]


def test_lookup_tables_give_what_the_np_where_chains_gave():
    from sim.clients import Category, Group, Route, target_group
    from sim.routes import CATEGORY_ON_ROUTE, ROUTE_AFTER_REVIEW

    old, indicated = np.meshgrid(np.arange(Route.PARTICIPATION + 1), np.arange(Route.PARTICIPATION + 1))
    target = np.where(indicated == Route.MEDIATION, Route.DEVELOPMENT, indicated)
    target = np.where(old == Route.DIRECT, indicated, target)
    target = np.where(old == Route.DEVELOPMENT, Route.PARTICIPATION, target)
    assert np.array_equal(ROUTE_AFTER_REVIEW[old, indicated], target)
    route, category = np.meshgrid(np.arange(Route.PARTICIPATION + 1), np.arange(Category.C3B + 1))
    expected = np.where((route == Route.DEVELOPMENT) & (category == Category.C1A), Category.C1B, category)
    expected = np.where((route == Route.PARTICIPATION) & (expected < Category.C2A), Category.C2A, expected)
    assert np.array_equal(CATEGORY_ON_ROUTE[route, category], expected)

    age = np.array([18.0, 26.999, 27.0, 49.99, 50.0, 70.0, np.nan, 30.0])
    refugee = np.array([False, False, False, False, False, False, False, True])
    group = np.where(age < 27, Group.YOUNG, np.where(age >= 50, Group.OLDER, Group.OTHER))
    assert [target_group(a, r) for a, r in zip(age, refugee, strict=True)] == np.where(
        refugee, Group.REFUGEE, group
    ).tolist()


def test_hazard_table_is_the_product_in_the_old_order(short_baseline):
    from sim.parameters import DISTANCE_GROUPS, TARGET_GROUPS
    from sim.work import base_hazard_table, hazard_class

    work = short_baseline.work
    rng = np.random.default_rng(3)
    distance, groups = rng.uniform(0, 80, 500), rng.integers(0, 4, 500)
    route, parttime = rng.integers(0, 6, 500), rng.random(500) < 0.3
    base = np.array([work.base_work_per_month[g] for g in DISTANCE_GROUPS])[
        np.searchsorted([3.0, 24.0, 48.0], distance, side="right")
    ]
    group_mult = np.array([work.work_multiplier_by_group[g] for g in TARGET_GROUPS])[groups]
    route_mult = np.where(
        route == 1, work.route_multiplier_direct, np.where(route == 4, work.route_multiplier_sheltered, 1.0)
    )
    parttime_mult = np.where(parttime, work.parttime_work_multiplier, 1.0)
    expected = base * group_mult * route_mult * parttime_mult
    classes = [hazard_class(*client) for client in zip(distance, groups, route, parttime, strict=True)]
    assert np.array_equal(base_hazard_table(work)[classes], expected)


def test_age_classes_drawn_by_cdf_are_rng_choice():
    shares = np.array([0.3, 0.5, 0.2])
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    cdf = (shares / shares.sum()).cumsum()
    cdf /= cdf[-1]
    assert np.array_equal(cdf.searchsorted(a.random(1000), side="right"), b.choice(3, 1000, p=shares / shares.sum()))


@settings(max_examples=200, deadline=None)
@given(
    distance=st.lists(st.sampled_from([0.0, 1.0, 2.5, 3.0, 24.0, 30.0]) | st.floats(0, 100), max_size=40),
    k=st.integers(-1, 45),
)
def test_closest_first_is_the_stable_sort_set(distance, k):
    from sim.consultants import closest_first

    distance = np.array(distance, dtype=float)
    expected = np.sort(np.argsort(distance, kind="stable")[: max(k, 0)])
    assert np.array_equal(closest_first(distance, k), expected)


def test_keyed_uniforms_are_the_top_bits_of_the_hashed_word():
    from sim.randomness import keyed_uniform

    streams = Streams(np.random.SeedSequence(21, spawn_key=(2,)))
    keys = np.concatenate([np.arange(50), (np.arange(1, 40) << 42) + 7])
    for name in ("exit", "rediagnosis", "aftercare"):
        base = streams.bases((name,), 93)[0]
        words = _splitmix_reference(base + keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        expected = ((words >> np.uint64(11)).astype(np.float64) / 2.0**53).tolist()
        assert [keyed_uniform(base, k) for k in keys] == expected
        assert streams.keyed_uniforms(name, 93, keys).tolist() == expected


def test_compiled_inverse_normal_is_scipys():
    from scipy.special import ndtri

    from sim.randomness import normal_quantile

    u = np.concatenate([np.random.default_rng(4).random(20_000), [0.0, 1.0, 1e-300, 0.5]])
    assert [normal_quantile(x) for x in u] == ndtri(np.clip(u, 1e-12, 1 - 1e-12)).tolist()


def test_compiled_rules_agree_with_the_array_formulas():
    from sim.clients import CATEGORY_BOUNDS, CATEGORY_BY_BAND, Category, category_of
    from sim.routes import choose_trajectory
    from sim.work import JOB_CODES, job_type

    rng = np.random.default_rng(6)
    distance = np.concatenate([rng.uniform(0, 80, 2000), CATEGORY_BOUNDS])
    sheltered, community = rng.random(len(distance)) < 0.5, rng.random(len(distance)) < 0.5
    expected = CATEGORY_BY_BAND[np.searchsorted(CATEGORY_BOUNDS, distance, side="right")]
    expected = np.where((expected == Category.C2A) & sheltered, Category.C2B, expected)
    expected = np.where((expected == Category.C3B) & community, Category.C3A, expected)
    assert np.array_equal(category_of(distance, sheltered, community), expected)

    bounds, u = np.array([0.5, 0.7, 0.75]), np.concatenate([rng.random(2000), [0.5, 0.7, 0.75]])
    assert [job_type(bounds, False, x) for x in u] == JOB_CODES[np.searchsorted(bounds, u, side="right")].tolist()
    assert all(job_type(bounds, True, x) != JOB_CODES[3] for x in u)  # part-timers leave when they find work

    cumulative = np.cumsum(rng.dirichlet(np.ones(5), size=4), axis=1)
    groups = rng.integers(0, 4, 2000)
    expected = np.minimum((u[:2000, None] >= cumulative[groups]).sum(axis=1), 4)
    assert [choose_trajectory(cumulative, g, x) for g, x in zip(groups, u[:2000], strict=True)] == expected.tolist()
