"""Benchmark: the genre classifier of the backing track (issue 12).

* Demo corpus as in ``config.yaml`` (48 songs, 4 genres; generated here with the config's
  seed, so the audio is the pipeline's): accuracy on the held-out test split and by
  stratified k-fold cross-validation over the training split, each beside the
  majority-class baseline; CV accuracy of other settings (C, feature groups) for context.
* The three MUSDB18-HQ previews in ``../shared/data/real`` (backing = drums + bass + other),
  predicted by the demo-trained classifier, against their genres in the MUSDB18 track
  list. The demo knows pop, rock, hiphop and ballad only; "Pop/Rock" counts as matched by
  pop or rock. Three songs can only show what the synthetic training does to real music.
* MIR-1K accompaniments (no genre metadata): how many would get a confident prediction and
  how many the overall average, at the configured threshold.
* Speed: feature extraction per track (12-s demo songs, a 3-minute backing), training.

Writes ``benchmarks/results/genre.csv``.

    .venv/bin/python benchmarks/genre.py
"""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
from vocalmix.audio import read_audio

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results"
REAL = ROOT.parent / "shared" / "data" / "real"
TRACKLIST = ROOT.parent / "shared" / "data" / "musdb18_tracklist.csv"
COMPATIBLE = {"pop/rock": {"pop", "rock"}, "rock": {"rock"}, "pop": {"pop"},
              "rap": {"hiphop"}, "singer/songwriter": {"ballad"}}


def _row(measure, value, unit, n=None, note=""):
    return {"measure": measure, "value": value, "unit": unit, "n": n, "note": note}


def demo_corpus(cfg):
    """(track ids, genres, splits, backings) of the configured demo corpus."""
    from vocalmix.corpus import demo
    from vocalmix.corpus.adapters import discover

    cands, _ = discover(cfg)
    out = []
    t0 = time.perf_counter()
    for c in cands:
        audio, _ = demo.generate_song(c.track_id, c.genre,
                                      duration_s=float(cfg["demo"]["duration_s"]),
                                      sample_rate=int(cfg["sample_rate"]), seed=int(cfg["seed"]))
        out.append((c.track_id, c.genre, c.split, audio["backing"]))
    print(f"generated {len(out)} demo songs in {time.perf_counter() - t0:.1f} s")
    return out


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import yaml

    from vocalmix import seeding
    from vocalmix.config import validate_config
    from vocalmix.models import genre as G
    from vocalmix.features.genre_features import backing_features, feature_names

    cfg = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    gcfg = cfg["genre"]
    sr = int(cfg["sample_rate"])
    names = feature_names()
    rows = []

    # ---- demo corpus
    songs = demo_corpus(cfg)
    t0 = time.perf_counter()
    feats = [backing_features(b, sr, excerpt_s=gcfg["excerpt_s"]) for _, _, _, b in songs]
    t_feat = (time.perf_counter() - t0) / len(songs)
    X = np.array([[f[n] for n in names] for f in feats])
    genres = np.array([g for _, g, _, _ in songs])
    split = np.array([s for _, _, s, _ in songs])
    tr, te = split == "train", split == "test"
    t0 = time.perf_counter()
    model = G.train_classifier(X[tr], genres[tr], feature_names=names,
                               c=gcfg["regularisation_c"], excerpt_s=gcfg["excerpt_s"])
    t_train = time.perf_counter() - t0
    p = model.predict_proba(X[te])
    pred = np.array([model.labels[i] for i in p.argmax(axis=1)])
    base = G.majority_genre(genres[tr].tolist())
    conf = p.max(axis=1)
    note = f"train {tr.sum()} / test {te.sum()} demo songs, {len(model.labels)} genres"
    rows += [_row("demo held-out test accuracy", float(np.mean(pred == genres[te])), "share",
                  int(te.sum()), note),
             _row("demo held-out majority baseline", float(np.mean(genres[te] == base)), "share",
                  int(te.sum()), f"always '{base}'"),
             _row("demo held-out mean confidence", float(conf.mean()), "probability",
                  int(te.sum())),
             _row("demo held-out share at confidence >= threshold",
                  float(np.mean(conf >= gcfg["confidence_threshold"])), "share", int(te.sum()),
                  f"threshold {gcfg['confidence_threshold']}")]
    seed = seeding.derive_seed(int(cfg["seed"]), "genre-cv")
    cv = G.cross_validate(X[tr], genres[tr], folds=gcfg["cv_folds"], seed=seed,
                          c=gcfg["regularisation_c"], feature_names=names)
    rows += [_row("demo CV accuracy (training split)", cv["accuracy"], "share", cv["n"],
                  f"{cv['folds']}-fold stratified by track, C = {gcfg['regularisation_c']}"),
             _row("demo CV majority baseline", cv["majority_baseline"], "share", cv["n"],
                  "majority genre of each fold's training part")]
    groups = {"log-mel mean+sd only": [i for i, n in enumerate(names) if n.startswith("mel_")],
              "rhythm+dynamics only": [i for i, n in enumerate(names) if n.split("_")[0] in
                                       ("tempo", "onset", "lra", "short", "plr", "flux")],
              "spectral shape only": [i for i, n in enumerate(names) if n.split("_")[0] in
                                      ("centroid", "bandwidth", "rolloff", "flatness")]}
    for label, cols in groups.items():
        r = G.cross_validate(X[tr][:, cols], genres[tr], folds=gcfg["cv_folds"], seed=seed,
                             c=gcfg["regularisation_c"], feature_names=[names[i] for i in cols])
        rows.append(_row(f"demo CV accuracy, {label}", r["accuracy"], "share", r["n"],
                         f"{len(cols)} features"))
    for c in (0.01, 0.1, 10.0):
        r = G.cross_validate(X[tr], genres[tr], folds=gcfg["cv_folds"], seed=seed, c=c,
                             feature_names=names)
        rows.append(_row(f"demo CV accuracy, C = {c}", r["accuracy"], "share", r["n"]))
    rows += [_row("feature extraction, 12-s demo backing", t_feat, "s/track", len(songs)),
             _row("training (logistic regression)", t_train, "s", int(tr.sum()))]

    # ---- a 3-minute backing (excerpts keep the cost flat)
    from vocalmix.corpus import demo

    long_audio, _ = demo.generate_song("demo_900", "rock", duration_s=180.0, sample_rate=sr,
                                       seed=1)
    t0 = time.perf_counter()
    pred_long = model.predict_audio(long_audio["backing"], sr)
    rows.append(_row("feature extraction + prediction, 3-min backing",
                     time.perf_counter() - t0, "s", 1,
                     f"{gcfg['excerpt_s']} s analysed; predicted {pred_long.genre} "
                     f"{pred_long.confidence:.2f} (true rock)"))

    # ---- MUSDB18-HQ previews
    previews = REAL / "musdb18hq_preview" / "test"
    if previews.is_dir() and TRACKLIST.is_file():
        with open(TRACKLIST, newline="") as fh:
            tracklist = {r["Track Name"].strip(): r["Genre"].strip() for r in csv.DictReader(fh)}
        hits = 0
        songs_ = sorted(p for p in previews.iterdir() if p.is_dir())
        for song in songs_:
            parts = [read_audio(song / f"{s}.wav", sample_rate=sr)[0]
                     for s in ("drums", "bass", "other")]
            n = min(x.shape[1] for x in parts)
            backing = np.sum([x[:, :n] for x in parts], axis=0)
            pr = model.predict_audio(backing, sr)
            truth = tracklist.get(song.name, "?")
            ok = pr.genre in COMPATIBLE.get(truth.lower(), set())
            hits += ok
            rows.append(_row(f"MUSDB preview: {song.name}", pr.confidence, "probability", 1,
                             f"track list '{truth}'; predicted {pr.describe(3)}; "
                             f"{'match' if ok else 'no match'}"))
        rows.append(_row("MUSDB previews matched (demo-trained)", hits / len(songs_), "share",
                         len(songs_), "Pop/Rock matched by pop or rock; Rock by rock"))
    else:
        print("../shared/data/real/musdb18hq_preview or the track list is absent: skipped")

    # ---- MIR-1K accompaniments: no genre metadata
    mir = REAL / "mir1k" / "Wavfile"
    mir = mir if mir.is_dir() else REAL / "mir1k"
    clips = sorted(mir.glob("*.wav")) if mir.is_dir() else []
    if clips:
        sources = Counter()
        predicted = Counter()
        for f in clips:
            x, fsr = read_audio(f)
            pr = model.predict_audio(x[:1], fsr)  # left channel: the accompaniment
            g, src = G.resolve_genre(None, pr, gcfg["confidence_threshold"])
            sources[src] += 1
            predicted[pr.genre] += 1
        rows.append(_row("MIR-1K accompaniments resolved by prediction",
                         sources["predicted"] / len(clips), "share", len(clips),
                         f"threshold {gcfg['confidence_threshold']}; predicted genres "
                         + ", ".join(f"{k} {v}" for k, v in predicted.most_common())))
        rows.append(_row("MIR-1K accompaniments falling back to the average",
                         sources["average"] / len(clips), "share", len(clips)))

    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "genre.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["measure", "value", "unit", "n", "note"])
        w.writeheader()
        for r in rows:
            v = r["value"]
            w.writerow({**r, "value": f"{v:.4f}" if isinstance(v, float) else v})
    for r in rows:
        v = r["value"]
        print(f"{r['measure']:55s} {v:10.4f} {r['unit']:12s} {r['n'] or '':>4} {r['note']}")


if __name__ == "__main__":
    main()
