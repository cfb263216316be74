"""Run spleeter on one mixture, inside spleeter's own environment (not the project's).

Called by :func:`vocalmix.separation.external.run_spleeter`, which has already checked the
checkpoint under ``$MODEL_PATH/<model>``. Imports only numpy and spleeter (no vocalmix).

    python spleeter_runner.py --input mixture.npy --output stems.npz --model 2stems

``mixture.npy``: float32 ``(samples, 2)`` at 44.1 kHz. ``stems.npz``: one ``(samples, 2)``
array per instrument of the model. Exit status 3: spleeter is not importable here.
"""

import argparse
import sys

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--model", default="2stems")
    args = p.parse_args()
    try:
        from spleeter.separator import Separator
    except ImportError as exc:
        print(f"cannot import spleeter: {exc}", file=sys.stderr)
        return 3
    waveform = np.load(args.input).astype(np.float32)
    separator = Separator(f"spleeter:{args.model}", MWF=False, multiprocess=False)
    stems = separator.separate(waveform)
    np.savez(args.output, **{k: np.asarray(v, dtype=np.float32) for k, v in stems.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
