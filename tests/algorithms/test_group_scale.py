"""group_scale against jwst 3.0.0 GroupScaleStep, bit for bit."""

import hashlib

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from jwinteract.algorithms import group_scale as group_scale_module
from jwinteract.algorithms.group_scale import group_scale, group_scale_needed


def _data(seed=0, shape=(2, 3, 11, 7)):
    data = np.random.default_rng(seed).uniform(0, 6e4, shape).astype(np.float32)
    data[0, 0, 0, 0] = np.nan
    return data


def _run_jwst(data, nframes, frame_divisor):
    from jwst.group_scale import GroupScaleStep

    model = datamodels.RampModel(data=data.copy(), zeroframe=data[:, 0].copy())
    model.meta.exposure.nframes = nframes
    model.meta.exposure.frame_divisor = frame_divisor
    return GroupScaleStep.call(model)


@pytest.mark.parametrize(
    ("nframes", "frame_divisor"),
    [(5, 4), (3, 2), (4, 4), (4, None), (3, None), (None, 4)],
)
def test_matches_jwst_step(offline, monkeypatch, nframes, frame_divisor):
    monkeypatch.setattr(group_scale_module, "ROW_BLOCK", 4)
    data = _data()
    result = _run_jwst(data, nframes, frame_divisor)
    needed = group_scale_needed(nframes, frame_divisor)
    assert needed == (result.meta.cal_step.group_scale == "COMPLETE")
    if needed:
        np.testing.assert_array_equal(
            group_scale(data, nframes=nframes, frame_divisor=frame_divisor), result.data
        )
    else:
        np.testing.assert_array_equal(result.data, data)
    np.testing.assert_array_equal(result.zeroframe, data[:, 0])  # never scaled


def test_value():
    data = _data()
    out = group_scale(data, nframes=5, frame_divisor=4)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, data * 0.8, rtol=1e-6)  # float32 rounding of one product


def test_inputs_not_modified():
    data = _data()
    before = hashlib.sha1(data.tobytes()).hexdigest()
    group_scale(data, nframes=3, frame_divisor=2)
    assert hashlib.sha1(data.tobytes()).hexdigest() == before
