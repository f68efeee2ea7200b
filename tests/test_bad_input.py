"""Bad input gets an error that names the problem; nothing is written; input untouched."""

import hashlib

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from jwinteract import InputError, ReferenceFileError, Session


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_non_jwst_fits(tmp_path, crds_context):
    path = tmp_path / "hst.fits"
    fits.HDUList(
        [fits.PrimaryHDU(np.zeros((4, 4)), header=fits.Header({"TELESCOP": "HST"}))]
    ).writeto(path)
    before = digest(path)
    with pytest.raises(InputError, match="TELESCOP = 'HST'"):
        Session(path, crds=crds_context, cache_dir=tmp_path / "c")
    assert digest(path) == before
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*.fits"))


def test_truncated_file(small_exposure, tmp_path, crds_context):
    _, uncal = small_exposure
    cut = tmp_path / "cut_uncal.fits"
    cut.write_bytes(uncal.read_bytes()[: uncal.stat().st_size // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        Session(cut, crds=crds_context, cache_dir=None)


def test_missing_file_and_wrong_type(tmp_path, crds_context):
    with pytest.raises(InputError, match="no such file"):
        Session(tmp_path / "nope_uncal.fits", crds=crds_context)
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="not a FITS or ASDF file"):
        Session(tmp_path / "x.txt", crds=crds_context)
    with pytest.raises(InputError, match="expected a file path or a jwst data model"):
        Session(42, crds=crds_context)


def test_three_d_array_where_a_ramp_is_needed(small_exposure, crds_context):
    exp, _ = small_exposure
    cube = datamodels.CubeModel(np.zeros((2, 16, 16), np.float32))
    cube.update(exp.uncal)
    s = Session(cube, crds=crds_context, cache_dir=None)
    assert s.first_stage == "image2"  # a 3-D product is stage-2 input, not a ramp
    with pytest.raises(InputError, match="4-D ramp"):
        from jwinteract.models import as_ramp

        as_ramp(cube)


@pytest.mark.parametrize("value", ["NRC_NONSENSE", None])
def test_unknown_or_missing_exp_type(small_exposure, crds_context, tmp_path, value):
    _, uncal = small_exposure
    path = tmp_path / "odd_uncal.fits"
    with fits.open(uncal) as hdul:
        if value is None:
            del hdul[0].header["EXP_TYPE"]
        else:
            hdul[0].header["EXP_TYPE"] = value
        del hdul["ASDF"]  # else stdatamodels reads the metadata from the ASDF tree
        hdul.writeto(path)
    with pytest.raises(
        InputError, match="not in the routing table" if value else "EXP_TYPE is missing"
    ):
        Session(path, crds=crds_context, cache_dir=None)


def test_reference_of_the_wrong_shape(small_exposure, crds_context, tmp_path):
    _, uncal = small_exposure
    bad = datamodels.GainModel(np.ones((64, 64), np.float32))
    bad.meta.subarray.xstart, bad.meta.subarray.ystart = 1, 1
    bad.meta.subarray.xsize, bad.meta.subarray.ysize = 64, 64
    s = Session(uncal, crds=crds_context, cache_dir=tmp_path / "c", references={"gain": bad})
    with pytest.raises(ReferenceFileError, match="gain reference .* science subarray"):
        s.run("detector1")
    s.close()
    assert not any((tmp_path / "c").rglob("rate.fits"))


def test_missing_override_path(small_exposure, crds_context):
    _, uncal = small_exposure
    s = Session(
        uncal, crds=crds_context, cache_dir=None, steps={"jump": {"override_gain": "/no/such.fits"}}
    )
    with pytest.raises(ReferenceFileError, match="override_gain: /no/such.fits does not exist"):
        s.run("detector1")


def test_nan_in_input_is_carried_not_crashed(small_exposure, crds_context):
    """NaNs in a ramp (e.g. from a user's own step) end as NaN rates, never a crash."""
    exp, _ = small_exposure
    ramp = datamodels.RampModel(data=exp.uncal.data.astype(np.float32))
    ramp.update(exp.uncal)
    ramp.pixeldq = np.zeros(ramp.data.shape[-2:], np.uint32)
    ramp.groupdq = np.zeros(ramp.data.shape, np.uint8)
    ramp.data[:, :, 5, 5] = np.nan
    s = Session(ramp, crds=crds_context, cache_dir=None)
    rate = s.run("detector1")["rate"]
    assert rate.data.shape == ramp.data.shape[-2:]
