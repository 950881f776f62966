"""A pyabc sampler whose result does not depend on where or in what order particles ran.

pyabc's own parallel samplers reseed every job from the operating system
(``np.random.seed()``) and its multicore sampler forks the process (unsafe once numba's
threads have started), so a posterior drawn on a cluster cannot be drawn again. This
sampler numbers the proposals of each generation 0, 1, 2, ... and seeds proposal ``j``
of generation ``t`` from ``SeedSequence([seed, t, j])`` before pyabc draws its parameters
(and our model seeds the run from those parameters). A generation's sample is then the
shortest prefix of proposals 0, 1, 2, ... that holds ``n`` accepted particles, which is
what pyabc's Dask sampler already keeps (it sorts by job id and waits for every earlier
job), now with the seeds fixed: in this process, on a local Dask cluster or on a remote
scheduler, with any number of workers, the same seed gives the same posterior.

Jobs carry ``batch_size`` consecutive proposals each, to pay Dask's overhead once per
batch; the model is called once per particle, because pyabc draws, runs and judges one
particle at a time.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
from pyabc.sampler.base import Sampler

__all__ = ["SeededSampler"]


def _seed_proposal(seed: int, t: int, job: int) -> None:
    """Seed numpy's and Python's global generators (pyabc draws from both) for one proposal."""
    sequence = np.random.SeedSequence([int(seed), 0 if t < 0 else 1, abs(int(t)), int(job)])
    state = sequence.generate_state(4)
    np.random.seed(state)
    random.seed(int(state[0]))


def _run_jobs(simulate_one: Any, seed: int, t: int, jobs: list[int]) -> list[tuple[Any, bool, int]]:
    """Run proposals ``jobs`` of generation ``t``: (particle, accepted, job) each."""
    out = []
    for job in jobs:
        _seed_proposal(seed, t, job)
        particle = simulate_one()
        out.append((particle, bool(particle.accepted), job))
    return out


def _run_pickled(payload: bytes, seed: int, t: int, jobs: list[int]) -> list[tuple[Any, bool, int]]:
    """A Dask task: unpickle pyabc's ``simulate_one`` (a closure) and run the proposals."""
    import cloudpickle

    return _run_jobs(cloudpickle.loads(payload), seed, t, jobs)


def _prefix(results: list[tuple[Any, bool, int]], n: int) -> list[Any]:
    """The particles of proposals 0..k, k the ``n``-th accepted proposal."""
    ordered = sorted(results, key=lambda r: r[2])
    out, accepted = [], 0
    for particle, ok, job in ordered:
        if job != len(out):
            raise RuntimeError(f"proposal {len(out)} is missing from the generation's results")
        out.append(particle)
        accepted += ok
        if accepted == n:
            return out
    raise RuntimeError(f"only {accepted} of {n} particles were accepted")


class SeededSampler(Sampler):
    """Proposals seeded by (seed, generation, number); here or on a Dask ``client``."""

    def __init__(self, seed: int, client: Any = None, batch_size: int = 1) -> None:
        super().__init__()
        self.seed = int(seed)
        self.client = client
        self.batch_size = max(1, int(batch_size))

    def sample_until_n_accepted(
        self,
        n: int,
        simulate_one: Any,
        t: int,
        *,
        max_eval: float = np.inf,  # the stopping rules act between generations
        all_accepted: bool = False,
        ana_vars: Any = None,
    ) -> Any:
        if self.client is None:
            results = self._here(n, simulate_one, t)
        else:
            results = self._on_dask(n, simulate_one, t)
        particles = _prefix(results, n)
        sample = self._create_empty_sample()
        for particle in particles:
            sample.append(particle)
        self.nr_evaluations_ = len(particles)
        return sample

    def _here(self, n: int, simulate_one: Any, t: int) -> list[tuple[Any, bool, int]]:
        results: list[tuple[Any, bool, int]] = []
        accepted, job = 0, 0
        while accepted < n:
            result = _run_jobs(simulate_one, self.seed, t, [job])[0]
            results.append(result)
            accepted += result[1]
            job += 1
        return results

    def _on_dask(self, n: int, simulate_one: Any, t: int) -> list[tuple[Any, bool, int]]:
        import cloudpickle

        payload = self.client.scatter(cloudpickle.dumps(simulate_one), broadcast=True)
        cores = max(1, sum(self.client.ncores().values()))
        in_flight = 2 * cores
        running: dict[Any, int] = {}  # future -> its first proposal
        results: list[tuple[Any, bool, int]] = []
        next_job = 0

        def enough() -> int | None:
            """The n-th accepted proposal once it and every earlier one have come back."""
            ordered = sorted(results, key=lambda r: r[2])
            accepted = 0
            for i, (_, ok, job) in enumerate(ordered):
                if job != i:
                    return None
                accepted += ok
                if accepted == n:
                    return job
            return None

        while True:
            last = enough()
            if last is not None:
                for future, first in list(running.items()):
                    if first > last:
                        future.cancel()
                        del running[future]
                if not running:
                    return results
            accepted = sum(r[1] for r in results)
            while last is None and accepted < n and len(running) < in_flight:
                jobs = list(range(next_job, next_job + self.batch_size))
                future = self.client.submit(_run_pickled, payload, self.seed, t, jobs, pure=False)
                running[future] = next_job
                next_job += self.batch_size
            done = [future for future in running if future.done()]
            if not done:
                time.sleep(0.005)  # the client was not made the default: poll, as pyabc does
            for future in done:
                del running[future]
                results.extend(future.result())
