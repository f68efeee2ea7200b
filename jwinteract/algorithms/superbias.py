"""Superbias subtraction (jwst ``superbias`` step).

As jwst 3.0.0 ``bias_sub``: NaNs in the superbias become 0; the superbias is
subtracted from every group of every integration; PIXELDQ is ORed with the
reference DQ; the ZEROFRAME has the superbias subtracted except where it is 0
(0 marks bad zero-frame values, which stay 0). GROUPDQ is untouched.
"""

from __future__ import annotations

import numpy as np

__all__ = ["subtract_superbias"]

#: Rows processed at once (per integration, all groups).
ROW_BLOCK = 256


def subtract_superbias(
    data: np.ndarray,
    pixeldq: np.ndarray,
    *,
    superbias: np.ndarray,
    bias_dq: np.ndarray,
    zeroframe: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Subtract the superbias from a ramp, as jwst ``bias_sub.do_correction``.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx)
        The ramp (float32).
    pixeldq : ndarray, shape (ny, nx)
        Pixel DQ.
    superbias, bias_dq : ndarray, shape (ny, nx)
        SCI and DQ of the SUPERBIAS reference, cut to the science subarray.
    zeroframe : ndarray, shape (nints, ny, nx), optional
        The ZEROFRAME (pass it only when EXPOSURE.ZERO_FRAME is true).

    Returns
    -------
    data : ndarray
        New bias-subtracted ramp (same dtype as ``data``; a float64 superbias
        is subtracted in float64 and rounded, like jwst's in-place ``-=``).
    pixeldq : ndarray
        New pixel DQ.
    zeroframe : ndarray or None
        New bias-subtracted ZEROFRAME, or None.
    """
    bias = np.asarray(superbias)
    nan = np.isnan(bias)
    if nan.any():
        bias = np.where(nan, bias.dtype.type(0), bias)

    out = np.empty_like(data)
    ny = data.shape[-2]
    for r0 in range(0, ny, ROW_BLOCK):
        r1 = min(r0 + ROW_BLOCK, ny)
        np.subtract(data[..., r0:r1, :], bias[r0:r1], out=out[..., r0:r1, :])

    pdq_out = np.array(pixeldq, copy=True)
    pdq_out |= bias_dq

    zf_out = None
    if zeroframe is not None:
        zf_out = np.empty_like(zeroframe)
        np.subtract(zeroframe, bias, out=zf_out)
        zf_out[zeroframe == 0.0] = 0.0
    return out, pdq_out, zf_out
