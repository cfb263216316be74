"""Run demucs on one mixture from local weights, inside demucs's own environment.

Called by :func:`vocalmix.separation.external.run_demucs`, which has already checked the
weights folder. Imports only numpy, torch and demucs (no vocalmix); never downloads: the
model comes from ``--repo`` (as ``demucs --repo DIR -n NAME``).

    python demucs_runner.py --input mixture.npy --output stems.npz --repo DIR --name htdemucs

``mixture.npy``: float32 ``(2, samples)`` at the model's rate (44.1 kHz). The mixture is
standardised by its mono mean and deviation before the model and restored after, as the
demucs command line does. ``stems.npz``: one ``(2, samples)`` array per source. Exit
status 3: demucs is not importable here.
"""

import argparse
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--name", default="htdemucs")
    p.add_argument("--shifts", type=int, default=1)
    p.add_argument("--overlap", type=float, default=0.25)
    args = p.parse_args()
    try:
        import torch
        from demucs.apply import apply_model
        from demucs.pretrained import get_model
    except ImportError as exc:
        print(f"cannot import demucs: {exc}", file=sys.stderr)
        return 3
    model = get_model(args.name, repo=Path(args.repo))
    model.cpu().eval()
    wav = torch.from_numpy(np.load(args.input).astype(np.float32))
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    with torch.no_grad():
        sources = apply_model(model, ((wav - mean) / std)[None], shifts=args.shifts,
                              split=True, overlap=args.overlap, progress=False,
                              device="cpu")[0]
    sources = sources * std + mean
    np.savez(args.output, **{name: sources[i].numpy().astype(np.float32)
                             for i, name in enumerate(model.sources)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
