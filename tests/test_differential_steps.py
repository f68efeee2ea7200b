"""Each Detector1 slice step against the jwst 3.0.0 step on the same input and references.

Both sides resolve references through the same offline CRDS context (jwst via
its own stpipe/crds machinery, with no overrides). Inputs are this Session's
results for the previous step, copied (jwst steps may work in place).

Tolerances: the algorithms perform the same float32 operations, so values
agree to rounding: ``rtol=1e-6`` with ``atol=1e-3`` DN on ramps (the read noise
is ~10 DN, so this is 1e-4 sigma); ramp slopes and variances are accumulated
in a different order, so ``rtol=1e-5`` there. DQ arrays must agree exactly.
"""

import importlib
import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.jwst

RAMP_STEPS = [
    "group_scale",
    "dq_init",
    "saturation",
    "superbias",
    "linearity",
    "dark_current",
    "jump",
]


@pytest.fixture(scope="module", params=["RAPID", "SHALLOW4"])
def det1(request, small_exposure, crds_context):
    """RAPID (SUB160, 6 groups, 2 ints) and a grouped readout: SHALLOW4 has 4
    frames averaged per group and 1 skipped (SUB320, 5 groups)."""
    from jwinteract import Session
    from jwinteract.simulate import simulate_exposure

    if request.param == "RAPID":
        uncal = small_exposure[1]
    else:
        uncal = simulate_exposure(instrument="NIRCAM", detector="NRCA1", subarray="SUB320",
                                  readpatt="SHALLOW4", ngroups=5, nints=1, seed=8,
                                  context=crds_context).uncal  # fmt: skip
    s = Session(uncal, crds=crds_context, cache_dir=None)
    s.run("detector1")
    yield s
    s.close()


def step_input(session, name):
    plan = session._plan("detector1", strict=True)
    index = [p.name for p in plan].index(name)
    return session._materialize(plan, index - 1)


def run_jwst(session, name, model, **params):
    from jwinteract.steps import get_step

    module, cls = get_step(name).jwst_class.rsplit(".", 1)
    jcls = getattr(importlib.import_module(module), cls)
    with session.references.environment(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jcls.call(model.copy(), **params)


@pytest.mark.parametrize("name", RAMP_STEPS)
def test_ramp_step_matches_jwst(det1, name):
    from jwinteract.steps import get_step

    model = step_input(det1, name).primary
    ours = det1.result(name)
    theirs = run_jwst(det1, name, model)
    cal = get_step(name).cal_step
    assert getattr(ours.meta.cal_step, cal) == getattr(theirs.meta.cal_step, cal)
    np.testing.assert_array_equal(ours.pixeldq, theirs.pixeldq)
    np.testing.assert_array_equal(ours.groupdq, theirs.groupdq)
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-6, atol=1e-3)
    for reftype in get_step(name).reference_types:
        assert (
            getattr(ours.meta.ref_file, reftype).name == getattr(theirs.meta.ref_file, reftype).name
        )


def test_jump_flags_something_to_compare(det1):
    """Guard against a vacuous jump comparison: the exposure has cosmic rays."""
    assert np.count_nonzero(det1.result("jump").groupdq & 4) > 10


def test_ramp_fit_matches_jwst(det1):
    model = step_input(det1, "ramp_fit").primary
    rate, rateints = run_jwst(det1, "ramp_fit", model)
    for ours, theirs in ((det1.result("ramp_fit", "rate"), rate),
                         (det1.result("ramp_fit", "rateints"), rateints)):  # fmt: skip
        np.testing.assert_array_equal(ours.dq, theirs.dq)
        for attr in ("data", "var_poisson", "var_rnoise", "err"):
            a, b = getattr(ours, attr), getattr(theirs, attr)
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=attr)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True, err_msg=attr)
        assert ours.meta.bunit_data == theirs.meta.bunit_data == "DN/s"


@pytest.mark.parametrize("factor", [None, 2.0])
def test_gain_scale_matches_jwst(det1, factor):
    from jwinteract.steps import Skipped, get_step

    spec = get_step("gain_scale")
    for name in ("rate", "rateints"):
        model = det1.result("ramp_fit", name).copy()
        model.meta.exposure.gain_factor = factor
        refs = {"gain": det1.references.open(det1._plan("detector1", strict=True)[-1].refs["gain"])}
        ours = spec.func(model, refs, progress=lambda *a: None)
        theirs = run_jwst(det1, "gain_scale", model)
        if factor is None:
            assert isinstance(ours, Skipped) and theirs.meta.cal_step.gain_scale == "SKIPPED"
            continue
        for attr in ("data", "err", "var_poisson", "var_rnoise"):
            np.testing.assert_allclose(getattr(ours, attr), getattr(theirs, attr), rtol=1e-6,
                                       equal_nan=True)  # fmt: skip


@pytest.mark.parametrize("params", [{"rejection_threshold": 6.0, "flag_4_neighbors": False},
                                    {"after_jump_flag_dn1": 100.0, "after_jump_flag_time1": 50.0}])  # fmt: skip
def test_jump_parameters_match_jwst(det1, params):
    from jwinteract.steps import get_step

    model = step_input(det1, "jump").primary
    plan = det1._plan("detector1", strict=True)
    p = next(p for p in plan if p.name == "jump")
    refs = {r: det1.references.open(i) for r, i in p.refs.items()}
    ours = get_step("jump").func(model, refs, progress=lambda *a: None,
                                 **get_step("jump").resolve_params(params))  # fmt: skip
    theirs = run_jwst(det1, "jump", model, **params)
    np.testing.assert_array_equal(ours.groupdq, theirs.groupdq)
    np.testing.assert_array_equal(ours.pixeldq, theirs.pixeldq)
