"""`caseload explore`: a local web app to move the levers and see the caseload and the euros, live.

    pip install -e ".[explore]"
    caseload explore                      # http://127.0.0.1:8050, on focus against broad

Built on Shiny for Python (docs/explore.md says why); the app (`app.make_app`) is a layer over the
same comparison as `caseload compare` (`runner`), the scenario files `caseload run` reads
(`levers`), and the report's sections.
"""

from __future__ import annotations

import socket
from pathlib import Path

HORIZON = (2020, 2040)
"""Last simulated years the explorer offers."""
REPS = (2, 200)
"""Paired replications a live answer may have (2 for an interval)."""
DRAWS = (0, 400)
"""Parameter draws the explorer may ask for (the shipped draws files hold 400)."""

MISSING = (
    'the explorer needs its extra: pip install -e ".[explore]" (Shiny for Python, uvicorn and tomli-w; docs/explore.md)'
)


class ExploreError(Exception):
    """The explorer cannot start (its extra is missing, the port is taken); the message says why."""


def check_installed() -> None:
    """ExploreError naming the extra when Shiny, uvicorn or tomli-w is missing."""
    import importlib.util

    missing = [m for m in ("shiny", "uvicorn", "tomli_w") if importlib.util.find_spec(m) is None]
    if missing:
        raise ExploreError(f"{MISSING}; missing: {', '.join(missing)}")


def check_port(host: str, port: int) -> None:
    """ExploreError when nothing can listen on host:port (taken, or not an address of this machine)."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ExploreError(
            f"--port: cannot listen on {host}:{port} ({exc.strerror or exc}); give another --port"
        ) from None


def serve(
    host: str = "127.0.0.1",
    port: int = 8050,
    reference: str = "focus",
    scenario: str = "broad",
    workers: int | None = None,
    folder: Path | None = None,
    reps: int = 20,
    draws: int = 20,
    seed: int = 42,
    until: int = 2030,
    on_ready=None,
) -> None:
    """Serve the explorer on host:port until interrupted (loopback by default: the app runs the
    model for whoever reaches it). `on_ready(url)` is called once it listens. Raises ExploreError
    before anything starts if the extra is missing or the port cannot be listened on."""
    check_installed()
    check_port(host, port)
    import uvicorn

    from caseload.explore.app import make_app
    from caseload.explore.runner import Runner

    runner = Runner(workers)
    try:
        app = make_app(runner, reference, scenario, until=until, reps=reps, draws=draws, folder=folder, seed=seed)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        if on_ready is not None:
            url = f"http://{host}:{port}/"
            original = server.startup

            async def startup(sockets=None):
                await original(sockets)
                on_ready(url)

            server.startup = startup
        server.run()
    finally:
        runner.close()
