"""Named random streams from one SeedSequence, keyed so that common random numbers hold.

Two kinds of draws:
- `generator(name, *key)`: a numpy Generator for a named stream and a key (e.g. the month of
  arrivals). Same seed, name and key: same numbers, whatever else the run did.
- `keyed_uniforms(name, key, ids)`: one uniform per client for a (stream, month) pair, computed
  from the client's id by a counter-based hash (splitmix64), as Vivarium keys draws on the
  simulant. A client gets the same draw in every scenario even when the populations around it
  differ, and the cost grows with the clients asked for, not with all clients ever created.
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / float(1 << 53)


def _stream_id(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


class Streams:
    """All randomness of one replication, derived from one SeedSequence."""

    def __init__(self, seed: np.random.SeedSequence | int) -> None:
        self.seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._keys: dict[str, np.uint64] = {}

    def _child(self, name: str, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(
            self.seed.entropy, spawn_key=(*self.seed.spawn_key, _stream_id(name), *key)
        )

    def generator(self, name: str, *key: int) -> np.random.Generator:
        """A Generator for stream `name` at `key` (non-negative ints)."""
        return np.random.Generator(np.random.PCG64(self._child(name, *key)))

    def _stream_key(self, name: str) -> np.uint64:
        if name not in self._keys:
            self._keys[name] = np.uint64(self._child(name).generate_state(1, np.uint64)[0])
        return self._keys[name]

    def keyed_uniforms(self, name: str, key: int, ids: np.ndarray) -> np.ndarray:
        """Uniforms in [0, 1), one per id, fixed by (seed, stream, key, id)."""
        with np.errstate(over="ignore"):
            base = _mix(self._stream_key(name) ^ (np.uint64(key) * _GOLDEN))
            x = _mix(ids.astype(np.uint64) * _GOLDEN + base)
        return (x >> np.uint64(11)).astype(np.float64) * _TO_UNIT

    def keyed_block(self, names: tuple[str, ...], key: int, ids: np.ndarray) -> np.ndarray:
        """Uniforms for several streams at once: row i equals keyed_uniforms(names[i], key, ids)."""
        with np.errstate(over="ignore"):
            keys = np.array([self._stream_key(n) for n in names], dtype=np.uint64)
            base = _mix(keys ^ (np.uint64(key) * _GOLDEN))
            x = _mix(ids.astype(np.uint64)[None, :] * _GOLDEN + base[:, None])
        return (x >> np.uint64(11)).astype(np.float64) * _TO_UNIT

    def keyed_normals(self, name: str, key: int, ids: np.ndarray) -> np.ndarray:
        """Standard normals, one per id, by the inverse normal of keyed uniforms."""
        from scipy.special import ndtri

        u = self.keyed_uniforms(name, key, ids)
        return ndtri(np.clip(u, 1e-12, 1 - 1e-12))
