"""Known answers of :mod:`vocalmix.evaluation.activity` (issue 24, item 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vocalmix.evaluation import activity as act

SR = 44100
DURATION_S = 25.0
#: noise bursts (s) in silence: each 6 s long, so the 400 ms blocks' smearing costs < 5 %
BURSTS = [(1.0, 7.0), (9.0, 15.0), (17.0, 23.0)]


@pytest.fixture(scope="module")
def bursts() -> np.ndarray:
    """Stereo white noise at -20 dBFS RMS during ``BURSTS``, digital silence elsewhere."""
    rng = np.random.default_rng(24)
    x = np.zeros((2, int(DURATION_S * SR)), dtype=np.float32)
    for start, end in BURSTS:
        a, b = int(start * SR), int(end * SR)
        x[:, a:b] = 0.1 * rng.standard_normal((2, b - a))
    return x


@pytest.fixture(scope="module")
def detected(bursts: np.ndarray) -> np.ndarray:
    return act.detector_labels(bursts, SR)


def _write(tmp_path, text: str, name: str = "lines.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the detector against known intervals ------------------------------------------------

def test_grid_length_and_reference_labels() -> None:
    n = act.frame_count(DURATION_S)
    assert n == 250
    ref = act.reference_labels(BURSTS, n)
    assert ref.sum() == 180  # 18 s of bursts
    assert not ref[9] and ref[10] and ref[69] and not ref[70]  # [1, 7): frames 10..69


def test_bursts_score_f1_above_095(detected: np.ndarray) -> None:
    ref = act.reference_labels(BURSTS, detected.size)
    s = act.frame_scores(ref, detected)
    assert s.f1 >= 0.95
    assert s.recall == 1.0
    # 100 ms early and 200 ms late at each of 3 bursts: 9 extra frames of 180
    assert s.precision == pytest.approx(180 / 189)
    assert s.ref_active_fraction == pytest.approx(0.72)
    assert s.n_excluded == 0


def test_all_mapping_keeps_the_bursts_extent(bursts: np.ndarray) -> None:
    det = act.detector_labels(bursts, SR, mapping="all")
    ref = act.reference_labels(BURSTS, det.size)
    assert act.frame_scores(ref, det).f1 == pytest.approx(1.0)


def test_any_mapping_widens_more_than_centre(bursts: np.ndarray,
                                            detected: np.ndarray) -> None:
    wide = act.detector_labels(bursts, SR, mapping="any")
    assert wide.sum() > detected.sum()
    assert np.all(wide[detected])


def test_shifted_reference_loses_recall_and_precision(detected: np.ndarray) -> None:
    n = detected.size
    base = act.frame_scores(act.reference_labels(BURSTS, n), detected)
    # reference late by 1 s: [2, 8) against the detected [0.9, 7.2) etc.; 5.2 of each
    # burst's 6 reference seconds are found, 5.2 of its 6.3 detected seconds are right
    late = act.frame_scores(act.reference_labels([(s + 1, e + 1) for s, e in BURSTS], n),
                            detected)
    assert late.recall == pytest.approx(52 / 60)
    assert late.precision == pytest.approx(52 / 63)
    assert late.f1 < base.f1 - 0.1
    # reference on the silences: almost nothing agrees
    gaps = [(0.0, 1.0), (7.0, 9.0), (15.0, 17.0), (23.0, 25.0)]
    none = act.frame_scores(act.reference_labels(gaps, n), detected)
    # only the 9 smeared frames (100 ms before, 200 ms after each burst) agree
    assert none.recall == pytest.approx(9 / 70)
    assert none.precision == pytest.approx(9 / 189)


def test_silence_and_all_active_baseline(detected: np.ndarray) -> None:
    n = detected.size
    ref = act.reference_labels(BURSTS, n)
    nothing = act.frame_scores(ref, np.zeros(n, dtype=bool))
    assert nothing.recall == 0.0 and math.isnan(nothing.precision) and nothing.f1 == 0.0
    everything = act.frame_scores(ref, np.ones(n, dtype=bool))
    assert everything.recall == 1.0
    assert everything.precision == pytest.approx(0.72)
    assert everything.f1 == pytest.approx(2 * 0.72 / 1.72)
    assert everything.det_active_fraction == 1.0


def test_digital_silence_is_never_active() -> None:
    det = act.detector_labels(np.zeros((1, 2 * SR), dtype=np.float32), SR)
    assert det.size == 20 and not det.any()


# -- blocks to frames ---------------------------------------------------------------------

def test_centre_mapping_of_one_active_block() -> None:
    blocks = np.zeros(50, dtype=bool)
    blocks[10] = True  # spans [1.0, 1.4), centre 1.2
    # the frames whose centres are nearest 1.2 (tie at 1.15 and 1.25 -> the 1.15 frame
    # takes block 9, the 1.25 frame block 10; 1.35 is nearer block 11)
    lab = act.block_labels(blocks, 60)
    assert np.flatnonzero(lab).tolist() == [12]
    spans = act.block_labels(blocks, 60, mapping="any")
    assert np.flatnonzero(spans).tolist() == [10, 11, 12, 13]
    assert not act.block_labels(blocks, 60, mapping="all").any()


def test_block_labels_rejects_unknown_mapping() -> None:
    with pytest.raises(ValueError, match="mapping"):
        act.block_labels(np.ones(4, dtype=bool), 4, mapping="middle")


# -- collar -------------------------------------------------------------------------------

def test_collar_excludes_boundary_frames() -> None:
    ref = act.reference_labels([(2.0, 4.0)], 60)
    det = act.reference_labels([(2.3, 4.3)], 60)  # 300 ms late
    plain = act.frame_scores(ref, det)
    assert plain.n_excluded == 0 and plain.f1 == pytest.approx(34 / 40)
    mask = act.boundary_mask(ref, 0.5)
    # boundaries at 2.0 and 4.0: centres 1.55..2.45 and 3.55..4.45 (strictly within 0.5 s)
    expected = [k for k in range(60) if min(abs((k + 0.5) * 0.1 - 2.0),
                                            abs((k + 0.5) * 0.1 - 4.0)) < 0.5]
    assert np.flatnonzero(mask).tolist() == expected
    collared = act.frame_scores(ref, det, collar_s=0.5)
    assert collared.n_excluded == 20 and collared.n_frames == 40
    assert collared.f1 == 1.0
    assert not act.boundary_mask(ref, 0.0).any()
    with pytest.raises(ValueError, match="collar"):
        act.frame_scores(ref, det, collar_s=-1.0)


def test_frame_scores_rejects_different_lengths() -> None:
    with pytest.raises(ValueError, match="frames"):
        act.frame_scores(np.ones(5, dtype=bool), np.ones(6, dtype=bool))


# -- intervals ----------------------------------------------------------------------------

def test_merge_intervals_sorts_and_merges_overlaps() -> None:
    merged = act.merge_intervals([(5.0, 6.0), (1.0, 3.0), (2.0, 2.5), (2.9, 4.0),
                                  (4.0, 4.5), (8.0, 9.0)])
    assert merged.tolist() == [[1.0, 4.5], [5.0, 6.0], [8.0, 9.0]]
    assert act.merge_intervals([]).shape == (0, 2)


def test_read_intervals(tmp_path) -> None:
    path = _write(tmp_path, "start_time,end_time,lyrics_line\n"
                            '10.5,12.0,"la, la"\n1.0,3.0,one\n2.5,4.0,overlaps one\n'
                            "20,20,instant\n")
    assert act.read_intervals(path).tolist() == [[1.0, 4.0], [10.5, 12.0], [20.0, 20.0]]
    empty = _write(tmp_path, "start_time,end_time\n", "empty.csv")
    assert act.read_intervals(empty).shape == (0, 2)


@pytest.mark.parametrize("text, problem", [
    ("start,end_time,lyrics_line\n1,2,a\n", "missing column start_time"),
    ("start_time,end_time\n3.0,2.0\n", "line 2: end_time 2 is before start_time 3"),
    ("start_time,end_time\n1.0,2.0\nabc,3\n", "line 3: start_time 'abc' is not a number"),
    ("start_time,end_time\n-1.0,2.0\n", "start_time -1 is negative"),
    ("start_time,end_time\n1.0,nan\n", "end_time 'nan' is not finite"),
    ("start_time,end_time\n1.0\n", "end_time None is not a number"),
    ("", "empty file"),
])
def test_read_intervals_errors_name_the_file(tmp_path, text: str, problem: str) -> None:
    path = _write(tmp_path, text, "bad_lines.csv")
    with pytest.raises(ValueError) as err:
        act.read_intervals(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)


def test_read_intervals_refuses_a_huge_file(tmp_path) -> None:
    path = tmp_path / "huge.csv"
    with open(path, "w") as fh:
        fh.write("start_time,end_time\n")
        fh.write("1.0,2.0\n" * 600_000)  # 4.8 MB
    with pytest.raises(ValueError, match=r"huge\.csv: larger than"):
        act.read_intervals(path)
    with pytest.raises(ValueError, match=r"huge\.csv: larger than 1000 bytes"):
        act.read_intervals(_write(tmp_path, "start_time,end_time\n" + "1,2\n" * 300,
                                  "huge.csv"), max_bytes=1000)


def test_read_intervals_missing_or_binary_file(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"absent\.csv: cannot read"):
        act.read_intervals(tmp_path / "absent.csv")
    path = tmp_path / "binary.csv"
    path.write_bytes(b"start_time,end_time\n\xff\xfe1,2\n")
    with pytest.raises(ValueError, match=r"binary\.csv: not UTF-8"):
        act.read_intervals(path)
