"""The simulation clock: days since 1 January of the first simulated year, and calendar helpers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


@dataclass(frozen=True)
class Calendar:
    """Maps simulation days to dates, months and years."""

    origin: dt.date  # day 0
    first_year: int
    last_year: int

    @classmethod
    def for_years(cls, first_year: int, last_year: int) -> Calendar:
        return cls(dt.date(first_year, 1, 1), first_year, last_year)

    def day(self, date: dt.date) -> float:
        """Simulation day of a date (midnight)."""
        return float((date - self.origin).days)

    def date(self, day: float) -> dt.date:
        return self.origin + dt.timedelta(days=int(day))

    @property
    def end_day(self) -> float:
        return self.day(dt.date(self.last_year + 1, 1, 1))

    def month_starts(self) -> list[tuple[int, int, float, float]]:
        """(year, month, start_day, end_day) for each simulated month."""
        out = []
        for year in range(self.first_year, self.last_year + 1):
            for month in range(1, 13):
                start = dt.date(year, month, 1)
                end = dt.date(year + (month == 12), month % 12 + 1, 1)
                out.append((year, month, self.day(start), self.day(end)))
        return out

    def first_weekday_on_or_after(self, weekday: int) -> float:
        """Day of the first given weekday (Monday = 0) on or after day 0."""
        return float((weekday - self.origin.weekday()) % 7)

    @cached_property
    def _new_years(self) -> np.ndarray:
        # made once: the monthly step asks for years every month (a frozen dataclass keeps
        # cached_property, which writes the instance's __dict__ directly)
        return np.array([self.day(dt.date(y, 1, 1)) for y in range(self.first_year - 200, self.last_year + 2)])

    def years_of(self, days: np.ndarray) -> np.ndarray:
        """Calendar year of each day (vectorised, exact at year boundaries)."""
        idx = np.searchsorted(self._new_years, days, side="right") - 1
        return (self.first_year - 200 + idx).astype(np.int64)
