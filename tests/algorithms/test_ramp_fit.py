"""Tests of jwinteract.algorithms.ramp_fit: parity with stcal 1.20 OLS_C, accuracy, purity.

The differential tests run stcal the way jwst 3.0's RampFitStep does (``ramp_fit.ramp_fit``
on a RampModel, after ``set_groupdq`` for firstgroup/lastgroup) on seeded synthetic ramps
that exercise every special case: jumps (some with DO_NOT_USE, some next to each other),
saturated tails, DO_NOT_USE groups and pixels, other group flags that break segments,
PERSISTENCE, CHARGELOSS, bad gain and read noise, raw NaN data.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest
from stdatamodels.jwst.datamodels import dqflags

import jwinteract.algorithms.ramp_fit as ramp_fit_module
from jwinteract.algorithms.ramp_fit import RampFitOutput, fit_ramps

PIXEL = dqflags.pixel
DNU, SAT, JUMP = PIXEL["DO_NOT_USE"], PIXEL["SATURATED"], PIXEL["JUMP_DET"]
TIMING = {"frame_time": 10.737, "group_time": 10.737, "nframes": 1, "groupgap": 0}
PRODUCTS = ("slope", "dq", "var_poisson", "var_rnoise", "err")

# Both implementations compute in float64 and round to float32 at the end, so they differ
# only through float64 summation order (~1e-16 relative), which can flip the last float32
# bit (6e-8 relative). RTOL leaves a margin of over 100x for that while any formula or
# case-handling difference shows at 1e-3 or more. ATOL is for slopes that are exactly zero:
# float32 data are quantised, so weighted sums can cancel exactly, leaving ~1e-14 DN/s of
# float64 rounding in each implementation, far below any physical rate.
RTOL = 1e-5
ATOL = 1e-9


def simulate(seed, nints, ngroups, shape=(64, 64), *, chargeloss=False, nan=False, pers=False):
    """Seeded ramps (DN) with Poisson and read noise and every kind of flag stcal handles."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    full = (nints, ngroups, ny, nx)
    gain = rng.uniform(1.5, 2.5, shape).astype(np.float32)
    readnoise = rng.uniform(5, 15, shape).astype(np.float32)  # CDS noise, DN
    rate = rng.lognormal(0, 2, shape)  # DN/s, faint to saturating
    rate[rng.random(shape) < 0.05] *= -0.01
    tgroup = TIMING["group_time"]
    electrons = rng.poisson(np.clip(rate * gain, 0, None) * tgroup, full).cumsum(axis=1)
    data = rng.uniform(1e3, 1.2e4, shape) + electrons / gain
    data += rng.normal(0, 1, full) * readnoise / np.sqrt(2)
    gdq = np.zeros(full, np.uint8)
    pdq = np.zeros(shape, np.uint32)
    if ngroups > 1:
        jumps = rng.random(full) < 0.03
        jumps[:, 0] = False
        data += np.cumsum(rng.uniform(50, 2000, full) * jumps, axis=1)
        gdq[jumps] |= JUMP
        # Flagged neighbours (no step), some also DO_NOT_USE.
        extra = rng.random(full) < 0.01
        gdq[extra] |= JUMP | (DNU * (rng.random(full) < 0.3)[extra]).astype(np.uint8)
    bright = rng.random(shape) < 0.08
    ramp = np.linspace(0, 8e4, ngroups)[:, None] * rng.uniform(0.1, 1, bright.sum())
    data[:, :, bright] += ramp
    gdq[data >= rng.uniform(2e4, 6e4, shape)] |= SAT
    gdq[:, 1:, rng.random(shape) < 0.01] |= SAT  # only the first group is good
    gdq[:, 2:, rng.random(shape) < 0.02] |= SAT  # two good groups
    gdq[np.maximum.accumulate((gdq & SAT) > 0, axis=1)] |= SAT  # saturation persists
    gdq[rng.random(full) < 0.02] |= DNU
    gdq[rng.random(full) < 0.005] |= PIXEL["DROPOUT"]  # breaks segments, not DO_NOT_USE
    pdq[rng.random(shape) < 0.01] |= DNU
    pdq[rng.random(shape) < 0.01] |= PIXEL["HOT"]
    pdq[rng.random(shape) < 0.005] |= SAT
    if pers:
        gdq[rng.random(full) < 0.05] |= PIXEL["PERSISTENCE"]
    if chargeloss and ngroups > 2:
        lost = np.maximum.accumulate(rng.random(full) < 0.03, axis=1)
        gdq[lost] |= PIXEL["CHARGELOSS"] | (DNU * (rng.random(full) < 0.7)[lost]).astype(np.uint8)
    gain[rng.random(shape) < 0.01] = 0
    gain[rng.random(shape) < 0.005] = np.nan
    gain[rng.random(shape) < 0.005] = -1
    readnoise[rng.random(shape) < 0.005] = 0
    readnoise[rng.random(shape) < 0.005] = np.nan
    # Variances above stcal's 1e6 threshold: tiny gain (Poisson), huge read noise.
    gain[rng.random(shape) < 0.005] = 1e-7
    readnoise[rng.random(shape) < 0.005] = 3e5
    if nan:
        data[rng.random(full) < 0.003] = np.nan
    return {
        "data": data.astype(np.float32),
        "groupdq": gdq,
        "pixeldq": pdq,
        "readnoise": readnoise,
        "gain": gain,
    }


def stcal_fit(inputs, *, timing=TIMING, dropframes1=0, instrument="NIRCAM", **options):
    """stcal's result as jwst 3.0's RampFitStep gets it, on copies of the inputs."""
    stcal_ramp_fit = pytest.importorskip("stcal.ramp_fitting.ramp_fit")
    from stdatamodels.jwst import datamodels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jwst's import and stcal's arithmetic on bad pixels
        from jwst.ramp_fitting.ramp_fit_step import set_groupdq

        model = datamodels.RampModel(
            data=inputs["data"].copy(),
            groupdq=inputs["groupdq"].copy(),
            pixeldq=inputs["pixeldq"].copy(),
        )
        model.meta.instrument.name = instrument
        for key, value in {**timing, "drop_frames1": dropframes1}.items():
            setattr(model.meta.exposure, key, value)
        if options.get("average_dark_current") is not None:
            model.average_dark_current = options["average_dark_current"].copy()
        if options.get("zeroframe") is not None:
            model.zeroframe = options["zeroframe"].copy()
        first, last = options.get("firstgroup"), options.get("lastgroup")
        if first is not None or last is not None:
            ngroups = model.data.shape[1]
            set_groupdq(first, last, ngroups, model.groupdq, dqflags.group)
        # ramp_fit scales the read noise in place: give it a copy.
        return stcal_ramp_fit.ramp_fit(
            model,
            options.get("save_opt", False),
            inputs["readnoise"].copy(),
            inputs["gain"].copy(),
            "OLS_C",
            "optimal",
            "1",
            PIXEL,
            suppress_one_group=options.get("suppress_one_group", True),
        )


def our_fit(inputs, *, timing=TIMING, **options):
    return fit_ramps(
        inputs["data"],
        inputs["groupdq"],
        inputs["pixeldq"],
        readnoise=inputs["readnoise"],
        gain=inputs["gain"],
        dqflags=PIXEL,
        **timing,
        **options,
    )


def assert_same_arrays(ours, theirs, label):
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, label
    if ours.dtype.kind != "f":
        np.testing.assert_array_equal(ours, theirs, err_msg=label)
        return
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{label} NaN")
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=label)


def assert_matches_stcal(inputs, **options):
    """Compare rate, rateints (and the optional products) with stcal's."""
    stcal_kw = {k: options[k] for k in ("timing", "dropframes1", "instrument") if k in options}
    theirs = stcal_fit(
        inputs, **stcal_kw, **{k: v for k, v in options.items() if k not in stcal_kw}
    )
    ours = our_fit(inputs, **options)
    if theirs[0] is None:
        assert ours == (None, None, None)
        return ours
    for level, mine, ref in zip(("rate", "rateints"), ours[:2], theirs[:2], strict=True):
        assert isinstance(mine, RampFitOutput)
        for name in PRODUCTS:
            assert_same_arrays(getattr(mine, name), ref[name], f"{level} {name}")
    if options.get("save_opt"):
        assert ours[2].keys() == theirs[2].keys()
        for name, ref in theirs[2].items():
            assert_same_arrays(ours[2][name], ref, f"opt {name}")
    else:
        assert ours[2] is None
    return ours


@pytest.mark.jwst
@pytest.mark.parametrize("ngroups", [1, 2, 3, 5, 10])
@pytest.mark.parametrize("nints", [1, 2, 3])
def test_matches_stcal(nints, ngroups):
    assert_matches_stcal(simulate(10 * nints + ngroups, nints, ngroups))


@pytest.mark.jwst
@pytest.mark.parametrize("ngroups", [1, 2, 5, 10])
def test_optional_products_match_stcal(ngroups):
    rate, _, opt = assert_matches_stcal(simulate(ngroups, 2, ngroups), save_opt=True)
    assert opt["slope"].shape[:2] == (2, opt["yint"].shape[1])
    if ngroups == 10:  # several segments and jumps somewhere
        assert opt["slope"].shape[1] >= 3 and opt["crmag"].shape[1] >= 2


PATTERN = {"frame_time": 2.7, "group_time": 13.5, "nframes": 4, "groupgap": 1}
OPTIONS = {
    "no-suppression": ({}, {"suppress_one_group": False}),
    "readout-pattern": ({}, {"timing": PATTERN, "dropframes1": 1, "save_opt": True}),
    # Where only the first group is good its time is (nframes + 1) * frame_time / 2.
    "readout-pattern-no-suppression": ({}, {"timing": PATTERN, "suppress_one_group": False}),
    "one-group-readout-pattern": ({"ngroups": 1}, {"timing": PATTERN}),
    "dark-current": ({}, {"average_dark_current": "dark"}),
    "zeroframe": ({}, {"zeroframe": "zeroframe", "suppress_one_group": False, "save_opt": True}),
    "zeroframe-suppressed": ({}, {"zeroframe": "zeroframe"}),
    "chargeloss": ({"chargeloss": True}, {}),
    "chargeloss-no-suppression": ({"chargeloss": True}, {"suppress_one_group": False}),
    "persistence": ({"pers": True}, {}),  # ignored when counting good groups and segments
    "nan-persistence": ({"nan": True, "pers": True}, {"suppress_one_group": False}),
    "first-last-group": ({}, {"firstgroup": 1, "lastgroup": 7}),
    "lastgroup-beyond-ramp": ({}, {"lastgroup": 12}),
    "firstgroup-not-before-lastgroup": ({}, {"firstgroup": 5, "lastgroup": 5}),
    "negative-firstgroup": ({}, {"firstgroup": -1, "lastgroup": 3}),
}


@pytest.mark.jwst
@pytest.mark.parametrize("case", OPTIONS)
def test_options_match_stcal(case):
    sim_kw, options = OPTIONS[case]
    inputs = simulate(len(case), 2, sim_kw.pop("ngroups", 10), **sim_kw)
    rng = np.random.default_rng(7)
    if options.get("average_dark_current") == "dark":
        options["average_dark_current"] = rng.uniform(0, 0.5, (64, 64)).astype(np.float32)
    if options.get("zeroframe") == "zeroframe":
        zeroframe = rng.uniform(100, 5000, (2, 64, 64)).astype(np.float32)
        zeroframe[rng.random(zeroframe.shape) < 0.2] = 0  # zero means "not available"
        options["zeroframe"] = zeroframe
    assert_matches_stcal(inputs, **options)


@pytest.mark.jwst
def test_many_groups_match_stcal():
    """Long ramps take the sorting (not network) median and longer weight tables."""
    assert_matches_stcal(simulate(3, 1, 30, shape=(48, 48), pers=True), save_opt=True)


@pytest.mark.jwst
@pytest.mark.parametrize("first, last", [(1, 1), (2, 0), (0, 1), (3, 2)])
def test_miri_group_discard_matches_stcal(first, last):
    inputs = simulate(first + 5 * last, 2, 10)
    inputs["groupdq"][:, :first] |= DNU  # as MIRI firstframe/lastframe do, in every pixel
    if last:
        inputs["groupdq"][:, -last:] |= DNU
    assert_matches_stcal(inputs, instrument="MIRI", save_opt=True)


@pytest.mark.jwst
@pytest.mark.parametrize("block_samples", [5000, 3 * 64 * 64 + 1])
def test_blocks_and_integration_chunks_match_stcal(monkeypatch, block_samples):
    """Small blocks: many row blocks, and integrations split over chunks (3 * 64 * 64 + 1)."""
    monkeypatch.setattr(ramp_fit_module, "BLOCK_SAMPLES", block_samples)
    inputs = simulate(block_samples % 97, 3, 5, chargeloss=True)
    assert_matches_stcal(inputs, save_opt=True)


@pytest.mark.jwst
def test_none_where_stcal_gives_up():
    inputs = simulate(1, 2, 5)
    inputs["groupdq"][:, 0] |= SAT  # every ramp saturated from the start
    assert_matches_stcal(inputs)
    inputs = simulate(2, 2, 3)
    inputs["groupdq"][:, :2] |= DNU  # MIRI: one usable group left
    assert_matches_stcal(inputs, instrument="MIRI")
    assert our_fit(inputs, instrument="MIRI") == (None, None, None)


@pytest.mark.parametrize("rate", [0.2, 50.0])
def test_pull_is_unit_normal(rate):
    """(slope - truth) / err is ~N(0, 1), read-noise (0.2 DN/s) or Poisson (50) dominated.

    With N = 16384 pixels the sample std scatters by 1/sqrt(2N) = 0.0055. stcal's Poisson
    variance is the two-point one, ~10% below the OLS value at low S/N, where Poisson is
    ~16% of the variance: expected std ~1.01. Tolerance 0.03 = that + 4 sigma. The mean
    has sigma 1/sqrt(N) = 0.008; data-dependent weighting biases it by ~0.025 at low S/N.
    """
    rng = np.random.default_rng(42)
    shape, ngroups, gain, readnoise = (128, 128), 10, 2.0, 10.0
    tgroup = TIMING["group_time"]
    full = (1, ngroups) + shape
    data = rng.poisson(rate * gain * tgroup, full).cumsum(axis=1) / gain + 1000.0
    data += rng.normal(0, readnoise / np.sqrt(2), full)
    groupdq = np.zeros(full, np.uint8)
    hit = np.flatnonzero(rng.random(shape) < 0.05)  # flagged cosmic rays
    at = rng.integers(2, ngroups - 1, hit.size)
    for pixel, group in zip(hit, at, strict=True):
        y, x = np.unravel_index(pixel, shape)
        data[0, group:, y, x] += 500.0
        groupdq[0, group, y, x] = JUMP
    inputs = {
        "data": data.astype(np.float32),
        "groupdq": groupdq,
        "pixeldq": np.zeros(shape, np.uint32),
        "readnoise": np.full(shape, readnoise, np.float32),
        "gain": np.full(shape, gain, np.float32),
    }
    result, _, _ = our_fit(inputs)
    pull = (result.slope - rate) / result.err
    assert np.all(np.isfinite(pull))
    assert abs(pull.std() - 1.0) < 0.03
    assert abs(pull.mean()) < 0.05


def fingerprint(array):
    array = np.asarray(array)
    return (
        type(array),
        array.dtype.str,
        array.shape,
        array.strides,
        hashlib.sha256(array).hexdigest(),
    )


def test_inputs_not_modified():
    """Every path that changes DQ or data internally works on copies (stcal does not)."""
    inputs = simulate(5, 2, 10, chargeloss=True, nan=True, pers=True)
    inputs["data"] = inputs["data"].astype(">f4")  # FITS arrays are big-endian
    inputs["pixeldq"] = inputs["pixeldq"].astype(">u4")
    rng = np.random.default_rng(3)
    extra = {
        "average_dark_current": rng.uniform(0, 1, (64, 64)).astype(">f4"),
        "zeroframe": rng.uniform(0, 1e3, (2, 64, 64)).astype(np.float32),
    }
    inputs["groupdq"][:, 0] |= DNU  # MIRI discard and its JUMP_DET removal
    before = {k: fingerprint(v) for k, v in {**inputs, **extra}.items()}
    for options in (
        {"suppress_one_group": False, "save_opt": True, "instrument": "MIRI"},
        {"firstgroup": 2, "lastgroup": 8, "save_opt": True},
    ):
        rate, rateints, _ = our_fit(inputs, **extra, **options)
        assert rate.slope.dtype == np.float32 and rateints.dq.dtype == np.uint32
    assert {k: fingerprint(v) for k, v in {**inputs, **extra}.items()} == before


def test_progress_is_reported_per_block(monkeypatch):
    monkeypatch.setattr(ramp_fit_module, "BLOCK_SAMPLES", 5 * 64 * 10)
    seen = []
    our_fit(simulate(1, 1, 5), progress=seen.append)
    assert len(seen) == 7  # 64 rows, 10 per block
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_rejects_mismatched_shapes():
    inputs = simulate(1, 1, 3)
    with pytest.raises(ValueError, match="groupdq shape"):
        our_fit({**inputs, "groupdq": inputs["groupdq"][:, :2]})
    with pytest.raises(ValueError, match="gain must have shape"):
        our_fit({**inputs, "gain": inputs["gain"][:10]})
    with pytest.raises(ValueError, match="zeroframe must have shape"):
        our_fit(inputs, zeroframe=np.zeros((2, 64, 64), np.float32))


# ----------------------------------------------------------------- compiled kernel (numba)
# fit_ramps fits most pixels with a compiled kernel (jwinteract.algorithms._ramp_kernel) and
# sends the others (and save_opt) through the vectorised numpy path. The two must agree on
# every pixel: bit for bit in DQ, and to float32 rounding in the values (their Fixsen sums
# are added in different orders, so a float64 ulp can flip the last float32 bit).
COMPILED_CASES = {
    "plain-1int-10": ({"nints": 1, "ngroups": 10}, {}),
    "2ints-5": ({"nints": 2, "ngroups": 5}, {}),
    "3ints-3": ({"nints": 3, "ngroups": 3}, {}),
    "one-group": ({"nints": 2, "ngroups": 1}, {}),
    "two-groups": ({"nints": 2, "ngroups": 2}, {}),
    "no-suppression": ({"nints": 2, "ngroups": 10}, {"suppress_one_group": False}),
    "readout-pattern": ({"nints": 2, "ngroups": 10}, {"timing": PATTERN, "dropframes1": 1}),
    "first-last-group": ({"nints": 2, "ngroups": 10}, {"firstgroup": 1, "lastgroup": 7}),
    "miri": ({"nints": 2, "ngroups": 10, "miri": True}, {"instrument": "MIRI"}),
    "nan-persistence": ({"nints": 2, "ngroups": 10, "nan": True, "pers": True}, {}),
    "chargeloss": ({"nints": 2, "ngroups": 10, "chargeloss": True}, {}),  # declined pixels
    "zeroframe": ({"nints": 2, "ngroups": 10}, {"zeroframe": True, "suppress_one_group": False}),
    "dark-current": ({"nints": 1, "ngroups": 10}, {"average_dark_current": True}),
    "long-ramp": ({"nints": 1, "ngroups": 30, "pers": True}, {}),
    "longer-ramp": ({"nints": 1, "ngroups": 40}, {}),  # medians sorted, not by network
}


def compiled_inputs(case):
    sim_kw, options = dict(COMPILED_CASES[case][0]), dict(COMPILED_CASES[case][1])
    miri = sim_kw.pop("miri", False)
    inputs = simulate(len(case) + 100, sim_kw.pop("nints"), sim_kw.pop("ngroups"), **sim_kw)
    rng = np.random.default_rng(11)
    nints = inputs["data"].shape[0]
    if miri:
        inputs["groupdq"][:, 0] |= DNU
        inputs["groupdq"][:, -1] |= DNU
    if options.get("zeroframe"):
        zeroframe = rng.uniform(100, 5000, (nints, 64, 64)).astype(np.float32)
        zeroframe[rng.random(zeroframe.shape) < 0.2] = 0
        options["zeroframe"] = zeroframe
    if options.get("average_dark_current"):
        options["average_dark_current"] = rng.uniform(0, 0.5, (64, 64)).astype(np.float32)
    return inputs, options


def assert_same_fits(ours, theirs, label=""):
    for level, mine, ref in zip(("rate", "rateints"), ours[:2], theirs[:2], strict=True):
        for name in PRODUCTS:
            assert_same_arrays(getattr(mine, name), getattr(ref, name), f"{label} {level} {name}")


def assert_identical_fits(ours, theirs):
    for mine, ref in zip(ours[:2], theirs[:2], strict=True):
        for name in PRODUCTS:
            np.testing.assert_array_equal(getattr(mine, name), getattr(ref, name), err_msg=name)


@pytest.mark.parametrize("case", COMPILED_CASES)
def test_compiled_kernel_matches_numpy_path(monkeypatch, case):
    pytest.importorskip("numba")
    inputs, options = compiled_inputs(case)
    compiled = our_fit(inputs, **options)
    monkeypatch.setattr(ramp_fit_module, "USE_COMPILED", False)
    reference = our_fit(inputs, **options)
    assert_same_fits(compiled, reference, case)
    for mine, ref in zip(compiled[:2], reference[:2], strict=True):
        assert np.isfinite(mine.slope).mean() > 0.5  # the cases are not all bad pixels
        close = np.isclose(mine.slope, ref.slope, rtol=0, atol=0, equal_nan=True)
        assert close.mean() > 0.99  # and almost all are even bit-identical


def test_compiled_kernel_takes_most_pixels(monkeypatch):
    """Only CHARGELOSS pixels (and ZEROFRAME-substituted ones) go to the numpy path."""
    pytest.importorskip("numba")
    inputs, _ = compiled_inputs("chargeloss")
    declined = []
    original = ramp_fit_module._fit_pixels

    def spy(setup, pixel, ys, xs, rate, rateints):
        declined.append(ys.size)
        return original(setup, pixel, ys, xs, rate, rateints)

    monkeypatch.setattr(ramp_fit_module, "_fit_pixels", spy)
    our_fit(inputs)
    chargeloss = np.any(inputs["groupdq"] & PIXEL["CHARGELOSS"], axis=(0, 1))
    assert sum(declined) == np.count_nonzero(chargeloss) > 0
    declined.clear()
    our_fit(simulate(5, 2, 10))
    assert declined == []


@pytest.mark.parametrize("block_samples", [5000, 3 * 64 * 64 + 1, 1 << 30])
def test_compiled_blocks_on_threads_match_one_block(monkeypatch, block_samples):
    """Row blocks on the thread pool give exactly the single-block, single-thread result."""
    pytest.importorskip("numba")
    inputs = simulate(21, 3, 10, chargeloss=True, nan=True)
    monkeypatch.setattr(ramp_fit_module, "THREADS", 1)
    monkeypatch.setattr(ramp_fit_module, "BLOCK_SAMPLES", 1 << 30)
    single = our_fit(inputs)
    monkeypatch.setattr(ramp_fit_module, "THREADS", 2)
    monkeypatch.setattr(ramp_fit_module, "BLOCK_SAMPLES", block_samples)
    seen = []
    threaded = our_fit(inputs, progress=seen.append)
    assert_identical_fits(threaded, single)
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_compiled_kernel_any_layout_and_byte_order():
    """Big-endian, float64 and non-contiguous inputs (copied per block) give the same fit."""
    pytest.importorskip("numba")
    inputs = simulate(8, 2, 10)
    reference = our_fit(inputs)
    # Each pixel twice side by side: every other column of this is the input again.
    wide = {k: np.repeat(v, 2, axis=-1) for k, v in inputs.items()}
    variants = {
        "big-endian": {**inputs, "data": inputs["data"].astype(">f4")},
        "float64": {**inputs, "data": inputs["data"].astype(np.float64)},
        "strided": {k: v[..., ::2] for k, v in wide.items()},
        "groupdq-int16": {**inputs, "groupdq": inputs["groupdq"].astype(np.int16)},
    }
    for name, variant in variants.items():
        result = our_fit(variant)
        for mine, ref in zip(result[:2], reference[:2], strict=True):
            for product in PRODUCTS:
                np.testing.assert_array_equal(
                    getattr(mine, product), getattr(ref, product), err_msg=f"{name} {product}"
                )


def test_compiled_kernel_off_beyond_max_groups(monkeypatch):
    """Ramps longer than the kernel's MAX_GROUPS fall back to the numpy path, same result."""
    kernel = pytest.importorskip("jwinteract.algorithms._ramp_kernel")
    inputs = simulate(9, 1, 10)
    compiled = our_fit(inputs)
    monkeypatch.setattr(kernel, "MAX_GROUPS", 5)
    monkeypatch.setattr(ramp_fit_module, "_fit_block", _counting(ramp_fit_module._fit_block))
    fallback = our_fit(inputs)
    assert ramp_fit_module._fit_block.calls > 0
    assert_same_fits(compiled, fallback)


def _counting(function):
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        return function(*args, **kwargs)

    wrapper.calls = 0
    return wrapper
