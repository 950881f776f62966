"""One seed scheme for every batch of runs: compare, claims, sweeps and bench.

Replicate ``i`` of base seed ``s`` runs on child ``i`` of ``SeedSequence(s)``, reduced
to 63 bits. So replicate ``i`` of a comparison, replicate ``i`` of the claims and the
sweep run keyed ``i`` with the same base seed are the same run, and two base seeds
share no replicate (``s + i`` would make replicate 1 of seed 0 replicate 0 of seed 1).
Seeds come from (base seed, index) alone, never from which worker ran a run or when.
"""

from __future__ import annotations

import numpy as np

__all__ = ["replicate_seed", "replicate_seeds"]


def replicate_seed(seed: int, index: int) -> int:
    """The seed of replicate ``index``: child ``index`` of ``SeedSequence(seed)``, as 63 bits.

    ``SeedSequence(seed, spawn_key=(index,))`` is exactly what
    ``SeedSequence(seed).spawn(index + 1)[index]`` returns, without spawning the others;
    63 bits keep the seed a positive int64 in Parquet.
    """
    child = np.random.SeedSequence(seed, spawn_key=(index,))
    return int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """The seeds of replicates ``0 .. replicates - 1`` of base seed ``seed``."""
    return [replicate_seed(seed, i) for i in range(replicates)]
