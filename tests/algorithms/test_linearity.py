"""linearity_correct against stcal 1.20.0 / jwst 3.0.0, bit for bit."""

import hashlib

import numpy as np
import pytest
from stcal.linearity.linearity import linearity_correction
from stdatamodels.jwst.datamodels import dqflags

from jwinteract.algorithms import linearity
from jwinteract.algorithms.linearity import linearity_correct
from jwinteract.algorithms.saturation import jwst_read_pattern

PIXEL = dict(dqflags.pixel)
SAT, NLC = PIXEL["SATURATED"], PIXEL["NO_LIN_CORR"]


def _inputs(seed=3, nints=2, ngroups=5, ny=30, nx=20, ncoeffs=5):
    rng = np.random.default_rng(seed)
    t = np.arange(1, ngroups + 1, dtype=np.float32)[:, None, None]
    slope = rng.uniform(10, 8000, (ny, nx)).astype(np.float32)
    data = (slope * t + rng.normal(0, 5, (nints, ngroups, ny, nx))).astype(np.float32)
    data[0, 0, 1, 1] = np.inf
    data[0, 0, 2, 2] = -0.0
    data[1, 3, 3, 3] = np.nan
    coeffs = np.zeros((ncoeffs, ny, nx), np.float32)
    coeffs[0] = rng.normal(0, 2, (ny, nx))
    coeffs[1] = rng.normal(1.0, 0.01, (ny, nx))
    coeffs[2] = rng.normal(2e-6, 1e-7, (ny, nx))
    coeffs[3] = rng.normal(1e-11, 1e-12, (ny, nx))
    coeffs[4] = rng.normal(1e-16, 1e-17, (ny, nx))
    coeffs[:, 1, 1] = 0  # inf data with benign coefficients: 0 * inf -> NaN
    coeffs[3, 4, 5] = np.nan
    coeffs[1, 6, 7] = 0.0
    coeffs[1, 8, 9] = np.nan  # flagged NO_LIN_CORR too: no extra flag needed
    lin_dq = np.zeros((ny, nx), np.uint32)
    lin_dq[8, 9] = NLC
    lin_dq[10, 11] = NLC | PIXEL["DO_NOT_USE"]
    lin_dq[12, 13] = PIXEL["HOT"]
    # Inverse: first-order inverse of the forward polynomial, good enough to
    # exercise the read-level arithmetic.
    inv = np.zeros((3, ny, nx), np.float32)
    c1 = np.where(coeffs[1] == 0, 1, coeffs[1])
    inv[0] = -coeffs[0] / c1
    inv[1] = 1.0 / c1
    inv[2] = -coeffs[2] / c1**3
    inv[:, 14, 15] = np.nan
    inv[1, 16, 17] = 0.0
    gdq = np.zeros(data.shape, np.uint8)
    gdq[:, 3:, 5:9] = SAT  # rows 5-8 saturated from group 4
    gdq[0, 1:, 20, 3] = SAT  # one usable group
    gdq[1, :, 21, 4] = SAT  # none usable
    pdq = np.zeros((ny, nx), np.uint32)
    pdq[0, 0] = PIXEL["JUMP_DET"]
    zeroframe = (data[:, 0] * 0.5).astype(np.float32)
    zeroframe[0, 2, 3] = 0.0
    zeroframe[1, 1, 1] = np.inf
    return data, gdq, pdq, coeffs, lin_dq, inv, zeroframe


def _stcal(data, gdq, pdq, coeffs, lin_dq, **kw):
    kw = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    if "zeroframe" in kw:
        kw["zframe"] = kw.pop("zeroframe")
    if "inv_coeffs" in kw:
        kw["ilin_coeffs"] = kw.pop("inv_coeffs")
    with np.errstate(invalid="ignore", over="ignore"):
        return linearity_correction(
            data.copy(), gdq.copy(), pdq.copy(), coeffs.copy(), lin_dq.copy(), PIXEL, **kw
        )


def _assert_same(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        if b is None:
            assert a is None
            continue
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    # +0.0 / -0.0 must agree too (benign coefficients turn -0.0 into +0.0).
    np.testing.assert_array_equal(np.signbit(ours[0]), np.signbit(theirs[0]))


@pytest.mark.parametrize("row_block", [128, 7])
@pytest.mark.parametrize("ncoeffs", [2, 5])
def test_matches_stcal(monkeypatch, row_block, ncoeffs):
    monkeypatch.setattr(linearity, "ROW_BLOCK", row_block)
    data, gdq, pdq, coeffs, lin_dq, _, zf = _inputs()
    coeffs = coeffs[:ncoeffs].copy()
    with np.errstate(invalid="ignore", over="ignore"):
        ours = linearity_correct(
            data, gdq, pdq, coeffs=coeffs, lin_dq=lin_dq, dqflags=PIXEL, zeroframe=zf
        )
    _assert_same(ours, _stcal(data, gdq, pdq, coeffs, lin_dq, zeroframe=zf))


@pytest.mark.parametrize("row_block", [64, 7])
@pytest.mark.parametrize("nframes", [2, 4])
def test_read_level_matches_stcal(monkeypatch, row_block, nframes):
    monkeypatch.setattr(linearity, "ROW_BLOCK_READS", row_block)
    data, gdq, pdq, coeffs, lin_dq, inv, zf = _inputs()
    rp = jwst_read_pattern(data.shape[1], nframes)
    kw = dict(zeroframe=zf, inv_coeffs=inv, read_pattern=rp)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ours = linearity_correct(data, gdq, pdq, coeffs=coeffs, lin_dq=lin_dq, dqflags=PIXEL, **kw)
    _assert_same(ours, _stcal(data, gdq, pdq, coeffs, lin_dq, **kw))
    assert ours[1][14, 15] & NLC and ours[1][16, 17] & NLC


def test_flags_and_benign_pixels():
    data, gdq, pdq, coeffs, lin_dq, _, zf = _inputs()
    with np.errstate(invalid="ignore"):
        out, p, z = linearity_correct(
            data, gdq, pdq, coeffs=coeffs, lin_dq=lin_dq, dqflags=PIXEL, zeroframe=zf
        )
    for y, x in [(4, 5), (6, 7)]:
        assert p[y, x] == NLC
        np.testing.assert_array_equal(out[:, :, y, x], data[:, :, y, x])
    assert p[8, 9] == NLC and p[10, 11] == lin_dq[10, 11] and p[12, 13] == PIXEL["HOT"]
    assert p[0, 0] == PIXEL["JUMP_DET"]
    assert np.isnan(out[0, 0, 1, 1])  # inf with benign coefficients, as stcal
    np.testing.assert_array_equal(out[:, 3:, 5:9], data[:, 3:, 5:9])  # saturated groups
    assert not np.array_equal(out[:, :3, 5:9], data[:, :3, 5:9])
    assert z[0, 2, 3] == 0.0


def test_inv_coeffs_need_read_pattern():
    data, gdq, pdq, coeffs, lin_dq, inv, _ = _inputs()
    with pytest.raises(ValueError, match="read_pattern"):
        linearity_correct(
            data, gdq, pdq, coeffs=coeffs, lin_dq=lin_dq, dqflags=PIXEL, inv_coeffs=inv
        )


def test_inputs_not_modified():
    arrays = _inputs()
    data, gdq, pdq, coeffs, lin_dq, inv, zf = arrays
    before = [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        linearity_correct(data, gdq, pdq, coeffs=coeffs, lin_dq=lin_dq, dqflags=PIXEL, zeroframe=zf)
        linearity_correct(
            data, gdq, pdq, coeffs=coeffs, lin_dq=lin_dq, dqflags=PIXEL, zeroframe=zf,
            inv_coeffs=inv, read_pattern=jwst_read_pattern(data.shape[1], 4),
        )  # fmt: skip
    assert [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays] == before
