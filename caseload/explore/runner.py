"""Comparisons for the explorer: one pool of workers kept for the session, and every replication's
result cached by what determines it (the scenario's settings, the seed, the replication and the
parameter draw), so a changed lever runs only the side it changed and going back costs nothing.

The numbers are those of `caseload compare` with the same scenarios, seed and replications: the
comparison is `sim.analysis.comparison.run_comparison`, only its executor is wrapped.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import caseload
from caseload import ComparisonResults
from sim.parameters import Scenario
from sim.replications import ReplicationTask, make_executor, run_task
from sim.scenario import LoadedScenario

CACHE_REPLICATIONS = 4000
"""Replications kept (about 20 kB each in memory: some 80 MB at most), the least recently used dropped first."""
CACHE_COMPARISONS = 64
"""Whole comparisons kept, the least recently used dropped first."""


def scenario_key(scenario: Scenario) -> str:
    """What a replication's result depends on in the scenario: every setting but its name and description."""
    text = scenario.model_dump_json(exclude={"name", "description"})
    return hashlib.sha256(text.encode()).hexdigest()


class CachingExecutor:
    """An executor (sim/replications.Executor) that answers replication tasks it has run before from
    memory, by (scenario_key, seed, replication, draw), and sends the others to `inner`."""

    def __init__(self, inner, size: int = CACHE_REPLICATIONS) -> None:
        self.inner = inner
        self.size = size
        self._done: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(task: ReplicationTask) -> tuple:
        return (scenario_key(task.scenario), task.seed, task.replication, task.draw, task.record_events)

    def map_unordered(self, fn, items):
        if fn is not run_task:  # only replications are cached
            yield from self.inner.map_unordered(fn, items)
            return
        keys = [self.key(item) for item in items]
        todo = []
        for i, key in enumerate(keys):
            with self._lock:
                found = self._done.get(key)
                if found is not None:
                    self._done.move_to_end(key)
            if found is None:
                todo.append(i)
            else:
                self.hits += 1
                yield i, found
        self.misses += len(todo)
        running = self.inner.map_unordered(fn, [items[i] for i in todo])
        try:
            for j, result in running:
                i = todo[j]
                if not isinstance(result, Exception):
                    with self._lock:
                        self._done[keys[i]] = result
                        while len(self._done) > self.size:
                            self._done.popitem(last=False)
                yield i, result
        finally:
            running.close()  # given up midway: the inner executor drops what it has not started

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class Request:
    """One comparison the explorer asks for."""

    reference: LoadedScenario
    scenario: LoadedScenario
    reps: int = 20
    seed: int = 42
    attribution: bool = False
    parameter_draws: int = 0

    @property
    def key(self) -> tuple:
        return (
            scenario_key(self.reference.scenario),
            self.reference.scenario.name,
            scenario_key(self.scenario.scenario),
            self.scenario.scenario.name,
            self.reps,
            self.seed,
            self.attribution,
            self.parameter_draws,
        )


class Cancelled(Exception):
    """A job given up for a newer one."""


@dataclass
class Stage:
    """One comparison of a job, with what became of it."""

    name: str
    request: Request
    result: ComparisonResults | None = None
    error: str | None = None
    done: int = 0  # replications finished, of `total`
    total: int = 0
    seconds: float | None = None
    cached: bool = False  # answered from memory: asked before
    shown: threading.Event = field(default_factory=threading.Event)  # set by the page once it shows the result


SHOWN_TIMEOUT = 5.0
"""Seconds a job waits for the page to show a stage before it starts the next anyway."""


class Job:
    """Comparisons run one after another in a thread (the live answer first, then the slower
    parts); `cancel` gives them up between replications. Each next stage waits until the page
    has shown the one before (`Stage.shown`), so the page draws the live answer on cores the
    slower parts do not yet take."""

    def __init__(self, runner: Runner, stages: list[Stage]) -> None:
        self.stages = stages
        self._runner = runner
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caseload-explore", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        from sim.analysis.comparison import ComparisonError
        from sim.analysis.draws import DrawsError
        from sim.replications import ExecutorError

        for before, stage in zip([None, *self.stages], self.stages, strict=False):
            if before is not None:
                before.shown.wait(SHOWN_TIMEOUT)
            if self._cancelled.is_set():
                return

            def progress(done: int, total: int, stage=stage) -> None:
                stage.done, stage.total = done, total
                if self._cancelled.is_set():
                    raise Cancelled

            started = time.perf_counter()
            stage.cached = self._runner.cached(stage.request) is not None
            try:
                stage.result = self._runner.compare(stage.request, progress)
            except Cancelled:
                return
            except (ComparisonError, DrawsError, ExecutorError) as exc:
                stage.error = str(exc)
                return
            except Exception as exc:  # shown in the page: the app must stay up whatever a run does
                stage.error = f"{type(exc).__name__}: {exc}"
                return
            stage.seconds = time.perf_counter() - started

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def running(self) -> Stage | None:
        """The stage being run, if any."""
        if not self._thread.is_alive():
            return None
        return next((s for s in self.stages if s.result is None and s.error is None), None)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


class Runner:
    """Runs the explorer's comparisons on a pool kept for the session; results cached by request."""

    def __init__(self, workers: int | None = None) -> None:
        self.executor = CachingExecutor(make_executor(workers, None, None))
        self._results: OrderedDict[tuple, ComparisonResults] = OrderedDict()
        self._lock = threading.Lock()  # one comparison at a time on the pool

    def cached(self, request: Request) -> ComparisonResults | None:
        return self._results.get(request.key)

    def compare(self, request: Request, on_done: Callable[[int, int], None] | None = None) -> ComparisonResults:
        """The comparison of `request`: `caseload.compare` on the session's pool, kept by request.
        Raises ComparisonError as it does."""
        found = self.cached(request)
        if found is not None:
            return found
        with self._lock:
            result = caseload.compare(
                request.reference,
                request.scenario,
                reps=request.reps,
                seed=request.seed,
                attribution=request.attribution,
                parameter_draws=request.parameter_draws,
                executor=self.executor,
                on_done=on_done,
            )
        self._results[request.key] = result
        while len(self._results) > CACHE_COMPARISONS:
            self._results.popitem(last=False)
        return result

    def start(self, stages: list[Stage]) -> Job:
        """Run `stages` in the background, one after another."""
        return Job(self, stages)

    def close(self) -> None:
        self.executor.close()
