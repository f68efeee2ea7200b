"""The fast reference reader gives what stdatamodels gives: arrays, DQ, metadata."""

from __future__ import annotations

import mmap
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from jwinteract.references import reference_model_class
from jwinteract.references.fast_open import _schema_maps, open_reference

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "crds_samples"


def _full_open(path, cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(str(path))


def assert_same_model(path: Path, cls) -> None:
    full = _full_open(path, cls)
    fast = open_reference(path, cls)
    assert type(fast) is cls
    _, arrays = _schema_maps(cls)
    compared = 0
    for attr in arrays:
        want = full._instance.get(attr)
        got = fast._instance.get(attr)
        assert (want is None) == (got is None), attr
        if want is None:
            continue
        if want.dtype.names:  # a table such as DQ_DEF
            assert want.dtype.names == got.dtype.names, attr
            for col in want.dtype.names:
                assert np.array_equal(np.asarray(want[col]), np.asarray(got[col])), (attr, col)
        else:
            assert want.shape == got.shape, attr
            assert want.dtype.newbyteorder("=") == got.dtype.newbyteorder("="), attr
            assert np.array_equal(want, got, equal_nan=want.dtype.kind == "f"), attr
        compared += 1
    assert compared, f"no array of {path.name} was compared"
    keywords, _ = _schema_maps(cls)
    for dotted in keywords:
        node_full, node_fast = full.meta, fast.meta
        for part in dotted.split(".")[1:]:
            node_full, node_fast = getattr(node_full, part, None), getattr(node_fast, part, None)
        if isinstance(node_full, str | int | float | bool):
            assert node_fast == node_full, dotted
    assert fast.meta.filename == path.name


def _simulated_references(crds_context, small_exposure) -> list[tuple[Path, str]]:
    out = []
    for path in sorted(Path(crds_context.root).rglob("jwst_nircam_*.fits")):
        m = re.match(r"jwst_nircam_([a-z]+)_[0-9a-f]+\.fits$", path.name)
        if m:
            out.append((path, m.group(1)))
    return out


def test_every_simulated_reference(crds_context, small_exposure):
    refs = _simulated_references(crds_context, small_exposure)
    reftypes = {r for _, r in refs}
    assert {"dark", "gain", "readnoise", "mask", "saturation", "superbias", "linearity"} <= reftypes
    for path, reftype in refs:
        assert_same_model(path, reference_model_class(reftype, "NIRCAM"))


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared/data is not beside this checkout")
@pytest.mark.parametrize(
    "name, reftype",
    [("jwst_nirspec_dark_0046.fits", "dark"), ("jwst_nirspec_superbias_0075.fits", "superbias"),
     ("jwst_miri_ipc_0004.fits", "ipc")],
)  # fmt: skip
def test_real_crds_references(name, reftype):
    instrument = name.split("_")[1].upper()
    assert_same_model(SAMPLES / name, reference_model_class(reftype, instrument))


def test_big_arrays_stay_memory_mapped(crds_context, small_exposure):
    dark = next(p for p, r in _simulated_references(crds_context, small_exposure) if r == "dark")
    model = open_reference(dark, datamodels.DarkModel)
    assert model.data.ndim == 3
    assert not model.data.flags.owndata
    base = model.data
    while base is not None and not isinstance(base, np.memmap | mmap.mmap):
        base = getattr(base, "base", None)
    assert base is not None, "the dark's frames were read into memory"
    assert model.dq.dtype.isnative  # 2-D arrays are converted up front


def test_dq_def_that_is_not_the_standard_bits(tmp_path):
    """A DQ_DEF mapping file bits to other standard flags is decompressed as jwst does."""
    from stdatamodels.jwst.datamodels.dqflags import pixel

    # The file's own bits (the constructor decompresses them; save compresses back).
    dq = np.zeros((8, 8), dtype=np.uint32)
    dq[1, 1] = 2  # DEAD
    dq[2, 2] = 4 | 1  # HOT | DO_NOT_USE
    dq[3, 3] = 8  # not in DQ_DEF: dropped on both sides
    dq_def = np.array(
        [(0, 1, "DO_NOT_USE", "bad"), (1, 2, "DEAD", "dead"), (2, 4, "HOT", "hot")],
        dtype=[("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"), ("DESCRIPTION", "S80")],
    )
    mask = datamodels.MaskModel(dq=dq, dq_def=dq_def)
    mask.meta.instrument.name = "NIRCAM"
    mask.meta.reftype = "MASK"
    mask.meta.description = mask.meta.author = mask.meta.pedigree = "test"
    mask.meta.useafter = "2022-01-01T00:00:00"
    path = tmp_path / "mask.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mask.save(path)
    from astropy.io import fits

    assert fits.getdata(path, "DQ")[1, 1] == 2  # the file holds the compressed bits
    assert_same_model(path, datamodels.MaskModel)
    fast = open_reference(path, datamodels.MaskModel)
    assert fast.dq[1, 1] == pixel["DEAD"]
    assert fast.dq[2, 2] == pixel["HOT"] | pixel["DO_NOT_USE"]
    assert fast.dq[3, 3] == 0
