"""superbias: subtract the bias frame (jwst SuperBiasStep)."""

from __future__ import annotations

from ..algorithms.superbias import subtract_superbias
from ..models import derive
from ._common import ref_array, require_ramp
from .base import step


@step("superbias", reference_types=("superbias",), cal_step="superbias", builtin=True,
      jwst_class="jwst.superbias.SuperBiasStep", description="subtract the superbias frame")  # fmt: skip
def superbias(model, refs, *, progress):
    require_ramp(model, "superbias")
    data, pixeldq, zframe = subtract_superbias(model.data, model.pixeldq, **arguments(model, refs))
    arrays = {"data": data, "pixeldq": pixeldq}
    if zframe is not None:
        arrays["zeroframe"] = zframe
    return derive(model, **arrays)


def arguments(model, refs) -> dict:
    """The keyword arguments of :func:`~jwinteract.algorithms.superbias.subtract_superbias`
    besides the science arrays (also used by the fused Detector1 pass)."""
    zframe = model.zeroframe if model.meta.exposure.zero_frame else None
    return dict(superbias=ref_array(refs, "superbias", model),
                bias_dq=ref_array(refs, "superbias", model, "dq"), zeroframe=zframe)  # fmt: skip
