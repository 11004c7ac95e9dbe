"""The benchmarks of docs/performance.md, printed as Markdown table rows.

    python bench/run.py               # everything, median of 5 runs each (about 10-20 minutes)
    python bench/run.py --runs 7      # more runs per figure
    python bench/run.py --only 1 2    # some benchmarks: 1 one replication, 2 bare SimPy,
                                      # 3 national size, 4 replications on all cores vs one,
                                      # 5 (or `attribution`) a comparison with its attribution
                                      # over 3 and 4 levers, 6 (or `draws`) a comparison with
                                      # 100 parameter draws, without and with attribution,
                                      # 7 (or `explore`) the explorer's live answer

Every figure is the median over `--runs` runs. Wall time is what the targets are about; CPU time
(of this process) is shown beside it because on a busy machine wall time includes waiting for a
core. National runs and the parent-memory check run in a fresh child process each, whose own
peak resident memory (`ru_maxrss`) is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import simpy  # noqa: E402

from sim.model import run  # noqa: E402
from sim.replications import ProcessExecutor, SerialExecutor, run_replications  # noqa: E402
from sim.scenario import load, with_overrides  # noqa: E402

BARE_PROCESSES = 1000


def machine() -> str:
    """CPU model, cores, versions and load: the line that goes with the figures."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, SimPy {simpy.__version__}, "
        f"numpy {np.__version__}; load average (1, 5, 15 min) at start {_load()}"
    )


def scenario(name: str, until: int | None = None):
    loaded = load(name).scenario
    return loaded if until is None else with_overrides(loaded, {"simulation": {"until_year": until}})


def timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def one_replication(runs: int) -> dict:
    """Benchmark 1: baseline, default region, 2013-2030."""
    s = scenario("baseline")
    run(s, 0)  # warm-up: imports and caches
    walls, cpus, client_events, kernel_events = [], [], [], []
    for seed in range(1, runs + 1):
        wall, cpu, result = timed(lambda seed=seed: run(s, seed))
        walls.append(wall)
        cpus.append(cpu)
        client_events.append(result.client_events)
        kernel_events.append(result.kernel_events)
    wall = statistics.median(walls)
    return {
        "wall_s": wall,
        "cpu_s": statistics.median(cpus),
        "client_events": int(statistics.median(client_events)),
        "kernel_events": int(statistics.median(kernel_events)),
        "client_events_per_s": statistics.median(e / w for e, w in zip(client_events, walls, strict=True)),
        "kernel_events_per_s": statistics.median(e / w for e, w in zip(kernel_events, walls, strict=True)),
        "client_events_per_cpu_s": statistics.median(e / c for e, c in zip(client_events, cpus, strict=True)),
    }


def bare_simpy(events: int, runs: int) -> dict:
    """Benchmark 2: `events` timeouts in BARE_PROCESSES processes that do nothing else."""
    rng = np.random.default_rng(0)
    per = -(-events // BARE_PROCESSES)
    delays = rng.exponential(30.0, (BARE_PROCESSES, per)).tolist()

    def waiter(env, own):
        for delay in own:
            yield env.timeout(delay)

    def once():
        env = simpy.Environment()
        for own in delays:
            env.process(waiter(env, own))
        env.run()
        return next(env._eid)

    once()
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu, scheduled = timed(once)
        walls.append(wall)
        cpus.append(cpu)
    events = BARE_PROCESSES * per
    return {
        "wall_s": statistics.median(walls),
        "events": events,
        "kernel_events": scheduled,
        "events_per_s": statistics.median(events / w for w in walls),
        "events_per_cpu_s": statistics.median(events / c for c in cpus),
    }


def child(args: list[str]) -> dict:
    """Run this script's --child mode in a fresh process; it reports its own time and peak memory."""
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def national(runs: int) -> list[dict]:
    """Benchmark 3: national and national-corona, 2013-2019, one replication each, in a child."""
    rows = []
    for name in ("national", "national-corona"):
        results = [child(["national", name, str(seed)]) for seed in range(1, runs + 1)]
        rows.append(
            {
                "scenario": name,
                "wall_s": statistics.median(r["wall_s"] for r in results),
                "cpu_s": statistics.median(r["cpu_s"] for r in results),
                "peak_mib": statistics.median(r["peak_mib"] for r in results),
                "caseload_2019": statistics.median(r["caseload_2019"] for r in results),
            }
        )
    return rows


def replications(runs: int, reps: int = 100) -> dict:
    """Benchmark 4: `reps` default-region replications on all cores vs serially on one."""
    s = scenario("baseline")
    cores = os.cpu_count() or 1
    run(s, 0)

    def on(executor):
        try:
            return run_replications(s, seed=1, reps=reps, executor=executor)
        finally:
            executor.close()

    serial, parallel = [], []
    for _ in range(runs):
        serial.append(timed(lambda: on(SerialExecutor()))[0])
        parallel.append(timed(lambda: on(ProcessExecutor(cores)))[0])
    one, many = statistics.median(serial), statistics.median(parallel)
    return {
        "reps": reps,
        "cores": cores,
        "one_core_s": one,
        "all_cores_s": many,
        "speedup": statistics.median(a / b for a, b in zip(serial, parallel, strict=True)),
    }


ATTRIBUTION_PAIRS = (
    ("focus", "broad-open-door"),  # served, staffing and trajectories: 3 levers, 8 combinations
    ("focus", "broad"),  # and the door: 4 levers, 16 combinations
)
ATTRIBUTION_WORKERS = 2


def attribution(runs: int, reps: int = 20) -> list[dict]:
    """Benchmark 5 (`attribution`): `caseload compare A B` with its attribution, as the command
    runs it (the pool started and closed inside the time), `reps` paired replications to 2030 on
    ATTRIBUTION_WORKERS workers, for each pair of ATTRIBUTION_PAIRS."""
    import tempfile

    from sim.analysis.attribution import factors
    from sim.analysis.comparison import compare_to_folder

    rows = []
    for reference, other in ATTRIBUTION_PAIRS:
        pair = {reference: scenario(reference), other: scenario(other)}
        k = len(factors(*pair.values()))

        def once(pair=pair) -> None:
            with tempfile.TemporaryDirectory() as folder:
                executor = ProcessExecutor(ATTRIBUTION_WORKERS)
                try:
                    compare_to_folder(pair, Path(folder) / "out", (2019, 2030), seed=1, reps=reps, executor=executor)
                finally:
                    executor.close()

        walls = [timed(once)[0] for _ in range(runs)]
        rows.append(
            {"pair": f"{other} against {reference}", "levers": k, "reps": reps, "wall_s": statistics.median(walls)}
        )
    return rows


def attribution_row(row: dict) -> str:
    k = row["levers"]
    target, met = ("< 15 s", _met(row["wall_s"] < 15)) if k == 3 else ("(none; the target is for 3 levers)", "")
    return (
        f"| 5. compare with attribution, {row['pair']} ({k} levers, {2**k} combinations, {2**k - 2} extra runs "
        f"a replication) x {row['reps']} paired replications, default region to 2030, {ATTRIBUTION_WORKERS} workers "
        f"| {row['wall_s']:.1f} s wall | {target} | {met} |"
    )


def parameter_draws(runs: int, draws: int = 100, reps: int = 2):
    """Benchmark 6 (`draws`): `caseload compare focus broad --parameter-draws 100 --reps 2` as the
    command runs it (draws read, pool started and closed inside the time), without attribution and
    with it over 3 levers (broad-open-door against focus), default region to 2030, 2 workers."""
    import tempfile

    from sim.analysis.comparison import compare_to_folder
    from sim.analysis.draws import find_draws, read_draws

    for reference, other, split in (("focus", "broad", False), ("focus", "broad-open-door", True)):
        pair = {reference: scenario(reference), other: scenario(other)}

        def once(pair=pair, split=split, reference=reference) -> None:
            with tempfile.TemporaryDirectory() as folder:
                found = read_draws(*find_draws(load(reference).files))
                executor = ProcessExecutor(ATTRIBUTION_WORKERS)
                try:
                    compare_to_folder(
                        pair,
                        Path(folder) / "out",
                        (2019, 2030),
                        seed=1,
                        reps=reps,
                        executor=executor,
                        attribution=split,
                        draws=found,
                        parameter_draws=draws,
                    )
                finally:
                    executor.close()

        walls = [timed(once)[0] for _ in range(runs)]
        # a row as soon as its runs are done: with attribution, five runs take a quarter of an hour
        yield {
            "pair": f"{other} against {reference}",
            "attribution": split,
            "draws": draws,
            "reps": reps,
            "wall_s": statistics.median(walls),
        }


def draws_row(row: dict) -> str:
    target = 180 if row["attribution"] else 45
    what = "with attribution over 3 levers" if row["attribution"] else "without attribution"
    return (
        f"| 6. compare {row['pair']} --parameter-draws {row['draws']} --reps {row['reps']}, {what}, default region "
        f"to 2030, {ATTRIBUTION_WORKERS} workers | {row['wall_s']:.1f} s wall | < {target} s | {_met(row['wall_s'] < target)} |"
    )


def explorer(runs: int, reps: int = 20) -> dict:
    """Benchmark 7 (`explore`): the explorer's live answer to a changed lever, broad against focus,
    20 paired replications to 2030 on the session's pool of 2 workers: the reference's replications
    are in memory (it did not change), a new gatekeeper share each time runs the scenario's. Also
    the first answer, both sides new. Needs the explorer's extra."""
    from caseload.explore.levers import Settings, build
    from caseload.explore.runner import Request, Runner

    runner = Runner(ATTRIBUTION_WORKERS)
    try:
        reference, _ = build(Settings("focus"))
        runner.compare(Request(build(Settings("baseline"))[0], reference, 2))  # warm: the pool and imports
        first = timed(lambda: runner.compare(Request(reference, build(Settings("broad"))[0], reps)))[0]
        walls = []
        for i in range(runs):
            changed, _ = build(Settings("broad", changes={"door.gatekeeper_share": 0.30 - 0.01 * i}))
            walls.append(timed(lambda changed=changed: runner.compare(Request(reference, changed, reps)))[0])
    finally:
        runner.close()
    return {"reps": reps, "first_s": first, "wall_s": statistics.median(walls)}


def explorer_row(row: dict) -> str:
    return (
        f"| 7. explorer: a changed lever, broad against focus, {row['reps']} paired replications to 2030, default "
        f"region, {ATTRIBUTION_WORKERS} workers (the reference in memory) | {row['wall_s']:.1f} s wall (first answer, "
        f"both sides new: {row['first_s']:.1f} s) | < 3 s | {_met(row['wall_s'] < 3)} |"
    )


def parent_memory() -> list[dict]:
    """Peak memory of the parent process running 10 and 100 replications on all cores (one run each)."""
    return [{"reps": reps, **child(["parent", str(reps)])} for reps in (10, 100)]


def run_child(mode: str, args: list[str]) -> None:
    if mode == "national":
        name, seed = args[0], int(args[1])
        s = scenario(name, until=2019)
        wall, cpu, result = timed(lambda: run(s, seed))
        caseload = int(result.yearly.set_index("year").loc[2019, "caseload_december"])
        extra = {"caseload_2019": caseload}
    else:
        reps = int(args[0])
        s = scenario("baseline")
        executor = ProcessExecutor(os.cpu_count() or 1)
        try:
            wall, cpu, _ = timed(lambda: run_replications(s, seed=1, reps=reps, executor=executor))
        finally:
            executor.close()
        extra = {}
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_mib": peak_kib / 1024, **extra}))


def one_row(one: dict) -> str:
    return (
        f"| 1. baseline, default region, 2013-2030, one replication | {one['wall_s']:.3f} s wall "
        f"({one['cpu_s']:.3f} s CPU); {one['client_events']:,} client events = "
        f"{one['client_events_per_s']:,.0f} client events/s; {one['kernel_events']:,} SimPy events = "
        f"{one['kernel_events_per_s']:,.0f}/s | < 0.3 s | {_met(one['wall_s'] < 0.3)} |"
    )


def bare_row(bare: dict, one: dict) -> str:
    # a busy machine stretches wall time unevenly; the ratio of CPU-time rates is shown beside it
    ratio = bare["events_per_s"] / one["client_events_per_s"]
    cpu_ratio = bare["events_per_cpu_s"] / one["client_events_per_cpu_s"]
    return (
        f"| 2. bare SimPy, {BARE_PROCESSES:,} processes, {bare['events']:,} timeouts | "
        f"{bare['events_per_s']:,.0f} events/s ({bare['events_per_cpu_s']:,.0f} per CPU second); model overhead = "
        f"bare events/s / model client events/s = {ratio:.2f}x (by CPU time {cpu_ratio:.2f}x) | < 3x | "
        f"{_met(ratio < 3)} |"
    )


def national_row(row: dict) -> str:
    return (
        f"| 3. {row['scenario']}, 2013-2019, one replication | {row['wall_s']:.1f} s wall ({row['cpu_s']:.1f} s CPU), "
        f"peak {row['peak_mib']:,.0f} MiB; December 2019 caseload {row['caseload_2019']:,.0f} | < 60 s, < 4 GiB | "
        f"{_met(row['wall_s'] < 60 and row['peak_mib'] < 4096)} |"
    )


def replications_row(r: dict) -> str:
    return (
        f"| 4. {r['reps']} replications, default region, 2013-2030 | one core {r['one_core_s']:.1f} s, "
        f"{r['cores']} cores {r['all_cores_s']:.1f} s: speed-up {r['speedup']:.2f} | >= 1.8 on 2 cores | "
        f"{_met(r['speedup'] >= 1.8)} |"
    )


def parent_row(row: dict) -> str:
    return (
        f"| parent process, {row['reps']} replications on all cores | peak {row['peak_mib']:,.0f} MiB "
        "(one run) | flat in the number of replications | |"
    )


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _met(ok: bool) -> str:
    return "yes" if ok else "no"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        run_child(sys.argv[2], sys.argv[3:])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=5, help="runs per figure (median); at least 5 for docs/performance.md"
    )
    parser.add_argument(
        "--only",
        type=lambda v: {"attribution": 5, "draws": 6, "explore": 7}.get(v) or int(v),
        nargs="*",
        default=[1, 2, 3, 4, 5, 6, 7],
        help="benchmarks to run: 1-7 (5 also as `attribution`, 6 as `draws`, 7 as `explore`)",
    )
    opts = parser.parse_args()
    # rows appear as each benchmark finishes; the whole output is the table of docs/performance.md
    print(f"Machine: {machine()}. Median of {opts.runs} runs per figure.\n", flush=True)
    print("| benchmark | figure | target | met |\n|---|---|---|---|", flush=True)
    if 1 in opts.only or 2 in opts.only:
        one = one_replication(opts.runs)
        if 1 in opts.only:
            print(one_row(one), flush=True)
        if 2 in opts.only:
            print(bare_row(bare_simpy(one["client_events"], opts.runs), one), flush=True)
    if 3 in opts.only:
        for row in national(opts.runs):
            print(national_row(row), flush=True)
    if 4 in opts.only:
        print(replications_row(replications(opts.runs)), flush=True)
        for row in parent_memory():
            print(parent_row(row), flush=True)
    if 5 in opts.only:
        for row in attribution(opts.runs):
            print(attribution_row(row), flush=True)
    if 6 in opts.only:
        for row in parameter_draws(opts.runs):
            print(draws_row(row), flush=True)
    if 7 in opts.only:
        print(explorer_row(explorer(opts.runs)), flush=True)
    print(f"\nLoad average at the end: {_load()}.")
