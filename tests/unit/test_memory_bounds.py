"""Issue 19: the whole-song steps of the mixing chain hold no avoidable copy of the song.

Measured with ``tracemalloc`` (numpy reports its buffers to it): the peak of the memory a
call allocates beyond its inputs, against the size of the song."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

SR = 44100


def _peak_allocated(fn, *args, **kwargs) -> tuple[object, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        result = fn(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak - start


@pytest.mark.parametrize("channels", [1, 2])
def test_true_peak_meter_allocates_no_copy_of_the_signal(channels):
    from vocalmix.measure.loudness import true_peak_dbtp

    rng = np.random.default_rng(0)
    allocated = {}
    for seconds in (120, 360):
        x = (0.1 * rng.standard_normal((channels, seconds * SR))).astype(np.float32)
        x[channels - 1, 123_457] = 0.9
        peak_db, allocated[seconds] = _peak_allocated(true_peak_dbtp, x, SR)
        assert peak_db == pytest.approx(20 * np.log10(0.9), abs=0.5)
        # runs of 64k samples, 2 MB at a time per channel thread for the level scan: a fixed
        # few MB per channel (4.2 MB measured), where the padded copy and its absolute value
        # took twice the signal (254 MB for 360 s of stereo)
        assert allocated[seconds] < channels * 5e6
    if channels == 1:
        # one thread: the same working set whatever the length. (With two channel threads
        # the peak depends on how long their working sets overlap: 6.3 to 9.0 MB measured
        # for the same call, so only the bound above applies there.)
        assert allocated[360] - allocated[120] < 1e6


@pytest.mark.parametrize("channels", [1, 2])
def test_reverb_render_holds_the_output_and_the_plugins_buffer_only(channels):
    from vocalmix.dsp.reverb import ReverbSettings, render_reverb

    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal((channels, 30 * SR))).astype(np.float32)
    settings = ReverbSettings(room_size=0.6, damping=0.4, wet_db=-9.0, predelay_ms=30.0,
                              size=1.0)
    out, allocated = _peak_allocated(render_reverb, x, SR, settings)
    stereo_song = 2 * x.shape[1] * 4
    assert out.shape == (2, x.shape[1])
    # the send and the plugin's output (the returned array is a view of the latter); a mono
    # take is not copied to stereo: at most 2 stereo songs, not the 4 of a naive render
    assert allocated < 2.1 * stereo_song
    # before the 30-ms pre-delay the output is the dry take alone, in both channels
    dry = int(0.03 * SR)
    assert np.array_equal(out[:, :dry], np.broadcast_to(x[:, :dry], (2, dry)))
