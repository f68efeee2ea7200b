"""ImageViewer and its BokehImage, driven from Python: controls change the bokeh state.

Also the jdaviz bridge (open_in_jdaviz), which needs no browser either.
"""

import sys
import types

import numpy as np
import pytest
from astropy.nddata import NDData
from astropy.table import Table
from numpy.testing import assert_allclose, assert_array_equal
from stdatamodels.jwst.datamodels import CubeModel, ImageModel

from jwinteract.models import PIXEL

pytest.importorskip("ipywidgets")
pytest.importorskip("jupyter_bokeh")

from bokeh.events import RangesUpdate, Tap  # noqa: E402

from jwinteract.widgets._image import BokehImage, block_reduce  # noqa: E402
from jwinteract.widgets.image_viewer import ImageViewer  # noqa: E402
from jwinteract.widgets.jdaviz import open_in_jdaviz  # noqa: E402


def image_model(ny=60, nx=80, wcs=None):
    data = np.add.outer(np.arange(ny), np.arange(nx)).astype(np.float32)  # value = x + y
    model = ImageModel(data)
    model.err = np.ones((ny, nx), np.float32)
    model.dq = np.zeros((ny, nx), np.uint32)
    model.dq[5, 7] = PIXEL["JUMP_DET"] | PIXEL["SATURATED"]
    model.dq[10, 20:23] = PIXEL["DO_NOT_USE"]
    model.meta.bunit_data = "MJy/sr"
    if wcs is not None:
        model.meta.wcs = wcs(ny, nx)
    return model


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache folder for the module: detector1 runs once, later Sessions read it."""
    return tmp_path_factory.mktemp("viewer-cache")


@pytest.fixture
def viewer(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    s.run("detector1")
    return ImageViewer(s)


def test_a_session_viewer_offers_the_products_that_exist(session_factory):
    s = session_factory()
    v = ImageViewer(s)
    assert "jwi-image-viewer" in v.widget._dom_classes
    assert v.product.options == () and "run a stage" in v.status.value
    s.run("detector1")  # the viewer follows the Session's events
    assert v.product.value == ("detector1", "rate")
    assert [value for _, value in v.product.options] == [("detector1", "rate"),
                                                         ("detector1", "rateints")]  # fmt: skip
    assert v.model is s.products("detector1")["rate"]
    assert v.image.source.data["value"][0].shape == (160, 160)
    v.product.value = ("detector1", "rateints")
    assert v.plane.layout.display is None and v.plane.max == 1
    v.plane.value = 1
    assert_array_equal(v.image.data, s.products("detector1")["rateints"].data[1])
    shown = v.model
    s.set("jump", rejection_threshold=6.0)
    assert "stale" in v.status.value and v.model is shown
    s.run("detector1")
    assert "stale" not in v.status.value
    assert v.model is s.products("detector1")["rateints"] and v.model is not shown
    s.reset("jump")  # back to settings whose result is cached: shown again at once
    assert "stale" not in v.status.value
    assert v.model is s.products("detector1")["rateints"]
    assert_array_equal(v.image.data, shown.data[1])


def test_stretch_limits_and_palette_change_the_bokeh_state(viewer):
    im = viewer.image
    before = im.source.data["image"][0].copy()
    values = im.source.data["value"][0]
    assert before.dtype == np.uint8  # colour indices travel, not floats
    viewer.stretch.value = "asinh"
    assert im.stretch == "asinh"
    assert (im.source.data["image"][0] != before).any()
    assert im.source.data["value"][0] is values  # the values themselves are not resent

    data = viewer.model.data
    finite = data[np.isfinite(data)]
    viewer.limits.value = "min-max"
    assert (viewer.vmin.value, viewer.vmax.value) == pytest.approx((finite.min(), finite.max()))
    labels = im.color_bar.major_label_overrides
    assert labels[1.0] == f"{finite.min():.4g}" and labels[255.0] == f"{finite.max():.4g}"
    viewer.limits.value = "99%"
    assert viewer.vmax.value == pytest.approx(np.percentile(finite, 99.5), rel=1e-5)

    viewer.vmin.value, viewer.vmax.value = 0.0, 10.0  # typing limits switches to manual
    assert viewer.limits.value == "manual" and im.limits == (0.0, 10.0)
    scaled = im.source.data["image"][0]
    assert (scaled[data >= 10] == 255).all() and (scaled[data <= 0] == 1).all()
    assert (scaled[~np.isfinite(data)] == 0).all()  # index 0: no data (transparent)

    viewer.palette.value = "Viridis256"
    assert im.bar_mapper.palette[-1] == "#FDE724"


def test_dq_overlay_shows_the_chosen_flags(viewer):
    im, dq = viewer.image, viewer.model.dq
    assert not im.overlay.visible
    labels = dict((value, label) for label, value in viewer.dq_flags.options)
    n_jump = int(np.count_nonzero(dq & PIXEL["JUMP_DET"]))
    assert n_jump > 0 and labels["JUMP_DET"] == f"JUMP_DET ({n_jump})"
    viewer.dq_flags.value = ("JUMP_DET",)
    assert im.overlay.visible
    assert_array_equal(im.overlay_source.data["mask"][0], (dq & PIXEL["JUMP_DET"]) != 0)
    viewer.dq_flags.value = ("JUMP_DET", "DO_NOT_USE")
    assert im.overlay_source.data["mask"][0].sum() == np.count_nonzero(dq & 5)
    viewer.dq_flags.value = ()
    assert not im.overlay.visible


def test_a_model_with_a_wcs_reads_out_sky_coordinates_and_dq_names(simple_gwcs):
    model = image_model(wcs=simple_gwcs)
    v = ImageViewer(model, dq_flags=["SATURATED"])
    assert v.model is model and v.image.overlay.visible
    names = [t[0] for t in v.image.hover.tooltips]
    assert names[:3] == ["x, y", "value", "DQ"] and names[3:] == ["RA", "Dec"]
    ra0, dec0 = v.image._sky_ref
    ra, dec = model.meta.wcs(7, 5)
    offsets = v.image.source.data["ra"][0], v.image.source.data["dec"][0]
    assert ra0 + float(offsets[0][5, 7]) == pytest.approx(ra, abs=1e-8)  # as JS adds: doubles
    assert dec0 + float(offsets[1][5, 7]) == pytest.approx(dec, abs=1e-8)
    v.image.fig._trigger_event(Tap(v.image.fig, x=7.3, y=4.6))  # as a click in the page
    assert "x=7, y=5" in v.readout.value and "SATURATED, JUMP_DET" in v.readout.value
    assert f"RA {ra:.6f}" in v.readout.value and "value 12 MJy/sr" in v.readout.value


def test_catalog_overlay_from_pixel_or_sky_columns(simple_gwcs):
    model = image_model(wcs=simple_gwcs)
    v = ImageViewer(model)
    v.show_catalog(Table({"xcentroid": [3.0, 40.0], "ycentroid": [4.0, 50.0], "label": [1, 2]}),
                   radius=3)  # fmt: skip
    pts = v.image.points_source.data
    assert list(pts["x"]) == [3.0, 40.0] and list(pts["r"]) == [3.0, 3.0]
    assert list(pts["label"]) == ["1", "2"]
    ra, dec = model.meta.wcs([3.0, 40.0], [4.0, 50.0])
    v.show_catalog(Table({"ra": ra, "dec": dec}))
    assert_allclose(v.image.points_source.data["x"], [3.0, 40.0], atol=1e-6)
    assert_allclose(v.image.points_source.data["y"], [4.0, 50.0], atol=1e-6)
    v.hide_catalog()
    assert len(v.image.points_source.data["x"]) == 0
    with pytest.raises(ValueError, match="no pixel columns"):
        ImageViewer(image_model()).show_catalog(Table({"flux": [1.0]}))


def test_big_images_are_binned_with_true_pixel_coordinates_and_refined_on_zoom():
    ny, nx = 1000, 1200
    data = np.add.outer(np.arange(ny), 10_000 * np.arange(nx)).astype(np.float32)
    dq = np.zeros((ny, nx), np.uint32)
    dq[501, 1003] = PIXEL["HOT"]
    im = BokehImage(max_display=256)
    im.set_data(data, dq=dq)
    assert im.factor == 5  # ceil(1200 / 256)
    src = im.source.data
    assert src["value"][0].shape == (200, 240)
    assert (src["x"][0], src["y"][0], src["dw"][0], src["dh"][0]) == (-0.5, -0.5, 1200, 1000)
    # Bin (i, j) covers pixels 5i..5i+4: its mean is the value at its centre.
    assert src["value"][0][100, 200] == pytest.approx(data[502, 1002])
    assert src["dq"][0][100, 200] == PIXEL["HOT"]  # a flag survives binning
    assert im.fig.x_range.start == -0.5 and im.fig.x_range.end == nx - 0.5
    # Zoomed in (bokeh reports the new ranges): single pixels again.
    im.fig._trigger_event(RangesUpdate(im.fig, x0=990, x1=1010, y0=490, y1=510))
    assert im.factor == 1
    y0, y1, x0, x1 = im.window
    assert y0 <= 490 and y1 > 510 and x0 <= 990 and x1 > 1010
    assert (im.source.data["x"][0], im.source.data["y"][0]) == (x0 - 0.5, y0 - 0.5)
    assert_array_equal(im.source.data["value"][0], data[y0:y1, x0:x1])
    assert im.source.data["dq"][0][501 - y0, 1003 - x0] == PIXEL["HOT"]
    im.set_view(-0.5, nx - 0.5, -0.5, ny - 0.5)  # zoomed out: the whole image, binned
    assert im.factor == 5 and im.window == (0, ny, 0, nx)


def test_block_reduce_ignores_nan_and_pads_edges():
    a = np.arange(25, dtype=np.float32).reshape(5, 5)
    a[0, 0] = np.nan
    out = block_reduce(a, 2)
    assert out.shape == (3, 3)
    assert out[0, 0] == pytest.approx((1 + 5 + 6) / 3) and out[2, 2] == 24
    nan_block = np.full((2, 2), np.nan, np.float32)
    assert np.isnan(block_reduce(nan_block, 2)[0, 0])
    bits = np.array([[1, 4], [0, 2]], np.uint32)
    assert block_reduce(bits, 2, "or")[0, 0] == 7


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="strech"):
        ImageViewer(image_model(), strech="log")
    with pytest.raises(TypeError, match="product"):
        ImageViewer(image_model(), product="rate")
    with pytest.raises(ValueError, match="unknown DQ flag"):
        ImageViewer(image_model(), dq_flags=["JUMP"])
    with pytest.raises(ValueError, match="unknown stretch"):
        ImageViewer(image_model(), stretch="cubic")


def test_product_names_a_stage_product(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    s.run("detector1")
    v = ImageViewer(s, product="detector1:rateints")
    assert v.product.value == ("detector1", "rateints") and v.image.data.shape == (160, 160)
    with pytest.raises(ValueError, match="available: detector1:rate, detector1:rateints"):
        ImageViewer(s, product="i2d")


def test_a_cube_model_is_shown_plane_by_plane():
    cube = CubeModel(np.stack([np.zeros((8, 9)), np.ones((8, 9))]).astype(np.float32))
    v = ImageViewer(cube)
    assert v.plane.max == 1 and v.plane.layout.display is None
    v.plane.value = 1
    assert_array_equal(v.image.source.data["value"][0], 1.0)


# ---------------------------------------------------------------- jdaviz bridge
def test_open_in_jdaviz_without_jdaviz_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jdaviz", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "jwinteract\[jdaviz\]"'):
        open_in_jdaviz(image_model())


def test_open_in_jdaviz_loads_the_converted_product(monkeypatch, simple_gwcs):
    calls = []
    fake = types.ModuleType("jdaviz")
    fake.load = lambda data, **kw: calls.append(("load", data, kw))
    fake.show = lambda: calls.append(("show",))
    fake.gca = lambda: "app"
    monkeypatch.setitem(sys.modules, "jdaviz", fake)
    model = image_model(wcs=simple_gwcs)
    assert open_in_jdaviz(model, label="mine") == "app"
    (_, nd, kw), show = calls
    assert isinstance(nd, NDData) and nd.data is model.data and nd.wcs is model.meta.wcs
    assert kw == {"data_label": "mine", "format": "Image"} and show == ("show",)
