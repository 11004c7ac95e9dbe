"""Replications: seeds spawned from one root, run serially, on local processes or on Dask.

Replication i of a run always gets the i-th child of `SeedSequence(seed)`, so its results are
the same whatever executes it and in whatever order the replications finish; two scenarios
run with the same seed see the same clients (common random numbers).
"""

from __future__ import annotations

import ast
import ctypes
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sim.model import run
from sim.parameters import Scenario


def replication_seeds(seed: int, reps: int) -> list[np.random.SeedSequence]:
    """Seed of each replication: the children of the root SeedSequence, in order."""
    return np.random.SeedSequence(seed).spawn(reps)


@dataclass(frozen=True)
class ReplicationTask:
    """What one worker needs: small and picklable."""

    scenario: Scenario
    seed: int
    replication: int
    record_events: bool = False
    draw: int | None = None  # a parameter draw's number: its replications get seeds of their own


DRAW_KEY = 0x64726177
"""Marks a parameter draw's seeds: replication r of draw d runs on child (r, DRAW_KEY, d) of the root,
so draw d's results do not depend on how many draws run, and never share a stream with the
replications at the estimate (child (r,), whose streams are keyed (r, stream, ...))."""


def replication_seed(seed: int, replication: int, draw: int | None = None) -> np.random.SeedSequence:
    """The seed of one replication: the root's `replication`-th child, or for parameter draw `draw` its own."""
    key = (replication,) if draw is None else (replication, DRAW_KEY, draw)
    return np.random.SeedSequence(seed, spawn_key=key)


@dataclass(frozen=True)
class ReplicationOutput:
    """Small tables coming back from a worker (never the client table itself)."""

    replication: int
    yearly: pd.DataFrame
    monthly: pd.DataFrame
    events: pd.DataFrame | None
    client_events: int
    kernel_events: int

    def __reduce__(self):
        # sent compressed: pickled, a replication's tables are about 70 kB, more than a pipe's
        # 64 kB buffer, so each worker stalled until the parent (sharing the cores) read its
        # result; compressed they are about 17 kB (measured: 100 replications on 2 cores about
        # 7% faster)
        state = pickle.dumps(tuple(getattr(self, f.name) for f in fields(self)), protocol=pickle.HIGHEST_PROTOCOL)
        return _unpack_output, (zlib.compress(state, 1),)


def _unpack_output(payload: bytes) -> ReplicationOutput:
    return ReplicationOutput(*pickle.loads(zlib.decompress(payload)))


def run_task(task: ReplicationTask) -> ReplicationOutput:
    """Run one replication (in whatever process executes it)."""
    # the same child SeedSequence that replication_seeds(seed, n)[i] gives, without spawning i of them
    child = replication_seed(task.seed, task.replication, task.draw)
    result = run(task.scenario, child, record_events=task.record_events, replication=task.replication)
    return ReplicationOutput(
        task.replication, result.yearly, result.monthly, result.events, result.client_events, result.kernel_events
    )


class ExecutorError(Exception):
    """An executor cannot be started (Dask missing, scheduler unreachable) or its workers died;
    the message says which."""


WORKERS_DIED = (
    "a worker process stopped before finishing its replications (out of memory, killed, or, where "
    "processes start by spawn as on macOS and Windows, a script that runs the model outside "
    '`if __name__ == "__main__":`); nothing was written; run with --workers 1 to see the error in this process'
)


MAIN_GUARD = (
    "worker processes start by {method} here (the default on macOS and Windows), which runs this script again "
    'in every worker: put the code that runs the model under `if __name__ == "__main__":` ({where}), or run '
    "with one worker (--workers 1, or make_executor(1))"
)


def _guarded_lines(tree: ast.Module) -> list[tuple[int, int]]:
    """Line ranges of a script's `if __name__ == "__main__":` blocks (at any depth of the module level)."""

    def is_guard(test: ast.expr) -> bool:
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
            return False
        sides = [test.left, test.comparators[0]]
        return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
            isinstance(s, ast.Constant) and s.value == "__main__" for s in sides
        )

    return [
        (node.body[0].lineno, node.end_lineno or node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and is_guard(node.test)
    ]


def check_main_guard(method: str | None = None) -> None:
    """ExecutorError before any worker starts if workers would run the calling script again.

    Where processes start by spawn or forkserver (macOS, Windows; Linux from Python 3.14), every
    worker imports the main script anew; a script that starts the workers at its top level, not
    under `if __name__ == "__main__":`, would start them again in each worker, and the pool
    would break with an error that names no cause. The script's own text tells which: the line
    of its top level that is running now must lie inside such a block. Interactive sessions,
    notebooks and `python -c` have no script to run again and pass.
    """
    method = method or multiprocessing.get_start_method(allow_none=False)
    if method == "fork":
        return
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return  # not called from the script's top level (a thread, a callback of another program)
    try:
        with open(path, "rb") as fh:  # the running script itself, to see where the call stands
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return
    line = frame.f_lineno
    if not any(first <= line <= last for first, last in _guarded_lines(tree)):
        raise ExecutorError(MAIN_GUARD.format(method=method, where=f"{path}, line {line}"))


# -- interruptions ---------------------------------------------------------------------------------

_interrupt_requested = threading.Event()


def request_interrupt(signum: int | None = None, frame: Any = None) -> None:
    """Signal handler for SIGINT and SIGTERM: remember the request, then stop like Ctrl-C.

    Remembering matters because the KeyboardInterrupt may be raised inside compiled code, which
    surfaces it as a SystemError ("returned a result with an exception set"): the executors must
    not mistake that for a failed replication and go on.
    """
    _interrupt_requested.set()
    raise KeyboardInterrupt


def clear_interrupt() -> None:
    """Forget an earlier interrupt request (a new run in the same process)."""
    _interrupt_requested.clear()


def is_interruption(exc: BaseException) -> bool:
    """Whether an exception is, or was caused by, an interrupt rather than a failed replication."""
    if _interrupt_requested.is_set():
        return True
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, KeyboardInterrupt):
            return True
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return False


def _failure_or_interrupt(exc: Exception) -> Exception:
    """A replication's exception to report, unless it is an interrupt in disguise: then stop."""
    if is_interruption(exc):
        raise KeyboardInterrupt from exc
    return exc


def _death_signal_is_safe() -> bool:
    """Whether pool workers made now may ask to die with their parent by prctl's death signal.

    Linux sends that signal when the parent *thread* that forked the worker ends, not the process:
    a pool first used from a thread that then ends (a web app's job, `caseload explore`) would
    lose its workers. Safe only when the main thread forks them all at once, as a pool does under
    the fork start method at its first submit; otherwise the workers watch their parent instead.
    """
    return threading.current_thread() is threading.main_thread() and multiprocessing.get_start_method() == "fork"


def _end_with_parent(parent: int, death_signal: bool = True) -> None:
    """Pool worker start-up: leave interrupts to the parent, and never outlive it."""
    # Ctrl-C reaches the whole process group: the parent stops the pool, the workers must not
    # each print a traceback; SIGTERM from the parent ends a worker at once
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if death_signal and sys.platform.startswith("linux"):
        try:
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:  # where prctl is missing (macOS): notice the orphaning within a second
        while os.getppid() == parent:
            threading.Event().wait(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


class Executor(Protocol):
    """Runs a function over items; yields (index, result or exception) as they complete."""

    def map_unordered(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Everything in this process, in order."""

    def map_unordered(self, fn, items):
        for i, item in enumerate(items):
            try:
                result = fn(item)
            except Exception as exc:  # reported per replication, the others go on
                result = _failure_or_interrupt(exc)
            yield i, result

    def close(self) -> None:
        pass


class ProcessExecutor:
    """Local worker processes (the default: all cores)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._busy = False

    def map_unordered(self, fn, items):
        if self._pool is None:
            check_main_guard()
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                initializer=_end_with_parent,
                initargs=(os.getpid(), _death_signal_is_safe()),
            )
        self._busy = True
        futures = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    # the pool is gone, so every replication would fail the same way: say why once
                    _failure_or_interrupt(exc)
                    raise ExecutorError(WORKERS_DIED) from exc
                except Exception as exc:
                    result = _failure_or_interrupt(exc)
                yield i, result
        except GeneratorExit:
            # the caller stopped reading (a comparison given up for a newer one, `caseload
            # explore`): the replications not started are dropped, so the pool is free at once
            for future in futures:
                future.cancel()
            self._busy = False
            raise
        self._busy = False

    def close(self) -> None:
        """Shut the pool down; when stopped midway (an interrupt), end the workers at once."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        if not self._busy:
            pool.shutdown(cancel_futures=True)
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()
        for process in processes:
            process.join(5)


SCHEDULER_TIMEOUT_SECONDS = 10
"""How long to wait for a Dask scheduler to answer before giving up with one error line."""


def check_dask_scheduler(address: str, timeout: float = SCHEDULER_TIMEOUT_SECONDS) -> None:
    """Make sure `tcp://HOST:PORT` answers as a Dask scheduler, within `timeout` seconds.

    A Dask scheduler speaks first on a new connection: an 8-byte message length, then its
    handshake (which names the pickle protocol). Anything else (a web server that waits for a
    request, an SSH server's banner) is refused here; handed to Dask, such a service can make it
    allocate what the first bytes claim to be a length (a MemoryError) or wait for minutes.
    """
    scheme, sep, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if sep and scheme == "tls":
        return  # encrypted: nothing to read before the TLS handshake; Dask's own timeout applies
    if scheme != "tcp" or not sep or not host or not port.isdigit():
        raise ExecutorError(f"--scheduler: {address!r} is not an address; give tcp://HOST:PORT or 'local'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as conn:
            conn.settimeout(timeout)
            head = _receive(conn, 8)
            (length,) = struct.unpack("<Q", head) if len(head) == 8 else (0,)
            body = _receive(conn, length) if 0 < length <= 65536 else b""
    except TimeoutError:
        raise ExecutorError(f"--scheduler: {address} did not answer as a Dask scheduler within {timeout:g} s") from None
    except OSError as exc:
        raise ExecutorError(f"--scheduler: cannot connect to {address} ({exc.strerror or exc})") from None
    if b"pickle-protocol" not in body:
        raise ExecutorError(f"--scheduler: {address} answers, but not as a Dask scheduler; give tcp://HOST:PORT of one")


def _receive(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class DaskExecutor:
    """A Dask distributed cluster: `tcp://HOST:PORT`, or a LocalCluster when address is 'local'."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # optional extra
            raise ExecutorError("--scheduler: Dask is not installed; pip install 'caseload[dask]'") from exc
        self._cluster = None
        if address == "local":
            import dask

            check_main_guard(dask.config.get("distributed.worker.multiprocessing-method", "spawn"))
            self._cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            self._client = Client(self._cluster)
        else:
            check_dask_scheduler(address)
            try:
                self._client = Client(address, timeout=SCHEDULER_TIMEOUT_SECONDS)
            except Exception as exc:  # Dask raises OSError, TimeoutError, ValueError and more
                raise ExecutorError(
                    f"--scheduler: cannot use Dask scheduler {address!r} ({type(exc).__name__}: {exc}); "
                    "give tcp://HOST:PORT or 'local'"
                ) from None

    def map_unordered(self, fn, items):
        from dask.distributed import as_completed as dask_completed

        futures = self._client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in dask_completed(futures):
            i = index[future.key]
            try:
                result = future.result()
            except Exception as exc:
                result = _failure_or_interrupt(exc)
            yield i, result

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


MAX_WORKERS_PER_CORE = 8
"""Most worker processes per core one may ask for: beyond this they only compete for memory."""


def worker_count(workers: int | None, tasks: int | None = None) -> int:
    """Processes to start: as asked (default: the cores), never more than there are tasks."""
    cores = os.cpu_count() or 1
    if workers is not None and not 1 <= workers <= MAX_WORKERS_PER_CORE * cores:
        raise ExecutorError(
            f"--workers: give 1 to {MAX_WORKERS_PER_CORE * cores} ({MAX_WORKERS_PER_CORE} per core on this "
            f"machine's {cores}), or --scheduler for a cluster (got {workers})"
        )
    count = workers or cores
    return max(1, min(count, tasks)) if tasks is not None else count


def make_executor(workers: int | None = None, scheduler: str | None = None, tasks: int | None = None) -> Executor:
    """Serial for one worker, local processes for more (default: all cores), Dask for a scheduler.

    `tasks`, when known, caps the processes: 12 replications never start more than 12 workers.
    """
    count = worker_count(workers, tasks)
    if scheduler:
        return DaskExecutor(scheduler, count)
    return SerialExecutor() if count <= 1 else ProcessExecutor(count)


@dataclass
class ReplicationSet:
    """Results of several replications of one scenario, in replication order."""

    outputs: list[ReplicationOutput]
    failures: list[dict] = field(default_factory=list)

    @property
    def yearly(self) -> pd.DataFrame:
        return pd.concat([o.yearly for o in self.outputs], ignore_index=True)

    @property
    def monthly(self) -> pd.DataFrame:
        return pd.concat([o.monthly for o in self.outputs], ignore_index=True)

    @property
    def events(self) -> pd.DataFrame | None:
        frames = [o.events.assign(replication=o.replication) for o in self.outputs if o.events is not None]
        return pd.concat(frames, ignore_index=True) if frames else None

    @property
    def client_events(self) -> int:
        return sum(o.client_events for o in self.outputs)


class RunFailed(Exception):
    """Every replication failed: there is nothing to show or write. `results.failures` says why."""

    def __init__(self, results: ReplicationSet) -> None:
        self.results = results
        first = results.failures[0]["error"] if results.failures else "no replication ran"
        super().__init__(f"every replication failed ({len(results.failures)}; the first: {first}); nothing written")


def run_replications(
    scenario: Scenario,
    seed: int,
    reps: int,
    executor: Executor | None = None,
    record_events: bool = False,
    on_done: Callable[[int, int], None] | None = None,
    replications: Iterable[int] | None = None,
) -> ReplicationSet:
    """Run replications of a scenario; failures are kept with their seed, the rest are returned.

    Raises `RunFailed` when every replication failed: an empty result is never returned.
    """
    executor = executor or SerialExecutor()
    indices = list(replications) if replications is not None else list(range(reps))
    tasks = [ReplicationTask(scenario, seed, i, record_events) for i in indices]
    outputs: dict[int, ReplicationOutput] = {}
    failures: list[dict] = []
    for done, (k, result) in enumerate(executor.map_unordered(run_task, tasks), start=1):
        if isinstance(result, BaseException):
            failures.append(
                {
                    "scenario": scenario.name,
                    "seed": seed,
                    "replication": tasks[k].replication,
                    "error": f"{type(result).__name__}: {result}",
                }
            )
        else:
            outputs[result.replication] = result
        if on_done:
            on_done(done, len(tasks))
    results = ReplicationSet([outputs[i] for i in sorted(outputs)], failures)
    if not results.outputs:
        raise RunFailed(results)
    return results


# -- what a run will cost, said before it starts ------------------------------------------------------

SECONDS_PER_CLIENT = 4e-6
"""Rough replication time per client created (stock plus expected notifications): measured on a
2-core x86-64 machine, 0.08 s for the default region's 10,700 clients, 6-12 s for the country's
2.7 million (2013-2030)."""
SECONDS_PER_REPLICATION = 0.04
"""Fixed cost of a replication (set-up, tables), from the same measurements."""
RESULT_BYTES_PER_MONTH = 2_400
"""The parent's memory per replication and simulated month for its tables, including putting
them together at the end: measured 0.5 MB a replication for 2013-2030 (300 serial replications)."""


@dataclass(frozen=True)
class RunEstimate:
    """Rough cost of running replications: wall time and the parent's memory for the results."""

    replications: int
    workers: int
    seconds: float
    memory_bytes: float

    def describe(self) -> str:
        minutes = self.seconds / 60
        when = (
            f"{minutes / 60:.1f} h"
            if minutes >= 90
            else f"{minutes:.0f} min"
            if minutes >= 2
            else f"{self.seconds:.0f} s"
        )
        return (
            f"{self.replications:,} replications on {self.workers} worker(s): about {when} and "
            f"{self.memory_bytes / 2**30:.1f} GiB of memory for the results (rough estimate)"
        )


def estimate(scenarios: Iterable[Scenario], reps: int, workers: int) -> RunEstimate:
    """Time and memory of `reps` replications of each scenario on `workers` processes."""
    from sim.inflow import expected_notifications, monthly_notification_rates

    seconds = memory = 0.0
    count = 0
    for scenario in scenarios:
        sim = scenario.simulation
        clients = scenario.region.initial_stock + expected_notifications(monthly_notification_rates(scenario))
        months = 12 * (sim.until_year - sim.start_year + sim.burn_in_years)
        seconds += reps * (SECONDS_PER_REPLICATION + SECONDS_PER_CLIENT * clients)
        memory += reps * months * RESULT_BYTES_PER_MONTH
        count += reps
    return RunEstimate(count, workers, seconds / max(1, workers), memory)


def physical_memory_bytes() -> float | None:
    """This machine's memory, where the system tells it."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


LARGE_RUN_SECONDS = 300
"""Runs estimated to take longer than this (or more than 1 GiB) are announced before they start."""


def check_fits(cost: RunEstimate) -> bool:
    """ExecutorError if the results would not fit in this machine's memory; whether the run is large."""
    memory = physical_memory_bytes()
    if memory and cost.memory_bytes > 0.8 * memory:
        raise ExecutorError(
            f"--reps: {cost.describe()}, more than this machine's {memory / 2**30:.0f} GiB; give fewer replications"
        )
    return cost.seconds > LARGE_RUN_SECONDS or cost.memory_bytes > 2**30
