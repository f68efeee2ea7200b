"""RampInspector driven from Python: select pixels, fake taps, re-run the Session.

The pixel with the strongest detectable cosmic ray comes from the simulator's truth.
"""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("jupyter_bokeh")

from bokeh.events import Tap  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402

from jwinteract.errors import UnknownStepError  # noqa: E402
from jwinteract.widgets.ramp_inspector import RampInspector  # noqa: E402

D1 = "detector1"
STEPS = ("dq_init", "linearity", "dark_current", "jump")


def strongest_cosmic_ray(truth):
    """(integration, group, y, x) of the largest detectable primary cosmic-ray hit."""
    hits = truth.jumps[(truth.jumps["group"] >= 1) & truth.jumps["primary"]]
    row = hits[int(np.argmax(hits["amplitude_dn"]))]
    assert row["amplitude_dn"] > 300
    return int(row["integration"]), int(row["group"]), int(row["y"]), int(row["x"])


def points(source):
    """(integration, group) pairs of a ramp source's non-separator rows."""
    d = source.data
    return {(int(i), int(g)) for i, g in zip(d["integration"], d["group"], strict=True) if g >= 0}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache folder for the module: after the first test, Detector1 is cache hits."""
    return tmp_path_factory.mktemp("inspect-cache")


@pytest.fixture
def session(session_factory, shared_cache):
    s = session_factory(steps={"ramp_fit": {"save_opt": True}}, cache_dir=shared_cache)
    s.run(D1)
    return s


@pytest.fixture
def inspector(session):
    w = RampInspector(session)
    yield w
    w.close()


def test_layout_and_css_classes(inspector):
    assert "jwi-ramp-inspector" in inspector.widget._dom_classes
    assert "jwi-ramp-image" in inspector.image_view._dom_classes
    assert "jwi-ramp-plot" in inspector.ramp_view._dom_classes
    assert "jwi-pixel-readout" in inspector.readout._dom_classes
    assert inspector.selected is None
    assert set(inspector.ramp_sources) == {*STEPS, "fit", "SATURATED", "JUMP_DET", "DO_NOT_USE"}
    # The rate is in the image source, at full resolution for a 160 x 160 subarray.
    rate = inspector.session.result("ramp_fit", "rate").data
    assert_array_equal(inspector.image_source.data["image"][0], rate)
    assert inspector.image_source.data["dw"] == [160]
    assert "rate" in inspector.image_figure.title.text


def test_select_a_cosmic_ray_pixel_marks_the_jump(inspector, session, small_exposure):
    i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
    inspector.select(y, x)
    assert inspector.selected == (y, x)
    assert points(inspector.ramp_sources["JUMP_DET"]) == {(i + 1, g)}
    assert not points(inspector.ramp_sources["SATURATED"])
    nints, ngroups = 2, 6
    for step in STEPS:
        assert len(inspector.ramp_sources[step].data["time"]) == nints * (ngroups + 1)
    # The fit: two segments in the hit integration (split at the jump), one in the other.
    fit = inspector.ramp_sources["fit"].data
    assert len(fit["time"]) == (g + 1) + (ngroups - g + 1) + (ngroups + 1)
    assert "JUMP_DET" in inspector.readout.value
    assert f"x = {x}, y = {y}" in inspector.readout.value
    assert inspector.marker_source.data == {"x": [x], "y": [y]}


def test_relative_and_absolute_values(inspector, session):
    inspector.select(40, 77)
    raw = session.result("dq_init").data[:, :, 40, 77]
    values = np.asarray(inspector.ramp_sources["dq_init"].data["value"]).reshape(2, 7)[:, :6]
    assert inspector.relative.value is True
    assert_allclose(values, raw - raw[:, :1])
    inspector.relative.value = False
    values = np.asarray(inspector.ramp_sources["dq_init"].data["value"]).reshape(2, 7)[:, :6]
    assert_allclose(values, raw)
    assert inspector.ramp_figure.yaxis[0].axis_label == "DN"


def test_rerun_with_another_threshold_refreshes(inspector, session, small_exposure):
    i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
    inspector.select(y, x)
    fit_before = len(inspector.ramp_sources["fit"].data["time"])
    session.set("jump", rejection_threshold=100.0)
    session.run(D1)  # STAGE_FINISHED: the inspector re-reads the current pixel
    assert inspector.selected == (y, x)
    assert not points(inspector.ramp_sources["JUMP_DET"])
    assert len(inspector.ramp_sources["fit"].data["time"]) == fit_before - 1  # one segment fewer
    assert "JUMP_DET groups</th><td style='text-align:left'>none" in inspector.readout.value
    session.set("jump", rejection_threshold=4.0)
    session.run(D1)  # cache hits, still a STAGE_FINISHED
    assert points(inspector.ramp_sources["JUMP_DET"]) == {(i + 1, g)}


def test_tap_handler_selects_the_pixel_under_the_pointer(inspector, small_exposure):
    i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
    # Pixel (y, x) is centred on plot coordinates (x, y).
    inspector.handle_tap(Tap(inspector.image_figure, x=x + 0.4, y=y - 0.45))
    assert inspector.selected == (y, x)
    assert points(inspector.ramp_sources["JUMP_DET"]) == {(i + 1, g)}
    inspector.handle_tap(Tap(inspector.image_figure, x=500.0, y=3.0))  # beside the image
    assert inspector.selected == (y, x)
    # The handler is what bokeh calls for a Tap on the image figure.
    assert inspector.handle_tap in inspector.image_figure._event_callbacks["tap"]


def test_a_tap_message_from_the_page_reaches_the_handler(inspector, small_exposure):
    """The path of a browser tap: jupyter_bokeh's view sends a bokeh_event message, the
    BokehModel deserialises it and the document triggers the figure's Tap callbacks."""
    i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
    values = [["model", {"id": inspector.image_figure.id}], ["sx", 10.0], ["sy", 12.0],
              ["x", x + 0.2], ["y", y + 0.1]]  # fmt: skip
    content = {"event": "jsevent", "kind": "MessageSent", "msg_type": "bokeh_event",
               "msg_data": {"type": "event", "name": "tap",
                            "values": {"type": "map", "entries": values}}}  # fmt: skip
    inspector.image_view._sync_model(inspector.image_view, content, [])
    assert inspector.selected == (y, x)
    assert points(inspector.ramp_sources["JUMP_DET"]) == {(i + 1, g)}


def test_choose_a_group_image(inspector, session):
    options = [v for _, v in inspector.image_choice.options]
    assert options[0] == "rate" and (1, 5) in options and len(options) == 1 + 2 * 6
    inspector.image_choice.value = (1, 2)
    assert_array_equal(inspector.image_source.data["image"][0], session.result("jump").data[1, 2])
    low, high = inspector.color_mapper.low, inspector.color_mapper.high
    plane = session.result("jump").data[1, 2]
    assert np.percentile(plane, 1) == pytest.approx(low, rel=1e-3, abs=1e-3)
    assert high > low
    assert "group 2" in inspector.image_figure.title.text


def test_big_images_are_block_averaged_with_taps_at_full_resolution(session, small_exposure):
    w = RampInspector(session, image=(0, 5), max_display_size=64)
    try:
        img = w.image_source.data["image"][0]
        assert img.shape == (54, 54) and w.image_source.data["dw"] == [162]
        i, g, y, x = strongest_cosmic_ray(small_exposure[0].truth)
        w.handle_tap(Tap(w.image_figure, x=float(x), y=float(y)))
        assert w.selected == (y, x)
    finally:
        w.close()


def test_step_toggles_hide_renderers(inspector):
    inspector.step_choice.value = ("jump",)
    visible = {s: all(r.visible for r in rs) for s, rs in inspector._step_renderers.items()}
    assert visible == {"dq_init": False, "linearity": False, "dark_current": False, "jump": True}


def test_before_any_run(session_factory):
    s = session_factory(steps={"ramp_fit": {"save_opt": True}})
    w = RampInspector(s)
    try:
        assert "not available" in w.image_figure.title.text
        w.select(10, 20)  # nothing to show yet: a message, no error
        assert "run session.run" in w.readout.value
        assert not points(w.ramp_sources["JUMP_DET"])
        s.run(D1)
        assert (
            "rate" in w.image_figure.title.text and "not available" not in w.image_figure.title.text
        )
        assert len(w.ramp_sources["jump"].data["time"]) == 14
        assert len(w.image_choice.options) == 13
    finally:
        w.close()


def test_outside_pixel_raises(inspector):
    with pytest.raises(IndexError):
        inspector.select(200, 3)
    assert inspector.selected is None


def test_bad_arguments(session):
    observers = len(session.events._observers)
    with pytest.raises(TypeError, match="stepz"):
        RampInspector(session, stepz=("jump",))
    with pytest.raises(UnknownStepError):
        RampInspector(session, steps=("flat_field",))
    with pytest.raises(ValueError):
        RampInspector(session, image="rates")
    assert len(session.events._observers) == observers  # no subscription left behind


def test_close_and_display(session):
    observers = len(session.events._observers)
    w = RampInspector(session)
    assert len(session.events._observers) == observers + 1
    w.select(40, 77)
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # The displayed bundle carries the current pixel, not the empty start.
    assert "pixel x=77, y=40" in str(w.ramp_view.render_bundle)
    w.close()
    w.close()
    assert len(session.events._observers) == observers
    assert w.probe._held == {}


def test_go_to_selects_and_zooms(inspector, small_exposure):
    y, x = strongest_cosmic_ray(small_exposure[0].truth)[2:]
    inspector.goto.value = f"{y}, {x}"
    inspector.goto_button.click()
    assert inspector.selected == (y, x)
    fig = inspector.image_figure
    assert fig.x_range.start < x < fig.x_range.end and fig.x_range.end - fig.x_range.start == 40
    inspector.go_to("not a pixel")
    assert "y, x" in inspector.readout.value and inspector.selected == (y, x)


def test_jump_overlay_marks_the_cosmic_ray_pixels(inspector, session, small_exposure):
    y, x = strongest_cosmic_ray(small_exposure[0].truth)[2:]
    assert len(inspector.jump_marks.data["x"]) == 0
    inspector.show_jumps.value = True
    marked = set(zip(inspector.jump_marks.data["y"], inspector.jump_marks.data["x"], strict=True))
    assert (y, x) in marked
    flagged = np.any(session.result("jump").groupdq & 4, axis=(0, 1))
    assert len(marked) == np.count_nonzero(flagged)
    inspector.show_jumps.value = False
    assert len(inspector.jump_marks.data["x"]) == 0
