"""The corpus's data types: a discovered track (:class:`Candidate`), a rejected one, the
errors, track-id slugs, the seeded, genre-stratified split by track and the seeded split by
group (a singer's clips kept together).

Adapters (:mod:`vocalmix.corpus.adapters`) and finished songs for separation
(:mod:`vocalmix.corpus.separated`) both produce these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vocalmix import seeding

__all__ = ["AUDIO_EXTS", "Candidate", "Rejection", "TrackRejected", "CorpusError", "slug",
           "genre_slug", "GENRE_ALIASES", "assign_splits", "assign_group_splits", "split_candidates"]

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")


class CorpusError(RuntimeError):
    """A configuration or dataset problem that stops the run before any job."""


class TrackRejected(Exception):
    """One track cannot be used; ``file`` and ``reason`` say why."""

    def __init__(self, file: str | None, reason: str):
        self.file = file or ""
        self.reason = reason
        super().__init__(f"{file}: {reason}" if file else reason)


@dataclass
class Candidate:
    """A track found by discovery, before its audio is read.

    ``files`` maps a role (``vocal``, ``backing``, ``mixture``, ``raw_vocal``) to the files
    summed for it; layout ``stereo_lr`` means one stereo file whose left channel is the
    backing and right channel the raw vocal. ``group`` is what must not straddle splits
    (MIR-1K's singer), or None.
    """

    track_id: str
    dataset: str
    adapter: str
    split: str
    source: str
    genre: str | None
    files: dict[str, list[str]]
    layout: str = "stems"
    tempo_bpm: float | None = None
    room_ir: str | None = None
    truth: str | None = None
    origin: str = ""
    weight: float = 1.0
    group: str | None = None

    def all_files(self) -> list[str]:
        out = [f for files in self.files.values() for f in files]
        out += [f for f in (self.room_ir, self.truth) if f]
        return out


@dataclass
class Rejection:
    track_id: str
    dataset: str
    file: str
    reason: str

    def as_row(self) -> dict:
        return {"track_id": self.track_id, "dataset": self.dataset, "file": self.file,
                "reason": self.reason}


def slug(text: str) -> str:
    """Lower-case identifier safe in file names and Snakemake wildcards."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "x"


#: spellings of one genre in datasets' metadata -> the project's genre name, so that a
#: Jamendo "Hip-Hop" song and a demo "hiphop" song share one row of the genre table
GENRE_ALIASES = {
    "hip-hop": "hiphop", "hip-hop-rap": "hiphop", "hiphop-rap": "hiphop",
    "metal": "heavy-metal", "heavymetal": "heavy-metal",
    "singer-songwriter": "singer-songwriter", "singersongwriter": "singer-songwriter",
    "r-b": "rnb", "r-n-b": "rnb", "rhythm-and-blues": "rnb",
}


def genre_slug(text: str | None) -> str | None:
    """A metadata genre as the project's genre name: slugged (``Pop/Rock`` -> ``pop-rock``),
    then :data:`GENRE_ALIASES` applied (``Hip-Hop`` -> ``hiphop``, ``Metal`` ->
    ``heavy-metal``); None for no genre."""
    if text is None or str(text).strip() == "":
        return None
    s = slug(str(text))
    return GENRE_ALIASES.get(s, s)


def assign_splits(ids: list[str], genres: list[str | None], *, seed: int, test_fraction: float,
                  valid_fraction: float) -> dict[str, str]:
    """Deterministic split by track, stratified by genre.

    Test slots, then validation slots, are taken round-robin over genres (each genre's
    tracks in a seeded hash order), so every genre reaches the test split when it can.
    """
    n = len(ids)
    n_test = int(round(test_fraction * n))
    n_valid = int(round(valid_fraction * n))
    if test_fraction > 0 and n_test == 0 and n >= 3:
        n_test = 1
    if valid_fraction > 0 and n_valid == 0 and n - n_test >= 3:
        n_valid = 1
    groups: dict[str, list[str]] = {}
    for tid, g in zip(ids, genres):
        groups.setdefault(g or "", []).append(tid)
    for g in groups:
        groups[g].sort(key=lambda t: seeding.derive_seed(seed, "split", t))
    order = sorted(groups, key=lambda g: seeding.derive_seed(seed, "split-genre", g))
    split = {t: "train" for t in ids}
    for name, count in (("test", n_test), ("valid", n_valid)):
        taken = 0
        while taken < count and any(groups[g] for g in order):
            for g in order:
                if taken < count and groups[g]:
                    split[groups[g].pop(0)] = name
                    taken += 1
    return split


def assign_group_splits(ids: list[str], groups: list[str], *, seed: int, test_fraction: float,
                        valid_fraction: float) -> dict[str, str]:
    """Deterministic split that keeps every group (e.g. a singer's clips) in one split.

    Groups are visited in a seeded hash order; the test split takes each group that brings
    its clip count closer to ``round(test_fraction * len(ids))``, then the validation split
    does the same among the rest, and the remaining groups are training. A held-out split
    therefore never shares a singer with training. When ``test_fraction > 0`` the test split
    gets at least one group; the validation split gets one only when a training group is
    left beside it; training keeps at least one group whenever there are two or more.

    Parameters
    ----------
    ids : list of str
        Track ids.
    groups : list of str
        The group of each id (same length as ``ids``).
    seed : int
        ``config.seed``; the same seed and groups give the same split.
    test_fraction, valid_fraction : float
        Target shares of the *clips* (not of the groups), each in [0, 1].

    Returns
    -------
    dict
        track id -> ``"train"``, ``"valid"`` or ``"test"``.
    """
    if len(ids) != len(groups):
        raise ValueError(f"groups: {len(groups)} given for {len(ids)} ids")
    for name, frac in (("test_fraction", test_fraction), ("valid_fraction", valid_fraction)):
        if not 0.0 <= frac <= 1.0:
            raise ValueError(f"{name}={frac} outside [0, 1]")
    members: dict[str, list[str]] = {}
    for tid, g in zip(ids, groups):
        members.setdefault(g, []).append(tid)
    left = sorted(members, key=lambda g: (seeding.derive_seed(seed, "split-group", g), g))
    n = len(ids)
    split = {t: "train" for t in ids}
    for name, frac, min_left in (("test", test_fraction, 1), ("valid", valid_fraction, 2)):
        if frac <= 0 or not left:
            continue
        target = round(frac * n)
        chosen: list[str] = []
        taken = 0
        for g in left:
            if len(left) - len(chosen) <= 1 and (name == "valid" or len(members) > 1):
                break  # keep a training group
            size = len(members[g])
            if abs(taken + size - target) < abs(taken - target):
                chosen.append(g)
                taken += size
        if not chosen and len(left) >= min_left:
            chosen = left[:1]
        for g in chosen:
            for t in members[g]:
                split[t] = name
        left = [g for g in left if g not in chosen]
    return split


def split_candidates(cands: list["Candidate"], config: dict, *, by_group: bool = False) -> None:
    """Set each candidate's split, seeded by ``config["seed"]`` with the ``ingest`` test and
    validation fractions: stratified by genre (:func:`assign_splits`), or with each
    ``Candidate.group`` kept in one split (:func:`assign_group_splits`)."""
    ing = config["ingest"]
    ids = [c.track_id for c in cands]
    fractions = {"seed": int(config["seed"]), "test_fraction": float(ing["test_fraction"]),
                 "valid_fraction": float(ing["valid_fraction"])}
    splits = (assign_group_splits(ids, [c.group for c in cands], **fractions) if by_group
              else assign_splits(ids, [c.genre for c in cands], **fractions))
    for c in cands:
        c.split = splits[c.track_id]
