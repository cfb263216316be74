"""Shared fixtures: a seeded RNG, the real-data folder, repository paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "data" / "real"


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(seed=440)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``../shared/data/real`` beside the project; tests using it skip only when it is absent."""
    if not REAL.is_dir():
        pytest.skip("../shared/data/real is absent")
    return REAL
