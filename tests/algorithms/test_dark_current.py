"""subtract_dark / average_dark_current against stcal 1.20.0 / jwst 3.0.0."""

import hashlib
import logging

import numpy as np
import pytest
from stcal.dark_current import dark_sub
from stcal.dark_current.dark_class import DarkData, ScienceData
from stdatamodels.jwst import datamodels

from jwinteract.algorithms import dark_current
from jwinteract.algorithms.dark_current import average_dark_current, subtract_dark

HOT, WARM, JUMP = 2048, 4096, 4


def _science(seed, nints, ngroups, ny=12, nx=10):
    rng = np.random.default_rng(seed)
    data = rng.normal(1e4, 500, (nints, ngroups, ny, nx)).astype(np.float32)
    pdq = np.zeros((ny, nx), np.uint32)
    pdq[0, 0] = JUMP
    return data, pdq


def _dark(seed, shape):
    rng = np.random.default_rng(seed + 100)
    dark = rng.normal(0, 3, shape).astype(np.float32).cumsum(axis=-3, dtype=np.float32)
    dark[..., 1, 2, 3] = np.nan
    dark[..., -1, 4, 4] = np.nan  # NaN in the last group: extrapolation carries it
    dq_shape = shape[-2:] if len(shape) == 3 else shape
    dq = np.zeros(dq_shape, np.uint32)
    dq[..., 5, 5] = HOT
    if len(shape) == 4:
        dq[-1, 0, 6, 6] = WARM  # only the first group's DQ of each integration counts
        dq[0, 1, 7, 7] = WARM
    return dark, dq


def _stcal(data, pdq, dark, dark_dq, nframes, groupgap, dark_nframes, dark_groupgap, intstart):
    sci = ScienceData()
    sci.data, sci.groupdq, sci.pixeldq = data.copy(), np.zeros(data.shape, np.uint8), pdq.copy()
    sci.exp_nframes, sci.exp_groupgap, sci.exp_intstart = nframes, groupgap, intstart
    drk = DarkData()
    drk.data, drk.groupdq = dark.copy(), dark_dq.copy()
    drk.exp_nframes, drk.exp_groupgap = dark_nframes, dark_groupgap
    drk.exp_ngroups = dark.shape[-3]
    out, avg = dark_sub.do_correction_data(sci, drk)
    return out, avg


CASES = {
    # name: (nints, ngroups, nframes, groupgap, dark shape, dark nframes, dark groupgap, intstart)
    "same readout": (2, 4, 1, 0, (6, 12, 10), 1, 0, None),
    "averaged": (2, 3, 4, 2, (20, 12, 10), 1, 0, None),
    "averaged, dark nframes 2": (1, 3, 4, 1, (20, 12, 10), 2, 0, None),
    "extrapolated": (1, 8, 1, 0, (5, 12, 10), 1, 0, None),
    "extrapolated and averaged": (1, 4, 2, 1, (6, 12, 10), 1, 0, None),
    "miri same readout": (3, 4, 1, 0, (2, 5, 12, 10), 1, 0, None),
    "miri averaged": (3, 3, 2, 1, (2, 12, 12, 10), 1, 0, None),
    "miri more dark ints, segment": (1, 3, 2, 0, (3, 8, 12, 10), 1, 0, 4),
    "miri extrapolated": (2, 6, 1, 0, (2, 4, 12, 10), 1, 0, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_stcal(monkeypatch, case):
    monkeypatch.setattr(dark_current, "ROW_BLOCK", 5)
    nints, ngroups, nframes, groupgap, dshape, dnf, dgg, intstart = CASES[case]
    data, pdq = _science(1, nints, ngroups)
    dark, dark_dq = _dark(1, dshape)
    ours = subtract_dark(
        data,
        pdq,
        dark=dark,
        dark_dq=dark_dq,
        nframes=nframes,
        groupgap=groupgap,
        dark_nframes=dnf,
        dark_groupgap=dgg,
        integration_start=intstart,
    )
    out, avg = _stcal(data, pdq, dark, dark_dq, nframes, groupgap, dnf, dgg, intstart)
    assert out.cal_step == "COMPLETE" and not ours.skipped
    assert ours.data.dtype == np.float32
    np.testing.assert_array_equal(ours.data, out.data)
    np.testing.assert_array_equal(ours.pixeldq, out.pixeldq)
    assert not np.isnan(ours.data).any()
    assert (ours.dark is None) == (avg is None)
    if avg is not None:  # averaged: the dark we subtracted is stcal's
        np.testing.assert_array_equal(ours.dark, avg.data)


def test_skipped_when_dark_has_more_frames():
    data, pdq = _science(2, 1, 3)
    dark, dark_dq = _dark(2, (10, 12, 10))
    kw = dict(nframes=1, groupgap=0, dark_nframes=2, dark_groupgap=0)
    res = subtract_dark(data, pdq, dark=dark, dark_dq=dark_dq, **kw)
    out, avg = _stcal(data, pdq, dark, dark_dq, 1, 0, 2, 0, None)
    assert out.cal_step == "SKIPPED" and avg is None
    assert res.skipped and res.dark is None
    assert res.data is data and res.pixeldq is pdq


def test_flags_and_values():
    data, pdq = _science(3, 1, 2)
    dark, dark_dq = _dark(3, (4, 12, 10))
    res = subtract_dark(
        data, pdq, dark=dark, dark_dq=dark_dq, nframes=1, groupgap=0, dark_nframes=1,
        dark_groupgap=0,
    )  # fmt: skip
    assert res.pixeldq[5, 5] == HOT and res.pixeldq[0, 0] == JUMP
    np.testing.assert_array_equal(res.data[0, 1, 2, 3], data[0, 1, 2, 3])  # NaN dark -> 0
    np.testing.assert_allclose(res.data[0, 0], data[0, 0] - dark[0], rtol=1e-6)


def test_inputs_not_modified():
    data, pdq = _science(4, 2, 3)
    dark, dark_dq = _dark(4, (4, 12, 10))
    arrays = (data, pdq, dark, dark_dq)
    before = [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays]
    for nframes in (1, 2):  # extrapolated and matched, extrapolated and averaged
        subtract_dark(
            data, pdq, dark=dark, dark_dq=dark_dq, nframes=nframes, groupgap=0,
            dark_nframes=1, dark_groupgap=0,
        )  # fmt: skip
    assert [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays] == before


# average_dark_current: compared with DarkCurrentStep.set_average_dark_current


def _jwst_average(user_value, dark_average, dark_scalar, current=None):
    from jwst.dark_current.dark_current_step import DarkCurrentStep

    ramp = datamodels.RampModel((1, 2, 12, 10))
    if current is not None:
        ramp.average_dark_current = current.copy()
    dark = datamodels.DarkModel((3, 12, 10))
    if dark_average is not None:
        dark.average_dark_current = dark_average.copy()
    dark.meta.exposure.average_dark_current = dark_scalar
    step = DarkCurrentStep(average_dark_current=user_value)
    step.set_average_dark_current(ramp, dark)
    return ramp.average_dark_current


AVG = np.random.default_rng(5).uniform(0, 0.1, (12, 10)).astype(np.float32)
ZEROS = np.zeros((12, 10), np.float32)


@pytest.mark.parametrize(
    ("user_value", "dark_average", "dark_scalar", "current"),
    [
        (0.0123, AVG, 0.5, None),
        (None, AVG, 0.5, ZEROS),  # the ramp already has one: the dark's 2-D array wins
        (None, None, 0.0321, None),
        (None, ZEROS, 0.0321, None),
        (None, None, None, None),
    ],
)
def test_average_dark_current_matches_jwst(user_value, dark_average, dark_scalar, current):
    expected = _jwst_average(user_value, dark_average, dark_scalar, current)
    ours = average_dark_current(
        (12, 10),
        user_value=user_value,
        dark_average=dark_average,
        dark_scalar=dark_scalar,
        current=current,
    )
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("current", [None, np.full((8, 10), 0.25, np.float32)])
def test_average_dark_current_ignored_without_matching_ramp_array(caplog, current):
    """jwst quirk: a 2-D dark average needs a ramp array of the same shape."""
    expected = _jwst_average(None, AVG, 0.5, current=current)
    with caplog.at_level(logging.WARNING):
        ours = average_dark_current((12, 10), dark_average=AVG, dark_scalar=0.5, current=current)
    if current is None:
        assert ours is None and expected is None
    else:
        np.testing.assert_array_equal(ours, expected)
    assert "does not match shape" in caplog.text


def test_segment_quirk_subtracts_zeros():
    """INTSTART != 1 with more dark than science integrations: the last dark
    integration is used, which averaging left at zero (stcal 1.20.0)."""
    data, pdq = _science(6, 1, 3)
    dark, dark_dq = _dark(6, (3, 8, 12, 10))
    res = subtract_dark(
        data, pdq, dark=dark, dark_dq=dark_dq, nframes=2, groupgap=0, dark_nframes=1,
        dark_groupgap=0, integration_start=4,
    )  # fmt: skip
    np.testing.assert_array_equal(res.data, data)
    assert (res.dark[-1] == 0).all() and (res.dark[0] != 0).any()
