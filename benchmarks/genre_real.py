"""Genre classifier on held-out real songs: demo-only training against training with the
real songs' metadata genres (issue 24, item 4).

Reads a finished run's backing features (``results/genre/features.tsv``, rule
``genre_features``) and refits the pipeline's classifier (:func:`vocalmix.models.genre.
train_classifier`, the config's ``genre.regularisation_c``) in two ways:

* ``demo_only``: the synthetic dataset's training split alone (what a run without real songs
  learns);
* ``with_real``: the same plus the real training songs with a metadata genre, each real
  training song predicted by a model fitted without it (leave-one-song-out); the real test
  songs (e.g. the MUSDB previews) by the model fitted on all real training songs -- they are
  never trained on;
* ``real_only``: the real training songs alone, by the same protocol.

Baselines: the most frequent genre of each model's training labels (``majority_fold``), and
the most frequent genre of the real training songs (``majority_real``, for the real test
songs; for a left-out song computed without it). A genre that no training song of a fold
has cannot be predicted; the CSV says so per song.

    .venv/bin/python benchmarks/genre_real.py --results results \\
        [--out benchmarks/results/genre_real.csv]

after ``snakemake all --configfile config.yaml benchmarks/configs/real_songs.yaml``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from real_common import add_arguments, load_config, protocol_sets, write_tables

from vocalmix.corpus.adapters import synthetic_datasets
from vocalmix.models.genre import GenreSettings, majority_genre, read_features, train_classifier


def _predict(rows_train: list[dict], rows_test: list[dict], names: list[str], c: float
             ) -> list[str]:
    model = train_classifier(np.stack([r["x"] for r in rows_train]),
                             [r["genre"] for r in rows_train], feature_names=names, c=c)
    p = model.predict_proba(np.stack([r["x"] for r in rows_test]))
    return [model.labels[i] for i in np.argmax(p, axis=1)]


def evaluate(rows: list[dict], names: list[str], synthetic: list[str], c: float) -> list[dict]:
    """One row per real song with a metadata genre: true genre, both models' predictions and
    the baselines."""
    labelled = [r for r in rows if r["genre"] and r["genre_source"] == "metadata"]
    demo_train = [r for r in labelled if r["dataset"] in synthetic and r["split"] == "train"]
    real = [r for r in labelled if r["dataset"] not in synthetic]
    real_train = [r for r in real if r["split"] in ("train", "valid")]
    out = []
    demo_pred = _predict(demo_train, real, names, c) if real else []
    demo_major = majority_genre([r["genre"] for r in demo_train])
    for r, pd in zip(real, demo_pred):
        if r in real_train:
            others = [o for o in real_train if o is not r]
            train = demo_train + others
            protocol = "leave-one-song-out"
        else:
            others, train = real_train, demo_train + real_train
            protocol = "held-out test"
        pw = _predict(train, [r], names, c)[0]
        po = (_predict(others, [r], names, c)[0]
              if len({o["genre"] for o in others}) >= 2 else "")
        labels = {t["genre"] for t in train}
        out.append({
            "track_id": r["track_id"], "dataset": r["dataset"], "split": r["split"],
            "protocol": protocol, "genre": r["genre"],
            "genre_in_demo": int(r["genre"] in {t["genre"] for t in demo_train}),
            "genre_in_training": int(r["genre"] in labels),
            "demo_only": pd, "with_real": pw, "real_only": po,
            "majority_demo": demo_major,
            "majority_fold": majority_genre([t["genre"] for t in train]),
            "majority_real": majority_genre([o["genre"] for o in others]) if others else "",
        })
    return out


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for name, sel in protocol_sets(rows):
        acc = {k: float(np.mean([r[k] == r["genre"] for r in sel]))
               for k in ("demo_only", "with_real", "real_only", "majority_demo",
                         "majority_fold", "majority_real")}
        out.append({"set": name, "n": len(sel), **{f"accuracy_{k}": round(v, 3)
                                                   for k, v in acc.items()}})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(ap, "genre_real.csv")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    c = GenreSettings.from_mapping(cfg.get("genre") or {}).regularisation_c
    rows, names = read_features(Path(args.results) / "genre" / "features.tsv")
    per_song = evaluate(rows, names, synthetic_datasets(cfg), c)
    if not per_song:
        print("no real song with a metadata genre in", args.results, file=sys.stderr)
        return 1
    write_tables(args.out, per_song, summary(per_song))
    return 0


if __name__ == "__main__":
    sys.exit(main())
