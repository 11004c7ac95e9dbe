"""Named, keyed random streams (sim/randomness.py): the draws depend only on (seed, stream, key,
client), and the compiled hash and inverse normal give what numpy and scipy give, bit for bit.

Keyed draws for a subset of clients are those clients' draws from the full set, so the month
step draws job types, contracts and the like only for the clients who need them.
"""

from __future__ import annotations

import numpy as np
import pytest
from bands import mean_band, share_band

from sim.randomness import MAX_SEED, Streams

pytestmark = pytest.mark.unit


def _splitmix_reference(words: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser written with numpy arrays (wrapping uint64 arithmetic)."""
    x = words.copy()
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def test_keyed_draws_of_a_subset_are_the_full_sets_draws():
    streams = Streams(np.random.SeedSequence(11, spawn_key=(3,)))
    ids = np.arange(5000)
    subset = np.sort(np.random.default_rng(0).choice(ids, 700, replace=False))
    full = streams.keyed_uniforms("job_type", 17, ids)
    assert np.array_equal(streams.keyed_uniforms("job_type", 17, subset), full[subset])
    assert not np.array_equal(streams.keyed_uniforms("exit", 17, subset), full[subset])
    assert not np.array_equal(streams.keyed_uniforms("job_type", 18, ids), full)


def test_keyed_draws_depend_on_the_seed_and_not_on_what_was_drawn_before():
    ids = np.arange(100)
    fresh = Streams(4).keyed_uniforms("exit", 2, ids)
    busy = Streams(4)
    busy.keyed_uniforms("review", 2, ids)
    busy.generator("initial_stock").random(1000)
    assert np.array_equal(busy.keyed_uniforms("exit", 2, ids), fresh)
    assert not np.array_equal(Streams(5).keyed_uniforms("exit", 2, ids), fresh)
    # a whole number seeds the same streams as its SeedSequence
    assert np.array_equal(Streams(np.random.SeedSequence(4)).keyed_uniforms("exit", 2, ids), fresh)


def test_a_generator_is_fixed_by_seed_name_and_key():
    streams = Streams(np.random.SeedSequence(7, spawn_key=(1,)))
    first = streams.generator("initial_stock").random(5)
    streams.generator("other").random(50)
    assert np.array_equal(streams.generator("initial_stock").random(5), first)
    assert not np.array_equal(streams.generator("initial_stock", 1).random(5), first)
    assert not np.array_equal(streams.generator("other").random(5), first)
    replication = Streams(np.random.SeedSequence(7, spawn_key=(2,)))
    assert not np.array_equal(replication.generator("initial_stock").random(5), first)


def test_the_largest_seed_is_32_bits():
    assert MAX_SEED == 2**32 - 1
    assert len(Streams(MAX_SEED).keyed_uniforms("exit", 0, np.arange(3))) == 3


def test_the_compiled_hash_is_splitmix64_written_with_numpy():
    from sim.randomness import _mix_one

    words = np.random.default_rng(1).integers(0, 2**63, 200, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    expected = [int(v) for v in _splitmix_reference(words)]
    assert [int(_mix_one(w)) for w in words] == expected


def test_keyed_uniforms_are_uniform():
    n = 200_000
    u = Streams(5).keyed_uniforms("exit", 3, np.arange(n))
    assert ((u >= 0) & (u < 1)).all()
    assert abs(u.mean() - 0.5) < mean_band(np.sqrt(1 / 12), n)
    assert abs((u < 0.1).mean() - 0.1) < share_band(0.1, n)


def test_keyed_uniforms_are_the_top_bits_of_the_hashed_word():
    from sim.randomness import keyed_uniform

    streams = Streams(np.random.SeedSequence(21, spawn_key=(2,)))
    keys = np.concatenate([np.arange(50), (np.arange(1, 40) << 42) + 7])
    for name in ("exit", "rediagnosis", "aftercare"):
        base = streams.bases((name,), 93)[0]
        words = _splitmix_reference(base + keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        expected = ((words >> np.uint64(11)).astype(np.float64) / 2.0**53).tolist()
        assert [keyed_uniform(base, k) for k in keys] == expected
        assert streams.keyed_uniforms(name, 93, keys).tolist() == expected


def test_the_bases_of_several_streams_are_each_streams_own():
    streams = Streams(3)
    names = ("exit", "review", "job_type")
    together = streams.bases(names, 12)
    assert [int(b) for b in together] == [int(streams.bases((n,), 12)[0]) for n in names]
    assert len({int(b) for b in together}) == len(names)
    assert int(streams.bases(("exit",), 13)[0]) != int(together[0])


def test_compiled_inverse_normal_is_scipys():
    from scipy.special import ndtri

    from sim.randomness import normal_quantile

    u = np.concatenate([np.random.default_rng(4).random(20_000), [0.0, 1.0, 1e-300, 0.5]])
    assert [normal_quantile(x) for x in u] == ndtri(np.clip(u, 1e-12, 1 - 1e-12)).tolist()
