"""Project the cost of a full-scale run from the ``benchmark:`` logs of a finished run.

Reads ``results/benchmarks/**.tsv`` (Snakemake's benchmark files: wall seconds, CPU time,
peak RSS, ...), the track sheet and the sizes of the stage outputs, and projects CPU-hours,
peak memory per job and disk per stage for a corpus of a given size. The model:

* per-track rules (one job per track: demo corpus, features, corruption, excerpt, render,
  per-track evaluation, separation) cost CPU time in proportion to the track's audio
  duration: the projection uses the measured CPU seconds per second of audio (median over
  jobs), times the corpus' hours of audio (rendering: only the test share);
* corpus-wide rules (ingest, dataset, training, summaries) are taken as linear in the hours
  of audio too (training: windows per epoch grow with audio; the epoch count is assumed to
  stay as measured, which early stopping makes roughly true);
* with runs of two or more track durations (``--also``: e.g. the demo at 12 s and at 60 s
  per song), per-track CPU time and peak memory are fitted as ``a + b * duration`` per rule
  (a: per-job overhead such as imports; b: per second of audio), and peak memory is
  projected for the longest track; with a single duration, CPU scales in proportion to the
  audio and the measured peak memory is kept (and the table says so);
  corpus-wide jobs keep their measured peak (they stream or memory-map);
* disk: bytes each stage's output folder holds per second of audio, times the corpus.

Usage (after ``snakemake -j8 all``)::

    .venv/bin/python benchmarks/projection.py [--results results] [--csv out.csv]

It prints a Markdown table (the README carries one) for MUSDB18-HQ (150 tracks, about
10 h of stereo audio, 50 test tracks), MedleyDB (122 multitracks, 7 h, a 20 % test
split) and a DAMP-VSEP-sized corpus (11,494 songs; mean
duration ``--damp-mean-s``, default 210 s, an assumption: the duet recordings are
full-length karaoke songs).
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: rule -> output folder under results/ whose size is charged to it
OUTPUT_DIRS = {
    "make_demo_corpus": "demo", "ingest": "corpus", "extract_features": "features",
    "corrupt": "corrupted", "build_dataset": "dataset", "train_model": "models",
    "render": "renders", "evaluate_track": "evaluation", "separate": "separated",
}
#: rules that a real corpus does not run (the demo generator)
EXCLUDE = {"make_demo_corpus"}
#: rules whose jobs cover test-split tracks only
TEST_ONLY = {"excerpt", "render", "evaluate_track"}

CORPORA = {
    "MUSDB18-HQ": {"tracks": 150, "hours": 10.0, "test_share": 50 / 150, "longest_s": 630},
    # MedleyDB 1.0 (issue 19): about 122 multitracks and 7 h; no official split, so the
    # ingest's test_fraction (0.2); the longest track taken as 600 s (an assumption)
    "MedleyDB": {"tracks": 122, "hours": 7.0, "test_share": 0.2, "longest_s": 600},
    "DAMP-VSEP-sized": {"tracks": 11494, "hours": None, "test_share": 0.1, "longest_s": 600},
}


#: the stage runner's last log line (vocalmix.stages.runner.run_stage)
PEAK_LINE = re.compile(r"done in [0-9.]+ s, (?:CPU [0-9.]+ s, )?peak RSS ([0-9.]+) MiB")


def read_benchmarks(results: Path) -> dict[str, list[dict]]:
    """rule -> one dict per job: wildcard key (track), s, cpu_time, max_rss (MiB)."""
    jobs: dict[str, list[dict]] = defaultdict(list)
    root = results / "benchmarks"
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        key = path.stem if len(rel.parts) > 1 else None
        with open(path) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        for row in rows[-1:]:  # the latest measurement of that job
            def num(k):
                try:
                    return float(row.get(k) or "nan")
                except ValueError:
                    return float("nan")
            cpu = num("cpu_time")
            wall = num("s")
            # the larger of Snakemake's sampled tree sum and the exact high-water mark the
            # stage runner logs (Snakemake samples every 30 s after 15 s and misses peaks)
            rss = num("max_rss")
            log = results / "logs" / rel.with_suffix(".log")
            peaks = PEAK_LINE.findall(log.read_text()) if log.exists() else []
            if peaks:
                rss = max(float(peaks[-1]), rss) if rss == rss else float(peaks[-1])
            jobs[rule].append({"key": key, "parts": rel.parts, "s": wall,
                               "cpu_s": cpu if cpu == cpu and cpu > 0 else wall,
                               "max_rss": rss})
    return jobs


def track_durations(results: Path) -> dict[str, float]:
    path = results / "corpus" / "tracks.tsv"
    if not path.exists():
        return {}
    with open(path) as fh:
        return {r["track_id"]: float(r["duration_s"]) for r in csv.DictReader(fh, delimiter="\t")}


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _linear_fit(d: list[float], y: list[float]) -> tuple[float, float] | None:
    """(intercept, slope >= 0) of y on d by least squares; None without two durations."""
    if len(set(round(x, 3) for x in d)) < 2:
        return None
    n = len(d)
    md, my = sum(d) / n, sum(y) / n
    sxx = sum((x - md) ** 2 for x in d)
    b = max(sum((x - md) * (v - my) for x, v in zip(d, y)) / sxx, 0.0)
    return my - b * md, b


def job_samples(results_dirs: list[Path]) -> dict[str, list[tuple[float, float, float]]]:
    """rule -> (track duration s, CPU s, peak RSS MiB) of every per-track job of every run."""
    out: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for results in results_dirs:
        durations = track_durations(results)
        for rule, js in read_benchmarks(results).items():
            per_rule: dict[str, list[dict]] = defaultdict(list)
            for j in js:
                if len(j["parts"]) > 1:
                    per_rule[j["parts"][1].split(".")[0]].append(j)
            for track, tj in per_rule.items():
                if track in durations:
                    out[rule].append((durations[track], sum(x["cpu_s"] for x in tj),
                                      max(x["max_rss"] for x in tj)))
    return out


def measure(results: Path) -> tuple[list[dict], float]:
    """Per-rule measured costs and the run's total seconds of audio."""
    jobs = read_benchmarks(results)
    durations = track_durations(results)
    total_audio = sum(durations.values())
    if not jobs or total_audio <= 0:
        raise SystemExit(f"{results}: no benchmark logs or no track sheet; run the workflow "
                         "first (snakemake -j8 all)")
    rows = []
    for rule, js in sorted(jobs.items()):
        if rule in EXCLUDE:
            continue
        per_track = all(j["key"] is not None for j in js) and any(
            j["parts"][1].split(".")[0] in durations or j["parts"][1] in durations
            for j in js)
        seen: set[str] = set()
        audio = 0.0
        rates, mem_rates = [], []
        for j in js:
            track = j["parts"][1].split(".")[0] if len(j["parts"]) > 1 else None
            d = durations.get(track or "", 0.0) if per_track else 0.0
            if track not in seen:
                seen.add(track)
                audio += d
            if per_track and d > 0:
                rates.append(j["cpu_s"] / d)
                mem_rates.append(j["max_rss"] / d)
        rows.append({
            "rule": rule, "jobs": len(js), "per_track": per_track,
            "cpu_s": sum(j["cpu_s"] for j in js), "wall_s": sum(j["s"] for j in js),
            "peak_rss_mib": max(j["max_rss"] for j in js),
            "cpu_s_per_audio_s": (statistics.median(rates) * len(js) / max(
                len({j['parts'][1] for j in js}), 1)) if rates else None,
            "rss_mib_per_audio_s": max(mem_rates) if mem_rates else None,
            "audio_s": audio if per_track else total_audio,
            "disk_bytes": folder_bytes(results / OUTPUT_DIRS[rule]) if rule in OUTPUT_DIRS
            else 0,
        })
    return rows, total_audio


def project(rows: list[dict], total_audio: float, *, hours: float, test_share: float,
            longest_s: float, tracks: int, samples: dict | None = None) -> list[dict]:
    audio = hours * 3600.0
    out = []
    for r in rows:
        scale_audio = audio * (test_share if r["rule"] in TEST_ONLY else 1.0)
        fits = (samples or {}).get(r["rule"], [])
        cpu_fit = _linear_fit([x[0] for x in fits], [x[1] for x in fits]) if fits else None
        mem_fit = _linear_fit([x[0] for x in fits], [x[2] for x in fits]) if fits else None
        if r["per_track"] and cpu_fit is not None:
            n_jobs = tracks * (test_share if r["rule"] in TEST_ONLY else 1.0)
            cpu = cpu_fit[0] * n_jobs + cpu_fit[1] * scale_audio
            mem = max(r["peak_rss_mib"], mem_fit[0] + mem_fit[1] * longest_s)
        elif r["per_track"] and r["cpu_s_per_audio_s"] is not None:
            cpu = r["cpu_s_per_audio_s"] * scale_audio
            mem = r["peak_rss_mib"]  # no duration spread measured: no slope to scale by
        else:
            cpu = r["cpu_s"] * audio / total_audio
            mem = r["peak_rss_mib"]
        measured_audio = r["audio_s"] if r["per_track"] else total_audio
        disk = (r["disk_bytes"] / measured_audio * scale_audio) if measured_audio else 0.0
        out.append({"rule": r["rule"], "cpu_hours": cpu / 3600.0, "peak_mem_gib": mem / 1024,
                    "disk_gib": disk / 2**30})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results",
                    help="the finished run whose costs are projected")
    ap.add_argument("--also", type=Path, nargs="*", default=[],
                    help="other finished runs (e.g. longer songs) whose per-track jobs join "
                         "the fit of cost and memory against track duration")
    ap.add_argument("--csv", type=Path, default=ROOT / "benchmarks/results/projection.csv")
    ap.add_argument("--damp-mean-s", type=float, default=210.0,
                    help="assumed mean song duration of the DAMP-VSEP-sized corpus (s)")
    args = ap.parse_args(argv)
    rows, total_audio = measure(args.results)
    corpora = dict(CORPORA)
    corpora["DAMP-VSEP-sized"] = {**corpora["DAMP-VSEP-sized"],
                                  "hours": 11494 * args.damp_mean_s / 3600.0}
    lines = [f"Measured run: {total_audio / 60:.1f} min of audio, "
             f"{sum(r['cpu_s'] for r in rows) / 60:.1f} CPU-min in {len(rows)} rules", ""]
    header = ["stage (rule)", "jobs", "measured CPU s", "measured peak MiB"]
    for name in corpora:
        header += [f"{name} CPU-h", f"{name} peak GiB", f"{name} disk GiB"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    csv_rows = []
    samples = job_samples([args.results, *args.also])
    projected = {name: project(rows, total_audio, hours=c["hours"],
                               test_share=c["test_share"], longest_s=c["longest_s"],
                               tracks=c["tracks"], samples=samples)
                 for name, c in corpora.items()}
    totals = {name: [0.0, 0.0, 0.0] for name in corpora}
    for i, r in enumerate(rows):
        cells = [r["rule"], str(r["jobs"]), f"{r['cpu_s']:.1f}", f"{r['peak_rss_mib']:.0f}"]
        rec = {"rule": r["rule"], "jobs": r["jobs"], "measured_cpu_s": r["cpu_s"],
               "measured_peak_rss_mib": r["peak_rss_mib"]}
        for name in corpora:
            p = projected[name][i]
            cells += [f"{p['cpu_hours']:.2f}", f"{p['peak_mem_gib']:.2f}",
                      f"{p['disk_gib']:.2f}"]
            totals[name][0] += p["cpu_hours"]
            totals[name][1] = max(totals[name][1], p["peak_mem_gib"])
            totals[name][2] += p["disk_gib"]
            rec.update({f"{name}_cpu_hours": p["cpu_hours"],
                        f"{name}_peak_mem_gib": p["peak_mem_gib"],
                        f"{name}_disk_gib": p["disk_gib"]})
        lines.append("| " + " | ".join(cells) + " |")
        csv_rows.append(rec)
    cells = ["**total**", "", f"{sum(r['cpu_s'] for r in rows):.1f}",
             f"{max(r['peak_rss_mib'] for r in rows):.0f}"]
    for name in corpora:
        t = totals[name]
        cells += [f"**{t[0]:.1f}**", f"**{t[1]:.2f}**", f"**{t[2]:.1f}**"]
    lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Corpora: " + "; ".join(
        f"{n}: {c['tracks']} tracks, {c['hours']:.0f} h of audio, test share "
        f"{c['test_share']:.0%}, longest track {c['longest_s']} s" for n, c in corpora.items()))
    print("\n".join(lines))
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(csv_rows[0]), delimiter=",")
        w.writeheader()
        w.writerows(csv_rows)
    print(f"\nwrote {args.csv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
