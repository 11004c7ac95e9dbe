"""The simulation clock (sim/calendar.py): days since 1 January of the first year, month starts,
weekdays and the calendar year of a day, exact at the boundaries."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR, Calendar

pytestmark = pytest.mark.unit

CALENDAR = Calendar.for_years(2014, 2017)  # 2016 is a leap year


def test_day_zero_is_the_first_of_january_of_the_first_year():
    assert CALENDAR.origin == dt.date(2014, 1, 1)
    assert CALENDAR.day(dt.date(2014, 1, 1)) == 0.0
    assert CALENDAR.day(dt.date(2015, 1, 1)) == 365.0
    assert CALENDAR.day(dt.date(2013, 12, 31)) == -1.0
    assert CALENDAR.end_day == CALENDAR.day(dt.date(2018, 1, 1)) == 365 * 4 + 1


def test_days_and_dates_round_trip():
    for day in range(-400, 1900, 7):
        assert CALENDAR.day(CALENDAR.date(day)) == day
    assert CALENDAR.date(59.0) == dt.date(2014, 3, 1) and CALENDAR.date(59.9) == dt.date(2014, 3, 1)


def test_months_cover_the_years_without_gaps_in_order():
    months = CALENDAR.month_starts()
    assert len(months) == 12 * 4
    assert [(y, m) for y, m, _, _ in months[:2]] == [(2014, 1), (2014, 2)] and months[-1][:2] == (2017, 12)
    assert months[0][2] == 0.0 and months[-1][3] == CALENDAR.end_day
    for (_, _, _, end), (_, _, start, _) in zip(months[:-1], months[1:], strict=True):
        assert end == start
    for year, month, start, end in months:
        assert CALENDAR.date(start) == dt.date(year, month, 1)
        assert end - start in (28, 29, 30, 31)
    february_2016 = next(m for m in months if m[:2] == (2016, 2))
    assert february_2016[3] - february_2016[2] == 29


def test_the_first_weekday_on_or_after_day_zero():
    # 1 January 2014 was a Wednesday (weekday 2)
    assert CALENDAR.first_weekday_on_or_after(2) == 0.0
    assert CALENDAR.first_weekday_on_or_after(1) == 6.0  # Tuesday: the 7th
    assert CALENDAR.first_weekday_on_or_after(0) == 5.0
    for weekday in range(7):
        assert CALENDAR.date(CALENDAR.first_weekday_on_or_after(weekday)).weekday() == weekday


def test_years_of_is_right_at_the_year_boundaries():
    new_years = np.array([CALENDAR.day(dt.date(y, 1, 1)) for y in range(2014, 2019)])
    assert CALENDAR.years_of(new_years).tolist() == [2014, 2015, 2016, 2017, 2018]
    assert CALENDAR.years_of(new_years - 1e-9).tolist() == [2013, 2014, 2015, 2016, 2017]
    assert CALENDAR.years_of(np.array([364.5, 365.0, 365.5])).tolist() == [2014, 2015, 2015]
    # the stock's spells started years before day 0: still their calendar years
    assert CALENDAR.years_of(np.array([-1.0, -365.0, -366.0, -3653.0])).tolist() == [2013, 2013, 2012, 2004]
    days = np.arange(-800.0, CALENDAR.end_day, 0.25)
    assert CALENDAR.years_of(days).tolist() == [CALENDAR.date(math.floor(d)).year for d in days]


def test_the_average_month_is_a_twelfth_of_the_average_year():
    assert DAYS_PER_YEAR == 365.25 and DAYS_PER_MONTH * 12 == DAYS_PER_YEAR
