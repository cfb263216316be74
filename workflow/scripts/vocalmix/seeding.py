"""Seeds derived from ``config.seed`` and stable keys (track id, stage, index).

Every random choice in the project draws from ``rng(seed, *keys)`` so the same config
gives the same bytes, and adding a track does not change the random draws of others.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["derive_seed", "rng"]


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit integer seed from a base seed and any number of printable keys."""
    text = "\x1f".join([str(int(seed))] + [str(k) for k in keys])
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def rng(seed: int, *keys: object) -> np.random.Generator:
    """A numpy Generator seeded from ``derive_seed(seed, *keys)``."""
    return np.random.default_rng(derive_seed(seed, *keys))
