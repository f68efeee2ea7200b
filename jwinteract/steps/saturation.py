"""saturation: flag saturated and A/D-floor groups (jwst SaturationStep, stcal saturation)."""

from __future__ import annotations

from ..algorithms.saturation import flag_saturation, jwst_read_pattern
from ..errors import InputError
from ..models import PIXEL, derive
from ..params import Param
from ._common import ref_array, require_ramp
from .base import step

PARAMS = (
    Param(
        "n_pix_grow_sat", "int", 1, "number of layers adjacent pixels to flag", min=0, widget_max=5
    ),
    Param(
        "use_readpatt", "bool", True, "use grouped read pattern information to assist with flagging"
    ),
)

#: stcal's ATOD_LIMIT for NIR and MIRI detectors.
ATOD_LIMIT = 65535.0


@step("saturation", params=PARAMS, reference_types=("saturation", "superbias"), cal_step="saturation",
      builtin=True, jwst_class="jwst.saturation.SaturationStep", optional_reftypes=("superbias",),
      description="flag groups above the saturation threshold")  # fmt: skip
def saturation(model, refs, *, progress, n_pix_grow_sat, use_readpatt):
    require_ramp(model, "saturation")
    kwargs = arguments(model, refs, n_pix_grow_sat=n_pix_grow_sat, use_readpatt=use_readpatt)
    groupdq, pixeldq, zframe = flag_saturation(model.data, model.groupdq, model.pixeldq, **kwargs)
    arrays = {"groupdq": groupdq, "pixeldq": pixeldq}
    if zframe is not None:
        arrays["zeroframe"] = zframe
    return derive(model, **arrays)


def arguments(model, refs, *, n_pix_grow_sat, use_readpatt) -> dict:
    """The keyword arguments of :func:`~jwinteract.algorithms.saturation.flag_saturation`
    besides the science arrays (also used by the fused Detector1 pass)."""
    if (model.meta.exposure.readpatt or "").upper().startswith("NRSIRS2"):
        raise InputError(
            "saturation: NIRSpec IRS2 readouts are not supported yet (Detector1 for all instruments is a later issue)"
        )
    if getattr(model.meta.subarray, "num_superstripe", None):
        raise InputError("saturation: superstripe subarrays are not supported yet")
    sat_thresh = ref_array(refs, "saturation", model)
    sat_dq = ref_array(refs, "saturation", model, "dq")
    bias = ref_array(refs, "superbias", model) if refs.get("superbias") is not None else None
    exp = model.meta.exposure
    read_pattern = jwst_read_pattern(exp.ngroups, exp.nframes) if use_readpatt else None
    zframe = model.zeroframe if exp.zero_frame else None
    return dict(sat_thresh=sat_thresh, sat_dq=sat_dq, dqflags=PIXEL,
                n_pix_grow_sat=n_pix_grow_sat, zeroframe=zframe, read_pattern=read_pattern,
                bias=bias, atod_limit=ATOD_LIMIT)  # fmt: skip
