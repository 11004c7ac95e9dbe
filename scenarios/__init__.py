"""Scenario files shipped with caseload (TOML). See docs/scenarios.md."""
