"""Two track folders whose ids collide do not stop the run (issue 17, item 9).

``My Song`` and ``my_song`` both become the id ``folder_my-song``; ingestion used to stop
with a CorpusError. Now the first keeps the id and the later one gets a row in
``rejected.tsv`` naming both folders; every other track is ingested.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from vocalmix.config import validate_config
from vocalmix.corpus.adapters import discover
from vocalmix.corpus.manifest import read_manifest, read_rejected
from vocalmix.stages.ingest import ingest as ingest_stage

SR = 16000


def _wav(path, channels=1, freq=220.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(4 * SR) / SR
    sf.write(path, np.tile((0.1 * np.sin(2 * np.pi * freq * t))[:, None], (1, channels)), SR,
             subtype="PCM_16")


def _track(root, name):
    _wav(root / name / "vocals.wav")
    _wav(root / name / "accompaniment.wav", channels=2, freq=110.0)


def _config(root):
    return validate_config({"datasets": [{"adapter": "folder", "root": str(root)}], "seed": 3,
                            "sample_rate": 22050,
                            "ingest": {"test_fraction": 0.0, "valid_fraction": 0.0}})


def test_colliding_ids_reject_the_later_track_and_the_run_goes_on(tmp_path):
    root = tmp_path / "takes"
    for name in ("My Song", "my_song", "other"):
        _track(root, name)
    cands, rejs = discover(_config(root))
    ids = [c.track_id for c in cands]
    assert len(ids) == len(set(ids)) == 2
    (clash,) = [r for r in rejs if "collides" in r.reason]
    kept = next(c for c in cands if c.track_id == clash.track_id)
    # the row names both folders: the rejected one (file) and the one keeping the id
    assert kept.origin == str(root / "My Song") and clash.file == str(root / "my_song")
    assert kept.origin in clash.reason

    out = {"tracks": str(tmp_path / "corpus" / "tracks.tsv"),
           "rejected": str(tmp_path / "corpus" / "rejected.tsv"),
           "audio": str(tmp_path / "corpus" / "audio")}
    ingest_stage({}, out, {"config": _config(root)}, threads=1)
    rows = read_manifest(out["tracks"])
    assert sorted(r["track_id"] for r in rows) == sorted(ids)
    rejected = read_rejected(out["rejected"])
    (row,) = [r for r in rejected if "collides" in r["reason"]]
    assert row["file"] == str(root / "my_song") and str(root / "My Song") in row["reason"]
