"""gain_scale: rescale rates taken with a non-standard gain (jwst GainScaleStep)."""

from __future__ import annotations

from ..algorithms.gain_scale import gain_scale as _gain_scale
from ..models import derive
from .base import Skipped, step


@step("gain_scale", reference_types=("gain",), cal_step="gain_scale", per_product=True, builtin=True,
      jwst_class="jwst.gain_scale.GainScaleStep", optional_reftypes=("gain",), product_names=("rate", "rateints"),
      description="multiply rate and rateints by GAINFACT for non-standard gain settings")  # fmt: skip
def gain_scale(model, refs, *, progress):
    factor = model.meta.exposure.gain_factor
    if factor is None:
        gain = refs.get("gain")
        factor = None if gain is None else gain.meta.exposure.gain_factor
        if factor is None:
            return Skipped(model, "GAINFACT not found in gain reference file")
    arrays = _gain_scale(model.data, gain_factor=factor, err=model.err,
                         var_poisson=model.var_poisson, var_rnoise=model.var_rnoise)  # fmt: skip
    out = derive(
        model, **dict(zip(("data", "err", "var_poisson", "var_rnoise"), arrays, strict=True))
    )
    out.meta.exposure.gain_factor = factor
    return out
