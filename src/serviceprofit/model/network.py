"""The network of customers and prospects: who hears whom, built from the run's key.

Word of mouth in the market travels along ties between people (referrals, reviews seen,
churn contagion; :mod:`serviceprofit.model.choice`). The ties are generated once per run, in
compiled code, straight into compressed sparse rows (CSR): ``indptr`` (int64, one more
than the nodes) and ``indices`` (int32: at most 2**31 - 1 people), each undirected tie
stored in both rows, rows sorted, no self-loops, no duplicate ties. Memory is linear in the ties
(8 bytes per tie plus 8 per node), so ten million people with ten friends each take
about 0.5 GB; no networkx on this path.

Every tie is a pure function of (run key, tie number): tie ``e`` draws
``uniform(key, Stream.NETWORK_*, attempt, e)``. The builder therefore never stores an
edge list: a first pass counts degrees, a second pass regenerates the same ties and
fills the rows (both in parallel over chunks of tie numbers, each chunk with its own
counts), and each row is then sorted and cleared of duplicates on its own. Sorting
makes the arrays the same on any number of threads. Same key, same arrays.

Cost (benchmarks/network_build.py, 10M people, degree 10, 2 shared cores): about 4 s
for ``small_world``, 13 s for ``scale_free`` and 35 s for ``homophily`` (one random read
per tie, into the people sorted by segment). Ties are generated in blocks and sorted by
bucket of rows before they are counted and written, so the big arrays are touched in
runs rather than at random (2-6x faster than writing each tie where it falls). Peak
memory is the arrays plus 4 bytes per person per chunk and 16 MB of buffers per chunk.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numba
import numpy as np
from numba import njit, prange

from serviceprofit.model.rng import Stream, uniform

if TYPE_CHECKING:
    import networkx

__all__ = [
    "KINDS",
    "CustomerNetwork",
    "Kind",
    "build_network",
    "clustering",
    "mesa_network",
    "to_networkx",
]

Kind = Literal["small_world", "scale_free", "homophily"]
KINDS: tuple[str, ...] = typing.get_args(Kind)
_ATTEMPTS = 8
"""Redraws of a tie's far end that lands on its own start, before the tie is dropped."""
_MAX_CHUNKS = 4
"""Most chunks of ties built in parallel (each holds 4 bytes per person while building)."""
_BLOCK = 1 << 18
"""Ties generated and sorted by bucket of rows at a time (16 MB of buffers per chunk)."""
_BUCKET_BITS = 10
"""Buckets of rows a block is sorted into (2**10)."""
_MESA_MAX_NODES = 1_000_000
"""Largest network handed to networkx/Mesa (about 1 kB per node there)."""

_TARGET = np.uint64(Stream.NETWORK_TARGET)
_REWIRE = np.uint64(Stream.NETWORK_REWIRE)
_MIX = np.uint64(Stream.NETWORK_MIX)


@dataclass(frozen=True)
class CustomerNetwork:
    """Undirected ties in compressed sparse rows: person ``i``'s neighbours are
    ``indices[indptr[i]:indptr[i + 1]]``, sorted ascending."""

    indptr: np.ndarray
    indices: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def n_ties(self) -> int:
        """Undirected ties (each is stored twice)."""
        return int(self.indptr[-1] // 2)

    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    def neighbours(self, node: int) -> np.ndarray:
        return self.indices[self.indptr[node] : self.indptr[node + 1]]

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes)


# ---------------------------------------------------------------------------
# One tie from the run's key


@njit(cache=True)
def _index(u, size):
    """A uniform integer in [0, size) from a uniform in [0, 1)."""
    i = np.int64(u * size)
    return i if i < size else size - 1


@njit(cache=True)
def _small_world_tie(key, e, n, half, rewiring):
    source = e // half
    target = (source + e % half + 1) % n
    if rewiring > 0.0 and uniform(key, _REWIRE, np.uint64(0), np.uint64(e)) < rewiring:
        for attempt in range(_ATTEMPTS):
            target = _index(uniform(key, _TARGET, np.uint64(attempt), np.uint64(e)), n)
            if target != source:
                return source, target
        return source, source
    return source, target


@njit(cache=True)
def _power_law_node(u, n, lo, span, inv_power, offset):
    """Inverse CDF of the continuous weights ``x ** -alpha`` on [offset, n + offset)."""
    x = (lo + u * span) ** inv_power
    return min(max(np.int64(x - offset), 0), n - 1)


@njit(cache=True)
def _scale_free_tie(key, e, n, lo, span, inv_power, offset):
    source = _power_law_node(
        uniform(key, _TARGET, np.uint64(0), np.uint64(e)), n, lo, span, inv_power, offset
    )
    for attempt in range(1, _ATTEMPTS + 1):
        u = uniform(key, _TARGET, np.uint64(attempt), np.uint64(e))
        target = _power_law_node(u, n, lo, span, inv_power, offset)
        if target != source:
            return source, target
    return source, source


@njit(cache=True)
def _homophily_tie(key, e, n, homophily, segment, order, start, size):
    source = e % n
    s = segment[source]
    own = size[s]
    within = own == n or uniform(key, _MIX, np.uint64(0), np.uint64(e)) < homophily
    for attempt in range(_ATTEMPTS):
        u = uniform(key, _TARGET, np.uint64(attempt), np.uint64(e))
        if within:
            target = order[start[s] + _index(u, own)]
        else:
            k = _index(u, n - own)
            target = order[k + own if k >= start[s] else k]
        if target != source:
            return source, target
    return source, source


# The kinds, as compiled code tells them apart: a number, not the kind's compiled tie
# function handed over as an argument. numba keys a cached function by its argument
# types, and a compiled function's type is that function object in this process: a new
# process never found its own in the disk cache, compiled the rows' loops again and
# added another entry to the cache's index, and once an entry's function had vanished
# the cache could no longer be written (ReferenceError: underlying object has vanished).
_SMALL_WORLD, _SCALE_FREE, _HOMOPHILY = range(3)


# ---------------------------------------------------------------------------
# Building the rows


@njit(cache=True, inline="always")
def _keep(a, b, rows, cols, k):
    """Tie (a, b) as row entries both ways, unless a self-loop; returns the entries."""
    if a != b:
        rows[k] = a
        cols[k] = b
        rows[k + 1] = b
        cols[k + 1] = a
        k += 2
    return k


@njit(cache=True)
def _endpoints(kind, key, lo, hi, n, fparams, iparams, segment, order, start, size, rows, cols):
    """Ties ``lo .. hi - 1`` as row entries both ways (``rows[k]`` holds ``cols[k]``):
    a loop per kind, so each is compiled for its kind's tie."""
    k = 0
    if kind == _SMALL_WORLD:
        half, rewiring = iparams[0], fparams[0]
        for e in range(lo, hi):
            a, b = _small_world_tie(key, e, n, half, rewiring)
            k = _keep(a, b, rows, cols, k)
    elif kind == _SCALE_FREE:
        lo_, span, inv_power, offset = fparams[0], fparams[1], fparams[2], fparams[3]
        for e in range(lo, hi):
            a, b = _scale_free_tie(key, e, n, lo_, span, inv_power, offset)
            k = _keep(a, b, rows, cols, k)
    else:
        homophily = fparams[0]
        for e in range(lo, hi):
            a, b = _homophily_tie(key, e, n, homophily, segment, order, start, size)
            k = _keep(a, b, rows, cols, k)
    return k


@njit(cache=True)
def _by_bucket(rows, cols, k, shift, heads, out_rows, out_cols):
    """Counting sort of ``k`` entries by ``row >> shift`` (a stable bucket order): the
    entries then touch the big arrays in address order, so memory is read in runs
    instead of at random (twice as fast for the kinds whose ties land anywhere)."""
    heads[:] = 0
    for j in range(k):
        heads[(rows[j] >> shift) + 1] += 1
    for b in range(1, heads.size):
        heads[b] += heads[b - 1]
    for j in range(k):
        b = rows[j] >> shift
        p = heads[b]
        out_rows[p] = rows[j]
        out_cols[p] = cols[j]
        heads[b] = p + 1


@njit(cache=True, parallel=True)
def _place_ties(
    fill, kind, key, m, n, fparams, iparams, segment, order, start, size, chunks, shift,
    counts, indptr, indices,
):  # fmt: skip
    """Tie numbers ``0..m`` in chunks, each chunk's ties drawn (``kind``: ``_SMALL_WORLD``
    ...) in blocks and sorted by bucket of rows, then placed. Without ``fill``: counted
    into the chunk's row of ``counts`` (ties per person). With ``fill``, once
    :func:`_offsets` has made ``indptr`` and the counts into where each chunk's ties
    start within a row: each tie written into both its rows of ``indices``. Every chunk
    counts into its own row and writes only its own slots of a row, so the chunks run in
    parallel; rows are sorted afterwards, so the result does not depend on the number of
    chunks. The ties are drawn twice (counted, then written) rather than stored."""
    for c in prange(chunks):
        mine = counts[c]
        rows, cols = np.empty(2 * _BLOCK, np.int32), np.empty(2 * _BLOCK, np.int32)
        out_rows, out_cols = np.empty(2 * _BLOCK, np.int32), np.empty(2 * _BLOCK, np.int32)
        heads = np.zeros((1 << _BUCKET_BITS) + 2, np.int64)
        lo, hi = m * c // chunks, m * (c + 1) // chunks
        for block in range(lo, hi, _BLOCK):
            end = min(block + _BLOCK, hi)
            k = _endpoints(
                kind, key, block, end, n, fparams, iparams, segment, order, start, size, rows, cols
            )
            _by_bucket(rows, cols, k, shift, heads, out_rows, out_cols)
            if fill:
                for j in range(k):
                    a = out_rows[j]
                    indices[indptr[a] + mine[a]] = out_cols[j]
                    mine[a] += 1
            else:
                for j in range(k):
                    mine[out_rows[j]] += 1


@njit(cache=True, parallel=True)
def _offsets(counts, indptr):
    """Row starts (``indptr``) from the counts, and each chunk's count turned into where
    its ties start within the row (the counts of the chunks before it)."""
    chunks, n = counts.shape
    degree = np.zeros(n, np.int64)
    for i in prange(n):
        run = 0
        for c in range(chunks):
            here = counts[c, i]
            counts[c, i] = run
            run += here
        degree[i] = run
    indptr[0] = 0
    for i in range(n):
        indptr[i + 1] = indptr[i] + degree[i]


_SHORT_ROW = 32
"""Rows up to this length are sorted by insertion (faster than a general sort there)."""


@njit(cache=True)
def _insertion_sort(row):
    for i in range(1, row.size):
        value = row[i]
        j = i - 1
        while j >= 0 and row[j] > value:
            row[j + 1] = row[j]
            j -= 1
        row[j + 1] = value


@njit(cache=True, parallel=True)
def _sort_unique_rows(indptr, indices):
    """Sort each row and move its distinct neighbours to the front; return their counts."""
    n = indptr.size - 1
    kept = np.zeros(n, np.int64)
    for i in prange(n):
        lo, hi = indptr[i], indptr[i + 1]
        if hi == lo:
            continue
        row = indices[lo:hi]
        if hi - lo <= _SHORT_ROW:
            _insertion_sort(row)
        else:
            row.sort()
        k = 1
        for j in range(1, hi - lo):
            if row[j] != row[k - 1]:
                row[k] = row[j]
                k += 1
        kept[i] = k
    return kept


@njit(cache=True)
def _compact(indptr, indices, kept):
    """Close the gaps left by removed repeats (rows only move left, so in place)."""
    n = indptr.size - 1
    out = 0
    for i in range(n):
        lo = indptr[i]
        for j in range(kept[i]):
            indices[out + j] = indices[lo + j]
        indptr[i] = out
        out += kept[i]
    indptr[n] = out
    return out


def _power_law_offset(n: int, ties: int, alpha: float) -> float:
    """The offset ``i0`` whose largest expected degree is ``sqrt(2 * ties)`` (bisection)."""
    cap = math.sqrt(2.0 * ties)
    one = 1.0 - alpha

    def top_degree(i0: float) -> float:
        total = (n + i0) ** one - i0**one
        return 2.0 * ties * ((i0 + 1.0) ** one - i0**one) / total

    lo, hi = 1e-9, float(n)
    if top_degree(lo) <= cap:
        return lo
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if top_degree(mid) > cap else (lo, mid)
    return hi


def build_network(
    key: np.uint64,
    n_nodes: int,
    kind: Kind,
    average_degree: int,
    *,
    rewiring: float = 0.1,
    exponent: float = 2.5,
    homophily: float = 0.8,
    segment: np.ndarray | None = None,
) -> CustomerNetwork:
    """The run's network over ``n_nodes`` people (customers and prospects, one id space).

    ``segment`` (integer codes, one per person) is needed by the ``homophily`` kind.
    Raises ``ValueError`` for parameters outside their ranges (the market schema checks
    them first, so a user meets that message instead).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not 2 <= n_nodes < 2**31 or average_degree < 1 or average_degree >= n_nodes:
        raise ValueError("need 2 to 2**31 - 1 people and 1 <= average_degree < people")
    n = int(n_nodes)
    ties = n * int(average_degree) // 2
    fparams = np.zeros(4)
    iparams = np.zeros(1, np.int64)
    segment_codes = np.zeros(1, np.int32)
    order = np.zeros(1, np.int32)
    start = np.zeros(1, np.int64)
    size = np.zeros(1, np.int64)
    if kind == "small_world":
        if average_degree % 2:
            raise ValueError(
                f"a small-world ring needs an even average_degree, got {average_degree}"
            )
        if not 0.0 <= rewiring <= 1.0:
            raise ValueError(f"rewiring must be in [0, 1], got {rewiring}")
        kind_code = _SMALL_WORLD
        iparams[0] = average_degree // 2
        fparams[0] = rewiring
    elif kind == "scale_free":
        if not 2.0 < exponent <= 4.0:
            raise ValueError(f"exponent must be in (2, 4], got {exponent}")
        kind_code = _SCALE_FREE
        alpha = 1.0 / (exponent - 1.0)
        offset = _power_law_offset(n, ties, alpha)
        one = 1.0 - alpha
        lo = offset**one
        fparams[:] = (lo, (n + offset) ** one - lo, 1.0 / one, offset)
    else:
        if segment is None or len(segment) != n:
            raise ValueError("the homophily kind needs one segment code per person")
        if not 0.0 <= homophily <= 1.0:
            raise ValueError(f"homophily must be in [0, 1], got {homophily}")
        kind_code = _HOMOPHILY
        segment_codes = np.ascontiguousarray(segment, dtype=np.int32)
        if segment_codes.min() < 0:
            raise ValueError("segment codes must be non-negative")
        size = np.bincount(segment_codes)
        start = np.concatenate(([0], np.cumsum(size)[:-1]))
        # people by segment, int32: the one random read per tie, so half the cache footprint
        order = np.argsort(segment_codes, kind="stable").astype(np.int32)
        fparams[0] = homophily
    key = np.uint64(key)
    args = (kind_code, key, ties, n, fparams, iparams, segment_codes, order, start, size)
    # one chunk of ties per thread, at most _MAX_CHUNKS: 4 bytes per person per chunk
    chunks = min(numba.get_num_threads(), _MAX_CHUNKS)
    shift = max(0, (n - 1).bit_length() - _BUCKET_BITS)
    counts = np.zeros((chunks, n), np.int32)
    indptr = np.empty(n + 1, np.int64)
    _place_ties(False, *args, chunks, shift, counts, indptr, np.empty(0, np.int32))
    _offsets(counts, indptr)
    indices = np.empty(int(indptr[-1]), np.int32)
    _place_ties(True, *args, chunks, shift, counts, indptr, indices)
    del counts
    kept = _sort_unique_rows(indptr, indices)
    total = _compact(indptr, indices, kept)
    del kept
    if total < indices.size:  # give back the repeats' room in place (no copy)
        indices.resize(total, refcheck=False)
    return CustomerNetwork(indptr, indices)


# ---------------------------------------------------------------------------
# Measures and the Mesa side


@njit(cache=True, parallel=True)
def _local_clustering(indptr, indices):
    n = indptr.size - 1
    out = np.zeros(n)
    for i in prange(n):
        lo, hi = indptr[i], indptr[i + 1]
        k = hi - lo
        if k < 2:
            continue
        closed = 0
        for a in range(lo, hi):
            j = indices[a]
            # sorted rows: count common neighbours of i and j by merging
            p, q = lo, indptr[j]
            qe = indptr[j + 1]
            while p < hi and q < qe:
                if indices[p] == indices[q]:
                    closed += 1
                    p += 1
                    q += 1
                elif indices[p] < indices[q]:
                    p += 1
                else:
                    q += 1
        out[i] = closed / (k * (k - 1))
    return out


def clustering(network: CustomerNetwork) -> float:
    """Average local clustering coefficient (Watts and Strogatz 1998), nodes of degree
    below 2 counting zero, as ``networkx.average_clustering`` does."""
    return float(_local_clustering(network.indptr, network.indices).mean())


def to_networkx(network: CustomerNetwork) -> networkx.Graph:
    """The same ties as a networkx graph, for small populations (the Mesa backend)."""
    import networkx as nx

    if network.n_nodes > _MESA_MAX_NODES:
        raise ValueError(
            f"{network.n_nodes} people is too many for networkx (at most {_MESA_MAX_NODES}); "
            "use the numba backend"
        )
    graph = nx.Graph()
    graph.add_nodes_from(range(network.n_nodes))
    rows = np.repeat(np.arange(network.n_nodes), network.degrees())
    upper = rows < network.indices
    graph.add_edges_from(zip(rows[upper].tolist(), network.indices[upper].tolist(), strict=True))
    return graph


def mesa_network(network: CustomerNetwork, random: Any = None) -> Any:
    """A ``mesa.discrete_space.Network`` over the same ties: one cell per person, so a
    Mesa customer's neighbours are exactly the compiled backend's row."""
    from mesa.discrete_space import Network

    return Network(to_networkx(network), random=random)
