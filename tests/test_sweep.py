"""Sweeps and A/B comparisons: what ran (from events), what was restored, the numbers."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from stdatamodels.jwst.datamodels import ImageModel

from jwinteract import ParameterError
from jwinteract.events import EventKind
from jwinteract.models import GROUP
from jwinteract.sweep import Comparison, SweepResult, compare, jump_counts, rate_summary, sweep

UPSTREAM = ["group_scale", "dq_init", "saturation", "superbias", "linearity", "dark_current"]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache folder for the tests that do not count what ran (they run faster)."""
    return tmp_path_factory.mktemp("sweep-cache")


def finished(session, start):
    """Names of the steps that ran (not cache hits) since event index ``start``."""
    return [e.step for e in session.events.since(start) if e.kind is EventKind.STEP_FINISHED]


def test_jump_sweep_runs_upstream_once_counts_fall_and_restores_params(session_factory):
    s = session_factory()
    s.set("jump", flag_4_neighbors=False)  # a user setting the sweep must leave alone
    before = s.params("jump")
    start = len(s.events.history)

    res = sweep(s, "jump", rejection_threshold=[3.0, 4.0, 6.0])

    ran = finished(s, start)
    for step in UPSTREAM:
        assert ran.count(step) == 1, step
    assert ran.count("jump") == ran.count("ramp_fit") == 3
    assert isinstance(res, SweepResult) and len(res) == 3
    assert res.settings == [{"rejection_threshold": t} for t in (3.0, 4.0, 6.0)]
    t = res.table
    assert t.colnames[:3] == ["rejection_threshold", "jump_groups", "jump_pixels"]
    groups = list(t["jump_groups"])
    # A higher threshold flags a subset of the differences a lower one flags.
    assert groups == sorted(groups, reverse=True) and groups[0] > groups[-1]
    assert all(p <= g for p, g in zip(t["jump_pixels"], groups, strict=True))
    assert list(t["steps_run"]) == [9, 3, 3]  # then only jump, ramp_fit, gain_scale
    assert t["median_rate_change"][0] == 0 and t["n_changed_1sigma"][0] == 0
    assert t["n_changed_1sigma"][2] > 0
    for (params, model), setting in zip(res.results, res.settings, strict=True):
        assert params == setting and model.data.shape == (160, 160)
    assert res.results[0][1] is not res.results[2][1]
    assert s.params("jump") == before


def test_sweep_summary_matches_the_products_it_keeps(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    res = sweep(s, "jump", rejection_threshold=[4.0, 6.0], flag_4_neighbors=[True, False])
    assert [tuple(r.values()) for r in res.settings] == [
        (4.0, True), (4.0, False), (6.0, True), (6.0, False)]  # fmt: skip
    ref = res.results[0][1]
    for row, (_, model) in zip(res.table, res.results, strict=True):
        assert row["median_rate"] == pytest.approx(rate_summary(model)["median_rate"])
        assert row["n_changed_1sigma"] == rate_summary(model, ref)["n_changed_1sigma"]
    # Session.sweep is the same function.
    again = s.sweep("jump", rejection_threshold=[4.0, 6.0])
    assert list(again.table["jump_groups"]) == list(res.table["jump_groups"][[0, 2]])
    assert list(again.table["steps_run"]) == [0, 0]  # every setting is a cache hit now


def test_sweep_validates_every_value_before_running(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    start = len(s.events.history)
    with pytest.raises(ParameterError):
        sweep(s, "jump", rejection_threshold=[4.0, -1.0])
    with pytest.raises(ParameterError, match="list of values"):
        sweep(s, "jump", rejection_threshold=5.0)
    with pytest.raises(ParameterError, match="at least one parameter"):
        sweep(s, "jump")
    with pytest.raises(ParameterError):
        sweep(s, "jump", no_such_parameter=[1, 2])
    assert finished(s, start) == []
    assert s.params("jump")["rejection_threshold"] == 4.0


def test_settings_are_restored_when_a_run_fails(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    s.set("jump", rejection_threshold=5.0)
    # Valid for the declaration, refused by the step when it runs.
    with pytest.raises(ParameterError, match="expand_large_events"):
        sweep(s, "jump", expand_large_events=[False, True])
    assert s.params("jump")["expand_large_events"] is False
    assert s.params("jump")["rejection_threshold"] == 5.0


def test_sweeping_skip_leaves_the_recipe_default_in_place(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    res = sweep(s, "jump", skip=[False, True])
    assert list(res.table["jump_groups"]) == [res.table["jump_groups"][0], 0]
    assert res.table["jump_groups"][0] > 0
    status = {r.step: r.state.value for r in s.status("detector1")}
    assert status["jump"] != "skipped"
    assert status["persistence"] == "skipped"  # skipped by default, still so


def test_compare_difference_is_a_minus_b(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    before = s.params("jump")
    c = compare(s, "jump", {"rejection_threshold": 3.0}, {"rejection_threshold": 6.0})
    assert isinstance(c, Comparison) and c.stage == "detector1" and c.product == "rate"
    assert_array_equal(c.difference, c.a.data - c.b.data)
    assert c.difference.dtype == np.float32
    assert list(c.table["setting"]) == ["A", "B"]
    assert c.table["jump_groups"][0] == jump_counts(c.step_a)["jump_groups"]
    assert c.table["jump_groups"][0] > c.table["jump_groups"][1]
    assert c.summary["n_changed_1sigma"] == rate_summary(c.b, c.a)["n_changed_1sigma"] > 0
    assert s.params("jump") == before


def test_compare_with_the_step_skipped(session_factory, shared_cache):
    s = session_factory(cache_dir=shared_cache)
    c = compare(s, "jump", {}, {"skip": True})
    assert c.table["jump_groups"][1] == 0
    assert list(c.table["skip"].mask) == [True, False]  # A: as the Session has it


def test_rate_summary_and_jump_counts_on_known_arrays():
    a = ImageModel(np.full((4, 4), 2.0, np.float32))
    a.err = np.full((4, 4), 0.5, np.float32)
    a.dq = np.zeros((4, 4), np.uint32)
    a.dq[0, 0] = 1  # DO_NOT_USE: left out of medians and counts
    b = ImageModel(a.data + np.float32(0.1))
    b.data[1, :3] += 1.0  # three pixels change by 1.1 > 0.5 (A's ERR)
    b.dq = a.dq.copy()
    assert rate_summary(a) == {"median_rate": 2.0, "median_rate_change": 0.0, "n_changed_1sigma": 0}
    got = rate_summary(b, a)
    assert got["median_rate_change"] == pytest.approx(0.1, abs=1e-6)
    assert got["n_changed_1sigma"] == 3

    class Ramp:
        groupdq = np.zeros((2, 3, 4, 4), np.uint8)

    Ramp.groupdq[0, 1, 2, 2] = GROUP["JUMP_DET"]
    Ramp.groupdq[1, 2, 2, 2] = GROUP["JUMP_DET"] | GROUP["SATURATED"]
    Ramp.groupdq[1, 1, 0, 3] = GROUP["SATURATED"]
    assert jump_counts(Ramp) == {"jump_groups": 2, "jump_pixels": 1}
