"""Yearly drivers (sim/drivers.py): a year's value, years outside the file, unemployment between
mid-years, the state-pension age in force."""

from __future__ import annotations

import pytest

from sim.drivers import driver, state_pension_age, unemployment_pct, unemployment_pct_at
from sim.parameters import Drivers

pytestmark = pytest.mark.unit

DRIVERS = Drivers(
    years=[2013, 2014, 2015],
    unemployment_pct=[7.0, 8.0, 6.0],
    state_pension_age_years=[65.083, 65.25, 65.5],
    asylum_permits=[10_000.0, 20_000.0, 40_000.0],
    ww_max_months=[38.0, 38.0, 36.0],
)


def test_a_listed_year_has_its_own_value():
    assert [unemployment_pct(DRIVERS, y) for y in (2013, 2014, 2015)] == [7.0, 8.0, 6.0]
    assert [driver(DRIVERS, "asylum_permits", y) for y in (2013, 2014, 2015)] == [10_000.0, 20_000.0, 40_000.0]
    assert state_pension_age(DRIVERS, 2014) == 65.25


def test_years_beyond_the_file_keep_the_last_years_values():
    for year in (2016, 2030, 2100):
        assert unemployment_pct(DRIVERS, year) == 6.0
        assert state_pension_age(DRIVERS, year) == 65.5
        assert driver(DRIVERS, "ww_max_months", year) == 36.0


def test_years_before_the_file_take_the_first_years_values():
    assert unemployment_pct(DRIVERS, 2012) == 7.0 and driver(DRIVERS, "asylum_permits", 1990) == 10_000.0


def test_unemployment_between_years_is_linear_between_mid_years(baseline):
    d = baseline.drivers
    assert unemployment_pct_at(d, 2015.5) == pytest.approx(unemployment_pct(d, 2015))
    assert unemployment_pct_at(d, 2016.0) == pytest.approx((unemployment_pct(d, 2015) + unemployment_pct(d, 2016)) / 2)


def test_unemployment_between_mid_years_at_the_edges_of_the_file():
    # 2014.25 is three quarters of the way from mid-2013 to mid-2014
    assert unemployment_pct_at(DRIVERS, 2014.25) == pytest.approx(0.25 * 7.0 + 0.75 * 8.0, rel=1e-15)
    assert unemployment_pct_at(DRIVERS, 2013.0) == 7.0  # before the first mid-year: the first year's value
    assert unemployment_pct_at(DRIVERS, 2020.0) == 6.0  # past the last mid-year: the last year's value
