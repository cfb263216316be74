"""The package's floors (README "Architecture"): imports only go down, no cycles, torch only
where a network lives. Read from the source with ``ast``, so lazy imports inside functions
count as much as module-level ones."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE_DIR = REPO / "workflow" / "scripts" / "vocalmix"

#: Floors from the bottom up. A module may import its own package and any package on a
#: lower floor; packages on the same floor are independent of each other.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("",),  # the base modules: audio, files, tables, conditions, seeding, config
    ("measure", "stats"),
    ("dsp",),
    ("features",),
    ("corpus",),
    ("models", "separation"),
    ("mixing",),
    ("evaluation", "listening"),
    ("stages",),
    ("cli",),
)
FLOOR = {pkg: level for level, pkgs in enumerate(FLOORS) for pkg in pkgs}
#: ``python -m vocalmix`` is the command line's entry point, above everything.
ENTRY_POINTS = {"vocalmix.__main__": len(FLOORS)}
#: The only packages whose modules may import torch (at any depth).
TORCH_PACKAGES = {"models", "separation"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _package(module: str) -> str:
    """``vocalmix.measure.loudness`` -> ``measure``; a base module -> ``""``."""
    parts = module.split(".")
    if len(parts) >= 2 and (PACKAGE_DIR / parts[1]).is_dir():
        return parts[1]
    return ""


def _resolve(target: str) -> str | None:
    """The vocalmix module a dotted import name refers to (a name inside a module -> it)."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported module or top-level name, line, at module level) for every import."""
    return _imports_of(module, MODULES[module])


@functools.lru_cache(maxsize=None)
def _imports_of(module: str, path: Path) -> list[tuple[str, int, bool]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    here = module if is_pkg else module.rpartition(".")[0]
    top_level = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        guarded = _under_type_checking(tree, node)
        for name in names:
            found.append((name, node.lineno, id(node) in top_level and not guarded))
    return found


def _under_type_checking(tree: ast.Module, target: ast.AST) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            if any(child is target for child in ast.walk(node)):
                return True
    return False


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module in MODULES:
        for name, _, _ in _imports(module):
            if name.split(".")[0] != "vocalmix":
                continue
            dep = _resolve(name)
            if dep and dep != module and not module.startswith(dep + ".") and dep != "vocalmix":
                edges[module].add(dep)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    return found


def _floor(module: str) -> int:
    return ENTRY_POINTS.get(module, FLOOR[_package(module)])


def test_every_package_has_a_floor():
    packages = {_package(m) for m in MODULES}
    assert packages <= set(FLOOR), f"packages without a floor: {sorted(packages - set(FLOOR))}"


def test_no_import_cycles_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_cycles_between_packages():
    edges: dict[str, set[str]] = defaultdict(set)
    for module, deps in _graph().items():
        for dep in deps:
            if _package(module) != _package(dep):
                edges[_package(module) or "base"].add(_package(dep) or "base")
    assert _cycles(edges) == []


def test_imports_only_go_down_a_floor():
    upward = []
    for module, deps in _graph().items():
        for dep in deps:
            same_package = _package(module) == _package(dep)
            if same_package or _floor(dep) < _floor(module):
                continue
            upward.append(f"{module} -> {dep}")
    assert upward == [], "imports that run up (or across) a floor:\n" + "\n".join(upward)


def test_torch_is_imported_only_under_models_and_separation():
    outside = []
    for module in MODULES:
        for name, line, _ in _imports(module):
            if name.split(".")[0] == "torch" and _package(module) not in TORCH_PACKAGES:
                outside.append(f"{MODULES[module].relative_to(REPO)}:{line}")
    assert outside == [], "torch imported outside models/ and separation/: " + ", ".join(outside)


def _module_level_closure(start: str) -> set[str]:
    """Modules (vocalmix and third-party top-level names) that importing ``start`` runs."""
    seen: set[str] = set()
    external: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parents = module.split(".")
        todo += [".".join(parents[:i]) for i in range(1, len(parents)) if ".".join(parents[:i])
                 in MODULES]
        for name, _, at_module_level in _imports(module):
            if not at_module_level:
                continue
            if name.split(".")[0] == "vocalmix":
                dep = _resolve(name)
                if dep:
                    todo.append(dep)
            elif name:
                external.add(name.split(".")[0])
    return external


@pytest.mark.parametrize("package", ["measure", "stats", "dsp", "features", "mixing"])
def test_no_module_level_torch_reachable(package):
    """Importing any module of these packages never imports torch (read from the source)."""
    heavy = {}
    for module in MODULES:
        if _package(module) == package:
            reached = _module_level_closure(module)
            if "torch" in reached:
                heavy[module] = "torch"
    assert heavy == {}


def test_measure_and_stats_do_not_import_torch_at_run_time():
    """The same, observed: import every module of measure/ and stats/ in a fresh interpreter."""
    modules = [m for m in MODULES if _package(m) in ("measure", "stats")]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_architecture_test_sees_a_planted_upward_import(tmp_path, monkeypatch):
    """The floor check is not vacuous: a measure module importing mixing is reported."""
    planted = tmp_path / "_planted_for_test.py"
    planted.write_text("from vocalmix.mixing import rule_based\n")
    monkeypatch.setitem(MODULES, "vocalmix.measure._planted_for_test", planted)
    with pytest.raises(AssertionError, match="_planted_for_test -> vocalmix.mixing"):
        test_imports_only_go_down_a_floor()


def test_every_imported_vocalmix_name_exists():
    """``from vocalmix.x import name`` names something x has (lazy imports included, which
    only fail when their function runs)."""
    import importlib

    missing = []
    for module in MODULES:
        tree = ast.parse(MODULES[module].read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and not node.level and node.module
                    and node.module.split(".")[0] == "vocalmix"):
                continue
            target = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(target, alias.name) or f"{node.module}.{alias.name}" in MODULES:
                    continue
                missing.append(f"{module}:{node.lineno} {node.module}.{alias.name}")
    assert missing == []
