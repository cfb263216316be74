"""Genre of a backing track: a trained classifier, and the one rule that picks a track's genre.

The rule-based mixer takes its vocal-to-backing ratio and vocal loudness range from the
genre's row of ``genre_stats.tsv`` (proposal IV.A.1). Many tracks come without a genre (a
user's beat, MIR-1K, DAMP-VSEP, separated songs), so:

* :class:`GenreClassifier` -- multinomial logistic regression (scikit-learn, L2, balanced
  class weights) on standardised :mod:`vocalmix.features.genre_features` of the backing,
  trained on the *training split's* tracks with a metadata genre, over the genres found
  there. It is saved as plain JSON (labels, feature names, scaler, coefficients): no pickle,
  same config -> same bytes, and prediction needs numpy only.
* :func:`resolve_genre` -- the order every consumer follows: an explicit override
  (``vocalmix mix --genre``), else the metadata genre, else the prediction when its
  probability reaches ``genre.confidence_threshold``, else none: the ``all`` row, the
  overall average (proposal: "for genres that are not included, the ratio will be set to
  the average value").

Stages: :func:`run_train` (rule ``train_genre_classifier``: ``results/genre/model.json``,
held-out and cross-validated ``confusion.tsv``/``.png``, ``metrics.json``) and
:func:`run_predict` (rule ``predict_genres``: ``results/corpus/genres.tsv``, the track
sheet's genre columns with the predictions filled in -- see :func:`read_genres`).
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from vocalmix.config import schema_settings
from vocalmix.files import save_figure, write_json
from vocalmix.layout import GENRE_MODEL

log = logging.getLogger(__name__)

__all__ = ["GenreSettings", "DEFAULT_MODEL_PATH", "SOURCES", "GenreError",
           "GenrePrediction", "GenreClassifier", "train_classifier", "load_classifier",
           "resolve_genre", "known_genre_list", "read_genres", "majority_genre",
           "cross_validate", "confusion_matrix", "GENRES_COLUMNS"]



@schema_settings("genre")
class GenreSettings:
    """The genre classifier and when its prediction is used (config section ``genre``;
    defaults from the schema)."""

    confidence_threshold: float
    excerpt_s: float
    regularisation_c: float
    cv_folds: int
    min_real_songs: int


_DEFAULTS = GenreSettings()
#: Where the pipeline writes the classifier; ``vocalmix mix`` / ``vocalmix genre`` look here.
DEFAULT_MODEL_PATH = GENRE_MODEL
FORMAT = "vocalmix-genre-classifier/1"
#: Where a resolved genre came from.
SOURCES = ("override", "metadata", "predicted", "average")
GENRES_COLUMNS = ("track_id", "dataset", "split", "genre", "genre_source", "genre_predicted",
                  "genre_confidence", "genre_top3", "genre_resolved", "genre_resolved_source")


class GenreError(ValueError):
    """An unknown genre name, or an unusable classifier file; the message says which."""


# --------------------------------------------------------------------------- predictions
@dataclass(frozen=True)
class GenrePrediction:
    """The classifier's answer: best genre, its probability, and every genre's probability
    (highest first)."""

    genre: str
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return list(self.probabilities.items())[:k]

    def describe(self, k: int = 3) -> str:
        """``"rock 0.83; pop 0.12; hiphop 0.03"``."""
        return "; ".join(f"{g} {p:.2f}" for g, p in self.top(k))


def _slug(genre: str | None) -> str | None:
    from vocalmix.corpus.tracks import genre_slug

    g = genre_slug(genre)
    return None if g in (None, "unknown") else g


def known_genre_list(known: Iterable[str]) -> list[str]:
    """The genres a caller has targets for, sorted, without the overall ``all`` row."""
    return sorted(g for g in known if g != "all")


def resolve_genre(metadata: str | Mapping | None = None,
                  prediction: GenrePrediction | tuple[str, float] | None = None,
                  threshold: float = _DEFAULTS.confidence_threshold,
                  known_genres: Iterable[str] | None = None,
                  override: str | None = None) -> tuple[str | None, str]:
    """The genre whose targets a track gets, and where it came from.

    Parameters
    ----------
    metadata : str, mapping or None
        The metadata genre (``"unknown"`` or empty = none), or a row of ``tracks.tsv`` /
        ``genres.tsv``: its ``genre`` counts when ``genre_source`` is ``metadata``, and its
        ``genre_predicted`` / ``genre_confidence`` serve as ``prediction`` if none is given.
    prediction : GenrePrediction or (genre, confidence), optional
        The classifier's answer for the track's backing.
    threshold : float
        A prediction is used when its confidence (probability) is at least this.
    known_genres : iterable of str, optional
        Genres the caller has targets for (e.g. the rows of ``genre_stats.tsv``). A metadata
        genre or a prediction outside them gives the average; an override outside them is
        an error. None accepts any genre.
    override : str, optional
        A genre the user chose (``vocalmix mix --genre``): used before anything else.

    Returns
    -------
    (genre or None, source)
        source is ``override``, ``metadata``, ``predicted`` or ``average``; genre is None
        exactly for ``average`` (use the ``all`` row).

    Raises
    ------
    GenreError
        ``override`` is not among ``known_genres``; the message lists the known genres.
    """
    known = None if known_genres is None else set(known_genres) - {"all"}
    if override is not None and str(override).strip():
        g = _slug(override)
        if g is None or (known is not None and g not in known):
            listed = ", ".join(known_genre_list(known or [])) or "(none)"
            raise GenreError(f"unknown genre {override!r}; known genres: {listed}")
        return g, "override"
    if isinstance(metadata, Mapping):
        row = metadata
        meta = row.get("genre") if row.get("genre_source", "metadata") == "metadata" else None
        if prediction is None and row.get("genre_predicted"):
            conf = row.get("genre_confidence")
            prediction = (str(row["genre_predicted"]),
                          float(conf) if conf not in (None, "") else 0.0)
    else:
        meta = metadata
    meta = _slug(meta)
    if meta is not None:
        if known is None or meta in known:
            return meta, "metadata"
        log.info("metadata genre %r has no targets: the overall average is used", meta)
        return None, "average"
    if prediction is not None:
        genre, conf = ((prediction.genre, prediction.confidence)
                       if isinstance(prediction, GenrePrediction) else prediction)
        if (genre and conf is not None and math.isfinite(float(conf))
                and float(conf) >= threshold and (known is None or genre in known)):
            return str(genre), "predicted"
    return None, "average"


# --------------------------------------------------------------------------- the classifier
@dataclass
class GenreClassifier:
    """Standardised features -> softmax over ``labels``.

    ``coef`` is ``(len(labels), len(feature_names))``; a two-genre logistic regression is
    stored in the same softmax form (its two rows are -w/2 and +w/2). ``excerpt_s`` is the
    seconds of backing its features analyse (``genre.excerpt_s`` when it was trained; every
    saved classifier records it). ``trained`` is False when the training split had fewer than
    two genres (``reason`` says why); such a classifier predicts nothing and every track
    without metadata gets the average.
    """

    labels: list[str]
    feature_names: list[str]
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]
    excerpt_s: float
    trained: bool = True
    reason: str = ""
    info: dict = field(default_factory=dict)

    # ---- prediction
    def predict_proba(self, X: NDArray) -> NDArray[np.float64]:
        """Probabilities ``(n, len(labels))`` for feature rows ``X`` ``(n, features)``."""
        if not self.trained:
            raise GenreError(f"the genre classifier is not trained: {self.reason}")
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        z = (X - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def _prediction(self, p: NDArray) -> GenrePrediction:
        order = np.argsort(-p, kind="stable")
        probs = {self.labels[i]: float(p[i]) for i in order}
        best = int(order[0])
        return GenrePrediction(self.labels[best], float(p[best]), probs)

    def predict_features(self, features: Mapping[str, float]) -> GenrePrediction | None:
        """The prediction for one feature dict (None when the classifier is untrained)."""
        if not self.trained:
            return None
        missing = [n for n in self.feature_names if n not in features]
        if missing:
            raise GenreError(f"features missing for the genre classifier: {', '.join(missing[:5])}")
        x = np.array([float(features[n]) for n in self.feature_names])
        return self._prediction(self.predict_proba(x[None, :])[0])

    def predict_audio(self, audio: NDArray, sample_rate: int,
                      name: str | None = None) -> GenrePrediction | None:
        """The prediction for a backing track ``(channels, samples)``."""
        from vocalmix.features.genre_features import backing_features

        if not self.trained:
            return None
        return self.predict_features(backing_features(audio, sample_rate,
                                                      excerpt_s=self.excerpt_s, name=name))

    def predict_file(self, path: str | os.PathLike) -> GenrePrediction | None:
        from vocalmix.features.genre_features import file_features

        if not self.trained:
            return None
        return self.predict_features(file_features(str(path), excerpt_s=self.excerpt_s))

    # ---- storage
    def to_dict(self) -> dict:
        return {"format": FORMAT, "labels": list(self.labels),
                "feature_names": list(self.feature_names), "excerpt_s": float(self.excerpt_s),
                "trained": bool(self.trained), "reason": self.reason,
                "scaler": {"mean": self.mean.tolist(), "scale": self.scale.tolist()},
                "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
                "info": self.info}

    def save(self, path: str | os.PathLike) -> None:

        write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict, *, path: str = "genre classifier") -> "GenreClassifier":
        from vocalmix.features.genre_features import feature_names

        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise GenreError(f"{path}: not a vocalmix genre classifier (format "
                             f"{d.get('format') if isinstance(d, dict) else None!r}, expected "
                             f"{FORMAT!r})")
        names = list(d["feature_names"])
        if names != feature_names():
            raise GenreError(f"{path}: trained on other features than this version of vocalmix "
                             "computes; retrain it (snakemake results/genre/model.json)")
        n = len(d["labels"]) if d.get("trained") else 0
        coef = np.asarray(d["coef"], dtype=np.float64).reshape(n, len(names))
        return cls(labels=list(d["labels"]), feature_names=names,
                   mean=np.asarray(d["scaler"]["mean"], dtype=np.float64),
                   scale=np.asarray(d["scaler"]["scale"], dtype=np.float64),
                   coef=coef, intercept=np.asarray(d["intercept"], dtype=np.float64),
                   excerpt_s=float(d["excerpt_s"]), trained=bool(d.get("trained")),
                   reason=str(d.get("reason", "")), info=dict(d.get("info", {})))


def load_classifier(path: str | os.PathLike) -> GenreClassifier:
    """A saved classifier: ``model.json`` or the directory holding it."""
    import json

    p = Path(path)
    if p.is_dir():
        p = p / "model.json"
    if not p.is_file():
        raise GenreError(f"{p}: no genre classifier there (train one with "
                         f"`snakemake {DEFAULT_MODEL_PATH}`)")
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise GenreError(f"{p}: unreadable genre classifier ({exc})") from None
    try:
        return GenreClassifier.from_dict(d, path=str(p))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, GenreError):
            raise
        raise GenreError(f"{p}: malformed genre classifier ({exc})") from None


def _untrained(labels: list[str], names: list[str], excerpt_s: float, reason: str,
               info: dict) -> GenreClassifier:
    z = np.zeros(len(names))
    return GenreClassifier(labels, names, z, np.ones(len(names)), np.zeros((0, len(names))),
                           np.zeros(0), excerpt_s=excerpt_s, trained=False, reason=reason,
                           info=info)


def train_classifier(X: NDArray, y: Sequence[str], *, feature_names: list[str],
                     c: float = _DEFAULTS.regularisation_c,
                     excerpt_s: float = _DEFAULTS.excerpt_s) -> GenreClassifier:
    """Fit the classifier on rows ``X`` with genres ``y`` (deterministic: L-BFGS, one thread).

    Fewer than two genres give an untrained classifier (see :class:`GenreClassifier`).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(list(y))
    labels = sorted(set(y.tolist()))
    info = {"n_tracks": int(len(y)), "per_genre": dict(sorted(Counter(y.tolist()).items())),
            "c": float(c), "class_weight": "balanced"}
    if len(labels) < 2:
        what = f"only one genre ({labels[0]})" if labels else "no track with a genre"
        return _untrained(labels, feature_names, excerpt_s,
                          f"{what} in the training split; a classifier needs two or more", info)
    with threadpool_limits(1):
        scaler = StandardScaler().fit(X)
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        lr = LogisticRegression(C=float(c), max_iter=5000, class_weight="balanced")
        lr.fit((X - scaler.mean_) / scale, y)
    classes = [str(k) for k in lr.classes_]
    coef, intercept = lr.coef_.astype(np.float64), lr.intercept_.astype(np.float64)
    if coef.shape[0] == 1:  # binary: sigmoid(w.x + b) == softmax of (-w/2, +w/2)
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    info["iterations"] = int(np.max(lr.n_iter_))
    return GenreClassifier(classes, list(feature_names), scaler.mean_.astype(np.float64),
                           scale.astype(np.float64), coef, intercept, excerpt_s=excerpt_s,
                           info=info)


def majority_genre(y: Sequence[str]) -> str:
    """Most frequent genre (ties: alphabetical first) -- the baseline's constant answer."""
    counts = Counter(y)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def cross_validate(X: NDArray, y: Sequence[str], *, folds: int, seed: int, c: float,
                   feature_names: list[str]) -> dict | None:
    """Stratified k-fold over tracks: out-of-fold predictions and the majority baseline.

    ``folds`` is capped by the smallest genre's count; None when fewer than 2 folds fit.
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(list(y))
    if len(set(y.tolist())) < 2:
        return None
    k = min(int(folds), min(Counter(y.tolist()).values()))
    if k < 2:
        return None
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed % (2 ** 32))
    pred = np.empty(len(y), dtype=object)
    base = np.empty(len(y), dtype=object)
    for tr, te in skf.split(np.zeros(len(y)), y):
        model = train_classifier(X[tr], y[tr], feature_names=feature_names, c=c)
        p = model.predict_proba(X[te])
        pred[te] = [model.labels[i] for i in np.argmax(p, axis=1)]
        base[te] = majority_genre(y[tr].tolist())
    return {"folds": k, "n": int(len(y)), "true": y.tolist(), "predicted": pred.tolist(),
            "accuracy": float(np.mean(pred == y)),
            "majority_baseline": float(np.mean(base == y))}


def confusion_matrix(true: Sequence[str], predicted: Sequence[str],
                     labels: Sequence[str]) -> tuple[list[str], list[str], NDArray]:
    """(row genres, column genres, counts): rows are the true genres found (plus any the
    classifier knows), columns the classifier's labels."""
    rows = sorted(set(true) | set(labels))
    cols = list(labels)
    m = np.zeros((len(rows), len(cols)), dtype=int)
    for t, p in zip(true, predicted):
        m[rows.index(t), cols.index(p)] += 1
    return rows, cols, m


# --------------------------------------------------------------------------- tables
def read_features(path) -> tuple[list[dict], list[str]]:
    """The rows of ``features.tsv`` (each with its feature vector ``x``) and the feature names."""
    from vocalmix.features.genre_features import feature_names

    names = feature_names()
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        missing = [n for n in ("track_id", "split", "genre", "genre_source", *names)
                   if n not in (reader.fieldnames or [])]
        if missing:
            raise GenreError(f"{path}: missing column(s) {', '.join(missing[:5])}; rebuild it "
                             "(rule genre_features)")
        rows = list(reader)
    for r in rows:
        r["x"] = np.array([float(r[n]) for n in names], dtype=np.float64)
    return rows, names


def read_genres(path: str | os.PathLike) -> dict[str, dict]:
    """``results/corpus/genres.tsv`` as track_id -> row (``genre_confidence`` a float,
    empty cells None). ``row['genre_resolved']`` (None = the average) and
    ``row['genre_resolved_source']`` are what a mixer should use for the track."""
    out = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        missing = [c for c in GENRES_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise GenreError(f"{path}: missing column(s) {', '.join(missing)}")
        for raw in reader:
            row = {k: (v if v != "" else None) for k, v in raw.items()}
            if row["genre_confidence"] is not None:
                row["genre_confidence"] = float(row["genre_confidence"])
            out[row["track_id"]] = row
    return out


def plot_confusions(panels: list[tuple[str, list[str], list[str], NDArray]], path,
                     note: str | None = None) -> None:
    """One confusion-matrix panel per ``(title, rows, columns, counts)`` as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.9), squeeze=False)
    for ax, (title, rows, cols, m) in zip(axes[0], panels):
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.6 else "black")
        ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xlabel("predicted genre", fontsize=8)
        ax.set_ylabel("metadata genre", fontsize=8)
        ax.set_title(title, fontsize=9)
    if not panels:
        axes[0][0].axis("off")
        axes[0][0].text(0.5, 0.5, note or "no evaluation possible", ha="center", va="center",
                        wrap=True, fontsize=9)
    fig.suptitle("genre classifier of the backing: confusion (counts; shade = row share)",
                 fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def evaluate_classifier(model: GenreClassifier, rows: list[dict], train_y: list[str],
                        threshold: float) -> dict:
    """Accuracy on held-out ``rows`` beside the majority baseline of ``train_y``, and the
    share and accuracy of the predictions whose confidence reaches ``threshold``."""
    y = [r["genre"] for r in rows]
    if not rows:
        return {"n": 0}
    p = model.predict_proba(np.stack([r["x"] for r in rows]))
    pred = [model.labels[i] for i in np.argmax(p, axis=1)]
    conf = p.max(axis=1)
    sure = conf >= threshold
    base = majority_genre(train_y)
    ok = np.array([a == b for a, b in zip(pred, y)])
    return {"n": len(rows), "accuracy": float(ok.mean()),
            "majority_genre": base,
            "majority_baseline": float(np.mean([g == base for g in y])),
            "genres_outside_labels": sorted(set(y) - set(model.labels)),
            "confident_share": float(sure.mean()),
            "confident_accuracy": float(ok[sure].mean()) if sure.any() else None,
            "mean_confidence": float(conf.mean()),
            "true": y, "predicted": pred, "track_ids": [r["track_id"] for r in rows],
            "confidence": [float(c) for c in conf]}
