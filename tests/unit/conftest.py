"""Unit-test collection: which tests ``make test-fast`` leaves out (marker ``slow``).

A test is slow when it runs a whole stage on generated songs: the module fixtures below
build a small corpus and push it through features, corruption, the dataset, training or the
genre classifier, which is what those tests are about. ``make test`` runs them all.
"""

from __future__ import annotations

import pytest

#: module fixtures that synthesise songs and run stages on them (several seconds each)
SLOW_FIXTURES = {"mini", "trained", "corpus", "songs"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
