"""Named random streams from one SeedSequence, keyed so that common random numbers hold.

Two kinds of draws:
- `generator(name, *key)`: a numpy Generator for a named stream and a key (used for the start
  stock). Same seed, name and key: same numbers, whatever else the run did.
- `keyed_uniforms(name, key, ids)`: one uniform per client for a (stream, month) pair, computed
  from the client's random key by a counter-based hash (splitmix64), as Vivarium keys draws on
  the simulant; in compiled code `keyed_uniform(base, client_key)` with the stream's base word
  from `Streams.bases`. A client gets the same draw in every scenario even when the populations around
  it differ, and the cost grows with the clients asked for, not with all clients ever created.
  Newcomers' keys are fixed by their month and order of arrival (sim/inflow.arrival_key).
"""

from __future__ import annotations

import zlib

import llvmlite.binding
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

from sim.compiled import compiled

_GOLDEN, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / float(1 << 53)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)


MAX_SEED = 2**32 - 1
"""Largest root seed the project accepts everywhere: scipy's optimiser and samplers seed numpy's
legacy generator, which takes 32 bits, so one range serves every command."""


def _stream_id(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """All randomness of one replication, derived from one SeedSequence."""

    def __init__(self, seed: np.random.SeedSequence | int) -> None:
        self.seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._keys: dict[str, int] = {}
        self._key_arrays: dict[tuple[str, ...], np.ndarray] = {}

    def _child(self, name: str, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, _stream_id(name), *key))

    def generator(self, name: str, *key: int) -> np.random.Generator:
        """A Generator for stream `name` at `key` (non-negative ints)."""
        return np.random.Generator(np.random.PCG64(self._child(name, *key)))

    def _stream_key(self, name: str) -> int:
        if name not in self._keys:
            self._keys[name] = int(self._child(name).generate_state(1, np.uint64)[0])
        return self._keys[name]

    def keyed_uniforms(self, name: str, key: int, ids: np.ndarray) -> np.ndarray:
        """Uniforms in [0, 1), one per id (a client's random key), fixed by (seed, stream, key, id)."""
        return _keyed_uniforms(self.bases((name,), key)[0], np.asarray(ids, dtype=np.int64))

    def bases(self, names: tuple[str, ...], key: int) -> np.ndarray:
        """The base word of each stream at `key` (the stream's key and `key`, hashed), for keyed_uniform."""
        stream_keys = self._key_arrays.get(names)
        if stream_keys is None:
            stream_keys = self._key_arrays[names] = np.array([self._stream_key(n) for n in names], dtype=np.uint64)
        return _bases(stream_keys, key)


# scipy's own inverse normal (cephes ndtri), called from compiled code by symbol name, so the
# numbers are scipy's and compiled functions that use it can still be cached on disk
llvmlite.binding.add_symbol("caseload_ndtri", get_cython_function_address("scipy.special.cython_special", "ndtri"))
_ndtri = types.ExternalFunction("caseload_ndtri", types.float64(types.float64, types.intc))


@compiled
def normal_quantile(u: float) -> float:
    """A standard normal from a uniform by the inverse normal (clipped off 0 and 1, which map to infinity)."""
    return _ndtri(min(max(u, 1e-12), 1 - 1e-12), 0)


@compiled
def _mix_one(x: np.uint64) -> np.uint64:
    """splitmix64's finaliser on one word in compiled code."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    return x ^ (x >> _S31)


@compiled
def _bases(stream_keys: np.ndarray, key: int) -> np.ndarray:
    out = np.empty(len(stream_keys), np.uint64)
    golden_key = np.uint64(key) * _GOLDEN
    for k in range(len(stream_keys)):
        out[k] = _mix_one(stream_keys[k] ^ golden_key)
    return out


@compiled
def keyed_uniform(base: np.uint64, client_key: np.int64) -> float:
    """The keyed uniform of `client_key` in the stream whose base word (Streams.bases) is `base`:
    the top 53 bits of the hashed word as a float in [0, 1) (exact: 53 bits fit a double)."""
    return np.float64(_mix_one(base + np.uint64(client_key) * _GOLDEN) >> _S11) * _TO_UNIT


@compiled
def _keyed_uniforms(base: np.uint64, client_keys: np.ndarray) -> np.ndarray:
    out = np.empty(len(client_keys))
    for k in range(len(client_keys)):
        out[k] = keyed_uniform(base, client_keys[k])
    return out
