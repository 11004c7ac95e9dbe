"""Scenario files shipped with caseload (TOML). See README 'Scenario files'."""
