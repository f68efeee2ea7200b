"""Small helpers shared by the step adapters (model <-> arrays)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..models import require_ramp as _require_ramp
from ..references.subarray import cut_to_science

__all__ = ["ref_array", "require_ramp", "exposure_number"]


def ref_array(refs: dict, reftype: str, model, attr: str = "data") -> np.ndarray:
    """Array ``attr`` of the ``reftype`` reference, cut to the science subarray."""
    ref = refs[reftype]
    return cut_to_science(np.asarray(getattr(ref, attr)), ref, model, reftype=reftype)


def require_ramp(model, step: str) -> None:
    """Raise a clear error unless ``model`` holds a 4-D ramp."""
    _require_ramp(model, f"step {step!r}")


def exposure_number(model, name: str, default=None):
    """An exposure keyword (``nframes``, ``group_time``...) with a clear error if missing."""
    value = getattr(model.meta.exposure, name, None)
    if value is None:
        if default is not None:
            return default
        raise InputError(f"meta.exposure.{name} is missing from the science header; it is required")
    return value
