"""to_nddata: the adapter for tools (jdaviz, astropy) that do not read jwst datamodels."""

import numpy as np
import pytest
from astropy import units as u
from astropy.nddata import NDData, StdDevUncertainty
from numpy.testing import assert_array_equal
from stdatamodels.jwst.datamodels import CubeModel, ImageModel

from jwinteract import InputError
from jwinteract.convert import dq_mask, to_nddata
from jwinteract.models import PIXEL


def rate_like(ny=20, nx=30, seed=1):
    rng = np.random.default_rng(seed)
    model = ImageModel(rng.normal(5, 1, (ny, nx)).astype(np.float32))
    model.err = rng.uniform(0.1, 0.2, (ny, nx)).astype(np.float32)
    model.dq = np.zeros((ny, nx), np.uint32)
    model.dq[0, 0] = PIXEL["DO_NOT_USE"]
    model.dq[1, 1] = PIXEL["DO_NOT_USE"] | PIXEL["SATURATED"]
    model.dq[2, 2] = PIXEL["JUMP_DET"]
    model.meta.bunit_data = "DN/s"
    model.meta.bunit_err = "DN/s"
    model.meta.instrument.name = "NIRCAM"
    return model


def test_a_pipeline_rate_becomes_nddata(session_factory):
    rate = session_factory().run("detector1")["rate"]
    nd = to_nddata(rate)
    assert isinstance(nd, NDData)
    assert np.shares_memory(nd.data, rate.data)  # not copied
    assert isinstance(nd.uncertainty, StdDevUncertainty)
    assert_array_equal(nd.uncertainty.array, rate.err)
    assert_array_equal(nd.mask, (rate.dq & PIXEL["DO_NOT_USE"]) != 0)
    assert nd.mask.any()  # the simulated exposure has dead pixels
    assert nd.unit == u.DN / u.s
    assert nd.meta["instrument.name"] == "NIRCAM" and nd.meta["model_type"] == "ImageModel"
    assert nd.wcs is None  # no assign_wcs yet


def test_mask_is_the_do_not_use_bit_only_by_default():
    nd = to_nddata(rate_like())
    assert nd.mask[0, 0] and nd.mask[1, 1] and not nd.mask[2, 2]
    assert nd.mask.sum() == 2
    assert_array_equal(nd.meta["dq"], rate_like().dq)
    jumps = to_nddata(rate_like(), mask_flags=["JUMP_DET"])
    assert jumps.mask.sum() == 1 and jumps.mask[2, 2]
    assert_array_equal(dq_mask(np.array([0, 1, 4, 5, 2**31], np.uint32), 2**31 | 1),
                       [False, True, False, True, True])  # fmt: skip
    with pytest.raises(InputError, match="unknown DQ flag 'JUMP'"):
        to_nddata(rate_like(), mask_flags=["JUMP"])


def test_gwcs_is_passed_through(simple_gwcs):
    model = rate_like()
    model.meta.wcs = simple_gwcs(20, 30)
    nd = to_nddata(model)
    assert nd.wcs is model.meta.wcs
    ra, dec = nd.wcs.pixel_to_world_values(14.5, 9.5)
    assert ra == pytest.approx(150.1) and dec == pytest.approx(2.2)


def test_a_plane_of_a_cube_and_errors():
    cube = CubeModel(np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5))
    cube.err = np.ones((2, 4, 5), np.float32)
    cube.dq = np.zeros((2, 4, 5), np.uint32)
    cube.dq[1, 0, 0] = 1
    cube.meta.bunit_data = "MJy/sr"
    nd = to_nddata(cube, plane=1)
    assert nd.data.shape == (4, 5) and nd.data[0, 0] == 20 and nd.mask[0, 0]
    assert nd.unit == u.MJy / u.sr
    assert to_nddata(cube).data.shape == (2, 4, 5)
    with pytest.raises(InputError, match="3-D"):
        to_nddata(rate_like(), plane=0)
    with pytest.raises(InputError, match="no image data"):
        to_nddata(object())
