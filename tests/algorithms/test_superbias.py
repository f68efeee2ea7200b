"""subtract_superbias against jwst 3.0.0 SuperBiasStep, bit for bit."""

import hashlib

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from jwinteract.algorithms import superbias
from jwinteract.algorithms.superbias import subtract_superbias

HOT, JUMP = 2048, 4


def _inputs(seed=0, nints=2, ngroups=3, ny=16, nx=12):
    rng = np.random.default_rng(seed)
    data = rng.normal(1.2e4, 300, (nints, ngroups, ny, nx)).astype(np.float32)
    pdq = np.zeros((ny, nx), np.uint32)
    pdq[0, 0] = JUMP
    bias = rng.normal(1.2e4, 300, (ny, nx)).astype(np.float32)
    bias[2, 3] = np.nan
    bias_dq = np.zeros((ny, nx), np.uint32)
    bias_dq[4, 5] = HOT
    bias_dq[0, 0] = HOT
    zf = data[:, 0] * 0.9
    zf[0, 1, 1] = 0.0
    zf[1, 2, 3] = 0.0
    return data, pdq, bias, bias_dq, zf


@pytest.mark.parametrize("row_block", [256, 5])
def test_matches_jwst_step(offline, monkeypatch, row_block, nircam_subarray):
    from jwst.superbias import SuperBiasStep

    monkeypatch.setattr(superbias, "ROW_BLOCK", row_block)
    data, pdq, bias, bias_dq, zf = _inputs()
    model = datamodels.RampModel(data=data.copy(), pixeldq=pdq.copy(), zeroframe=zf.copy())
    model.meta.exposure.zero_frame = True
    nircam_subarray(model, *data.shape[-2:])
    ref = datamodels.SuperBiasModel(data=bias.copy(), dq=bias_dq.copy())
    nircam_subarray(ref, *data.shape[-2:])
    result = SuperBiasStep.call(model, override_superbias=ref)
    assert result.meta.cal_step.superbias == "COMPLETE"

    out, p, z = subtract_superbias(data, pdq, superbias=bias, bias_dq=bias_dq, zeroframe=zf)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, result.data)
    np.testing.assert_array_equal(p, result.pixeldq)
    np.testing.assert_array_equal(z, result.zeroframe)
    np.testing.assert_array_equal(out[:, :, 2, 3], data[:, :, 2, 3])  # NaN bias -> 0
    assert z[0, 1, 1] == 0 and z[1, 2, 3] == 0 and p[4, 5] == HOT and p[0, 0] == HOT | JUMP


def test_without_zeroframe():
    data, pdq, bias, bias_dq, _ = _inputs()
    out, p, z = subtract_superbias(data, pdq, superbias=bias, bias_dq=bias_dq)
    assert z is None
    np.testing.assert_array_equal(out[0, 0, 1, 1], data[0, 0, 1, 1] - bias[1, 1])


def test_inputs_not_modified():
    arrays = _inputs()
    data, pdq, bias, bias_dq, zf = arrays
    before = [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays]
    subtract_superbias(data, pdq, superbias=bias, bias_dq=bias_dq, zeroframe=zf)
    assert [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays] == before
