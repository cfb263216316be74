"""Rules ``train_genre_classifier`` and ``predict_genres``."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Mapping

import numpy as np

from vocalmix.files import write_json
from vocalmix.models.genre import (
    GENRES_COLUMNS,
    SOURCES,
    GenreSettings,
    confusion_matrix,
    cross_validate,
    evaluate_classifier,
    load_classifier,
    plot_confusions,
    read_features,
    resolve_genre,
    train_classifier,
)

log = logging.getLogger(__name__)

__all__ = ["train_genre_classifier", "predict_genres"]


def train_genre_classifier(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                           params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry (rule ``train_genre_classifier``)."""
    from vocalmix import seeding
    from vocalmix.tables import write_tsv

    cfg = GenreSettings.from_mapping(params["genre"])
    threshold = float(cfg.confidence_threshold)
    rows, names = read_features(inputs["features"])
    labelled = [r for r in rows if r["genre_source"] == "metadata" and r["genre"] != "unknown"]
    train = [r for r in labelled if r["split"] == "train"]
    X = np.stack([r["x"] for r in train]) if train else np.zeros((0, len(names)))
    y = [r["genre"] for r in train]
    model = train_classifier(X, y, feature_names=names, c=float(cfg.regularisation_c),
                             excerpt_s=float(cfg.excerpt_s))
    metrics: dict = {"labels": model.labels, "trained": model.trained, "reason": model.reason,
                     "n_train": len(train), "train_per_genre": dict(sorted(Counter(y).items())),
                     "confidence_threshold": threshold, "splits": {}, "cv": None}
    panels = []
    if model.trained:
        for split in ("valid", "test"):
            held = [r for r in labelled if r["split"] == split]
            metrics["splits"][split] = evaluate_classifier(model, held, y, threshold)
        cv = cross_validate(X, y, folds=int(cfg.cv_folds),
                            seed=seeding.derive_seed(int(params["seed"]), "genre-cv"),
                            c=float(cfg.regularisation_c), feature_names=names)
        metrics["cv"] = cv
        table = []
        for name, res in (("test", metrics["splits"]["test"]), ("cv", cv)):
            if not res or not res.get("n"):
                continue
            r_, c_, m = confusion_matrix(res["true"], res["predicted"], model.labels)
            title = ("held-out test split" if name == "test" else
                     f"{res['folds']}-fold CV over the training split")
            panels.append((f"{title}\naccuracy {res['accuracy']:.2f}, majority baseline "
                           f"{res['majority_baseline']:.2f} (n = {res['n']})", r_, c_, m))
            for i, g in enumerate(r_):
                table.append({"evaluation": name, "genre": g,
                              **{f"predicted_{c}": int(m[i, j]) for j, c in enumerate(c_)},
                              "n": int(m[i].sum()),
                              "recall": float(m[i, c_.index(g)] / m[i].sum())
                              if g in c_ and m[i].sum() else None})
        for split, res in metrics["splits"].items():
            if res.get("n"):
                log.info("%s split: accuracy %.3f (majority baseline %.3f, n = %d); %.0f %% at "
                         "confidence >= %.2f", split, res["accuracy"], res["majority_baseline"],
                         res["n"], 100 * res["confident_share"], threshold)
        if cv:
            log.info("%d-fold CV over %d training tracks: accuracy %.3f (majority baseline %.3f)",
                     cv["folds"], cv["n"], cv["accuracy"], cv["majority_baseline"])
        else:
            log.warning("cross-validation skipped: a genre has fewer than 2 training tracks")
    else:
        log.warning("genre classifier not trained: %s", model.reason)
        table = []
    cols = (["evaluation", "genre", *[f"predicted_{c}" for c in model.labels], "n", "recall"])
    write_tsv(outputs["confusion"], table, cols)
    plot_confusions(panels, outputs["plot"], note=model.reason or None)
    model.save(outputs["model"])
    write_json(outputs["metrics"], metrics)


def predict_genres(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                   params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry (rule ``predict_genres``): every track of ``tracks.tsv`` with its
    prediction (where its backing could be analysed) and resolved genre."""
    from vocalmix.corpus.manifest import read_manifest
    from vocalmix.tables import write_tsv

    threshold = float(params["confidence_threshold"])
    model = load_classifier(inputs["model"])
    feats, _ = read_features(inputs["features"])
    by_id = {r["track_id"]: r for r in feats}
    out = []
    for t in read_manifest(inputs["tracks"]):
        row = {k: t.get(k) for k in ("track_id", "dataset", "split", "genre", "genre_source")}
        pred = None
        if model.trained and t["track_id"] in by_id:
            p = model.predict_proba(by_id[t["track_id"]]["x"][None, :])[0]
            pred = model._prediction(p)
            row.update(genre_predicted=pred.genre, genre_confidence=pred.confidence,
                       genre_top3=pred.describe(3))
        genre, source = resolve_genre(t.get("genre") if t.get("genre_source") == "metadata"
                                      else None, pred, threshold)
        row.update(genre_resolved=genre, genre_resolved_source=source)
        out.append(row)
    write_tsv(outputs["genres"], out, list(GENRES_COLUMNS))
    counts = Counter(r["genre_resolved_source"] for r in out)
    log.info("genres of %d track(s): %s", len(out),
             ", ".join(f"{k} {counts[k]}" for k in SOURCES if counts[k]))
    for r in out:
        if r["genre_source"] != "metadata":
            log.info("%s: no metadata genre; predicted %s -> %s (%s)", r["track_id"],
                     r.get("genre_top3") or "nothing", r["genre_resolved"] or "overall average",
                     r["genre_resolved_source"])
