"""Readers and steps on real CRDS reference files (../shared/data), not only our own.

The NIRSpec SUB512 superbias and dark come from public test data; some of the
samples lack DATAMODL, as real files do, so they must be opened with the class
jwst uses for their reference type.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from jwinteract.models import open_model
from jwinteract.references import References, reference_model_class
from jwinteract.references.subarray import cut_to_science
from jwinteract.steps import get_step

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "crds_samples"
pytestmark = pytest.mark.skipif(
    not SAMPLES.exists(), reason="shared/data is not beside this checkout"
)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in SAMPLES.glob("*")) if SAMPLES.exists() else []
)
def test_every_sample_opens(name):
    model = open_model(SAMPLES / name)
    assert model.meta.instrument.name in {"NIRCAM", "NIRSPEC", "NIRISS", "MIRI"}


def nirspec_ramp(ngroups=10, ysize=32, ystart=957):
    rng = np.random.default_rng(7)
    ramp = datamodels.RampModel(
        data=(rng.normal(12000, 10, (1, ngroups, ysize, 512)) + 50 * np.arange(ngroups)[None, :, None, None]).astype(np.float32),
        pixeldq=np.zeros((ysize, 512), np.uint32),
        groupdq=np.zeros((1, ngroups, ysize, 512), np.uint8),
    )  # fmt: skip
    meta = ramp.meta
    meta.instrument.name, meta.instrument.detector = "NIRSPEC", "NRS1"
    meta.exposure.type, meta.exposure.readpatt = "NRS_BRIGHTOBJ", "NRSRAPID"
    meta.exposure.nframes, meta.exposure.groupgap, meta.exposure.ngroups, meta.exposure.nints = (
        1,
        0,
        ngroups,
        1,
    )
    meta.exposure.frame_time = meta.exposure.group_time = 0.9
    meta.subarray.name = "SUB512"
    meta.subarray.xstart, meta.subarray.xsize = 1025, 512
    meta.subarray.ystart, meta.subarray.ysize = ystart, ysize
    meta.observation.date, meta.observation.time = "2022-07-01", "00:00:00"
    return ramp


def jwst_call(cls, model, crds_context, **kw):
    with References(crds=crds_context).environment(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls.call(model.copy(), **kw)


@pytest.mark.jwst
@pytest.mark.parametrize(("name", "reftype", "file"), [
    ("superbias", "superbias", "jwst_nirspec_superbias_0075.fits"),
    ("dark_current", "dark", "jwst_nirspec_dark_0046.fits"),
])  # fmt: skip
def test_step_on_a_real_reference_matches_jwst(name, reftype, file, crds_context):
    import importlib

    ramp = nirspec_ramp()
    refs = References({reftype: SAMPLES / file}, crds=crds_context)
    info = refs.resolve(ramp, [reftype])
    ref_models = {reftype: refs.open(info[reftype], "NIRSPEC")}
    assert isinstance(ref_models[reftype], reference_model_class(reftype, "NIRSPEC"))
    ours = get_step(name).func(
        ramp, ref_models, progress=lambda *a: None, **get_step(name).defaults()
    )
    module, cls = get_step(name).jwst_class.rsplit(".", 1)
    theirs = jwst_call(getattr(importlib.import_module(module), cls), ramp, crds_context,
                       **{f"override_{reftype}": str(SAMPLES / file)})  # fmt: skip
    np.testing.assert_array_equal(ours.pixeldq, theirs.pixeldq)
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-6, atol=1e-3)
    assert not np.allclose(ours.data, ramp.data)  # the reference did something


def test_subarray_cut_from_a_larger_reference():
    ref = open_model(
        SAMPLES / "jwst_nirspec_superbias_0075.fits", model_class=datamodels.SuperBiasModel
    )
    sci = nirspec_ramp(ysize=16, ystart=957 + 8)
    cut = cut_to_science(ref.data, ref, sci, reftype="superbias")
    np.testing.assert_array_equal(cut, ref.data[8:24])
