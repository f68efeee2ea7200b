"""dq_init: initialise PIXELDQ/GROUPDQ from the MASK reference (jwst DQInitStep)."""

from __future__ import annotations

from ..algorithms.dq_init import dq_init as _dq_init
from ..models import GROUP, derive, open_model
from ..params import Param
from ._common import ref_array, require_ramp
from .base import step

PARAMS = (Param("user_supplied_dq", "str", None, "FITS user-supplied DQ file", allow_none=True),)


@step("dq_init", params=PARAMS, reference_types=("mask",), cal_step="dq_init", builtin=True,
      jwst_class="jwst.dq_init.DQInitStep", description="flag bad pixels from the MASK reference")  # fmt: skip
def dq_init(model, refs, *, progress, user_supplied_dq):
    require_ramp(model, "dq_init")
    kwargs = arguments(model, refs, user_supplied_dq=user_supplied_dq)
    pixeldq, groupdq = _dq_init(model.pixeldq, model.groupdq, **kwargs)
    return derive(model, pixeldq=pixeldq, groupdq=groupdq)


def arguments(model, refs, *, user_supplied_dq) -> dict:
    """The keyword arguments of :func:`jwinteract.algorithms.dq_init.dq_init`
    besides the science arrays (also used by the fused Detector1 pass)."""
    mask_dq = ref_array(refs, "mask", model, "dq")
    user_dq = None
    if user_supplied_dq:
        user = open_model(user_supplied_dq)
        user_dq = ref_array({"user_supplied_dq": user}, "user_supplied_dq", model, "dq")
    return {"mask_dq": mask_dq, "dqflags": GROUP, "user_dq": user_dq}
