"""Fixtures shared by the array-level tests that call jwst steps."""

import pytest


@pytest.fixture
def offline(monkeypatch):
    """Run jwst steps with override references and no CRDS access at all."""
    import stpipe.crds_client

    monkeypatch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", "true")  # "1" is not a true value
    monkeypatch.setenv("CRDS_MODE", "local")
    # finalize_result records the CRDS context, which needs a CRDS cache.
    monkeypatch.setattr(stpipe.crds_client, "get_context_used", lambda obs: "jwst_0000.pmap")


@pytest.fixture
def nircam_subarray():
    """A function giving a model NIRCam NRCA1 NRC_IMAGE metadata for an (ny, nx) window at (1, 1)."""

    def apply(model, ny, nx):
        model.meta.instrument.name = "NIRCAM"
        model.meta.instrument.detector = "NRCA1"
        model.meta.exposure.type = "NRC_IMAGE"
        model.meta.subarray.xstart, model.meta.subarray.ystart = 1, 1
        model.meta.subarray.xsize, model.meta.subarray.ysize = nx, ny

    return apply
