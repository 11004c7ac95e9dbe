"""Replications: seeds spawned from one root, run serially, on local processes or on Dask.

Replication i of a run always gets the i-th child of `SeedSequence(seed)`, so its results are
the same whatever executes it and in whatever order the replications finish; two scenarios
run with the same seed see the same clients (common random numbers).
"""

from __future__ import annotations

import os
import pickle
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
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
    child = np.random.SeedSequence(task.seed, spawn_key=(task.replication,))
    result = run(task.scenario, child, record_events=task.record_events, replication=task.replication)
    return ReplicationOutput(
        task.replication, result.yearly, result.monthly, result.events, result.client_events, result.kernel_events
    )


class ExecutorError(Exception):
    """An executor cannot be started (Dask missing, scheduler unreachable); the message says which."""


class Executor(Protocol):
    """Runs a function over items; yields (index, result or exception) as they complete."""

    def map_unordered(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Everything in this process, in order."""

    def map_unordered(self, fn, items):
        for i, item in enumerate(items):
            try:
                yield i, fn(item)
            except Exception as exc:  # reported per replication, the others go on
                yield i, exc

    def close(self) -> None:
        pass


class ProcessExecutor:
    """Local worker processes (the default: all cores)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, fn, items):
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        futures = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                yield i, future.result()
            except Exception as exc:
                yield i, exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """A Dask distributed cluster: `tcp://HOST:PORT`, or a LocalCluster when address is 'local'."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # optional extra
            raise ExecutorError("--scheduler: Dask is not installed; pip install 'caseload[dask]'") from exc
        self._cluster = None
        if address == "local":
            self._cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                dashboard_address=None,
            )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(address)
            except (OSError, ValueError, TypeError) as exc:
                raise ExecutorError(
                    f"--scheduler: cannot use Dask scheduler {address!r} ({exc}); give tcp://HOST:PORT or 'local'"
                ) from None

    def map_unordered(self, fn, items):
        from dask.distributed import as_completed as dask_completed

        futures = self._client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in dask_completed(futures):
            i = index[future.key]
            try:
                yield i, future.result()
            except Exception as exc:
                yield i, exc

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """Serial for one worker, local processes for more (default: all cores), Dask for a scheduler."""
    if scheduler:
        return DaskExecutor(scheduler, workers)
    workers = workers or os.cpu_count() or 1
    return SerialExecutor() if workers <= 1 else ProcessExecutor(workers)


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


def run_replications(
    scenario: Scenario,
    seed: int,
    reps: int,
    executor: Executor | None = None,
    record_events: bool = False,
    on_done: Callable[[int, int], None] | None = None,
    replications: Iterable[int] | None = None,
) -> ReplicationSet:
    """Run replications of a scenario; failures are kept with their seed, the rest are returned."""
    executor = executor or SerialExecutor()
    indices = list(replications) if replications is not None else list(range(reps))
    tasks = [ReplicationTask(scenario, seed, i, record_events) for i in indices]
    outputs: dict[int, ReplicationOutput] = {}
    failures: list[dict] = []
    for done, (k, result) in enumerate(executor.map_unordered(run_task, tasks), start=1):
        if isinstance(result, BaseException):
            failures.append({
                "scenario": scenario.name, "seed": seed, "replication": tasks[k].replication,
                "error": f"{type(result).__name__}: {result}",
            })
        else:
            outputs[result.replication] = result
        if on_done:
            on_done(done, len(tasks))
    return ReplicationSet([outputs[i] for i in sorted(outputs)], failures)
