"""Rescaling by a non-standard gain setting (jwst ``gain_scale`` step).

Applied to the rate and rateints products: SCI and ERR are multiplied by
GAINFACT, VAR_POISSON and VAR_RNOISE (when present and non-empty) by
GAINFACT**2; DQ and any other array are unchanged. jwst takes GAINFACT from
the product's ``meta.exposure.gain_factor`` if set, else from the GAIN
reference file's ``meta.exposure.gain_factor``; with neither it skips the step.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gain_scale"]


def gain_scale(
    data: np.ndarray,
    *,
    gain_factor: float,
    err: np.ndarray | None = None,
    var_poisson: np.ndarray | None = None,
    var_rnoise: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Scale a rate (or rateints) product by ``gain_factor``.

    Parameters
    ----------
    data : ndarray
        SCI of the rate (ny, nx) or rateints (nints, ny, nx) product.
    gain_factor : float
        GAINFACT. It is used as a Python float, as jwst reads it from metadata:
        with float32 arrays it is rounded to float32 before multiplying, and
        the variance factor is ``float32(gain_factor**2)``, not the square of
        the rounded factor.
    err : ndarray, optional
        ERR; None is returned as None.
    var_poisson, var_rnoise : ndarray, optional
        The variances; None or empty ones are returned as None (jwst leaves
        them alone).

    Returns
    -------
    data, err, var_poisson, var_rnoise : ndarray or None
        New scaled arrays.
    """
    factor = float(gain_factor)
    factor2 = factor**2

    def scaled(arr, f):
        if arr is None or np.size(arr) == 0:
            return None
        return np.multiply(arr, f)

    return (
        np.multiply(data, factor),
        None if err is None else np.multiply(err, factor),
        scaled(var_poisson, factor2),
        scaled(var_rnoise, factor2),
    )
