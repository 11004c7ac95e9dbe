"""Tolerance bands from the sample size, written once for every test that checks an estimate
against its expected value.

A band is `Z` standard errors on each side, the standard error coming from the check's own
sample size (binomial shares and counts, Poisson counts and rates, means). No band is tuned to
let one run pass, so a failing band points at the rule. The seeds are fixed, so a test gives the
same verdict every time; the false-alarm chance below is what a change of seed, or of how the
model uses its random streams, risks. Comparisons over a handful of paired replications use
Student t or F quantiles instead (tests/test_verification.py, tests/analysis/test_comparison.py)."""

from __future__ import annotations

import math

Z = 4.0
"""Standard errors each side. For a normal estimate a correct rule falls outside by chance with
probability 2 (1 - Phi(4)) = 6.3e-5: under 1 in 10,000 per check, under 1% for all of the suite's
band checks together; a rule that is off by 5 standard errors is caught 84% of the time."""


def se_band(standard_error: float) -> float:
    """Half-width for an estimate whose standard error the test derived itself."""
    return Z * standard_error


def share_band(p: float, n: int) -> float:
    """Half-width for the share of `n` independent trials with chance `p` each (binomial share)."""
    return Z * math.sqrt(p * (1 - p) / n)


def count_band(n: int, p: float) -> float:
    """Half-width for the number of successes among `n` trials with chance `p` each (binomial count)."""
    return Z * math.sqrt(n * p * (1 - p))


def poisson_band(expected: float) -> float:
    """Half-width for a Poisson count with mean `expected`; at least Z, so a tiny mean still allows a few."""
    return Z * math.sqrt(max(expected, 1.0))


def rate_band(rate: float, exposure: float) -> float:
    """Half-width for a rate estimated as Poisson events per unit of `exposure` (such as client-months)."""
    return Z * math.sqrt(rate / exposure)


def mean_band(sd: float, n: int) -> float:
    """Half-width for the mean of `n` independent values with standard deviation `sd`."""
    return Z * sd / math.sqrt(n)
