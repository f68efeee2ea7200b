"""linearity: classical non-linearity correction (jwst LinearityStep, stcal linearity)."""

from __future__ import annotations

from ..algorithms.linearity import linearity_correct
from ..algorithms.saturation import jwst_read_pattern
from ..models import PIXEL, derive
from ._common import ref_array, require_ramp
from .base import step


@step("linearity", reference_types=("linearity",), cal_step="linearity", builtin=True,
      jwst_class="jwst.linearity.LinearityStep", description="correct the ramp for non-linearity")  # fmt: skip
def linearity(model, refs, *, progress):
    require_ramp(model, "linearity")
    data, pixeldq, zframe = linearity_correct(
        model.data, model.groupdq, model.pixeldq, **arguments(model, refs)
    )
    arrays = {"data": data, "pixeldq": pixeldq}
    if zframe is not None:
        arrays["zeroframe"] = zframe
    return derive(model, **arrays)


def arguments(model, refs) -> dict:
    """The keyword arguments of :func:`~jwinteract.algorithms.linearity.linearity_correct`
    besides the science arrays (also used by the fused Detector1 pass)."""
    lin = refs["linearity"]
    exp = model.meta.exposure
    inv = ref_array(refs, "linearity", model, "inv_coeffs") if lin.hasattr("inv_coeffs") else None
    read_times_unset = exp.read_times is None or len(exp.read_times) == 0
    # The detailed, frame-by-frame correction needs inverse coefficients and
    # group-averaged data whose frames are known (as jwst decides).
    read_pattern = None
    if inv is not None and (exp.nframes or 1) > 1 and read_times_unset:
        read_pattern = jwst_read_pattern(exp.ngroups, exp.nframes)
    else:
        inv = None
    zframe = model.zeroframe if exp.zero_frame else None
    return dict(coeffs=ref_array(refs, "linearity", model, "coeffs"),
                lin_dq=ref_array(refs, "linearity", model, "dq"), dqflags=PIXEL,
                zeroframe=zframe, inv_coeffs=inv, read_pattern=read_pattern)  # fmt: skip
