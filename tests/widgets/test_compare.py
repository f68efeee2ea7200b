"""Compare and SweepView: they show what jwinteract.sweep computed."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from jwinteract.sweep import sweep

pytest.importorskip("ipywidgets")
pytest.importorskip("jupyter_bokeh")

from jwinteract.widgets.compare import Compare, SweepView  # noqa: E402


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache folder for the module: the second test reuses the first one's runs."""
    return tmp_path_factory.mktemp("compare-cache")


def test_compare_shows_a_b_and_their_difference(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    before = s.params("jump")
    w = Compare(s, "jump", {"rejection_threshold": 3.0}, {"rejection_threshold": 6.0})
    assert "jwi-compare" in w.widget._dom_classes
    c = w.comparison
    a, b, d = (w.images[k] for k in ("a", "b", "difference"))
    assert_array_equal(d.data, c.a.data - c.b.data)
    assert_array_equal(a.data, c.a.data) and b.data is not None
    # Linked pan/zoom: one pair of ranges for the three figures.
    assert a.fig.x_range is b.fig.x_range is d.fig.x_range
    assert a.fig.y_range is b.fig.y_range is d.fig.y_range
    assert (a.vmin, a.vmax) == (b.vmin, b.vmax)  # same colours, same values
    assert d.vmin == -d.vmax and d.palette == "RdBu"
    row_a, row_b = c.table
    assert f"A {row_a['jump_groups']} groups in {row_a['jump_pixels']} pixels" in w.summary.value
    assert f"B {row_b['jump_groups']} groups" in w.summary.value
    assert row_a["jump_groups"] > row_b["jump_groups"]
    assert "more than 1&sigma;" in w.summary.value
    assert s.params("jump") == before

    w.stretch.value = "log"
    assert a.stretch == b.stretch == "log"
    w.limits.value = "min-max"
    assert a.vmax == pytest.approx(float(np.nanmax(c.a.data)))
    assert (b.vmin, b.vmax) == (a.vmin, a.vmax)


def test_sweep_view_tabulates_and_plots(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    res = sweep(s, "jump", rejection_threshold=[3.0, 6.0], flag_4_neighbors=[True, False])
    v = SweepView(res)
    assert "jwi-sweep" in v.widget._dom_classes
    assert "<table" in v.table.value and "jump_groups" in v.table.value
    assert v.x.value == "rejection_threshold" and v.y.value == "jump_groups"
    assert len(v.sources) == 2  # one line per flag_4_neighbors value
    t = res.table
    for src, flag in zip(v.sources, (True, False), strict=True):
        rows = t[t["flag_4_neighbors"] == flag]
        assert list(src.data["x"]) == list(rows["rejection_threshold"])
        assert list(src.data["y"]) == list(rows["jump_groups"])
    v.y.value = "n_changed_1sigma"
    assert list(v.sources[0].data["y"]) == list(t[t["flag_4_neighbors"]]["n_changed_1sigma"])
    assert v.fig.yaxis.axis_label == "n_changed_1sigma"
    with pytest.raises(TypeError):
        SweepView(t)
