"""caseload: a discrete-event microsimulation of a Dutch municipality's social-assistance caseload."""

__version__ = "0.1.0"
