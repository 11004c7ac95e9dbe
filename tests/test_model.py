"""One replication (sim/model.py): the month end's bookkeeping adds up, a run is a pure function of
(scenario, seed), and its tables have the documented columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.model import Model, run
from sim.results import YEARLY_COLUMNS


@pytest.mark.invariants
def test_yearly_stock_is_last_year_plus_inflow_minus_outflow(short_run):
    y = short_run.yearly
    previous = y["caseload_december"].shift(1)
    later = y.iloc[1:]
    assert (later["caseload_december"] == previous.iloc[1:] + later["inflow"] - later["outflow"]).all()


@pytest.mark.invariants
def test_monthly_stock_is_previous_plus_inflow_minus_outflow(short_run, short_baseline):
    m = short_run.monthly
    previous = m["caseload"].shift(1).fillna(short_baseline.region.initial_stock)
    assert (m["caseload"] == previous + m["inflow"] - m["outflow"]).all()


@pytest.mark.invariants
def test_outflow_is_the_sum_of_its_reasons(short_run):
    y = short_run.yearly.iloc[1:]
    reasons = [c for c in YEARLY_COLUMNS if c.startswith("outflow_")]
    assert (y[reasons].sum(axis=1) == y["outflow"]).all()


@pytest.mark.invariants
def test_stock_by_category_and_duration_adds_up(short_run):
    y = short_run.yearly.iloc[1:]
    categories = y[
        [c for c in y.columns if c.startswith("stock_") and c[6:] in ("1a", "1b", "1c", "2a", "2b", "3a", "3b")]
    ]
    durations = y[["stock_duration_lt1", "stock_duration_1_2", "stock_duration_2_4", "stock_duration_4plus"]]
    assert (categories.sum(axis=1) == y["caseload_december"]).all()
    assert (durations.sum(axis=1) == y["caseload_december"]).all()


@pytest.mark.unit
def test_yearly_table_has_the_documented_columns(short_run):
    assert list(short_run.yearly.columns) == YEARLY_COLUMNS


@pytest.mark.unit
def test_same_seed_same_tables_different_seed_different(short_baseline):
    a = run(short_baseline, 3)
    b = run(short_baseline, 3)
    c = run(short_baseline, 4)
    pd.testing.assert_frame_equal(a.yearly, b.yearly)
    pd.testing.assert_frame_equal(a.monthly, b.monthly)
    assert not a.yearly["caseload_december"].iloc[1:].equals(c.yearly["caseload_december"].iloc[1:])


@pytest.mark.invariants
def test_every_client_is_in_exactly_one_known_state(short_baseline):
    from sim.clients import State

    model = Model(short_baseline, 11)
    model.run()
    states = model.table.view("state")
    known = [v for k, v in vars(State).items() if k.isupper()]
    assert np.isin(states, known).all()
    on_benefit = int((states == State.ON_BENEFIT).sum())
    assert on_benefit == model.rows[-1]["caseload"]


@pytest.mark.invariants
def test_event_log_exits_match_outflow(short_run):
    events = short_run.events
    exits = events[events["event"] == "exit"]
    years = pd.to_datetime("2014-01-01") + pd.to_timedelta(exits["day"], unit="D")
    per_year = exits.groupby(years.dt.year).size()
    y = short_run.yearly.set_index("year")["outflow"].iloc[1:]
    assert (per_year.reindex(y.index).fillna(0).astype(int) == y.astype(int)).all()


@pytest.mark.unit
def test_the_event_log_is_kept_only_when_asked_and_counted_either_way(short_baseline, short_run):
    quiet = run(short_baseline, 7)
    assert quiet.events is None and short_run.events is not None
    assert quiet.client_events == short_run.client_events == len(short_run.events)
    pd.testing.assert_frame_equal(quiet.yearly, short_run.yearly)  # recording changes nothing else
    assert quiet.kernel_events > 0 and quiet.meeting_seats == short_run.meeting_seats
