"""Calibration to the observed December caseloads; fitted parameter files live beside this module."""
