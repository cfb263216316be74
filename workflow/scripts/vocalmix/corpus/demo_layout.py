"""Names and genres of the demo songs (kept apart from the generator so that listing the
demo corpus, which Snakemake does while building its DAG, stays cheap)."""

from __future__ import annotations

__all__ = ["song_ids", "genre_of"]


def song_ids(n_songs: int) -> list[str]:
    """Track ids of the first ``n_songs`` demo songs: ``demo_000``, ``demo_001``, ..."""
    return [f"demo_{i:03d}" for i in range(n_songs)]


def genre_of(index: int, genres: list[str]) -> str:
    """Genres are dealt round-robin, so every genre has the same number of songs (+/-1)."""
    return genres[index % len(genres)]
