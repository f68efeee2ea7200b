"""jwinteract.inspect: pixel lookups equal the Session's arrays; flags, fits, availability.

The small simulated exposure (NIRCam SUB160, 6 groups x 2 integrations, seed 3) has a
cosmic ray of ~576 DN in integration 2 and saturated pixels, both known from its truth.
"""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from jwinteract.errors import JwinteractError, UnknownStepError
from jwinteract.inspect import (
    DEFAULT_RAMP_STEPS,
    RampProbe,
    _segments,
    decode_group_dq,
    display_image,
    downsample,
    image_choice,
    pixel_ramp,
    pixel_summary,
)
from jwinteract.models import GROUP

D1 = "detector1"


def strongest_cosmic_ray(truth):
    """(integration, group, y, x) of the largest detectable primary cosmic-ray hit."""
    hits = truth.jumps[(truth.jumps["group"] >= 1) & truth.jumps["primary"]]
    row = hits[int(np.argmax(hits["amplitude_dn"]))]
    assert row["amplitude_dn"] > 300  # far above the ~7 DN noise of a group difference
    return int(row["integration"]), int(row["group"]), int(row["y"]), int(row["x"])


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache folder for the module: after the first test, Detector1 is cache hits."""
    return tmp_path_factory.mktemp("inspect-cache")


@pytest.fixture
def ran(session_factory, shared_cache):
    s = session_factory(steps={"ramp_fit": {"save_opt": True}}, cache_dir=shared_cache)
    s.run(D1)
    return s


def test_values_are_the_session_arrays_at_the_pixel(ran, small_exposure):
    truth = small_exposure[0].truth
    _, _, y, x = strongest_cosmic_ray(truth)
    for yy, xx in ((y, x), (40, 77)):
        r = pixel_ramp(ran, yy, xx)
        assert r.steps == DEFAULT_RAMP_STEPS and r.unavailable == {}
        for step in DEFAULT_RAMP_STEPS:
            assert_array_equal(r.data[step], ran.result(step).data[:, :, yy, xx])
        jump = ran.result("jump")
        assert r.dq_step == "jump"
        assert_array_equal(r.groupdq, jump.groupdq[:, :, yy, xx])
        assert r.pixeldq == jump.pixeldq[yy, xx]
        rate, ints = ran.result("ramp_fit", "rate"), ran.result("ramp_fit", "rateints")
        assert r.rate == rate.data[yy, xx] and r.rate_err == rate.err[yy, xx]
        assert_array_equal(r.rateints, ints.data[:, yy, xx])
        assert_array_equal(r.rateints_err, ints.err[:, yy, xx])
    # The group times are jwst's mean frame times, as the simulator used them.
    assert_allclose(r.times, truth.group_times, rtol=1e-6)


def test_flags_decode(ran, small_exposure):
    truth = small_exposure[0].truth
    i, g, y, x = strongest_cosmic_ray(truth)
    r = pixel_ramp(ran, y, x)
    assert r.jump[i, g] and np.count_nonzero(r.jump) == 1
    assert not r.saturated.any() and not r.do_not_use.any()
    iy, sy, sx = np.argwhere(truth.first_saturated_group < truth.group_times.size)[0]
    s = pixel_ramp(ran, sy, sx)
    first = truth.first_saturated_group[iy, sy, sx]
    # Every group the truth says is saturated is flagged (jwst also flags earlier groups
    # of a pixel next to one that saturated: n_pix_grow_sat).
    assert s.saturated[iy, first:].all()
    gdq = ran.result("jump").groupdq[:, :, sy, sx]
    assert_array_equal(s.saturated, (gdq & GROUP["SATURATED"]) != 0)
    assert_array_equal(s.do_not_use, (gdq & GROUP["DO_NOT_USE"]) != 0)
    assert pixel_ramp(ran, 0, 0).pixeldq_names == ("REFERENCE_PIXEL",)
    gdq = np.array([0, GROUP["SATURATED"], GROUP["JUMP_DET"], GROUP["DO_NOT_USE"] | 4], np.uint8)
    masks = decode_group_dq(gdq)
    assert masks["saturated"].tolist() == [False, True, False, False]
    assert masks["jump"].tolist() == [False, False, True, True]
    assert masks["do_not_use"].tolist() == [False, False, False, True]


def test_fit_line_is_slope_times_time_plus_intercept(ran, small_exposure):
    i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
    r = pixel_ramp(ran, y, x)
    opt = ran.result("ramp_fit", "fitopt")
    assert r.fit_source == "fitopt" and r.fit_step == "jump"
    ngroups = r.ngroups
    # The jump splits integration i in two segments, the second starting at the jump.
    assert [s for s in r.fit_segments if s[0] == i] == [(i, 0, g), (i, g, ngroups - g)]
    assert [s for s in r.fit_segments if s[0] != i] == [(1 - i, 0, ngroups)]
    k = np.arange(ngroups)
    for order, (_, start, length) in enumerate(s for s in r.fit_segments if s[0] == i):
        sel = slice(start, start + length)
        line = opt.yint[i, order, y, x] + opt.slope[i, order, y, x] * r.group_time * k[sel]
        assert_allclose(r.fit[i, sel], line, rtol=1e-5)
    # A fitted line follows its data to within the noise: the read noise of one group
    # (~4.6 DN here) plus Poisson noise; 5 sigma of the group noise bounds it.
    rn = small_exposure[0].truth.read_noise[y, x]
    assert_allclose(r.fit, r.fit_input, atol=5 * rn * np.sqrt(2))


def test_fit_without_fitopt_is_the_rateints_slope(session_factory, small_exposure):
    s = session_factory()  # save_opt False: no fitopt product
    s.run(D1)
    i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
    r = pixel_ramp(s, y, x)
    assert r.fit_source == "rateints"
    for ii, start, length in r.fit_segments:
        seg = slice(start, start + length)
        assert_allclose(np.diff(r.fit[ii, seg]), r.rateints[ii] * r.group_time, rtol=1e-5)
        # The intercept is the equal-weight least-squares one for that slope.
        assert_allclose(np.mean(r.fit[ii, seg] - r.fit_input[ii, seg]), 0.0, atol=1e-6)


def test_steps_not_available_are_left_out(session_factory):
    s = session_factory(steps={"ramp_fit": {"save_opt": True}})
    with pytest.raises(JwinteractError, match="run session.run"):
        pixel_ramp(s, 10, 10)
    s.run(D1, stop="linearity")
    r = pixel_ramp(s, 10, 10)
    assert r.steps == ("dq_init", "linearity") and r.dq_step == "linearity"
    assert r.unavailable == {"dark_current": "fresh", "jump": "fresh"}
    assert r.rate is None and r.fit is None
    s.run(D1)
    s.set("jump", rejection_threshold=6.0)  # jump and ramp_fit are stale until re-run
    r = pixel_ramp(s, 10, 10)
    assert r.steps == ("dq_init", "linearity", "dark_current")
    assert r.unavailable == {"jump": "stale"} and r.rate is None
    s.skip("dark_current")
    s.run(D1)
    r = pixel_ramp(s, 10, 10)
    assert r.steps == ("dq_init", "linearity", "jump")
    assert r.unavailable["dark_current"].startswith("skipped")
    assert r.fit_step == "jump" and r.rate is not None


def test_probe_follows_reruns_and_lets_go_of_stale_models(ran, small_exposure):
    i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
    probe = RampProbe(ran)
    assert probe.ramp(y, x).jump[i, g]
    held_before = {slot: key for slot, (key, _) in probe._held.items()}
    ran.set("jump", rejection_threshold=100.0)
    ran.run(D1)
    r = probe.ramp(y, x)
    assert not r.jump.any()
    assert [s for s in r.fit_segments if s[0] == i] == [(i, 0, r.ngroups)]
    held_after = {slot: key for slot, (key, _) in probe._held.items()}
    assert held_after[("jump", None)] != held_before[("jump", None)]
    assert held_after[("dq_init", None)] == held_before[("dq_init", None)]
    # ramp_fit's input (jump's output) is not kept twice.
    assert set(held_after) == {(s, None) for s in DEFAULT_RAMP_STEPS} | {
        ("ramp_fit", "rate"), ("ramp_fit", "rateints"), ("ramp_fit", "fitopt")}  # fmt: skip
    state = probe.state()
    assert all(state[slot[0]][0] == key for slot, key in held_after.items())


def test_pixel_summary(ran, small_exposure):
    i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
    info = pixel_summary(ran, y, x)
    rate = ran.result("ramp_fit", "rate")
    assert info["rate"] == rate.data[y, x] and info["err"] == rate.err[y, x]
    assert info["var_poisson"] == rate.var_poisson[y, x]
    assert info["var_rnoise"] == rate.var_rnoise[y, x]
    assert info["rate_dq_names"] == ["JUMP_DET"] and info["pixeldq_names"] == []
    assert len(info["rateints"]) == 2 and info["unit"] == "DN/s"
    assert pixel_summary(ran, 0, 0)["pixeldq_names"] == ["REFERENCE_PIXEL"]


def test_pixel_outside_and_unknown_steps(ran):
    with pytest.raises(IndexError, match="outside the 160 x 160"):
        pixel_ramp(ran, 160, 3)
    with pytest.raises(IndexError):
        pixel_ramp(ran, -1, 3)
    with pytest.raises(UnknownStepError, match="flat_field"):
        RampProbe(ran, steps=("jump", "flat_field"))


def test_display_image(ran):
    full = display_image(ran, "rate")
    assert full.factor == 1 and full.shape == (160, 160)
    assert_array_equal(full.data, ran.result("ramp_fit", "rate").data)
    assert full.vmin < full.vmax
    small = display_image(ran, (1, 4), max_size=64)
    assert small.factor == 3 and small.data.shape == (54, 54)
    plane = ran.result("jump").data[1, 4]
    assert_allclose(small.data[10, 20], plane[30:33, 60:63].mean(), rtol=1e-5)
    assert "jump" in small.label
    with pytest.raises(IndexError, match="outside the ramp"):
        display_image(ran, (2, 0))
    with pytest.raises(ValueError, match="'rate' or an"):
        image_choice("ratee")


def test_downsample_ignores_nan():
    img = np.arange(16, dtype=np.float32).reshape(4, 4)
    img[0, 0] = np.nan
    img[2:, 2:] = np.nan
    out, f = downsample(img, 2)
    assert f == 2
    assert_allclose(out[0, 0], np.mean([1, 4, 5]))
    assert np.isnan(out[1, 1])
    out, f = downsample(np.ones((5, 3)), 2)  # padded to 6 x 4
    assert f == 3 and out.shape == (2, 1) and (out == 1).all()


@pytest.mark.parametrize(
    "gdq, expected",
    [
        ([0, 0, 0, 0], [(0, 4)]),
        ([0, 0, 4, 0, 0], [(0, 2), (2, 3)]),  # a jump starts the next segment
        ([0, 0, 5, 0, 0], [(0, 2), (3, 2)]),  # not exactly JUMP_DET: excluded
        ([0, 0, 0, 2, 2], [(0, 3)]),
        ([0, 4, 0, 0, 0], [(1, 4)]),  # the one-group run is dropped
        ([0, 1, 1, 1], []),  # one good group, suppressed
        ([0, 32, 0], [(0, 3)]),  # PERSISTENCE does not split
    ],
)
def test_segments_are_cut_as_ramp_fit_cuts_them(gdq, expected):
    gdq = np.array(gdq, dtype=np.uint8)
    usable = np.ones(gdq.size, dtype=bool)
    assert _segments(gdq, usable=usable, suppress_one_group=True) == expected


def test_engine_module_imports_no_widget_code():
    code = (
        "import sys, jwinteract.inspect\n"
        "print([m for m in ('ipywidgets', 'bokeh', 'jupyter_bokeh', 'jwinteract.widgets')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
