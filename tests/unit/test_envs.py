"""The conda environments of the rules stay in step with the pinned requirements.

``envs/*.yaml`` serve users who run ``snakemake --sdm conda``; CI installs ``pyproject.toml``
into one venv. Both must name the same versions, and every rule must name its environment.
"""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.conftest import REPO

# conda-forge names of PyPI packages where they differ
CONDA_TO_PYPI = {"pysoundfile": "soundfile", "pytorch": "torch"}
# environments that deliberately do not follow pyproject.toml (their own pins, own venv)
SEPARATE = {"spleeter.yaml", "demucs.yaml"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    deps = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        deps.extend(extra)
    pins = {}
    for d in deps:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*(;.*)?", d)
        assert m, f"pyproject.toml: {d!r} is not pinned with =="
        pins[_norm(m.group(1))] = m.group(2)
    return pins


def _env_packages(path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                if line.startswith("-"):
                    continue
                m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
                assert m, f"{path.name}: pip requirement {line!r} is not pinned with =="
                out[_norm(m.group(1))] = m.group(2)
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*=+\s*(\S+)", dep.strip())
        if not m:
            assert dep.strip() == "pip", f"{path.name}: {dep!r} is not pinned"
            continue
        name = _norm(m.group(1))
        out[_norm(CONDA_TO_PYPI.get(name, name))] = m.group(2)
    return out


ENV_FILES = sorted(p for p in (REPO / "envs").glob("*.yaml") if p.name not in SEPARATE)


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_versions_match_pyproject(path):
    pins = _pins()
    for name, version in _env_packages(path).items():
        if name == "python":
            assert version.startswith("3.11"), f"{path.name}: python {version}"
            continue
        assert name in pins, f"{path.name}: {name} is not pinned in pyproject.toml"
        assert version == pins[name], (f"{path.name}: {name} {version}, pyproject.toml "
                                       f"{pins[name]}")


def test_every_runtime_dependency_is_in_some_env():
    """Each package the stages import (pyproject's runtime pins, minus Snakemake itself
    and its plugins, which drive the rules rather than run in them) is in an env."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    runtime = {_norm(re.split(r"[=<>;\s]", d, maxsplit=1)[0])
               for d in data["project"]["dependencies"]}
    runtime = {n for n in runtime if not n.startswith("snakemake")}
    covered = set().union(*(_env_packages(p) for p in ENV_FILES))
    assert runtime <= covered, f"missing from envs/*.yaml: {sorted(runtime - covered)}"


def _rules():
    """(file, rule name, body) of every rule and checkpoint in the workflow."""
    out = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [(m.start(), m.group(2)) for m in
                  re.finditer(r"^(rule|checkpoint)\s+(\w+):", text, re.M)]
        for i, (pos, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            out.append((smk, name, text[pos:end]))
    return out


def test_every_rule_names_an_existing_conda_env():
    rules = _rules()
    assert len(rules) > 10
    for smk, name, body in rules:
        m = re.search(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", body, re.M)
        assert m, f"{smk.name}: rule {name} has no conda: directive"
        env = (smk.parent / m.group(1)).resolve()
        assert env.is_file(), f"{smk.name}: rule {name} names {m.group(1)}, which is missing"
        assert env.parent == (REPO / "envs").resolve()


def test_every_rule_has_a_log_and_a_benchmark():
    for smk, name, body in _rules():
        assert re.search(r"^\s+log:", body, re.M), f"{smk.name}: rule {name} has no log:"
        assert re.search(r"^\s+benchmark:", body, re.M), (
            f"{smk.name}: rule {name} has no benchmark:")
