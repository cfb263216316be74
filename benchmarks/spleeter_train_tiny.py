"""Train a tiny spleeter 2stems checkpoint locally -- run INSIDE spleeter's environment.

Used by ``benchmarks/spleeter_tiny_checkpoint.py`` (which prepares the data with the project's
environment). No pretrained weights can be downloaded here, so this makes a *real*
TensorFlow checkpoint of spleeter's own 2stems U-Nets (spleeter's ``model_fn``, its L1 mask
loss, Adam) from a few steps on the demo corpus's training stems: enough to check that the
``spleeter`` backend loads and runs a genuine checkpoint end to end, not to separate well.

    <spleeter python> benchmarks/spleeter_train_tiny.py --data DIR --model-dir MODELS/2stems

``DIR`` holds ``<n>.vocals.npy`` and ``<n>.accompaniment.npy`` (float32, ``(samples, 2)``,
44.1 kHz, at least 512 * 1024 samples).
"""

import argparse
import glob
import os

import numpy as np


def spectrogram(x, frame_length, frame_step, T, F):
    """|STFT| (Hann window, as spleeter's compute_spectrogram_tf), first T frames, F bins."""
    import tensorflow as tf
    from spleeter.audio.spectrogram import compute_spectrogram_tf

    spec = compute_spectrogram_tf(tf.constant(x), frame_length=frame_length,
                                  frame_step=frame_step, spec_exponent=1.0, window_exponent=1.0)
    return spec.numpy()[:T, :F, :]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    import tensorflow as tf
    from spleeter.model import model_fn
    from spleeter.utils.configuration import load_configuration

    params = load_configuration("spleeter:2stems")
    params["model_dir"] = os.path.abspath(args.model_dir)
    params["random_seed"] = 0
    T, F = params["T"], params["F"]
    feats, labels = [], {"vocals_spectrogram": [], "accompaniment_spectrogram": []}
    for vpath in sorted(glob.glob(os.path.join(args.data, "*.vocals.npy"))):
        v = np.load(vpath)
        a = np.load(vpath.replace(".vocals.npy", ".accompaniment.npy"))
        spec = lambda x: spectrogram(x, params["frame_length"], params["frame_step"], T, F)
        feats.append(spec(v + a))
        labels["vocals_spectrogram"].append(spec(v))
        labels["accompaniment_spectrogram"].append(spec(a))
    feats = np.stack(feats).astype(np.float32)
    labels = {k: np.stack(x).astype(np.float32) for k, x in labels.items()}

    def input_fn():
        ds = tf.data.Dataset.from_tensor_slices(({"mix_spectrogram": feats}, labels))
        return ds.repeat().batch(1)

    config = tf.estimator.RunConfig(tf_random_seed=0, save_checkpoints_steps=args.steps,
                                    save_summary_steps=args.steps)
    estimator = tf.estimator.Estimator(model_fn=model_fn, model_dir=params["model_dir"],
                                       params=params, config=config)
    estimator.train(input_fn, steps=args.steps)
    print("checkpoint:", tf.train.latest_checkpoint(params["model_dir"]))


if __name__ == "__main__":
    main()
