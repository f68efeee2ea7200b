"""dq_init against jwst 3.0.0 DQInitStep, bit for bit."""

import hashlib

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels
from stdatamodels.jwst.datamodels import dqflags

from jwinteract.algorithms.dq_init import dq_init

PIXEL = dict(dqflags.pixel)
GROUP = dict(dqflags.group)


def _inputs(seed=0, shape=(2, 3, 10, 8)):
    rng = np.random.default_rng(seed)
    flags = np.array([0, 0, 0, PIXEL["DO_NOT_USE"] | PIXEL["DEAD"], PIXEL["HOT"],
                      PIXEL["DO_NOT_USE"] | PIXEL["NO_FLAT_FIELD"]], np.uint32)  # fmt: skip
    mask = rng.choice(flags, shape[-2:])
    pdq = np.zeros(shape[-2:], np.uint32)
    pdq[0, 0] = PIXEL["JUMP_DET"]
    gdq = np.zeros(shape, np.uint8)
    gdq[1, 2, 3, 4] = GROUP["JUMP_DET"]  # not reset by jwst
    user = np.zeros(shape[-2:], np.int16)
    user[5, 5] = PIXEL["DO_NOT_USE"]
    user[6, 6] = PIXEL["WARM"]
    return mask, pdq, gdq, user


@pytest.mark.parametrize("with_user_dq", [False, True])
def test_matches_jwst_step(offline, tmp_path, with_user_dq, nircam_subarray):
    from jwst.dq_init import DQInitStep

    mask, pdq, gdq, user = _inputs()
    model = datamodels.RampModel(
        data=np.zeros(gdq.shape, np.float32), pixeldq=pdq.copy(), groupdq=gdq.copy()
    )
    nircam_subarray(model, *gdq.shape[-2:])
    ref = datamodels.MaskModel(dq=mask.copy())
    nircam_subarray(ref, *gdq.shape[-2:])
    kw = {}
    if with_user_dq:
        path = tmp_path / "user_dq.fits"
        fits.PrimaryHDU(user).writeto(path)
        kw["user_supplied_dq"] = str(path)
    result = DQInitStep.call(model, override_mask=ref, **kw)
    assert result.meta.cal_step.dq_init == "COMPLETE"

    p, g = dq_init(pdq, gdq, mask_dq=mask, dqflags=GROUP, user_dq=user if with_user_dq else None)
    assert p.dtype == result.pixeldq.dtype and g.dtype == result.groupdq.dtype
    np.testing.assert_array_equal(p, result.pixeldq)
    np.testing.assert_array_equal(g, result.groupdq)
    assert g[1, 2, 3, 4] & GROUP["JUMP_DET"]
    assert (g[:, :, mask & 1 == 1] == 1).all()


def test_mask_dq_def_is_translated_by_stdatamodels():
    """MaskModel expands DQ_DEF planes on load: its dq is what to pass here."""
    dq_def = np.array(
        [(0, 1, "DEAD", ""), (1, 2, "HOT", "")],
        dtype=[("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"), ("DESCRIPTION", "S80")],
    )
    raw = np.array([[0, 1], [2, 3]], np.uint32)
    model = datamodels.MaskModel(dq=raw, dq_def=dq_def)
    expected = np.array([[0, PIXEL["DEAD"]], [PIXEL["HOT"], PIXEL["DEAD"] | PIXEL["HOT"]]])
    np.testing.assert_array_equal(model.dq, expected)


def test_guider_and_errors():
    mask, pdq, _, user = _inputs()
    p, g = dq_init(pdq, None, mask_dq=mask, dqflags=GROUP)
    assert g is None
    np.testing.assert_array_equal(p, pdq | mask)
    with pytest.raises(ValueError, match="user_supplied_dq"):
        dq_init(pdq, None, mask_dq=mask, dqflags=GROUP, user_dq=user[:-1])


def test_inputs_not_modified():
    arrays = _inputs()
    mask, pdq, gdq, user = arrays
    before = [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays]
    dq_init(pdq, gdq, mask_dq=mask, dqflags=GROUP, user_dq=user)
    assert [hashlib.sha1(a.tobytes()).hexdigest() for a in arrays] == before
