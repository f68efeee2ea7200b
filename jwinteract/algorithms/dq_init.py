"""Data-quality initialisation from the MASK reference (jwst ``dq_init`` step).

As jwst 3.0.0 ``do_dqinit``: the mask DQ (ORed with an optional user DQ, cast
to the mask's dtype) is ORed into PIXELDQ, and its DO_NOT_USE bit into every
group of GROUPDQ, so no ramp is fitted to a bad pixel. GROUPDQ is not reset;
flags already in it stay. For FGS guide-star products (GuiderRawModel) jwst
ORs the mask into DQ only: pass that DQ as ``pixeldq`` and ``groupdq=None``.

The mask DQ must already hold standard pixel flag values. stdatamodels
translates a reference file's DQ_DEF-compressed planes to them when it opens
the file as a MaskModel (or any reference model with a DQ_DEF), so
``MaskModel(path).dq`` is what to pass. jwst does nothing else here: no other
array (ZEROFRAME, SCI) is touched.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError

__all__ = ["dq_init"]


def dq_init(
    pixeldq: np.ndarray,
    groupdq: np.ndarray | None,
    *,
    mask_dq: np.ndarray,
    dqflags: Mapping[str, int],
    user_dq: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Initialise PIXELDQ and GROUPDQ from the MASK reference.

    Parameters
    ----------
    pixeldq : ndarray, shape (ny, nx)
        Pixel DQ of the ramp (jwst first replaces a missing or wrongly shaped
        one by zeros, and likewise GROUPDQ: the caller's job here).
    groupdq : ndarray, shape (nints, ngroups, ny, nx), or None
        Group DQ; None for products without one (FGS guide modes).
    mask_dq : ndarray, shape (ny, nx)
        DQ of the MASK reference, cut to the science subarray.
    dqflags : mapping
        Group flag values; uses DO_NOT_USE.
    user_dq : ndarray, shape (ny, nx), optional
        The step's ``user_supplied_dq`` array (cast to the mask dtype, ORed
        into the mask).

    Returns
    -------
    pixeldq : ndarray
        New pixel DQ.
    groupdq : ndarray or None
        New group DQ (same dtype as the input), or None.

    Raises
    ------
    InputError
        If ``user_dq`` and ``mask_dq`` differ in shape.
    """
    mask = mask_dq
    if user_dq is not None:
        if np.shape(user_dq) != np.shape(mask_dq):
            raise InputError(
                f"user_supplied_dq has shape {np.shape(user_dq)} but the MASK reference "
                f"(cut to the science subarray) has shape {np.shape(mask_dq)}"
            )
        mask = np.bitwise_or(mask_dq, np.asarray(user_dq).astype(mask_dq.dtype))

    pdq_out = np.array(pixeldq, copy=True)
    pdq_out |= mask
    if groupdq is None:
        return pdq_out, None
    gdq_out = np.array(groupdq, copy=True)
    gdq_out |= np.bitwise_and(mask, int(dqflags["DO_NOT_USE"])).astype(gdq_out.dtype)
    return pdq_out, gdq_out
