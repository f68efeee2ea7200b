"""group_scale: rescale groups when FRMDIVSR differs from NFRAMES (jwst GroupScaleStep)."""

from __future__ import annotations

from ..algorithms.group_scale import group_scale as _group_scale
from ..models import derive
from ._common import require_ramp
from .base import Skipped, step


@step("group_scale", cal_step="group_scale", builtin=True, jwst_class="jwst.group_scale.GroupScaleStep",
      description="rescale groups whose frame sum was divided by FRMDIVSR, not NFRAMES")  # fmt: skip
def group_scale(model, refs, *, progress):
    require_ramp(model, "group_scale")
    nframes = model.meta.exposure.nframes
    divisor = model.meta.exposure.frame_divisor
    # The same decisions, in the same order, as jwst's GroupScaleStep.
    if nframes is None:
        return Skipped(model, "NFRAMES not found")
    if divisor is None:
        if nframes & (nframes - 1) == 0:
            return Skipped(model, f"NFRAMES={nframes} is a power of 2; correction not needed")
        return Skipped(model, "FRMDIVSR not found")
    if divisor == nframes:
        return Skipped(model, "NFRAMES and FRMDIVSR are equal; correction not needed")
    return derive(model, data=_group_scale(model.data, nframes=nframes, frame_divisor=divisor))
