"""Every CLI command works from a wheel install (``pip install .`` non-editable): the wheel
carries the schemas and data files, nothing is read from the source tree.

The wheel goes into a fresh venv that sees the project's dependencies through a ``.pth`` file
(so no download), and every command runs from a folder outside the repository: ``--help``,
then one real call each, chained like a user's session (mix, measure, separate, classify,
export a listening test, simulate listeners, import their results, analyse them)."""

from __future__ import annotations

import csv
import json
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO

pytestmark = pytest.mark.slow

COMMANDS = ("loudness", "reverb-fit", "mix", "genre", "listening", "stats", "separate")
CONDITIONS = ("professional", "unprocessed", "commercial", "rule_based", "data_driven")


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("wheel")
    # build from a copy: setuptools writes build/ and *.egg-info beside the sources
    source = root / "source"
    for name in ("pyproject.toml", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "workflow" / "scripts" / "vocalmix",
                    source / "workflow" / "scripts" / "vocalmix",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(dist), str(source)],
                   check=True, cwd=root)
    wheel = next(dist.glob("vocalmix-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # the project's dependencies, without the editable vocalmix (a plain path entry: the
    # editable install's own .pth file in that folder is not processed from here)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]]
            if Path(p).is_dir()]
    (purelib / "project_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True)
    work = root / "work"
    work.mkdir()
    return {"bin": venv / "bin", "work": work, "purelib": purelib}


def _run(env: dict, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(env["bin"] / "vocalmix"), *args], cwd=env["work"],
                          capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, f"vocalmix {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_the_package_comes_from_the_wheel(wheel_env):
    out = subprocess.run([str(wheel_env["bin"] / "python"), "-c",
                          "import vocalmix, vocalmix.config as c; print(vocalmix.__file__); "
                          "print(c.SCHEMA_DIR)"],
                         cwd=wheel_env["work"], capture_output=True, text=True, check=True)
    module, schemas = out.stdout.split()
    assert Path(module).is_relative_to(wheel_env["purelib"])
    assert (Path(schemas) / "config.schema.yaml").is_file()
    assert not Path(module).is_relative_to(REPO)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(wheel_env, command):
    assert f"usage: vocalmix {command}" in _run(wheel_env, command, "--help").stdout


def _signals(work: Path, sample_rate: int = 44100, seconds: float = 6.0) -> None:
    rng = np.random.default_rng(440)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    vocal = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)
    beat = np.exp(-(t % 0.5) * 20.0) * rng.standard_normal(t.size) * 0.2
    backing = beat + 0.1 * np.sin(2 * np.pi * 110 * t)
    sf.write(work / "vocal.wav", np.stack([vocal, vocal]).T, sample_rate)
    sf.write(work / "backing.wav", np.stack([backing, backing]).T, sample_rate)
    sf.write(work / "song.wav", np.stack([vocal + backing] * 2).T, sample_rate)
    n = sample_rate // 2
    ir = rng.standard_normal(n) * np.exp(-np.arange(n) / sample_rate * 13.8 / 0.5) * 0.1
    ir[0] = 1.0
    sf.write(work / "room.wav", ir, sample_rate)


def test_one_real_call_of_every_command(wheel_env):
    env, work = wheel_env, wheel_env["work"]
    _signals(work)

    _run(env, "mix", "--vocal", "vocal.wav", "--backing", "backing.wav", "-o", "mix.wav",
         "--recipe-out", "recipe.json")
    recipe = json.loads((work / "recipe.json").read_text())
    assert recipe["vocal"] and sf.info(work / "mix.wav").frames > 0

    loud = json.loads(_run(env, "loudness", "--json", "mix.wav").stdout.splitlines()[0])
    assert -40.0 < loud["integrated_lufs"] < 0.0

    fit = json.loads(_run(env, "reverb-fit", "--ir", "room.wav", "--json",
                          "--evaluations", "200").stdout)
    assert fit  # a fitted reverb with its descriptors

    _run(env, "separate", "song.wav", "-o", "separated", "--method", "repet_sim")
    assert (work / "separated" / "vocal.wav").is_file()

    # a genre classifier trained with the installed package, then used by the command
    train = (
        "import numpy as np\n"
        "from vocalmix.models.genre import train_classifier\n"
        "from vocalmix.features.genre_features import feature_names\n"
        "names = feature_names()\n"
        "rng = np.random.default_rng(1)\n"
        "X = rng.normal(size=(40, len(names)))\n"
        "X[20:] += 3.0\n"
        "y = ['pop'] * 20 + ['rock'] * 20\n"
        "m = train_classifier(X, y, feature_names=names)\n"
        "m.save('genre.json')\n")
    subprocess.run([str(env["bin"] / "python"), "-c", train], cwd=work, check=True)
    genre = _run(env, "genre", "--model", "genre.json", "--json", "backing.wav").stdout
    assert json.loads(genre.splitlines()[0])["genre"] in ("pop", "rock")

    # a listening test from a renders table, simulated listeners, import and statistics
    rows = []
    for track in ("a", "b", "c"):
        for cond in CONDITIONS:
            rows.append({"track": track, "split": "test", "genre": "pop", "condition": cond,
                         "path": "mix.wav", "source": cond, "start_s": 0.0, "duration_s": 6.0,
                         "integrated_lufs": loud["integrated_lufs"], "true_peak_dbtp": -1.0})
    with open(work / "renders.tsv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    _run(env, "listening", "export", "--renders", "renders.tsv", "-o", "waet", "--seed", "1")
    assert (work / "waet" / "tests" / "vocalmix.xml").is_file()
    deficit = {"professional": 0.0, "unprocessed": 3.0, "commercial": 2.0, "rule_based": 1.5,
               "data_driven": 1.0}
    with open(work / "metrics.tsv", "w") as fh:
        fh.write("track\tcondition\tbalance_error_lu\tmel_distance_db\n")
        for i, track in enumerate(("a", "b", "c")):
            for cond in CONDITIONS:
                fh.write(f"{track}\t{cond}\t{deficit[cond] + i / 10}\t{deficit[cond]}\n")
    _run(env, "listening", "simulate", "--waet", "waet", "--metrics", "metrics.tsv",
         "-o", "saves", "-n", "8", "--seed", "1")
    _run(env, "listening", "import", "saves", "--key", "waet/KEY.tsv", "-o", "ratings.tsv")
    _run(env, "stats", "ratings.tsv", "-o", "analysis")
    assert (work / "analysis" / "anova.tsv").is_file()
