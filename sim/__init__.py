"""caseload: a microsimulation of a Dutch municipality's social-assistance (bijstand) caseload.

The model core is this package's modules; `sim.analysis` holds the analyses above it
(comparison, budget, sensitivity, report, docs). Importing `sim` loads nothing else.
"""

__version__ = "0.1.0"
