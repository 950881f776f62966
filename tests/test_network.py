"""The customer network: its shape is what its parameters say, and its key alone fixes it."""

from __future__ import annotations

import random
import subprocess
import sys

import numba
import numpy as np
import pytest

from serviceprofit.model.network import (
    KINDS,
    build_network,
    clustering,
    mesa_network,
    to_networkx,
)
from serviceprofit.model.rng import run_key

N = 20_000
SEEDS = range(5)


def _segments(n: int, shares: tuple[float, ...] = (0.6, 0.3, 0.1)) -> np.ndarray:
    """Segment codes in the given shares, interleaved (ids carry no segment pattern)."""
    cuts = np.cumsum(shares)[:-1]
    u = (np.arange(n) * 0.6180339887498949) % 1.0
    return np.searchsorted(cuts, u, side="right")


def _build(seed: int, kind: str, degree: int = 10, n: int = N, **kwargs):
    return build_network(run_key(seed), n, kind, degree, segment=_segments(n), **kwargs)


def _ties(network) -> tuple[np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(network.n_nodes), network.degrees())
    return rows, network.indices.astype(np.int64)


@pytest.mark.parametrize("kind", KINDS)
def test_simple_undirected_graph(kind):
    """Rows sorted and strictly increasing (no repeats), no self-loops, every tie both ways."""
    network = _build(0, kind)
    rows, cols = _ties(network)
    assert network.indptr.dtype == np.int64 and network.indices.dtype == np.int32
    assert np.all(rows != cols)
    same_row = rows[1:] == rows[:-1]
    assert np.all(cols[1:][same_row] > cols[:-1][same_row])
    forward = np.sort(rows * N + cols)
    backward = np.sort(cols * N + rows)
    assert np.array_equal(forward, backward)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("degree", [4, 10])
def test_mean_degree_as_asked(kind, degree):
    """Mean degree within 1% of the parameter over five seeds (only self-loops that
    survive eight redraws and repeated ties are lost; the scale-free cut-off keeps
    repeats between hubs rare)."""
    for seed in SEEDS:
        mean = _build(seed, kind, degree).degrees().mean()
        assert degree * 0.99 <= mean <= degree, (seed, mean)


def test_small_world_clusters_like_a_lattice():
    """Watts-Strogatz: clustering ~ C(0) (1 - p)^3 with C(0) = 3(k-2)/(4(k-1)) (Barrat and
    Weigt 2000), within 0.02 for p = 0.05; full rewiring leaves a random graph whose
    clustering is about k/n, more than 50 times lower."""
    k = 10
    lattice = 3 * (k - 2) / (4 * (k - 1))
    for seed in SEEDS:
        small_world = clustering(_build(seed, "small_world", k, rewiring=0.05))
        random = clustering(_build(seed, "small_world", k, rewiring=1.0))
        assert small_world == pytest.approx(lattice * 0.95**3, abs=0.02)
        assert small_world > 50 * random
        assert random < 5 * k / N


def test_unrewired_ring_is_the_lattice():
    """Rewiring 0: each person's neighbours are the k/2 next on each side of the ring."""
    network = _build(0, "small_world", 6, n=50, rewiring=0.0)
    for node in (0, 7, 49):
        expected = sorted((node + d) % 50 for d in (-3, -2, -1, 1, 2, 3))
        assert network.neighbours(node).tolist() == expected


def test_scale_free_is_heavy_tailed():
    """Chung-Lu with exponent 2.5: the largest degree is over 20 times the mean (a random
    graph's is under 3 times), and the complementary CDF between degrees 20 and 200
    falls with a log-log slope of -(exponent - 1) = -1.5, within [-1.8, -1.2]."""
    n = 200_000
    for seed in range(3):
        degrees = build_network(run_key(seed), n, "scale_free", 10, exponent=2.5).degrees()
        assert degrees.max() > 20 * degrees.mean()
        grid = np.geomspace(20, 200, 8)
        ccdf = np.array([(degrees >= d).mean() for d in grid])
        slope = np.polyfit(np.log(grid), np.log(ccdf), 1)[0]
        assert -1.8 <= slope <= -1.2, (seed, slope)
        flat = _build(seed, "homophily", n=N, homophily=0.46).degrees()
        assert flat.max() < 3 * flat.mean()


def test_scale_free_cutoff():
    """No one's degree is far above the structural cut-off sqrt(n * mean degree)."""
    network = build_network(run_key(1), 50_000, "scale_free", 10)
    assert network.degrees().max() <= 1.2 * np.sqrt(50_000 * 10)


@pytest.mark.parametrize("homophily", [0.2, 0.5, 0.9])
def test_homophily_share_of_ties_within_segments(homophily):
    """The share of ties within a segment is the parameter, within 0.01, over five seeds."""
    segment = _segments(N)
    for seed in SEEDS:
        network = build_network(
            run_key(seed), N, "homophily", 10, homophily=homophily, segment=segment
        )
        rows, cols = _ties(network)
        within = (segment[rows] == segment[cols]).mean()
        assert within == pytest.approx(homophily, abs=0.01), seed


@pytest.mark.parametrize("homophily", [0.0, 1.0])
def test_homophily_extremes(homophily):
    """Homophily 1: every tie within a segment; 0: every tie across segments."""
    segment = _segments(2000)
    network = build_network(run_key(3), 2000, "homophily", 10, homophily=homophily, segment=segment)
    rows, cols = _ties(network)
    assert np.all((segment[rows] == segment[cols]) == bool(homophily))


@pytest.mark.parametrize("kind", KINDS)
def test_same_key_same_network_other_key_other(kind):
    """The run's key fixes the network bit for bit; another key gives another network."""
    a, b, c = _build(7, kind), _build(7, kind), _build(8, kind)
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert not (
        a.indptr.size == c.indptr.size
        and np.array_equal(a.indices, c.indices)
        and np.array_equal(a.indptr, c.indptr)
    )


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
@pytest.mark.parametrize("kind", KINDS)
def test_one_or_two_threads_same_bits(kind):
    """Rows are sorted in parallel; the result does not depend on the number of threads."""
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _build(4, kind)
        numba.set_num_threads(2)
        two = _build(4, kind)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one.indptr, two.indptr) and np.array_equal(one.indices, two.indices)


@pytest.mark.parametrize("kind", KINDS)
def test_memory_linear_in_ties(kind):
    """Eight bytes per undirected tie (two int32 entries) plus eight per person, nothing else."""
    network = _build(2, kind)
    assert network.nbytes == 8 * network.n_ties + 8 * (network.n_nodes + 1)
    assert network.indices.base is None  # no hidden larger buffer behind a view


def test_mesa_and_networkx_see_the_same_ties():
    """The Mesa backend's neighbours are the compiled rows: networkx and Mesa's Network."""
    network = _build(5, "small_world", 6, n=300, rewiring=0.3)
    graph = to_networkx(network)
    assert graph.number_of_nodes() == 300 and graph.number_of_edges() == network.n_ties
    for node in (0, 123, 299):
        assert sorted(graph.neighbors(node)) == network.neighbours(node).tolist()
    space = mesa_network(network, random=random.Random(0))
    cell = space._cells[123]
    assert sorted(c.coordinate for c in cell.connections.values()) == (
        network.neighbours(123).tolist()
    )


@pytest.mark.parametrize(
    ("kind", "kwargs", "match"),
    [
        ("ring", {}, "kind must be one of"),
        ("small_world", {"degree": 5}, "even average_degree"),
        ("small_world", {"rewiring": 1.5}, "rewiring must be in"),
        ("scale_free", {"exponent": 2.0}, "exponent must be in"),
        ("homophily", {"segment": None}, "one segment code per person"),
        ("homophily", {"homophily": -0.1}, "homophily must be in"),
    ],
)
def test_bad_parameters_say_what_is_allowed(kind, kwargs, match):
    """Out-of-range parameters raise ValueError naming the parameter and its range."""
    degree = kwargs.pop("degree", 4)
    segment = kwargs.pop("segment", _segments(100))
    with pytest.raises(ValueError, match=match):
        build_network(run_key(0), 100, kind, degree, segment=segment, **kwargs)


def test_a_new_process_finds_every_kind_compiled_on_disk():
    """The rows' loops of every kind are compiled once and then read from numba's disk
    cache by the next process. (While the kind was handed to them as a compiled
    function, each process compiled them again, since numba keys the cache by argument
    types and a function's type is that process's function object; the cache's index
    grew by an entry a process until writing it failed.)"""
    code = (
        "import numpy as np\n"
        "from serviceprofit.model import network\n"
        "for kind in network.KINDS:\n"
        "    network.build_network(np.uint64(1), 300, kind, 4, segment=np.arange(300) % 3)\n"
        "print(sum(sum(f.stats.cache_misses.values()) for f in (network._place_ties,)))\n"
    )
    misses = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr
        misses.append(int(done.stdout.split()[-1]))
    assert misses[1] == 0, f"the second process compiled again: {misses}"
