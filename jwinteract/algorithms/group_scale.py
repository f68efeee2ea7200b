"""Group rescaling for on-board frame averaging (jwst ``group_scale`` step).

On board, NFRAMES frames are averaged by dividing their sum by FRMDIVSR, a
power of 2; when NFRAMES is not a power of 2 the groups are off by
FRMDIVSR/NFRAMES and jwst multiplies SCI by that factor (ZEROFRAME is not
scaled).
"""

from __future__ import annotations

import numpy as np

__all__ = ["group_scale", "group_scale_needed"]

#: Rows processed at once (per integration, all groups).
ROW_BLOCK = 256


def group_scale_needed(nframes: int | None, frame_divisor: int | None) -> bool:
    """Whether jwst 3.0.0 applies the correction (else it marks the step SKIPPED).

    It skips when NFRAMES is unknown, when FRMDIVSR is unknown and NFRAMES is
    a power of 2, and when FRMDIVSR equals NFRAMES. With NFRAMES known and
    FRMDIVSR unknown but NFRAMES not a power of 2, jwst also skips (its
    ``do_correction`` needs both values).

    Examples
    --------
    >>> group_scale_needed(5, 4), group_scale_needed(4, 4), group_scale_needed(4, None)
    (True, False, False)
    """
    if nframes is None or frame_divisor is None:
        return False
    return nframes != frame_divisor


def group_scale(data: np.ndarray, *, nframes: int, frame_divisor: int) -> np.ndarray:
    """Multiply a ramp by FRMDIVSR/NFRAMES, as jwst ``group_scale.do_correction``.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx)
        The ramp (float32).
    nframes : int
        NFRAMES of the exposure.
    frame_divisor : int
        FRMDIVSR of the exposure.

    Returns
    -------
    ndarray
        New scaled ramp. The factor is a Python float, so with float32 data it
        is rounded to float32 and the product computed in float32, exactly as
        jwst's ``model.data *= scale``.
    """
    scale = float(frame_divisor) / nframes
    out = np.empty_like(data)
    ny = data.shape[-2]
    for r0 in range(0, ny, ROW_BLOCK):
        rows = (..., slice(r0, min(r0 + ROW_BLOCK, ny)), slice(None))
        np.multiply(data[rows], scale, out=out[rows])
    return out
