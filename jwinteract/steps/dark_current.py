"""dark_current: subtract the dark, averaged to the science readout (jwst DarkCurrentStep)."""

from __future__ import annotations

from ..algorithms.dark_current import average_dark_current as _average_dark_current
from ..algorithms.dark_current import subtract_dark
from ..models import derive
from ..params import Param
from ._common import ref_array, require_ramp
from .base import Skipped, step

PARAMS = (
    Param(
        "dark_output",
        "str",
        None,
        "dark model or averaged dark subtracted (file name)",
        allow_none=True,
    ),
    Param(
        "average_dark_current",
        "float",
        None,
        "the average dark current for this detector in e-/s",
        allow_none=True,
    ),  # fmt: skip
)


@step("dark_current", params=PARAMS, reference_types=("dark",), cal_step="dark_sub", builtin=True,
      jwst_class="jwst.dark_current.DarkCurrentStep", description="subtract the dark current")  # fmt: skip
def dark_current(model, refs, *, progress, dark_output, average_dark_current: float | None):
    require_ramp(model, "dark_current")
    dark_model = refs["dark"]
    exp = model.meta.exposure
    avg = average_current(model, refs, average_dark_current=average_dark_current)
    result = subtract_dark(model.data, model.pixeldq, **arguments(model, refs))
    arrays = {} if avg is None else {"average_dark_current": avg}
    if result.skipped:
        return Skipped(
            derive(model, **arrays), "the dark has more frames per group than the science data"
        )
    if dark_output:
        _save_dark(result.dark, dark_model, dark_output, exp)
    return derive(model, data=result.data, pixeldq=result.pixeldq, **arrays)


def average_current(model, refs, *, average_dark_current):
    """The AVERAGE_DARK_CURRENT array the step attaches (None: none)."""
    dark_model = refs["dark"]
    current = model.average_dark_current if model.hasattr("average_dark_current") else None
    return _average_dark_current(
        model.pixeldq.shape, user_value=average_dark_current,
        dark_average=dark_model.average_dark_current if dark_model.hasattr("average_dark_current") else None,
        dark_scalar=dark_model.meta.exposure.average_dark_current, current=current,
    )  # fmt: skip


def arguments(model, refs) -> dict:
    """The keyword arguments of :func:`~jwinteract.algorithms.dark_current.subtract_dark`
    besides the science arrays (also used by the fused Detector1 pass)."""
    dark_model = refs["dark"]
    exp = model.meta.exposure
    return dict(
        dark=ref_array(refs, "dark", model), dark_dq=ref_array(refs, "dark", model, "dq"),
        nframes=exp.nframes, groupgap=exp.groupgap or 0,
        dark_nframes=dark_model.meta.exposure.nframes, dark_groupgap=dark_model.meta.exposure.groupgap or 0,
        integration_start=exp.integration_start,
    )  # fmt: skip


def _save_dark(averaged, dark_model, path: str, exp) -> None:
    """``dark_output``: the dark actually subtracted, as jwst saves it."""
    import numpy as np
    from stdatamodels.jwst import datamodels

    from ..models import save_atomic

    if averaged is None:
        data = np.nan_to_num(dark_model.data, nan=0.0)
        out = datamodels.DarkModel(data=data, dq=dark_model.dq)
    else:
        out = datamodels.DarkModel(data=averaged, dq=dark_model.dq)
        out.meta.exposure.nframes = exp.nframes
        out.meta.exposure.ngroups = exp.ngroups
        out.meta.exposure.groupgap = exp.groupgap
    out.update(dark_model)
    save_atomic(out, path)
