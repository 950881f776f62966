"""Where runs happen: evaluators as context managers, in the EMA Workbench's manner.

Each evaluator starts its workers on ``__enter__`` and stops them on ``__exit__``, and
offers one verb, :meth:`map_unordered`: apply a picklable function to items, keeping at
most a few items per worker in flight (so a million-run sweep never holds a million
futures), and yield ``(item, result, error)`` as each finishes, in whatever order.
Nothing here knows what a run is; nothing in a run knows where it runs.

- :class:`SequentialEvaluator`: in this process (debugging, tests, tiny sweeps).
- :class:`ProcessPoolEvaluator`: a local process pool, started with ``spawn`` for this
  pool only (never the global start method).
- :class:`DaskEvaluator`: a client of a running Dask scheduler (``tcp://HOST:PORT``).
- :class:`LocalDaskEvaluator`: a Dask ``LocalCluster`` of worker processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, Protocol

__all__ = [
    "DaskEvaluator",
    "EngineError",
    "Evaluator",
    "LocalDaskEvaluator",
    "ProcessPoolEvaluator",
    "SequentialEvaluator",
    "default_workers",
    "thread_environment",
]

Outcome = tuple[Any, Any, BaseException | None]


class EngineError(RuntimeError):
    """An evaluator could not start (no scheduler at the address, no workers)."""


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Evaluator(Protocol):
    name: str

    @property
    def workers(self) -> int: ...

    def __enter__(self) -> Evaluator: ...

    def __exit__(self, *exc: object) -> None: ...

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[Outcome]: ...


class SequentialEvaluator:
    """Runs everything here, one item after another."""

    name = "sequential"
    workers = 1

    def __enter__(self) -> SequentialEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        for item in items:
            try:
                yield item, fn(item), None
            except Exception as exc:
                yield item, None, exc


def thread_environment(threads: int) -> dict[str, str]:
    """Environment that caps a worker's compiled-code threads (numba's ``prange``, OpenMP).

    A sweep's parallelism is its workers; a worker whose numba kernels also start one
    thread per core oversubscribes the machine (2 workers x 2 threads on 2 cores).
    Read by numba when it is first imported, so it is set before any run.
    """
    return {"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}


def _prepare_worker(parent: int, threads: int) -> None:
    """Pool-worker initializer: cap threads, and leave when the sweep's process is gone.

    A worker of a ``ProcessPoolExecutor`` whose parent is killed (SIGKILL, a lost
    session) would otherwise wait on its task queue forever, as an orphan.
    """
    import threading
    import time

    os.environ.update(thread_environment(threads))

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ProcessPoolEvaluator:
    """A local pool of ``workers`` processes (default: every core this process may use),
    each allowed ``threads_per_worker`` compiled-code threads (default: cores / workers)."""

    name = "process pool"

    def __init__(
        self,
        workers: int | None = None,
        in_flight_per_worker: int = 2,
        threads_per_worker: int | None = None,
    ) -> None:
        self._workers = workers or default_workers()
        self._threads = threads_per_worker or max(1, default_workers() // self._workers)
        self._window = max(1, in_flight_per_worker) * self._workers
        self._pool: Any = None

    @property
    def workers(self) -> int:
        return self._workers

    def __enter__(self) -> ProcessPoolEvaluator:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            self._workers,
            mp_context=context,
            initializer=_prepare_worker,
            initargs=(os.getpid(), self._threads),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            interrupted = exc and exc[0] is not None
            self._pool.shutdown(wait=not interrupted, cancel_futures=True)
            self._pool = None

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        from concurrent.futures import FIRST_COMPLETED, wait

        if self._pool is None:
            raise EngineError("use the process pool inside a with block")
        source = iter(items)
        pending = {self._pool.submit(fn, item): item for item in islice(source, self._window)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                error = future.exception()
                yield item, None if error else future.result(), error
                for nxt in islice(source, 1):
                    pending[self._pool.submit(fn, nxt)] = nxt


class DaskEvaluator:
    """A client of a Dask scheduler; runs go to its workers, results come back here.

    A worker lost mid-task is the scheduler's to handle: it reruns the task elsewhere
    (up to ``distributed.scheduler.allowed-failures`` times, then reports
    ``KilledWorker``, which comes back here as that batch's error).
    """

    name = "dask"

    def __init__(self, address: str | None = None, in_flight_per_worker: int = 2) -> None:
        self.address = address
        self._per_worker = max(1, in_flight_per_worker)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The Dask client while the evaluator is entered (pyabc's samplers submit to it)."""
        return self._client

    @property
    def workers(self) -> int:
        if self._client is None:
            return 0
        return max(1, len(self._client.scheduler_info(n_workers=-1)["workers"]))

    def _connect(self) -> Any:
        from distributed import Client

        try:
            return Client(self.address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"--scheduler {self.address}: cannot connect ({exc})") from None

    def __enter__(self) -> DaskEvaluator:
        self._client = self._connect()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        from distributed import as_completed

        client = self._client
        if client is None:
            raise EngineError("use the Dask evaluator inside a with block")
        source = iter(items)
        owner: dict[str, Any] = {}
        queue = as_completed(loop=client.loop)
        window = self._per_worker * self.workers

        def refill() -> None:
            for item in islice(source, max(0, window - len(owner))):
                future = client.submit(fn, item, pure=False)
                owner[future.key] = item
                queue.add(future)

        refill()
        for finished, future in enumerate(queue, start=1):
            item = owner.pop(future.key)
            try:
                yield item, future.result(), None
            except Exception as exc:
                yield item, None, exc
            future.release()
            if finished % 32 == 0:  # workers may have joined or left the cluster
                window = self._per_worker * self.workers
            refill()


class LocalDaskEvaluator(DaskEvaluator):
    """A Dask cluster of ``workers`` single-threaded processes on this machine, each
    allowed ``threads_per_worker`` compiled-code threads (default: cores / workers)."""

    name = "local dask cluster"

    def __init__(
        self,
        workers: int | None = None,
        in_flight_per_worker: int = 2,
        threads_per_worker: int | None = None,
    ) -> None:
        super().__init__(None, in_flight_per_worker)
        self._n = workers or default_workers()
        self._threads = threads_per_worker or max(1, default_workers() // self._n)
        self._cluster: Any = None

    def _connect(self) -> Any:
        import logging

        from distributed import Client, LocalCluster

        self._cluster = LocalCluster(
            n_workers=self._n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            env=thread_environment(self._threads),
        )
        return Client(self._cluster, set_as_default=False)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
