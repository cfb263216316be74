"""Benchmark: peak memory and time of the corpus-wide jobs against corpus size and song
length (issue 19): ``build_dataset``, ``train_model``, ``evaluate_models``, ``genre_features``.

Each job's stage function (:mod:`vocalmix.stages`) runs in a fresh Python process, with the
inputs, outputs, params and threads its rule gives it, on the intermediates of a pipeline
run over the full-length songs of ``benchmarks/long_songs.py`` (``--run``, default
``/tmp/vocalmix-long/run``; its results are only read). The corpora:

* ``full``: every track of the run (3, 5, 8 and 10-minute test songs, 30-s training songs);
* ``x2``: every track twice (the copies are the same files under other track ids): a
  corpus twice the size, for the growth with the corpus;
* ``3min`` / ``10min``: the one test song of that length (``build_dataset``,
  ``evaluate_models``, ``genre_features``): the growth with the song's length.

``train_model`` trains on the dataset that ``build_dataset`` wrote for the same corpus
(so run that job first); ``evaluate_models`` uses the run's trained models.

The rules' temporary corrupted versions (rule ``corrupt_extra``), gone from a finished run,
are remade once into the working folder (``--work``) with the stage that made them, so
the dataset is the run's.

Memory is measured as Snakemake's ``benchmark:`` files measure a job: the resident set of
the job's process and all its children, summed, polled every ``--interval`` seconds (finer
than Snakemake's 0.5 s, so never lower). Also reported: the process's own peak
(``ru_maxrss``), wall and CPU time.

Writes (appends to) ``benchmarks/results/corpus_jobs_memory.csv``: one row per code label
(``--label``, e.g. ``before`` for the code of an older commit put first on ``PYTHONPATH``),
job and corpus.

    .venv/bin/python benchmarks/corpus_jobs_memory.py --label after
        [--jobs build_dataset train_model evaluate_models genre_features]
        [--corpora full x2 3min 10min] [--task eq] [--run /tmp/vocalmix-long/run]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from process_memory import peak_tree_rss_mib, write_merged

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "results"
COLUMNS = ("label", "job", "corpus", "tracks", "audio_min", "peak_rss_mib", "own_maxrss_mib",
           "wall_s", "cpu_s", "interval_s", "commit")
SINGLE = {"3min": "long-0180s", "10min": "long-0600s"}
TASKS = ("level", "eq", "compression", "reverb")

CHILD = r"""
import importlib, json, resource, sys
module, name = sys.argv[1].rsplit(".", 1)
stage = getattr(importlib.import_module(module), name)
inputs, outputs, params = (json.loads(a) for a in sys.argv[2:5])
stage(inputs=inputs, outputs=outputs, params=params, threads=int(sys.argv[5]))
print(json.dumps({"own_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


class Corpus:
    """The tracks of one corpus, with a working folder whose ``results/`` holds links to the
    run's files under each (copied) track's id."""

    def __init__(self, name: str, run: Path, work: Path, config: dict):
        from vocalmix.corpus.manifest import read_manifest

        self.name, self.run, self.config = name, run, config
        rows = read_manifest(run / "results" / "corpus" / "tracks.tsv")
        if name in SINGLE:
            rows = [r for r in rows if r["track_id"].endswith(SINGLE[name])]
            if not rows:
                raise SystemExit(f"{run}: no {SINGLE[name]} track")
        copies = 2 if name == "x2" else 1
        self.rows = [{**r, "track_id": r["track_id"] if copies == 1 else f"{r['track_id']}_c{k}",
                      "original": r["track_id"]} for k in range(copies) for r in rows]
        self.dir = work / "corpora" / name
        self.cache = work / "corrupt_extra"
        self._link_results()

    def _link_results(self) -> None:
        res = self.dir / "results"
        (res / "features").mkdir(parents=True, exist_ok=True)
        for sub in ("corpus", "models"):
            if not (res / sub).exists():
                (res / sub).symlink_to(self.run / "results" / sub, target_is_directory=True)
        if not (res / "features" / "genre_stats.tsv").exists():
            (res / "features" / "genre_stats.tsv").symlink_to(
                self.run / "results" / "features" / "genre_stats.tsv")
        versions = range(self.config["corruption"]["versions"])
        for r in self.vocal_rows():
            tid, orig = r["track_id"], r["original"]
            for suffix in (".json", ".windows.tsv"):
                link = res / "features" / f"{tid}{suffix}"
                if not link.exists():
                    link.symlink_to(self.run / "results" / "features" / f"{orig}{suffix}")
            src = self.run / "results" / "corrupted" / orig
            d = res / "corrupted" / tid
            d.mkdir(parents=True, exist_ok=True)
            for k in versions:
                audio = _version_audio(src, k) or self._remade(orig, k, _version_suffix(src))
                for f in (audio, src / f"v{k}.json"):
                    if not (d / f.name).exists():
                        (d / f.name).symlink_to(f)
            if not (d / "dereverberated.flac").exists():
                (d / "dereverberated.flac").symlink_to(src / "dereverberated.flac")
            # the excerpt places a long song's analysis window (mixing.analysis_s), as in
            # the pipeline's evaluate_models
            excerpt = self.run / "results" / "renders" / orig / "excerpt.json"
            link = res / "renders" / tid / "excerpt.json"
            if excerpt.is_file() and not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(excerpt)

    def _remade(self, track: str, version: int, suffix: str) -> Path:
        """A temporary corrupted version the run deleted, remade by rule corrupt_extra's
        stage from the stored dereverberated vocal (the same bytes)."""
        from vocalmix.stages.corrupt import corrupt_extra

        out = self.cache / track / f"v{version}{suffix}"
        if not out.exists():
            corrupt_extra(
                {"dereverberated": str(self.run / "results" / "corrupted" / track
                                       / "dereverberated.flac")},
                {"audio": [str(out)]},
                {"track": track, "seed": self.config["seed"], "versions": [version]})
        return out

    def corrupted(self, track: str, version: int) -> str:
        """The corrupted version's audio file (relative to :attr:`dir`), as linked."""
        found = _version_audio(self.dir / "results" / "corrupted" / track, version)
        return str(found.relative_to(self.dir))

    def vocal_rows(self, split=None) -> list[dict]:
        return [r for r in self.rows
                if r.get("vocal") and (split is None or r["split"] in split)]

    def audio_min(self, rows) -> float:
        return sum(float(r["duration_s"]) for r in rows) / 60.0


def _version_audio(folder: Path, version: int) -> Path | None:
    """``v<k>.flac`` (or ``v<k>.wav``, as older runs stored it) in ``folder``, if there."""
    for suffix in (".flac", ".wav"):
        if (folder / f"v{version}{suffix}").exists():
            return folder / f"v{version}{suffix}"
    return None


def _version_suffix(folder: Path) -> str:
    """The suffix the run gave its corrupted versions (that of version 0, always kept)."""
    v0 = _version_audio(folder, 0)
    return v0.suffix if v0 is not None else ".flac"


def job_call(job: str, corpus: Corpus, out: Path, task: str) -> tuple[str, dict, dict, dict,
                                                                       int, list]:
    """(stage function, inputs, outputs, params, threads, rows) as the job's rule gives
    them (workflow/rules/models.smk, genre.smk)."""
    cfg = corpus.config
    if job == "build_dataset":
        vt = corpus.vocal_rows()
        versions = range(cfg["corruption"]["versions"])
        return ("vocalmix.stages.dataset.build_dataset",
                {"features": [f"results/features/{r['track_id']}.json" for r in vt],
                 "windows": [f"results/features/{r['track_id']}.windows.tsv" for r in vt],
                 "backing": [r["backing"] for r in vt],
                 "corrupted": [corpus.corrupted(r["track_id"], k) for r in vt
                               for k in versions]},
                {"dataset": str(out / "dataset")},
                {"tracks": [{k: r[k] for k in ("track_id", "split", "source", "weight",
                                               "backing")} for r in vt],
                 "sample_rate": cfg["sample_rate"],
                 "windows": {k: cfg["features"][k] for k in ("window_s", "hop_s", "gate_lu",
                                                             "min_active_fraction")},
                 "dataset": cfg["dataset"]}, 1, vt)
    if job == "train_model":
        dataset = out.parent / "build_dataset" / "dataset"  # that job's, same corpus and label
        if not (dataset / "dataset.json").exists():
            raise SystemExit(f"{dataset}: no dataset; run the job build_dataset of this "
                             "corpus and label first")
        return ("vocalmix.stages.train.train_model", {"dataset": str(dataset)},
                {"model": str(out / task / "model.pt")},
                {"task": task, "seed": cfg["seed"], "train": cfg["train"]}, 1,
                corpus.vocal_rows())
    if job == "evaluate_models":
        from vocalmix.models.genre import read_genres

        genres = read_genres(corpus.run / "results" / "corpus" / "genres.tsv")
        vt = corpus.vocal_rows(split=("test",))
        tracks = [{**{k: v for k, v in r.items() if k != "original"},
                   "genre_resolved": genres[r["original"]]["genre_resolved"],
                   "genre_resolved_source": genres[r["original"]]["genre_resolved_source"]}
                  for r in vt]
        return ("vocalmix.stages.systems.evaluate_models",
                {"models": [f"results/models/{t}/model.pt" for t in TASKS],
                 "genre_stats": "results/features/genre_stats.tsv",
                 "genres": "results/corpus/genres.tsv",
                 "features": [f"results/features/{r['track_id']}.json" for r in vt],
                 "backing": [r["backing"] for r in vt],
                 "corrupted": [corpus.corrupted(r["track_id"], 0) for r in vt],
                 "dereverberated": [f"results/corrupted/{r['track_id']}/dereverberated.flac"
                                    for r in vt],
                 # the excerpts place each long song's analysis window (mixing.analysis_s)
                 "excerpts": [p for r in vt if (corpus.dir / (
                     p := f"results/renders/{r['track_id']}/excerpt.json")).is_file()]},
                {"per_track": str(out / "per_track.tsv"), "summary": str(out / "summary.tsv"),
                 "plot": str(out / "summary.png")},
                {"tracks": tracks, "mixing": cfg["mixing"],
                 "features": cfg["features"]}, 1, vt)
    if job == "genre_features":
        keys = ("track_id", "dataset", "split", "genre", "genre_source", "backing")
        return ("vocalmix.stages.genre_features.genre_features",
                {"backing": [r["backing"] for r in corpus.rows]},
                {"features": str(out / "features.tsv")},
                {"tracks": [{k: r.get(k) for k in keys} for r in corpus.rows],
                 "excerpt_s": cfg["genre"]["excerpt_s"]}, 2, corpus.rows)
    raise SystemExit(f"unknown job {job}")


def measure(job: str, corpus: Corpus, out: Path, task: str, interval: float) -> dict:
    stage, inputs, outputs, params, threads, rows = job_call(job, corpus, out, task)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    before = os.times()
    start = time.perf_counter()
    popen = subprocess.Popen([sys.executable, "-c", CHILD, stage, json.dumps(inputs),
                              json.dumps(outputs), json.dumps(params), str(threads)],
                             cwd=corpus.dir, stdout=subprocess.PIPE,
                             stderr=open(out / "stage.log", "w"), text=True)
    peak = peak_tree_rss_mib(popen, interval)
    wall = time.perf_counter() - start
    stdout = popen.stdout.read()
    if popen.returncode != 0:
        raise SystemExit(f"{job} failed ({popen.returncode}); see {out / 'stage.log'}")
    after = os.times()  # the child tree, reaped
    cpu_s = (after.children_user + after.children_system
             - before.children_user - before.children_system)
    own = json.loads(stdout.strip().splitlines()[-1])["own_maxrss_mib"]
    return {"tracks": len(rows), "audio_min": corpus.audio_min(rows), "peak_rss_mib": peak,
            "own_maxrss_mib": own, "wall_s": wall, "cpu_s": cpu_s}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True, help="code label for the rows (before, after)")
    ap.add_argument("--jobs", nargs="+", default=["build_dataset", "train_model",
                                                  "evaluate_models", "genre_features"])
    ap.add_argument("--corpora", nargs="+", default=["full", "x2", "3min", "10min"],
                    choices=["full", "x2", *SINGLE])
    ap.add_argument("--task", default="eq", choices=TASKS,
                    help="the model train_model trains (eq: both inputs, every version)")
    ap.add_argument("--run", type=Path, default=Path("/tmp/vocalmix-long/run"))
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--work", type=Path, default=Path("/tmp/vocalmix-corpus-jobs"))
    ap.add_argument("--out", type=Path, default=OUT / "corpus_jobs_memory.csv")
    args = ap.parse_args(argv)
    run = args.run.resolve()
    if not (run / "results" / "corpus" / "tracks.tsv").exists():
        raise SystemExit(f"{run}: not a pipeline run directory; make one with "
                         "benchmarks/long_songs.py --keep")
    config = yaml.safe_load(args.config.read_text())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=REPO).stdout.strip()
    rows = []
    for job in args.jobs:
        for name in args.corpora:
            if job == "train_model" and name in SINGLE:
                continue  # a one-song corpus has no training split
            corpus = Corpus(name, run, args.work.resolve(), config)
            label = f"{job}-{args.task}" if job == "train_model" else job
            r = measure(job, corpus, args.work.resolve() / "out" / f"{args.label}_{name}"
                        / label, args.task, args.interval)
            row = {"label": args.label, "job": label.replace("-", "/"), "corpus": name,
                   "interval_s": args.interval, "commit": commit, **r}
            rows.append(row)
            print(f"{args.label:8s} {row['job']:16s} {name:6s}: {r['tracks']} track(s), "
                  f"{r['audio_min']:.1f} min; peak RSS {r['peak_rss_mib']:.0f} MiB (own "
                  f"{r['own_maxrss_mib']:.0f}), {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s "
                  "CPU", flush=True)
    write_merged(args.out, rows, COLUMNS, ("label", "job", "corpus"))


if __name__ == "__main__":
    main()
