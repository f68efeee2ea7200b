"""Session behaviour, asserted through events (which steps ran), never timings."""

import hashlib

import numpy as np
import pytest

from jwinteract import (
    JwinteractError,
    Param,
    ParameterError,
    StepNotImplementedError,
    UnknownStepError,
    step,
)
from jwinteract.events import StepState
from jwinteract.models import derive, history

IMPLEMENTED = ["group_scale", "dq_init", "saturation", "superbias", "linearity", "dark_current",
               "jump", "ramp_fit", "gain_scale"]  # fmt: skip
COMPUTING = [
    s for s in IMPLEMENTED if s not in ("group_scale", "gain_scale")
]  # these SKIP on NIRCam RAPID


def kinds(events, kind):
    """Step names of the events of one kind, in order."""
    return [e.step for e in events if e.kind.value == kind]


def run_events(session, *args, **kw):
    start = len(session.events.history)
    out = session.run(*args, **kw)
    return out, session.events.since(start)


def test_first_run_runs_each_step_once_and_reports_the_rest(session_factory):
    s = session_factory()
    products, ev = run_events(s, "detector1")
    assert kinds(ev, "step_finished") == IMPLEMENTED
    assert kinds(ev, "not_implemented") == ["ipc", "refpix"]
    assert set(kinds(ev, "step_skipped")) == {"charge_migration", "picture_frame",
                                              "clean_flicker_noise", "persistence"}  # fmt: skip
    assert kinds(ev, "cache_hit") == []
    assert list(products) == ["rate", "rateints"]
    assert products["rate"].data.shape == (160, 160)
    assert products["rateints"].data.shape == (2, 160, 160)


def test_second_run_and_a_new_session_are_all_cache_hits(session_factory):
    s = session_factory()
    first = s.run("detector1")
    _, ev = run_events(s, "detector1")
    assert kinds(ev, "step_started") == [] and kinds(ev, "cache_hit") == IMPLEMENTED
    # A kernel restart: a new Session on the same cache folder reads the disk tier.
    s2 = session_factory()
    assert {r.step: r.state for r in s2.status() if r.step in IMPLEMENTED} == dict.fromkeys(
        IMPLEMENTED, StepState.CACHED
    )
    again, ev2 = run_events(s2, "detector1")
    assert kinds(ev2, "step_started") == []
    assert all(
        e.message == "disk" for e in ev2 if e.kind.value == "cache_hit" and e.step == "gain_scale"
    )
    np.testing.assert_array_equal(again["rate"].data, first["rate"].data)


def test_changing_a_jump_parameter_reruns_only_jump_and_after(session_factory):
    s = session_factory()
    s.run("detector1")
    mark = len(s.events.history)
    s.set("jump", rejection_threshold=5.0)
    changed = s.events.since(mark)[0]
    assert changed.kind.value == "params_changed"
    assert changed.steps[:3] == (
        "detector1.jump",
        "detector1.picture_frame",
        "detector1.clean_flicker_noise",
    )
    states = {r.step: r.state for r in s.status("detector1")}
    assert states["jump"] == states["ramp_fit"] == states["gain_scale"] == StepState.STALE
    assert states["dark_current"] == StepState.DONE
    _, ev = run_events(s, "detector1")
    assert kinds(ev, "step_finished") == ["jump", "ramp_fit", "gain_scale"]
    assert kinds(ev, "cache_hit") == IMPLEMENTED[:6]
    # Back to the default: everything is in the cache already.
    s.set("jump", rejection_threshold=4.0)
    _, ev = run_events(s, "detector1")
    assert kinds(ev, "step_started") == []


def test_skipping_a_step_reruns_from_there(session_factory, tmp_path):
    s = session_factory(steps={"dark_current": {"skip": True}})
    _, ev = run_events(s, "detector1")
    assert "dark_current" in kinds(ev, "step_skipped")
    s.skip("dark_current", False)
    _, ev = run_events(s, "detector1")
    assert kinds(ev, "step_finished") == ["dark_current", "jump", "ramp_fit", "gain_scale"]
    s.skip("dark_current")
    paths = s.save("detector1", tmp_path / "out")
    from stdatamodels.jwst import datamodels

    with datamodels.open(paths[-2]) as rate:
        assert rate.meta.cal_step.dark_sub == "SKIPPED"
        assert rate.meta.cal_step.jump == "COMPLETE"


def test_status_moves_from_fresh_to_done(session_factory):
    s = session_factory()
    states = {r.step: r.state for r in s.status("detector1")}
    assert states["jump"] == StepState.FRESH
    assert states["ipc"] == StepState.NOT_IMPLEMENTED
    assert states["persistence"] == StepState.SKIPPED
    s.run("detector1", stop="jump")
    rows = {r.step: r for r in s.status("detector1")}
    assert rows["jump"].state == StepState.DONE and rows["jump"].seconds is not None
    assert rows["ramp_fit"].state == StepState.FRESH


def test_jwst_style_steps_dict_and_clear_errors(session_factory):
    s = session_factory(steps={"jump": {"rejection_threshold": "5.5", "override_gain": "N/A"}})
    assert s.params("jump")["rejection_threshold"] == 5.5
    with pytest.raises(UnknownStepError, match="no step named 'jmp'"):
        s.set("jmp", rejection_threshold=5)
    with pytest.raises(ParameterError, match="no parameter 'rejection_treshold'"):
        s.set("jump", rejection_treshold=5)
    with pytest.raises(ParameterError, match="below its minimum"):
        s.set("jump", rejection_threshold=-1)
    with pytest.raises(ParameterError, match="uses no 'flat' reference"):
        s.set("jump", override_flat="x.fits")
    with pytest.raises(UnknownStepError, match="not a step of detector1"):
        s.run("detector1", stop="resample")


def test_start_needs_the_input_cached_and_stop_returns_that_step(session_factory):
    s = session_factory()
    with pytest.raises(JwinteractError, match="not in the cache"):
        s.run("detector1", start="ramp_fit")
    ramp = s.run("detector1", stop="jump")
    assert list(ramp) == ["ramp"] and ramp.primary.meta.cal_step.jump == "COMPLETE"
    # earlier skipped / not implemented steps are recorded on the product itself, as jwst does
    assert ramp.primary.meta.cal_step.ipc == "SKIPPED"
    assert ramp.primary.meta.cal_step.charge_migration == "SKIPPED"
    _, ev = run_events(s, "detector1", start="ramp_fit")
    assert kinds(ev, "step_finished") == ["ramp_fit", "gain_scale"]


def test_not_implemented_can_be_made_an_error(session_factory):
    s = session_factory(on_not_implemented="error")
    with pytest.raises(StepNotImplementedError, match="'ipc'"):
        s.run("detector1")
    s.skip("ipc")
    s.skip("refpix")
    s.run("detector1")


def test_user_step_inserted_gets_cache_params_and_provenance(session_factory):
    @step("scale_ramp", params=[Param("factor", "float", 1.0, "multiply the ramp", min=0)],
          register_it=False)  # fmt: skip
    def scale_ramp(model, refs, *, progress, factor):
        return derive(model, data=model.data * np.float32(factor))

    s = session_factory()
    s.insert_step(scale_ramp, after="linearity")
    assert (
        s.steps_of("detector1").index("scale_ramp")
        == s.steps_of("detector1").index("linearity") + 1
    )
    _, ev = run_events(s, "detector1")
    assert "scale_ramp" in kinds(ev, "step_finished")
    s.set("scale_ramp", factor=2.0)
    _, ev = run_events(s, "detector1")
    assert kinds(ev, "step_finished") == [
        "scale_ramp",
        "dark_current",
        "jump",
        "ramp_fit",
        "gain_scale",
    ]
    assert any("scale_ramp" in h and "factor=2.0" in h for h in history(s.result("scale_ramp")))
    with pytest.raises(ParameterError):
        s.set("scale_ramp", factor=-1)


def test_user_step_replaces_a_builtin(session_factory):
    @step("jump", register_it=False)
    def no_jumps(model, refs, *, progress):
        return derive(model)

    s = session_factory()
    s.replace_step("jump", no_jumps)
    s.run("detector1")
    ramp = s.result("jump")
    assert not np.any(ramp.groupdq & 4)


def test_input_file_and_model_are_never_modified(small_exposure, crds_context, tmp_path):
    from jwinteract import Session
    from jwinteract.models import model_fingerprint, open_model

    exp, path = small_exposure
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    model = open_model(path)
    fp = model_fingerprint(model)
    for inp in (path, model):
        with Session(inp, crds=crds_context, cache_dir=None) as s:
            s.run("detector1")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert model_fingerprint(model) == fp
    assert model.data.flags.writeable


def test_saved_products_carry_provenance(session_factory, tmp_path):
    from stdatamodels.jwst import datamodels

    s = session_factory(steps={"jump": {"rejection_threshold": 4.5}})
    s.run("detector1")
    paths = s.save("detector1", tmp_path)
    assert [p.name for p in paths] == [f"{s.rootname}_rate.fits", f"{s.rootname}_rateints.fits"]
    with datamodels.open(paths[0]) as rate:
        cs = rate.meta.cal_step
        assert (cs.dq_init, cs.saturation, cs.superbias, cs.linearity, cs.dark_sub, cs.jump,
                cs.ramp_fit) == ("COMPLETE",) * 7  # fmt: skip
        assert cs.ipc == "SKIPPED" and cs.group_scale == "SKIPPED"
        assert rate.meta.ref_file.gain.name.startswith("crds://")
        assert rate.meta.ref_file.dark.name.startswith("crds://")
        assert rate.meta.ref_file.crds.context_used == s.references.context
        text = " ".join(history(rate))
        assert "rejection_threshold=4.5" in text
        assert rate.meta.bunit_data == "DN/s"


def test_a_rate_file_starts_at_stage_2(session_factory, tmp_path, crds_context):
    from jwinteract import Session

    s = session_factory()
    s.run("detector1")
    rate_path = s.save("detector1", tmp_path)[0]
    s2 = Session(rate_path, crds=crds_context, cache_dir=None)
    assert s2.stages == ["image2", "image3"]
    _, ev = run_events(s2, "image2")
    assert kinds(ev, "not_implemented") == [
        "bkg_subtract",
        "assign_wcs",
        "flat_field",
        "photom",
        "resample",
    ]
    assert {r.state for r in s2.status("image2")} == {StepState.NOT_IMPLEMENTED}
