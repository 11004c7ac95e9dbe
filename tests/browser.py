"""The headless browser the rendering tests use: Debian's Chromium (`.ci/run` installs it)."""

from __future__ import annotations

import shutil

MISSING = "chromium not found on PATH (install: apt-get install -y chromium; .ci/run does it)"
"""Why a browser test is skipped."""


def chromium() -> str | None:
    """The path of a Chromium (or Chrome) on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None
