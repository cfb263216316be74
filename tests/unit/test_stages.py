"""The stage adapter layer: settings from the config schema, run functions only in stages/."""

from __future__ import annotations

import ast
import dataclasses
import os
from pathlib import Path

import pytest

import vocalmix
from vocalmix.config import ConfigError, schema_defaults, schema_settings, validate_config
from vocalmix.dsp.corruption import CorruptionSettings
from vocalmix.evaluation.render import LevelSettings, RenderSettings
from vocalmix.features.extract import FeatureSettings, ReverbFitSettings, WindowSettings
from vocalmix.listening.export import ListeningSettings
from vocalmix.listening.simulate import SimulationSettings
from vocalmix.corpus.separated import SeparatedSettings
from vocalmix.mixing.base import MixingSettings
from vocalmix.models.dataset import DatasetSettings
from vocalmix.models.genre import GenreSettings
from vocalmix.models.train import TrainSettings
from vocalmix.separation.settings import (BuiltinSettings, DemucsSettings, PretrainedSettings,
                                          SeparationSettings, SpleeterSettings)
from vocalmix.stats.analysis import AnalysisSettings
from vocalmix.stats.screening import ScreeningSettings

PACKAGE = Path(vocalmix.__file__).parent

#: Every settings class built from a config section.
SETTINGS = [TrainSettings, FeatureSettings, ReverbFitSettings, WindowSettings, DatasetSettings,
            GenreSettings, CorruptionSettings, RenderSettings, MixingSettings, AnalysisSettings,
            ScreeningSettings, ListeningSettings, SimulationSettings, LevelSettings,
            SeparationSettings, PretrainedSettings, BuiltinSettings, SpleeterSettings,
            DemucsSettings, SeparatedSettings]
#: Classes that hold only some keys of their section (the rest belong to another class).
PARTIAL = {WindowSettings, ListeningSettings, LevelSettings, SeparatedSettings}


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.__name__)
def test_settings_defaults_are_the_schemas(cls):
    defaults = schema_defaults(cls.section)
    validated = validate_config({})
    node = validated
    for part in cls.section.split("."):
        node = node[part]
    for f in dataclasses.fields(cls):
        value = _plain(getattr(cls(), f.name))
        assert value == defaults[f.name] == node[f.name], f.name
    fields = {f.name for f in dataclasses.fields(cls)}
    if cls in PARTIAL:
        assert fields < set(node)
    else:
        assert fields == set(node)  # the whole section


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.__name__)
def test_settings_reject_unknown_keys_and_are_frozen(cls):
    with pytest.raises(ConfigError, match="unknown setting"):
        cls.from_mapping({"no_such_key": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cls(), dataclasses.fields(cls)[0].name, None)


def test_settings_from_mapping_keeps_given_values():
    s = TrainSettings.from_mapping({"max_epochs": 3, "channels": [4, 8]})
    assert s.max_epochs == 3 and s.channels == (4, 8) and s.patience == TrainSettings().patience


def test_a_field_without_schema_default_fails_at_definition():
    with pytest.raises(TypeError, match="no default"):
        @schema_settings("train")
        class Broken:
            not_in_the_schema: int


def test_no_run_function_outside_stages_and_cli():
    """Snakemake params reach only vocalmix.stages (and the CLI builds its own settings)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("stages", "cli"):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                args = [a.arg for a in node.args.args]
                if args[:3] == ["inputs", "outputs", "params"] or node.name == "run":
                    offenders.append(f"{rel}:{node.lineno} {node.name}")
    assert not offenders, offenders


def test_run_stage_logs_the_jobs_exact_peak_memory(tmp_path):
    # the benchmark reads the kernel's high-water mark from the job's log, because
    # Snakemake's benchmark samples RSS every 30 s after the first 15 s; in a fresh process
    # (as a job is), 200 MiB touched and freed inside the stage must show in the line, and
    # not the size of the process that started it (pytest here, Snakemake for a job)
    import re
    import subprocess
    import sys

    log = tmp_path / "job.log"
    code = f"""
from types import SimpleNamespace
import numpy as np
from vocalmix.stages.runner import peak_rss_mib, run_stage

def stage(inputs, outputs, params, threads):
    x = np.ones(200 * 2**20 // 8)
    return float(x.sum())

print(peak_rss_mib())
run_stage(SimpleNamespace(log=[{str(log)!r}], rule="r", input={{}}, output={{}}, params={{}},
                          threads=1), stage)
"""
    import time

    started = time.perf_counter()
    before = float(subprocess.run([sys.executable, "-c", code], check=True, text=True,
                                  capture_output=True).stdout.split()[0])
    lifetime = time.perf_counter() - started
    line = re.search(r"rule r done in ([0-9.]+) s, CPU ([0-9.]+) s, peak RSS ([0-9.]+) MiB",
                     log.read_text())
    wall, cpu, peak = (float(g) for g in line.groups())
    assert before + 190.0 <= peak <= before + 260.0
    # the CPU figure is the whole process's (start-up and imports too): at least what
    # filling and summing 200 MiB takes, at most what its life allows on this machine's cores
    assert 0.02 < cpu <= lifetime * (os.cpu_count() or 1)
    assert wall <= lifetime


def test_a_stage_runs_with_one_blas_thread_whatever_the_job_was_given():
    """Snakemake sets OPENBLAS_NUM_THREADS to a job's threads (so to --cores at most), and a
    product summed on two threads rounds differently: a stage runs with numpy's BLAS on one
    thread, and so do the processes it starts; the settings come back afterwards."""
    import subprocess
    import sys

    code = """
import json, os, subprocess, sys
from types import SimpleNamespace
import numpy  # loads OpenBLAS, with the 2 threads of the environment
import threadpoolctl
from vocalmix.stages.runner import run_stage

def stage(inputs, outputs, params, threads):
    blas = [d["num_threads"] for d in threadpoolctl.threadpool_info()
            if d["user_api"] == "blas"]
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ['OPENBLAS_NUM_THREADS'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    return {"blas": blas, "child": child, "env": os.environ["OPENBLAS_NUM_THREADS"]}

inside = run_stage(SimpleNamespace(log=[], rule="r", input={}, output={}, params={},
                                   threads=2), stage)
after = [d["num_threads"] for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]
print(json.dumps({"inside": inside, "after": after, "env_after": os.environ["OPENBLAS_NUM_THREADS"]}))
"""
    import json

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    out = json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                    text=True, capture_output=True).stdout.splitlines()[-1])
    assert out["inside"]["blas"] and set(out["inside"]["blas"]) == {1}
    assert out["inside"]["child"] == "1" and out["inside"]["env"] == "1"
    assert set(out["after"]) == {2} and out["env_after"] == "2"


def test_a_nice_param_lowers_the_jobs_priority_and_is_not_passed_on():
    """``params: nice`` (the renders no later job waits for yet): the job's process runs at
    that much lower CPU priority, and the stage gets the other params only."""
    import json
    import subprocess
    import sys

    code = """
import json, os
from types import SimpleNamespace
from vocalmix.stages.runner import run_stage

def stage(inputs, outputs, params, threads):
    return {"params": sorted(params), "niceness": os.nice(0)}

before = os.nice(0)
for nice in (0, 7):
    got = run_stage(SimpleNamespace(log=[], rule="r", input={}, output={},
                                    params={"condition": "x", "nice": nice}, threads=1), stage)
    print(json.dumps({**got, "before": before}))
"""
    lines = subprocess.run([sys.executable, "-c", code], check=True, text=True,
                           capture_output=True).stdout.splitlines()[-2:]
    plain, niced = (json.loads(s) for s in lines)
    assert plain["params"] == niced["params"] == ["condition"]
    assert plain["niceness"] == plain["before"]
    assert niced["niceness"] == min(plain["before"] + 7, 19)
