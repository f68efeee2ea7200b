"""Recipes: the seed routing table and jwst 3.0.0 step orders, as data."""

import pytest

from jwinteract import InputError
from jwinteract.recipes import (
    EXP_TYPE_ROUTING,
    PIPELINES,
    TSO_EXP_TYPES,
    pipeline_def,
    stage_pipelines,
)
from jwinteract.steps import registered_steps


def names(pdefs):
    return [p.name if p else None for p in pdefs]


def test_routing_examples_from_the_seed_table():
    assert names(stage_pipelines("NRC_IMAGE", "NIRCAM")) == [
        "calwebb_detector1",
        "calwebb_image2",
        "calwebb_image3",
    ]
    assert names(stage_pipelines("MIR_LRS-SLITLESS", "MIRI")) == [
        "calwebb_tso1",
        "calwebb_spec2",
        "calwebb_tso3",
    ]
    assert names(stage_pipelines("NIS_AMI", "NIRISS")) == [
        "calwebb_detector1",
        "calwebb_image2",
        "calwebb_ami3",
    ]
    assert names(stage_pipelines("NRS_DARK", "NIRSPEC")) == ["calwebb_dark", None, None]
    assert names(stage_pipelines("MIR_4QPM", "MIRI"))[2] == "calwebb_coron3"
    assert names(stage_pipelines("FGS_FOCUS", "FGS")) == [
        "calwebb_detector1",
        "calwebb_image2",
        None,
    ]
    assert {
        "NRC_TSIMAGE",
        "NRC_TSGRISM",
        "NIS_SOSS",
        "NRS_BRIGHTOBJ",
        "MIR_LRS-SLITLESS",
    } <= TSO_EXP_TYPES


def test_unknown_exp_type_is_a_clear_error():
    with pytest.raises(InputError, match="EXP_TYPE 'NRC_BOGUS' is not in the routing table"):
        stage_pipelines("NRC_BOGUS")


def test_detector1_orders_match_jwst_3_0_0():
    nir = pipeline_def("calwebb_detector1", "NIRCAM").steps
    assert nir[:8] == (
        "group_scale",
        "dq_init",
        "saturation",
        "ipc",
        "superbias",
        "refpix",
        "linearity",
        "dark_current",
    )
    assert nir[-2:] == ("ramp_fit", "gain_scale")
    miri = pipeline_def("detector1", "MIRI").steps
    assert miri.index("dark_current") < miri.index("refpix")  # refpix after dark for MIRI
    assert "superbias" not in miri and "emicorr" in miri
    tso = pipeline_def("calwebb_tso1", "NIRCAM")
    assert tso.steps == nir and tso.skip == {"ipc", "lastframe", "persistence"}
    dark = pipeline_def("calwebb_dark", "NIRCAM")
    assert "dark_current" not in dark.steps and dark.suffix == "dark"


def test_every_recipe_step_is_declared():
    """A recipe step is either implemented or a placeholder that says so."""
    registry = registered_steps()
    for pdef in PIPELINES.values():
        for name in pdef.steps:
            assert name in registry, f"{pdef.name} step {name!r} has no declaration"
    assert all(EXP_TYPE_ROUTING[e][0] for e in EXP_TYPE_ROUTING)  # every type has a stage 1


@pytest.mark.jwst
def test_step_lists_agree_with_installed_jwst():
    """Our pipelines hold exactly the steps of the jwst pipeline classes."""
    import importlib

    for pdef in {p.name: p for p in PIPELINES.values()}.values():
        module, cls = pdef.jwst_class.rsplit(".", 1)
        jcls = getattr(importlib.import_module(module), cls)
        ours = set()
        for (name, _fam), p in PIPELINES.items():
            if name == pdef.name:
                ours |= set(p.steps)
        if pdef.name == "calwebb_detector1":
            assert ours == set(jcls.step_defs)
        else:
            assert ours <= set(jcls.step_defs), pdef.name


@pytest.mark.jwst
def test_declared_parameters_match_jwst_specs():
    """Every implemented step declares the jwst step's parameters, with its defaults."""
    import importlib
    import re

    checked = 0
    for spec in registered_steps().values():
        if not (spec.implemented and spec.jwst_class):
            continue
        module, cls = spec.jwst_class.rsplit(".", 1)
        jcls = getattr(importlib.import_module(module), cls)
        jnames = re.findall(r"^\s*(\w+)\s*=", jcls.spec, flags=re.M)
        assert [p.name for p in spec.params] == jnames, spec.name
        jstep = jcls()
        for p in spec.params:
            assert p.default == getattr(jstep, p.name), f"{spec.name}.{p.name}"
        checked += 1
    assert checked >= 9
