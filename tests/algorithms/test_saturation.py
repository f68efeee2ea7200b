"""flag_saturation against stcal 1.20.0 / jwst 3.0.0, bit for bit."""

import hashlib

import numpy as np
import pytest
from stcal.saturation.saturation import flag_saturated_pixels
from stdatamodels.jwst import datamodels
from stdatamodels.jwst.datamodels import dqflags

from jwinteract.algorithms import saturation
from jwinteract.algorithms.saturation import (
    flag_saturation,
    flag_saturation_irs2,
    jwst_read_pattern,
)

PIXEL = dict(dqflags.pixel)
SAT, DNU, ADF = PIXEL["SATURATED"], PIXEL["DO_NOT_USE"], PIXEL["AD_FLOOR"]
G2_PIXEL = (20, 20)  # flagged by the group-2 test only (see _ramp)


def _ramp(seed=1, nints=2, ngroups=6, ny=40, nx=36):
    """Ramps that saturate at every group, with the edge cases stcal handles."""
    rng = np.random.default_rng(seed)
    thr = rng.uniform(3e4, 6e4, (ny, nx)).astype(np.float32)
    thr[3, 4] = thr[10, 10] = np.nan
    sat_dq = np.zeros((ny, nx), np.uint32)
    sat_dq[5, 6] = PIXEL["NO_SAT_CHECK"]
    sat_dq[7, 7] = PIXEL["DO_NOT_USE"] | PIXEL["HOT"]
    bias = rng.normal(1.2e4, 300, (ny, nx)).astype(np.float32)
    slope = rng.uniform(-100, 2e4, (ny, nx)).astype(np.float32)
    t = np.arange(1, ngroups + 1, dtype=np.float32)[:, None, None]
    data = (bias + slope * t + rng.normal(0, 10, (nints, ngroups, ny, nx))).astype(np.float32)
    data[:, :, 5, 6] = 6.5e4  # above threshold but NO_SAT_CHECK
    data[:, :, 3, 4] = 6.5e4  # NaN threshold
    data[1, 2, 8, 8] = np.nan
    data[0, 1, 9, 9] = -3.0  # A/D floor
    data[1, 0, 9, 10] = 0.0
    data[:, :, 0, 0] = 7e4  # saturated corner: growth clipped at the edges
    # Group 2 jumps towards saturation in its last frame; below the diluted
    # threshold, so only the group-2 test can catch it (with NFRAMES=4).
    y, x = G2_PIXEL
    thr[y, x] = 5e4
    data[:, 0, y, x] = bias[y, x] + 10
    data[:, 1, y, x] = 0.5 * thr[y, x]
    data[:, 2:, y, x] = thr[y, x] + 1
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 3, 12, 12] = SAT  # already flagged: grown too
    gdq[1, :, 15, 15] = DNU
    pdq = np.zeros((ny, nx), np.uint32)
    pdq[1, 1] = PIXEL["JUMP_DET"]
    zeroframe = data[:, 0].copy()
    zeroframe[0, 2, 2] = 0.0
    zeroframe[1, 4, 4] = 9e4
    zeroframe[1, 6, 6] = np.nan
    return data, gdq, pdq, thr, sat_dq, bias, zeroframe


def _stcal(data, gdq, pdq, thr, sat_dq, **kw):
    copies = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    if "zeroframe" in copies:
        copies["zframe"] = copies.pop("zeroframe")
    return flag_saturated_pixels(
        data.copy(), gdq.copy(), pdq.copy(), thr.copy(), sat_dq.copy(), 65535.0, PIXEL, **copies
    )


def _assert_same(ours, theirs):
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[0].dtype == theirs[0].dtype
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[1].dtype == theirs[1].dtype
    if theirs[2] is None:
        assert ours[2] is None
    else:
        np.testing.assert_array_equal(ours[2], theirs[2])


@pytest.mark.parametrize("n_pix_grow_sat", [0, 1, 2])
@pytest.mark.parametrize("nframes", [None, 1, 4])
@pytest.mark.parametrize("row_block", [128, 5])
def test_matches_stcal(monkeypatch, n_pix_grow_sat, nframes, row_block):
    # A small ROW_BLOCK puts block edges (and their halos) inside grown areas.
    monkeypatch.setattr(saturation, "ROW_BLOCK", row_block)
    data, gdq, pdq, thr, sat_dq, bias, zf = _ramp()
    rp = None if nframes is None else jwst_read_pattern(data.shape[1], nframes)
    kw = dict(n_pix_grow_sat=n_pix_grow_sat, read_pattern=rp, bias=bias, zeroframe=zf)
    ours = flag_saturation(data, gdq, pdq, sat_thresh=thr, sat_dq=sat_dq, dqflags=PIXEL, **kw)
    _assert_same(ours, _stcal(data, gdq, pdq, thr, sat_dq, **kw))


def test_special_passes_are_exercised():
    """The dilution and group-2 passes flag DO_NOT_USE without SATURATED."""
    data, gdq, pdq, thr, sat_dq, bias, _ = _ramp()
    rp = jwst_read_pattern(data.shape[1], 4)
    kw = dict(sat_thresh=thr, sat_dq=sat_dq, dqflags=PIXEL, n_pix_grow_sat=0)
    plain, _, _ = flag_saturation(data, gdq, pdq, **kw)
    grouped, _, _ = flag_saturation(data, gdq, pdq, read_pattern=rp, bias=bias, **kw)
    extra = (grouped != plain) & (grouped & DNU != 0) & (grouped & SAT == 0)
    assert extra.sum() > 100
    y, x = G2_PIXEL
    assert (grouped[:, 1, y, x] & (SAT | DNU) == DNU).all()
    assert (plain[:, 1, y, x] == 0).all()


def test_flags_semantics():
    """Hand-checked behaviour, independent of stcal."""
    data, gdq, pdq, thr, sat_dq, _, zf = _ramp()
    g, p, z = flag_saturation(
        data, gdq, pdq, sat_thresh=thr, sat_dq=sat_dq, dqflags=PIXEL, n_pix_grow_sat=0, zeroframe=zf
    )
    assert (g[:, :, 5, 6] & SAT == 0).all()  # NO_SAT_CHECK
    assert (g[:, :, 3, 4] & SAT == 0).all()  # NaN threshold ...
    assert p[3, 4] & PIXEL["NO_SAT_CHECK"] and p[10, 10] & PIXEL["NO_SAT_CHECK"]
    assert p[7, 7] == sat_dq[7, 7] and p[1, 1] == PIXEL["JUMP_DET"]
    assert g[0, 1, 9, 9] & (ADF | DNU) == ADF | DNU and g[0, 2, 9, 9] & ADF == 0
    assert z[0, 2, 2] == 0 and z[1, 4, 4] == 0 and np.isnan(z[1, 6, 6])
    # Saturation holds for all later groups.
    first = np.argmax(g & SAT != 0, axis=1)
    later = np.arange(g.shape[1])[None, :, None, None] >= first[:, None]
    assert (g[later & (g[:, :1] & SAT != 0).any(axis=1, keepdims=True)] & SAT != 0).all()


@pytest.mark.parametrize("n", [1, 2])
def test_growth_is_a_clipped_square(n):
    data = np.full((1, 3, 12, 14), 100.0, np.float32)
    data[0, 1:, 0, 0] = 9e4  # corner, from group 2
    data[0, 2, 6, 7] = 9e4  # interior, group 3 only
    thr = np.full((12, 14), 5e4, np.float32)
    zero = np.zeros((12, 14), np.uint32)
    g, _, _ = flag_saturation(
        data, np.zeros(data.shape, np.uint8), zero, sat_thresh=thr, sat_dq=zero,
        dqflags=PIXEL, n_pix_grow_sat=n,
    )  # fmt: skip
    expected = np.zeros((3, 12, 14), bool)
    expected[1:, : n + 1, : n + 1] = True
    expected[2, 6 - n : 7 + n, 7 - n : 8 + n] = True
    np.testing.assert_array_equal(g[0] == SAT, expected)


def test_inputs_not_modified():
    data, gdq, pdq, thr, sat_dq, bias, zf = _ramp()
    arrays = (data, gdq, pdq, thr, sat_dq, bias, zf)
    before = [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays]
    flag_saturation(
        data,
        gdq,
        pdq,
        sat_thresh=thr,
        sat_dq=sat_dq,
        dqflags=PIXEL,
        n_pix_grow_sat=2,
        read_pattern=jwst_read_pattern(data.shape[1], 4),
        bias=bias,
        zeroframe=zf,
    )
    assert [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays] == before


def test_rejects_4d_thresholds():
    data, gdq, pdq, thr, sat_dq, _, _ = _ramp()
    with pytest.raises(ValueError, match="sat_thresh"):
        flag_saturation(data, gdq, pdq, sat_thresh=thr[None, None], sat_dq=sat_dq, dqflags=PIXEL)


@pytest.mark.parametrize("detector", ["NRS1", "NRS2"])
@pytest.mark.parametrize("n_pix_grow_sat", [0, 1])
def test_irs2_matches_jwst(detector, n_pix_grow_sat):
    from jwst.saturation.saturation import irs2_flag_saturation
    from jwst.saturation.x_irs2 import make_mask

    rng = np.random.default_rng(7)
    nints, ngroups, nrows, nx = 1, 4, 3200, 6
    model = datamodels.RampModel((nints, ngroups, nrows, nx))
    model.meta.instrument.detector = detector
    model.meta.exposure.nframes = 4
    model.meta.exposure.ngroups = ngroups
    model.meta.exposure.nrs_normal = 16
    model.meta.exposure.nrs_reference = 4
    model.meta.exposure.zero_frame = True
    slope = rng.uniform(-50, 2e4, (nrows, nx)).astype(np.float32)
    bias = rng.normal(1.2e4, 300, (nrows, nx)).astype(np.float32)
    t = np.arange(1, ngroups + 1, dtype=np.float32)[:, None, None]
    model.data[0] = bias + slope * t
    model.data[0, 1, 900, 2] = -1.0
    model.groupdq[0, 0, 1000, 3] = SAT
    model.zeroframe = model.data[:, 0].copy()
    rows = make_mask(model)
    if detector == "NRS2":
        rows = rows[::-1]
    sci = np.flatnonzero(rows)
    y, x = sci[500], 3  # group-2 event (flagged SATURATED in IRS2 mode)
    model.data[0, 0, y, x] = bias[y, x] + 10
    model.data[0, 1, y, x] = 2.5e4
    model.data[0, 2:, y, x] = 5e4 + 1
    thr = rng.uniform(3e4, 6e4, (2048, nx)).astype(np.float32)
    thr[500, x] = 5e4
    thr[10, 1] = np.nan
    sat_dq = np.zeros((2048, nx), np.uint32)
    sat_dq[20, 2] = PIXEL["NO_SAT_CHECK"]
    inputs = (model.data.copy(), model.groupdq.copy(), model.pixeldq.copy(), model.zeroframe.copy())

    ref = datamodels.SaturationModel(data=thr.copy(), dq=sat_dq.copy())
    for m in (model, ref):
        m.meta.instrument.name = "NIRSPEC"
        m.meta.subarray.xstart, m.meta.subarray.ystart = 1, 1
        m.meta.subarray.xsize, m.meta.subarray.ysize = nx, 2048
    bias_model = datamodels.SuperBiasModel(data=bias.copy())
    expected = irs2_flag_saturation(model, ref, n_pix_grow_sat, True, bias_model=bias_model)

    ours = flag_saturation_irs2(
        inputs[0],
        inputs[1],
        inputs[2],
        sat_thresh=thr,
        sat_dq=sat_dq,
        dqflags=PIXEL,
        science_rows=rows,
        n_pix_grow_sat=n_pix_grow_sat,
        zeroframe=inputs[3],
        read_pattern=jwst_read_pattern(ngroups, 4),
        bias=bias,
    )
    _assert_same(ours, (expected.groupdq, expected.pixeldq, expected.zeroframe))
    assert ours[0][0, 1, y, x] & SAT
