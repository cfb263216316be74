"""The ``mir1k`` adapter on a small fixture in MIR-1K's layout (``Wavfile/<singer>_<song>_<n>``):
discovery, and the seeded split that keeps each singer's clips in one split."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest
import soundfile as sf

from vocalmix.config import validate_config
from vocalmix.corpus.adapters import discover
from vocalmix.corpus.tracks import assign_group_splits

#: 60 clips of 6 singers (MIR-1K's names, one with a capital).
SINGERS = {"Ani": 4, "abjones": 6, "amy": 8, "bobon": 10, "leon": 14, "yifen": 18}
SR = 16000


@pytest.fixture
def mir1k_root(tmp_path):
    wav = tmp_path / "MIR-1K" / "Wavfile"
    wav.mkdir(parents=True)
    stereo = np.zeros((160, 2), dtype=np.float32)
    for singer, n in SINGERS.items():
        for i in range(n):
            sf.write(wav / f"{singer}_{i // 5 + 1}_{i % 5 + 1:02d}.wav", stereo, SR,
                     subtype="PCM_16")
    (wav.parent / "PitchLabel").mkdir()  # MIR-1K's other folders are not clips
    (wav.parent / "PitchLabel" / "Ani_1_01.pv").write_text("0\n")
    return wav.parent


def config(root, seed=1, **entry):
    return validate_config({"datasets": [{"adapter": "mir1k", "root": str(root), **entry}],
                            "seed": seed})


def singer_splits(cands):
    out = defaultdict(set)
    for c in cands:
        out[c.group].add(c.split)
    return out


def test_discovery_finds_every_clip_with_its_singer(mir1k_root):
    cands, rejs = discover(config(mir1k_root))
    assert rejs == [] and len(cands) == 60
    assert len({c.track_id for c in cands}) == 60
    c = next(c for c in cands if c.origin.endswith("Ani_1_01.wav"))
    assert c.track_id == "mir1k_ani-1-01" and c.group == "ani"
    assert c.files == {"stereo": [str(mir1k_root / "Wavfile" / "Ani_1_01.wav")]}
    assert {(c.adapter, c.source, c.layout) for c in cands} == {("mir1k", "raw", "stereo_lr")}
    assert Counter(c.group for c in cands) == {s.lower(): n for s, n in SINGERS.items()}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_split_keeps_each_singer_in_one_split(mir1k_root, seed):
    cands, _ = discover(config(mir1k_root, seed=seed))
    groups = singer_splits(cands)
    assert all(len(s) == 1 for s in groups.values()), groups
    per_split = Counter(c.split for c in cands)
    assert set(per_split) == {"train", "valid", "test"}
    # the defaults (ingest.test_fraction 0.2, valid_fraction 0.1) target 12 and 6 clips; a
    # whole singer (at most 18 clips here) is the finest step
    assert abs(per_split["test"] - 12) <= max(SINGERS.values()) / 2
    assert abs(per_split["valid"] - 6) <= max(SINGERS.values()) / 2


def test_split_is_seeded(mir1k_root):
    first = {c.track_id: c.split for c in discover(config(mir1k_root, seed=7))[0]}
    again = {c.track_id: c.split for c in discover(config(mir1k_root, seed=7))[0]}
    assert first == again
    by_seed = {seed: frozenset(c.group for c in discover(config(mir1k_root, seed=seed))[0]
                               if c.split == "test") for seed in range(8)}
    assert len(set(by_seed.values())) > 1  # the seed chooses the test singers


def test_explicit_split_overrides_the_singer_split(mir1k_root):
    cands, _ = discover(config(mir1k_root, split="test"))
    assert {c.split for c in cands} == {"test"}


def test_ikala_clips_stay_in_test(tmp_path):
    wav = tmp_path / "iKala" / "Wavfile"
    wav.mkdir(parents=True)
    for name in ("10161_chorus", "10161_verse", "21025_chorus", "45380_verse"):
        sf.write(wav / f"{name}.wav", np.zeros((160, 2)), SR)
    cands, _ = discover(validate_config({"datasets": [{"adapter": "ikala",
                                                       "root": str(wav.parent)}]}))
    assert {c.split for c in cands} == {"test"}
    assert sorted({c.group for c in cands}) == ["10161", "21025", "45380"]


def test_group_split_small_cases():
    kw = dict(seed=1, test_fraction=0.2, valid_fraction=0.1)
    assert set(assign_group_splits(["a", "b"], ["x", "x"], **kw).values()) == {"test"}
    two = assign_group_splits(["a", "b", "c"], ["x", "y", "y"], **kw)
    assert sorted(two.values()) in (["test", "train", "train"], ["test", "test", "train"])
    three = assign_group_splits(["a", "b", "c"], ["x", "y", "z"], **kw)
    assert sorted(three.values()) == ["test", "train", "valid"]
    none = assign_group_splits(["a", "b"], ["x", "y"], seed=1, test_fraction=0.0,
                               valid_fraction=0.0)
    assert set(none.values()) == {"train"}


def test_group_split_bad_input():
    with pytest.raises(ValueError, match="groups"):
        assign_group_splits(["a", "b"], ["x"], seed=1, test_fraction=0.2, valid_fraction=0.1)
    with pytest.raises(ValueError, match="test_fraction"):
        assign_group_splits(["a"], ["x"], seed=1, test_fraction=1.5, valid_fraction=0.1)
