"""Shared fixtures. Tests never touch the user's caches or CRDS configuration."""

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports crds or jwst: an isolated, offline world.
_ROOT = Path(tempfile.mkdtemp(prefix="jwinteract-tests-"))
os.environ["JWINTERACT_CACHE_DIR"] = str(_ROOT / "cache")
os.environ["JWINTERACT_CRDS_PATH"] = str(_ROOT / "crds")
for _var in ("CRDS_PATH", "CRDS_SERVER_URL", "CRDS_CONTEXT"):
    os.environ.pop(_var, None)
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"  # stpipe accepts true/t/yes, not "1"


@pytest.fixture(scope="session")
def crds_context():
    """The offline CRDS context all simulated test data registers into."""
    from jwinteract.references.offline import OfflineContext

    return OfflineContext(_ROOT / "crds")


@pytest.fixture(scope="session")
def small_exposure(crds_context, tmp_path_factory):
    """A NIRCam SUB160 exposure, 6 groups x 2 integrations, and its uncal path."""
    from jwinteract.simulate import simulate_exposure

    exp = simulate_exposure(instrument="NIRCAM", detector="NRCA1", subarray="SUB160",
                            readpatt="RAPID", ngroups=6, nints=2, seed=3,
                            context=crds_context)  # fmt: skip
    paths = exp.write(tmp_path_factory.mktemp("small"))
    return exp, paths["uncal"]


@pytest.fixture
def session_factory(small_exposure, crds_context, tmp_path):
    """Make Sessions on the small exposure sharing one fresh cache folder per test."""
    from jwinteract import Session

    made = []

    def make(**kw):
        kw.setdefault("cache_dir", tmp_path / "cache")
        kw.setdefault("crds", crds_context)
        s = Session(small_exposure[1], **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture
def simple_gwcs():
    """A function making a TAN gwcs, ``scale`` arcsec per pixel, centred on an (ny, nx) array."""

    def make(ny, nx, ra=150.1, dec=2.2, scale=0.031):
        from astropy import coordinates as coord
        from astropy.modeling import models as m
        from gwcs import WCS
        from gwcs import coordinate_frames as cf

        transform = (m.Shift(-(nx - 1) / 2) & m.Shift(-(ny - 1) / 2)
                     | m.Scale(scale / 3600) & m.Scale(scale / 3600)
                     | m.Pix2Sky_TAN() | m.RotateNative2Celestial(ra, dec, 180))  # fmt: skip
        detector = cf.Frame2D(name="detector", axes_order=(0, 1))
        sky = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
        return WCS([(detector, transform), (sky, None)])

    return make
