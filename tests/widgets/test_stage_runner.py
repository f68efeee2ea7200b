"""StageRunner driven from Python: set traits, click buttons, assert on state.

What ran is read from the Session's events, never from timings.
"""

import pytest

from jwinteract.events import Event, EventKind
from jwinteract.widgets.stage_runner import StageRunner

D1 = "detector1"
TAIL = ("jump", "ramp_fit", "gain_scale")  # what a jump parameter change affects
BEFORE_JUMP = ("group_scale", "dq_init", "saturation", "superbias", "linearity", "dark_current")


def ran(session, since):
    """Steps that executed (not cache hits) after event number ``since``."""
    return [e.step for e in session.events.since(since) if e.kind is EventKind.STEP_FINISHED]


@pytest.fixture
def runner(session_factory):
    r = StageRunner(session_factory())
    yield r
    r.close()


@pytest.fixture
def ran_runner(runner):
    """A runner whose detector1 has run once."""
    runner.run_buttons[D1].click()
    assert runner.last_error is None, runner.log_lines
    return runner


def test_initial_state(runner):
    s = runner.session
    assert list(runner.run_buttons) == s.stages
    assert runner.tabs.titles == tuple(s.stages)
    for step in BEFORE_JUMP + TAIL:
        assert runner.chip_state(D1, step) == "fresh"
    assert runner.chip_state(D1, "persistence") == "skipped"
    assert runner.skip_controls["persistence"].value is True  # skipped by default, as in jwst
    assert runner.chip_state(D1, "ipc") == "not implemented"
    assert runner.chip_state("image2", "flat_field") == "not implemented"
    # The jump thresholds are on screen: the jump form starts open, the log closed.
    assert runner.form_toggles["jump"].value is True
    assert runner.forms["jump"].layout.display is None
    assert runner.forms["ramp_fit"].layout.display == "none"
    assert runner.log.selected_index is None
    assert runner.progress.value == 0.0


def test_controls_follow_the_declaration(runner):
    spec = runner.session.step_spec("jump")
    thr = runner.param_controls["jump", "rejection_threshold"]
    p = spec.param_map["rejection_threshold"]
    assert type(thr).__name__ == "FloatSlider"
    assert (thr.min, thr.max, thr.value) == (p.min, p.widget_max, p.default)
    assert thr.tooltip == p.help
    assert type(runner.param_controls["jump", "flag_4_neighbors"]).__name__ == "Checkbox"
    assert type(runner.param_controls["jump", "min_sat_area"]).__name__ == "BoundedFloatText"
    assert type(runner.param_controls["saturation", "n_pix_grow_sat"]).__name__ == "IntSlider"
    algo = runner.param_controls["ramp_fit", "algorithm"]
    assert type(algo).__name__ == "Dropdown"
    assert {value for _, value in algo.options} == {"OLS_C", "LIKELY"}
    algo.value = "LIKELY"
    assert runner.session.params("ramp_fit")["algorithm"] == "LIKELY"
    assert runner.param_controls["ramp_fit", "firstgroup"].value == ""  # None shows empty


def test_css_classes(runner):
    def classes(w):
        return set(w._dom_classes)

    assert "jwi-stage-runner" in classes(runner.widget)
    assert {"jwi-run-stage", "jwi-run-stage-detector1"} <= classes(runner.run_buttons[D1])
    assert "jwi-chip-jump" in classes(runner.chips[D1, "jump"])
    assert "jwi-state-fresh" in classes(runner.chips[D1, "jump"])
    assert "jwi-param-jump-rejection_threshold" in classes(
        runner.param_controls["jump", "rejection_threshold"]
    )
    assert "jwi-skip-jump" in classes(runner.skip_controls["jump"])
    assert "jwi-progress" in classes(runner.progress)
    assert "jwi-log" in classes(runner.log)
    rows = [w for w in runner.tabs.children[0].children if "jwi-step-jump" in classes(w)]
    assert len(rows) == 1


def test_run_stage(runner):
    s = runner.session
    seen = []  # observed after the runner, so the runner has already updated

    def watch(e):
        if e.kind is EventKind.STEP_STARTED:
            seen.append((runner.chip_state(e.stage, e.step), runner.run_buttons[D1].disabled))

    s.events.observe(watch)
    n = len(s.events.history)
    runner.run_buttons[D1].click()
    assert set(ran(s, n)) == set(BEFORE_JUMP + TAIL)
    assert seen and all(state == ("running", True) for state in seen)
    for step in BEFORE_JUMP + TAIL:
        assert runner.chip_state(D1, step) == "done"
        assert runner.seconds_labels[D1, step].value.endswith(" s")
    assert runner.chip_state(D1, "persistence") == "skipped"
    assert runner.chip_state(D1, "refpix") == "not implemented"
    assert runner.run_buttons[D1].disabled is False
    assert runner.progress.value == 1.0
    assert any(line.startswith("detector1 finished") for line in runner.log_lines)
    assert runner.log.selected_index is None  # a clean run does not open the log


def test_param_change_marks_downstream_stale_then_reruns_only_it(ran_runner):
    r, s = ran_runner, ran_runner.session
    r.param_controls["jump", "rejection_threshold"].value = 5.0
    assert s.params("jump")["rejection_threshold"] == 5.0
    for step in TAIL:  # before anything runs
        assert r.chip_state(D1, step) == "stale"
    for step in BEFORE_JUMP:
        assert r.chip_state(D1, step) == "done"
    n = len(s.events.history)
    r.run_buttons[D1].click()
    assert sorted(ran(s, n)) == sorted(TAIL)
    for step in BEFORE_JUMP + TAIL:
        assert r.chip_state(D1, step) == "done"


@pytest.mark.parametrize("bad", ["-1", "two"])
def test_invalid_value_is_logged_and_reverted(runner, bad):
    control = runner.param_controls["ramp_fit", "firstgroup"]
    control.value = bad
    assert "firstgroup" in runner.last_error
    assert any("ERROR" in line and "firstgroup" in line for line in runner.log_lines)
    assert runner.log.selected_index == 0  # the log opens on an error
    assert control.value == ""
    assert runner.session.params("ramp_fit")["firstgroup"] is None


def test_none_from_text_box(runner):
    control = runner.param_controls["ramp_fit", "firstgroup"]
    control.value = "1"
    assert runner.session.params("ramp_fit")["firstgroup"] == 1
    control.value = ""
    assert runner.session.params("ramp_fit")["firstgroup"] is None


def test_skip_toggle(ran_runner):
    r, s = ran_runner, ran_runner.session
    r.skip_controls["dark_current"].value = True
    state = {row.step: row.state.value for row in s.status(D1)}
    assert state["dark_current"] == "skipped"
    assert r.chip_state(D1, "dark_current") == "skipped"
    for step in TAIL:
        assert r.chip_state(D1, step) == "stale"
    assert r.chip_state(D1, "linearity") == "done"
    r.skip_controls["dark_current"].value = False  # back to the cached chain
    for step in TAIL + ("dark_current",):
        assert r.chip_state(D1, step) == "done"
    r.skip_controls["persistence"].value = False  # un-skip a default-skipped step
    assert r.chip_state(D1, "persistence") == "not implemented"


def test_session_changes_reach_the_controls(runner):
    s = runner.session
    thr = runner.param_controls["jump", "rejection_threshold"]
    s.set("jump", rejection_threshold=7.5)
    assert thr.value == 7.5
    s.set("jump", rejection_threshold=50)  # beyond the slider's suggested range
    assert (thr.value, thr.max) == (50, 50)
    assert s.params("jump")["rejection_threshold"] == 50  # the slider did not clamp it
    s.skip("jump")
    assert runner.skip_controls["jump"].value is True
    assert runner.chip_state(D1, "jump") == "skipped"


def test_run_from_here_needs_the_cache(runner):
    s = runner.session
    n = len(s.events.history)
    runner.run_from_buttons[D1, "jump"].click()  # nothing cached yet: an error, not a raise
    assert "not in the cache" in runner.last_error
    assert runner.log.selected_index == 0
    assert ran(s, n) == []
    assert runner.run_buttons[D1].disabled is False


def test_run_to_and_from_here(runner):
    s = runner.session
    n = len(s.events.history)
    runner.run_to_buttons[D1, "dark_current"].click()
    assert set(ran(s, n)) == set(BEFORE_JUMP)
    assert runner.chip_state(D1, "dark_current") == "done"
    assert runner.chip_state(D1, "jump") == "fresh"
    n = len(s.events.history)
    runner.run_from_buttons[D1, "jump"].click()
    assert runner.last_error is None, runner.log_lines
    assert sorted(ran(s, n)) == sorted(TAIL)


def test_step_failure_is_shown(runner):
    runner.param_controls["jump", "expand_large_events"].value = True  # valid, but not yet run
    runner.run_buttons[D1].click()
    assert runner.chip_state(D1, "jump") == "failed"
    assert "expand_large_events" in runner.last_error
    assert runner.progress.bar_style == "danger"
    assert runner.run_buttons[D1].disabled is False


def test_verbose_logs_every_event(session_factory):
    r = StageRunner(session_factory(), verbose=True)
    try:
        r.run_to_buttons[D1, "dq_init"].click()
        assert any(line.startswith("step_finished detector1.dq_init") for line in r.log_lines)
    finally:
        r.close()


def test_unknown_keyword_rejected(session_factory):
    with pytest.raises(TypeError, match="expandd"):
        StageRunner(session_factory(), expandd=("jump",))


def test_close_unsubscribes(session_factory):
    s = session_factory()
    r = StageRunner(s)
    chip = r.chips[D1, "jump"]
    before = (r.chip_state(D1, "jump"), chip.value, r.progress_label.value)
    r.close()
    s.events.emit(Event(EventKind.STEP_STARTED, stage=D1, step="jump", exposure=s.rootname))
    s.set("jump", rejection_threshold=6.0)
    assert (r.chip_state(D1, "jump"), chip.value, r.progress_label.value) == before
    assert r.param_controls["jump", "rejection_threshold"].value == 4.0


def test_seconds_labels_say_ran_or_from_cache(ran_runner):
    r = ran_runner
    label = r.seconds_labels[(D1, "jump")]
    assert "jwi-ran" in label._dom_classes and "jwi-seconds-jump" in label._dom_classes
    r.param_controls[("jump", "rejection_threshold")].value = 6.0
    r.run_buttons[D1].click()
    for step in TAIL:
        assert "jwi-ran" in r.seconds_labels[(D1, step)]._dom_classes
    for step in ("saturation", "dark_current"):
        classes = r.seconds_labels[(D1, step)]._dom_classes
        assert "jwi-from-cache" in classes and "jwi-ran" not in classes
