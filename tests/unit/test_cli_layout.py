"""The command line's default paths (vocalmix.layout) are files the pipeline writes, and the
CLI spells no pipeline path of its own."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from vocalmix import layout

RULES = "\n".join(p.read_text() for p in sorted((REPO / "workflow" / "rules").glob("*.smk")))


@pytest.mark.parametrize("name", layout.__all__)
def test_every_layout_path_is_written_by_a_rule(name):
    path = getattr(layout, name)
    assert re.search(rf'"{re.escape(path)}[/"]', RULES), f"{name} = {path!r} is in no rule"


def test_the_cli_hard_codes_no_pipeline_path():
    cli = REPO / "workflow" / "scripts" / "vocalmix" / "cli"
    found = [f"{p.name}:{i}" for p in sorted(cli.glob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"""["'](results|listening_test)/""", line)]
    assert found == []
