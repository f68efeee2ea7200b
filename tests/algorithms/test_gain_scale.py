"""gain_scale against jwst 3.0.0 GainScaleStep, bit for bit."""

import hashlib

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from jwinteract.algorithms.gain_scale import gain_scale

# Not exactly representable in float32, so float32(g)**2 != float32(g**2) for
# the variances: the test would catch the wrong rounding.
GAIN_FACTOR = 1.3


def _arrays(shape, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(3.0, 2.0, shape).astype(np.float32)
    err = rng.uniform(0.1, 1.0, shape).astype(np.float32)
    vp = rng.uniform(0.01, 1.0, shape).astype(np.float32)
    vr = rng.uniform(0.01, 1.0, shape).astype(np.float32)
    data.flat[3] = np.nan
    return data, err, vp, vr


@pytest.mark.parametrize(
    ("model_class", "shape"),
    [(datamodels.ImageModel, (14, 9)), (datamodels.CubeModel, (3, 14, 9))],
    ids=["rate", "rateints"],
)
def test_matches_jwst_step(offline, model_class, shape):
    from jwst.gain_scale import GainScaleStep

    data, err, vp, vr = _arrays(shape)
    dq = np.zeros(shape, np.uint32)
    dq.flat[5] = 1
    model = model_class(
        data=data.copy(), err=err.copy(), var_poisson=vp.copy(), var_rnoise=vr.copy(), dq=dq
    )
    model.meta.exposure.gain_factor = GAIN_FACTOR
    result = GainScaleStep.call(model)
    assert result.meta.cal_step.gain_scale == "COMPLETE"

    out = gain_scale(data, gain_factor=GAIN_FACTOR, err=err, var_poisson=vp, var_rnoise=vr)
    expected = (result.data, result.err, result.var_poisson, result.var_rnoise)
    for ours, theirs in zip(out, expected, strict=True):
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(result.dq, dq)  # DQ untouched by jwst
    assert np.float32(GAIN_FACTOR) ** 2 != np.float32(GAIN_FACTOR**2)  # the case is telling
    assert not np.array_equal(out[2], vp * np.float32(GAIN_FACTOR) ** 2)


def test_optional_arrays():
    data, err, _, _ = _arrays((4, 5))
    out = gain_scale(data, gain_factor=2.0, err=err, var_poisson=np.zeros((0,), np.float32))
    np.testing.assert_array_equal(out[0], data * 2)
    np.testing.assert_array_equal(out[1], err * 2)
    assert out[2] is None and out[3] is None


def test_inputs_not_modified():
    arrays = _arrays((3, 4, 5))
    before = [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays]
    gain_scale(arrays[0], gain_factor=GAIN_FACTOR, err=arrays[1], var_poisson=arrays[2],
               var_rnoise=arrays[3])  # fmt: skip
    assert [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays] == before
