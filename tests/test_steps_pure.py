"""Every registered step leaves its input untouched and returns new models."""

import numpy as np
import pytest

from jwinteract.models import model_fingerprint
from jwinteract.steps import Skipped, registered_steps


def _inputs_by_step(session):
    """Each detector1 step's input model, from a full run."""
    session.run("detector1")
    plan = session._plan("detector1", strict=True)
    out = {}
    for i, p in enumerate(plan):
        if p.spec.implemented and p.skip_reason is None:
            out[p.name] = (session._materialize(plan, i - 1), p)
    return out


def test_every_registered_step_leaves_its_input_unchanged(session_factory):
    s = session_factory(cache_dir=None)
    inputs = _inputs_by_step(s)
    implemented = {n for n, spec in registered_steps().items() if spec.implemented}
    assert implemented <= set(inputs), f"no test input for {implemented - set(inputs)}"
    for name in sorted(implemented):
        products, planned = inputs[name]
        refs = {r: s.references.open(i) for r, i in planned.refs.items()}
        targets = products.values() if planned.spec.per_product else [products.primary]
        for model in targets:
            if planned.spec.per_product and type(model).__name__ == "RampFitOutputModel":
                continue
            writable = model.copy()  # an unfrozen copy, so a write would succeed silently
            before = model_fingerprint(writable)
            arrays_before = {
                k: v.copy() for k, v in writable._instance.items() if isinstance(v, np.ndarray)
            }
            out = planned.spec.func(writable, refs, progress=lambda *a, **k: None, **planned.params)
            if isinstance(out, Skipped):
                out = out.model
            outs = out.values() if isinstance(out, dict) else [out]
            assert model_fingerprint(writable) == before, f"{name} modified its input"
            for k, arr in arrays_before.items():
                np.testing.assert_array_equal(writable._instance[k], arr, err_msg=f"{name}: {k}")
            for o in outs:
                if not isinstance(out, Skipped) and o is not writable:
                    assert o is not model


@pytest.mark.parametrize("name", ["saturation", "jump", "ramp_fit"])
def test_cached_inputs_are_frozen_so_in_place_writes_fail(session_factory, name):
    s = session_factory(cache_dir=None)
    s.run("detector1")
    with pytest.raises(ValueError, match="read-only"):
        s.result(name).data[..., 0, 0] = 1
