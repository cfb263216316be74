"""vocalmix.tables: the one table writer and its cell formats."""

from __future__ import annotations

import math

import numpy as np

from vocalmix.tables import exact, fixed, general, text, write_table, write_tsv


def test_cell_formats():
    assert fixed(4)(1.23456789) == "1.2346"
    assert fixed(4)(math.nan) == "" and fixed(4)(-math.inf) == ""
    assert fixed(4, nonfinite=None)(-math.inf) == "-inf"
    assert fixed(4)(3) == "3" and fixed(4)(None) == ""
    assert general(3)(np.float32(0.123456)) == "0.123"
    assert general(3)(True) == "true" and general(3)(np.int64(7)) == "7"
    assert general(3)(math.nan) == "" and general(3)(math.inf) == "inf"
    assert general(3)("a\tb\nc") == "a b c"
    assert exact(np.float64(0.1) + 0.2) == repr(0.1 + 0.2)
    assert text(None) == "" and text(2.5) == "2.5"


def test_write_table_layout_and_same_bytes(tmp_path):
    rows = [{"a": 1.0, "b": "x"}, {"a": math.nan}]
    write_table(tmp_path / "t.csv", rows, ["a", "b"], cell=fixed(2), delimiter=",",
                preamble="# title\n")
    assert (tmp_path / "t.csv").read_text() == "# title\na,b\n1.00,x\n,\n"
    write_tsv(tmp_path / "a.tsv", rows)
    write_tsv(tmp_path / "b.tsv", rows)
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert (tmp_path / "a.tsv").read_text() == "a\tb\n1.0000\tx\n\t\n"
