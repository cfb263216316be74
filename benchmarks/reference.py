"""Benchmark: reference matching (``vocalmix mix --reference``) and its speed with cleanup.

Accuracy of the balance (the output's vocal-to-backing ratio from ``--stems`` against the
reference's true ratio from its stems, integrated BS.1770 loudness over the whole songs):

* ``same_song`` -- each MUSDB18-HQ preview (``../shared/data/real/musdb18hq_preview/test``)
  as the reference, its own vocal 6 dB too soft or too loud and its backing as the inputs
  (issue 22's protocol; target: within 1.0 LU);
* ``cross_song`` -- preview A as the reference, preview B's vocal and backing as the inputs
  (the use the feature is for: the truth is A's ratio; no target, reported so that the
  same-song figures are not read as the general accuracy);
* ``demo`` -- the default demo's validation songs (12 s, generated) as references, with the
  song's processed vocal +6 dB (``vocal``) or its raw amateur take (``raw_vocal``) as input;
  the truth is the generator's ratio (issue target: within 0.5 LU);
* ``separated`` columns: the ratio the separated reference reads before calibration.

Instrumental references (``instrumental`` rows): each demo validation song's backing and each
preview's accompaniment as the reference; ``reliable`` must be false.

Speed (``speed`` rows): a 3-minute demo song (generated) mixed by the ``vocalmix mix``
command in a subprocess with a 3-minute reference (another generated song's mixture) and the
default cleanup, and without the reference; ``seconds`` is the command's wall time (start-up,
reading, separation, calibration, mixing, writing), ``cpu_s`` and ``peak_rss_mib`` from
``wait4`` (issue target: <= 30 s on 2 cores). ``loadavg`` is the machine's 1-minute load.

Writes ``benchmarks/results/reference.csv``.

    .venv/bin/python benchmarks/reference.py [--skip-speed]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vocalmix.audio import db_to_gain, read_audio, write_audio
from vocalmix.measure import loudness
from vocalmix.tables import fixed, write_table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
PREVIEWS = REPO.parent / "shared" / "data" / "real" / "musdb18hq_preview" / "test"
VOCALMIX = Path(sys.executable).parent / "vocalmix"
SR = 44100
COLUMNS = ("kind", "reference", "inputs", "offset_db", "true_lu", "separated_lu", "output_lu",
           "error_lu", "separated_error_lu", "reliable", "quality_si_sdr_db", "seconds",
           "cpu_s", "peak_rss_mib", "loadavg")


def _ratio(v: np.ndarray, b: np.ndarray, sr: int = SR) -> float:
    return loudness.integrated_loudness(v, sr) - loudness.integrated_loudness(b, sr)


def _mix(vocal: Path, backing: Path, reference: Path, out: Path) -> dict:
    """``vocalmix mix`` through the API (same code as the command), the stems' ratio."""
    import json

    from vocalmix.mixing.api import mix_files

    mix_files(vocal=str(vocal), backing=str(backing), output=str(out / "mix.wav"),
              reference=str(reference), stems=str(out), genre_model="none", threads=2)
    sv, sr = read_audio(out / "vocal.wav")
    sb, _ = read_audio(out / "backing.wav")
    a = json.loads((out / "mix.recipe.json").read_text())["analysis"]
    ref = a.get("reference", {})
    return {"output_lu": _ratio(sv, sb, sr),
            "separated_lu": ref.get("separated", {}).get("vocal_to_backing_lu"),
            "reliable": ref.get("reliable"),
            "quality_si_sdr_db": ref.get("separation", {}).get("quality_estimate_si_sdr_db")}


def _demo_valid() -> list[tuple[str, str]]:
    import yaml

    from vocalmix.corpus.demo_layout import genre_of, song_ids
    from vocalmix.corpus.tracks import assign_splits

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    d = cfg["demo"]
    ids = song_ids(int(d["songs"]))
    genres = [genre_of(i, d["genres"]) for i in range(len(ids))]
    splits = assign_splits(ids, genres, seed=int(cfg["seed"]), test_fraction=d["test_fraction"],
                           valid_fraction=d["valid_fraction"])
    return [(s, g) for s, g in zip(ids, genres) if splits[s] == "valid"], int(cfg["seed"])


def accuracy(tmp: Path) -> list[dict]:
    from vocalmix.mixing.reference import analyse_reference

    rows = []
    songs = sorted(PREVIEWS.iterdir()) if PREVIEWS.is_dir() else []
    data = {}
    for song in songs:
        mix, sr = read_audio(song / "mixture.wav")
        voc, _ = read_audio(song / "vocals.wav")
        data[song.name] = (mix, voc, mix - voc, _ratio(voc, mix - voc, sr))
    for name, (mix, voc, back, true) in data.items():
        write_audio(tmp / "b.wav", back, SR)
        for offset in (-6.0, 6.0):
            write_audio(tmp / "v.wav", voc * np.float32(db_to_gain(offset)), SR)
            r = _mix(tmp / "v.wav", tmp / "b.wav", PREVIEWS / name / "mixture.wav", tmp / "o")
            rows.append({"kind": "same_song", "reference": name, "inputs": name,
                         "offset_db": offset, "true_lu": true, **r})
            print(f"same song {name} {offset:+.0f} dB: {r['output_lu'] - true:+.2f} LU",
                  flush=True)
    for a, b in itertools.permutations(data, 2):
        _, voc, back, _ = data[b]
        write_audio(tmp / "v.wav", voc, SR)
        write_audio(tmp / "b.wav", back, SR)
        r = _mix(tmp / "v.wav", tmp / "b.wav", PREVIEWS / a / "mixture.wav", tmp / "o")
        rows.append({"kind": "cross_song", "reference": a, "inputs": b, "offset_db": 0.0,
                     "true_lu": data[a][3], **r})
        print(f"cross {a} <- {b}: {r['output_lu'] - data[a][3]:+.2f} LU", flush=True)
    for name, (mix, voc, back, true) in data.items():
        write_audio(tmp / "acc.wav", back, SR)
        t = analyse_reference(tmp / "acc.wav", SR, threads=2)
        rows.append({"kind": "instrumental", "reference": f"{name} (accompaniment)",
                     "reliable": t.reliable,
                     "separated_lu": t.separated.vocal_to_backing_lu})

    from vocalmix.corpus.demo import generate_song

    valid, seed = _demo_valid()
    for sid, genre in valid:
        audio, truth = generate_song(sid, genre, duration_s=12.0, sample_rate=SR, seed=seed)
        true = truth["targets"]["vocal_to_backing_lu"]
        write_audio(tmp / "ref.wav", audio["mixture"], SR)
        write_audio(tmp / "b.wav", audio["backing"], SR)
        for kind, offset in (("vocal", 6.0), ("vocal", -6.0), ("raw_vocal", 0.0)):
            write_audio(tmp / "v.wav", audio[kind] * np.float32(db_to_gain(offset)), SR)
            r = _mix(tmp / "v.wav", tmp / "b.wav", tmp / "ref.wav", tmp / "o")
            rows.append({"kind": "demo", "reference": sid, "inputs": kind,
                         "offset_db": offset, "true_lu": true, **r})
            print(f"demo {sid} {kind} {offset:+.0f}: {r['output_lu'] - true:+.2f} LU", flush=True)
        t = analyse_reference(tmp / "b.wav", SR, threads=2)
        rows.append({"kind": "instrumental", "reference": f"{sid} (backing)",
                     "reliable": t.reliable, "separated_lu": t.separated.vocal_to_backing_lu})
    for r in rows:
        if r.get("true_lu") is not None and r.get("output_lu") is not None:
            r["error_lu"] = r["output_lu"] - r["true_lu"]
            if r.get("separated_lu") is not None:
                r["separated_error_lu"] = r["separated_lu"] - r["true_lu"]
    return rows


def _run(args: list[str]) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen([str(VOCALMIX), *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"vocalmix {' '.join(args)} failed: {stderr.strip()}")
    return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024, "loadavg": os.getloadavg()[0]}


def speed(tmp: Path, repeats: int) -> list[dict]:
    from vocalmix.corpus.demo import generate_song

    song, _ = generate_song("speed_song", "pop", duration_s=180.0, sample_rate=SR, seed=1)
    ref, _ = generate_song("speed_reference", "rock", duration_s=180.0, sample_rate=SR, seed=2)
    write_audio(tmp / "raw.wav", song["raw_vocal"], SR, subtype="PCM_16", clip="clip")
    write_audio(tmp / "backing.wav", song["backing"], SR, subtype="PCM_16", clip="clip")
    write_audio(tmp / "ref.wav", ref["mixture"], SR, subtype="PCM_16", clip="clip")
    rows = []
    base = ["mix", "--vocal", str(tmp / "raw.wav"), "--backing", str(tmp / "backing.wav"),
            "--genre-model", "none", "--force"]
    for label, extra in (("3-min song, cleanup", []),
                         ("3-min song, cleanup, 3-min reference",
                          ["--reference", str(tmp / "ref.wav")])):
        runs = [_run(base + ["-o", str(tmp / "m.wav")] + extra) for _ in range(repeats)]
        best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        rows.append({"kind": "speed", "inputs": label, **best})
        print(f"{label}: {best['seconds']:.1f} s wall, {best['cpu_s']:.1f} s CPU, "
              f"{best['peak_rss_mib']:.0f} MiB (load {best['loadavg']:.1f})", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_accuracy:
            rows += accuracy(tmp)
        if not args.skip_speed:
            rows += speed(tmp, args.repeats)
    OUT.mkdir(parents=True, exist_ok=True)
    write_table(OUT / "reference.csv", rows, COLUMNS, cell=fixed(3), delimiter=",")
    for kind in ("same_song", "cross_song", "demo"):
        errs = [abs(r["error_lu"]) for r in rows if r["kind"] == kind and "error_lu" in r]
        if errs:
            print(f"{kind}: mean |error| {np.mean(errs):.2f} LU, max {np.max(errs):.2f} LU")
    print(f"wrote {OUT / 'reference.csv'}")


if __name__ == "__main__":
    main()
