"""``vocalmix genre``: predict the genre of a backing track with the pipeline's classifier."""

from __future__ import annotations

import argparse
import json

from vocalmix.audio import AudioError
from vocalmix.cli._common import error

from vocalmix.layout import GENRE_MODEL

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "genre",
        help="predict the genre of a backing track (top-3 probabilities)",
        description=(
            "Predict the genre of each backing track with the pipeline's genre classifier "
            "(logistic regression on log-mel, spectral-shape, rhythm and loudness-range "
            "features of the backing, trained on the training split's metadata genres) and "
            "print the three most probable genres. A prediction below the threshold is "
            "marked: the rule-based mixer would use the overall average instead."),
    )
    p.add_argument("files", nargs="+", metavar="BACKING", help="backing tracks (any format "
                   "soundfile reads)")
    p.add_argument("--model", metavar="PATH", default=None,
                   help="genre classifier (model.json or its directory; default "
                        f"{GENRE_MODEL})")
    p.add_argument("--threshold", metavar="P", type=float, default=None,
                   help="confidence threshold to report against (default 0.5)")
    p.add_argument("--top", metavar="K", type=int, default=3,
                   help="how many genres to list (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object per file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vocalmix.models.genre import (DEFAULT_MODEL_PATH, GenreError, GenreSettings,
                                       load_classifier)

    threshold = (GenreSettings().confidence_threshold if args.threshold is None
                 else args.threshold)
    try:
        model = load_classifier(args.model or DEFAULT_MODEL_PATH)
    except GenreError as exc:
        error("genre", str(exc))
        return 2
    if not model.trained:
        error("genre", f"{args.model or DEFAULT_MODEL_PATH}: {model.reason}")
        return 2
    status = 0
    for path in args.files:
        try:
            pred = model.predict_file(path)
        except (AudioError, GenreError, ValueError, OSError) as exc:
            error("genre", str(exc))
            status = 1
            continue
        top = pred.top(max(1, args.top))
        confident = pred.confidence >= threshold
        if args.json:
            print(json.dumps({"file": path, "genre": pred.genre, "confidence": pred.confidence,
                              "confident": confident, "threshold": threshold,
                              "top": [{"genre": g, "probability": p} for g, p in top]}),
                  flush=True)
            continue
        note = "" if confident else (f"  (below the threshold {threshold:.2f}: the mixer would "
                                     "use the overall average)")
        print(f"{path}: {pred.genre} ({pred.confidence:.2f}){note}")
        for i, (g, p) in enumerate(top, 1):
            print(f"  {i}. {g:20s} {p:6.3f}")
    return status
