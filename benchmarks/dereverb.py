"""Benchmark: WPE dereverberation settings for the corruption stage.

The corruption stage removes the reverberation of processed vocals with WPE (nara-wpe) so
that the reverb model's target cannot be read off its input. Which STFT size, taps and
prediction delay? For each setting and each case, the dereverberated vocal is compared with
the dry reference (the same vocal before the room, aligned on the response's direct sound):

* demo songs: the professional chain (high-pass, EQ, compressor, from ``truth.json``) applied
  to the dry vocal is the reference; the wet vocal is that convolved with the song's room;
* real voices: the solo recordings in ``../shared/data/real/solo_vocals`` convolved with the
  measured responses in ``../shared/data/real/irs`` (skipped when that folder is absent).

Figures: scale-invariant SDR (dB, higher is better), mean absolute log-spectral distance over
the time-frequency cells within 60 dB of the reference's peak (dB, lower is better; a level
offset is removed first), seconds per minute of audio, and -- on dry demo vocals, where
there is nothing to remove -- the level change in the middle of sustained (>= 1 s) and short
notes (dB): what WPE eats of sung notes. Writes ``benchmarks/results/dereverb.csv``.

``--blocks`` compares, for the stage's setting only, whole-song WPE with the blocked WPE the
stage runs (:data:`~vocalmix.dsp.corruption.WPE_BLOCKS`; songs of ``--duration-s`` over one
block are cut; issue 19) -- or with each ``--block-settings`` block length and overlap --
and writes ``dereverb_blocks.csv``.

    .venv/bin/python benchmarks/dereverb.py [--songs 8]
    .venv/bin/python benchmarks/dereverb.py --blocks --songs 6 --duration-s 75 --no-real \
        [--block-settings 30:5 45:5 60:5]
"""

from __future__ import annotations

import argparse
import glob
import statistics
import time
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.signal import oaconvolve

from vocalmix.corpus import demo
from vocalmix.corpus.demo_layout import genre_of, song_ids
from vocalmix.dsp.corruption import WPE, WPE_BLOCKS, dereverberate, sustained_note_loss_db
from vocalmix.dsp.effects import (CompressorSettings, EQBand, apply_compressor, apply_eq,
                                  apply_highpass)
from vocalmix.audio import read_audio
from vocalmix.tables import fixed, write_table

OUT = Path(__file__).resolve().parent / "results"
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"
SR = 44100
SETTINGS = {
    "1024/256 taps10 d3": {"size": 1024, "shift": 256, "taps": 10, "delay": 3},
    "1024/256 taps20 d3": {"size": 1024, "shift": 256, "taps": 20, "delay": 3},
    "2048/512 taps10 d2": {"size": 2048, "shift": 512, "taps": 10, "delay": 2},
    "2048/512 taps20 d2": {"size": 2048, "shift": 512, "taps": 20, "delay": 2},
    "2048/512 taps30 d2": {"size": 2048, "shift": 512, "taps": 30, "delay": 2},
}


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    n = min(ref.size, est.size)
    ref, est = ref[:n].astype(np.float64), est[:n].astype(np.float64)
    scale = np.dot(est, ref) / np.dot(ref, ref)
    noise = est - scale * ref
    return float(10 * np.log10(np.sum((scale * ref) ** 2) / np.sum(noise ** 2)))


def log_spectral_distance(ref: np.ndarray, est: np.ndarray) -> float:
    n = min(ref.size, est.size)
    _, _, a = signal.stft(ref[:n], SR, nperseg=2048)
    _, _, b = signal.stft(est[:n], SR, nperseg=2048)
    a = 10 * np.log10(np.abs(a) ** 2 + 1e-10)
    b = 10 * np.log10(np.abs(b) ** 2 + 1e-10)
    cells = a > a.max() - 60
    offset = np.median(b[cells] - a[cells])
    return float(np.mean(np.abs(b[cells] - offset - a[cells])))


def cases(n_songs: int, seed: int, duration_s: float = 20.0, real: bool = True):
    """(name, dry reference, wet, dry vocal or None, notes or None)."""
    genres = list(demo.GENRES)
    for i, song in enumerate(song_ids(n_songs)):
        audio, truth = demo.generate_song(song, genre_of(i, genres), duration_s=duration_s,
                                          sample_rate=SR, seed=seed)
        p = truth["professional"]
        x = apply_highpass(audio["dry_vocal"], SR, p["highpass_hz"])
        x = apply_eq(x, SR, [EQBand.from_dict(b) for b in p["eq"]])
        x = apply_compressor(x, SR, CompressorSettings.from_dict(p["compressor"]))[0]
        onset = int(np.argmax(np.abs(audio["room_ir"][0])))
        ref = np.concatenate([np.zeros(onset, np.float32), x])
        yield (f"demo:{song}", ref, audio["vocal"].mean(axis=0), audio["dry_vocal"],
               truth["notes"])
    if not real:
        return
    voices = sorted(glob.glob(str(REAL / "solo_vocals" / "**" / "*.wav"), recursive=True))
    rooms = sorted(glob.glob(str(REAL / "irs" / "*" / "*.wav")))
    for v in voices:
        dry = read_audio(v, sample_rate=SR)[0].mean(axis=0)[: int(duration_s * SR)]
        for r in rooms:
            ir = read_audio(r, sample_rate=SR)[0].mean(axis=0)
            onset = int(np.argmax(np.abs(ir)))
            wet = oaconvolve(dry, ir)[: dry.size + onset]
            ref = np.concatenate([np.zeros(onset, np.float32), dry]) * float(ir[onset])
            yield (f"real:{Path(v).stem}*{Path(r).parent.name}/{Path(r).stem}", ref,
                   wet.astype(np.float32), None, None)


def block_variants(settings: list[str] | None) -> dict[str, dict]:
    """Variants of :func:`compare_blocks`: whole-song WPE and, for each ``"BLOCK:OVERLAP"``
    (seconds) of ``settings``, blocked WPE with that block length and overlap (default: the
    stage's :data:`~vocalmix.dsp.corruption.WPE_BLOCKS`)."""
    variants = {"whole song": {"block_s": 1e9}}
    for spec in settings or [f"{WPE_BLOCKS['block_s']:g}:{WPE_BLOCKS['overlap_s']:g}"]:
        block_s, overlap_s = (float(v) for v in spec.split(":"))
        kw = {**WPE_BLOCKS, "block_s": block_s, "overlap_s": overlap_s}
        variants[f"blocked {kw}"] = kw
    return variants


def compare_blocks(n_songs: int, seed: int, duration_s: float, real: bool = True,
                   settings: list[str] | None = None,
                   out: Path = OUT / "dereverb_blocks.csv") -> None:
    """Whole-song against blocked WPE (the stage's setting, or each of ``settings``) on
    every case: SI-SDR and LSD against the dry reference, seconds per minute; the CSV
    (rewritten after every case) and, per variant, the median and the largest loss against
    whole-song WPE of any case (issue 19: at most 0.3 dB SI-SDR and LSD)."""
    variants = block_variants(settings)
    rows = []
    cols = ["case", "duration_s", "variant", "si_sdr_db", "lsd_db", "s_per_min"]
    for name, ref, wet, _, _ in cases(n_songs, seed, duration_s, real):
        minutes = wet.size / SR / 60
        for label, kw in variants.items():
            t0 = time.perf_counter()
            y = dereverberate(wet[None, :], SR, **kw)[0]
            sec = time.perf_counter() - t0
            rows.append({"case": name, "duration_s": wet.size / SR, "variant": label,
                         "si_sdr_db": si_sdr(ref, y), "lsd_db": log_spectral_distance(ref, y),
                         "s_per_min": sec / minutes})
            write_table(out, rows, cols, cell=fixed(4, nonfinite=None), delimiter=",")
        print(name, " ".join(f"{r['variant'][:7]}: {r['si_sdr_db']:.2f}/{r['lsd_db']:.3f}"
                             for r in rows if r["case"] == name), flush=True)
    print(f"\nmedian over cases ({duration_s:g} s each; WPE {WPE}); worst loss against "
          "whole-song WPE (SI-SDR drop, LSD rise):")
    whole = {r["case"]: r for r in rows if r["variant"] == "whole song"}
    for kind in ("demo", "real"):
        for label in variants:
            sel = [r for r in rows if r["case"].startswith(kind) and r["variant"] == label]
            if not sel:
                continue
            sdr_loss = max(whole[r["case"]]["si_sdr_db"] - r["si_sdr_db"] for r in sel)
            lsd_loss = max(r["lsd_db"] - whole[r["case"]]["lsd_db"] for r in sel)
            print(f"  {kind:4s} {label:60s} SI-SDR "
                  f"{statistics.median(r['si_sdr_db'] for r in sel):6.2f} dB   LSD "
                  f"{statistics.median(r['lsd_db'] for r in sel):.3f} dB   "
                  f"{statistics.median(r['s_per_min'] for r in sel):.1f} s/min "
                  f"(n={len(sel)}); worst loss {sdr_loss:.3f} dB SI-SDR, "
                  f"{lsd_loss:.3f} dB LSD")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--duration-s", type=float, default=20.0, help="length of each case (s)")
    ap.add_argument("--blocks", action="store_true",
                    help="compare whole-song and blocked WPE at the stage's setting only")
    ap.add_argument("--block-settings", nargs="+", metavar="BLOCK:OVERLAP",
                    help="with --blocks: block lengths and overlaps (s) to compare instead "
                         "of the stage's")
    ap.add_argument("--out", type=Path, default=OUT / "dereverb_blocks.csv",
                    help="with --blocks: the CSV written")
    ap.add_argument("--no-real", action="store_true", help="demo songs only")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.blocks:
        compare_blocks(args.songs, args.seed, args.duration_s, not args.no_real,
                       args.block_settings, args.out)
        return
    rows = []
    for name, ref, wet, dry, notes in cases(args.songs, args.seed, args.duration_s,
                                            not args.no_real):
        minutes = wet.size / SR / 60
        rows.append({"case": name, "setting": "none (wet input)", "si_sdr_db": si_sdr(ref, wet),
                     "lsd_db": log_spectral_distance(ref, wet), "s_per_min": 0.0})
        for label, kw in SETTINGS.items():
            t0 = time.perf_counter()
            y = dereverberate(wet[None, :], SR, **kw)[0]
            sec = time.perf_counter() - t0
            row = {"case": name, "setting": label, "si_sdr_db": si_sdr(ref, y),
                   "lsd_db": log_spectral_distance(ref, y), "s_per_min": sec / minutes}
            if dry is not None and all(WPE[k] == v for k, v in kw.items()):
                loss = sustained_note_loss_db(dry, SR, notes)
                row.update(sustained_note_db=loss["sustained"]["median_db"],
                           sustained_note_min_db=loss["sustained"]["min_db"],
                           short_note_db=loss["short"]["median_db"])
            rows.append(row)
        print(name, " ".join(f"{r['setting']}: {r['si_sdr_db']:.1f}/{r['lsd_db']:.2f}"
                             for r in rows if r["case"] == name), flush=True)
    cols = ["case", "setting", "si_sdr_db", "lsd_db", "s_per_min", "sustained_note_db",
            "sustained_note_min_db", "short_note_db"]
    write_table(OUT / "dereverb.csv", rows, cols, cell=fixed(4, nonfinite=None), delimiter=",")
    print(f"\nmedian over cases (the corruption stage uses {WPE}):")
    for kind in ("demo", "real"):
        for label in ["none (wet input)", *SETTINGS]:
            sel = [r for r in rows if r["case"].startswith(kind) and r["setting"] == label]
            if not sel:
                continue
            med = {k: statistics.median(r[k] for r in sel) for k in ("si_sdr_db", "lsd_db",
                                                                      "s_per_min")}
            print(f"  {kind:4s} {label:20s} SI-SDR {med['si_sdr_db']:6.2f} dB   LSD "
                  f"{med['lsd_db']:.2f} dB   {med['s_per_min']:.1f} s/min  (n={len(sel)})")
    notes = [r for r in rows if r.get("sustained_note_db") is not None]
    if notes:
        print("  WPE on dry demo vocals: sustained notes median "
              f"{statistics.median(r['sustained_note_db'] for r in notes):+.3f} dB (worst note "
              f"{min(r['sustained_note_min_db'] for r in notes):+.3f}), short notes median "
              f"{statistics.median(r['short_note_db'] for r in notes):+.3f} dB")


if __name__ == "__main__":
    main()
