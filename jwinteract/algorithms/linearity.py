"""Classic linearity correction (jwst ``linearity`` step, stcal 1.20.0).

Reproduces ``stcal.linearity.linearity.linearity_correction`` as jwst 3.0.0
calls it:

* PIXELDQ is ORed with the reference DQ. Pixels whose reference DQ has
  ``NO_LIN_CORR``, any NaN coefficient, or a zero linear coefficient get
  "benign" coefficients (0, 1, 0, ...) - the polynomial is still evaluated, so
  ``inf`` becomes NaN and ``-0.0`` becomes ``+0.0`` exactly as in stcal - and
  the latter two add ``NO_LIN_CORR`` to PIXELDQ. The same holds for the
  inverse coefficients when they are used.
* The polynomial is evaluated by Horner's rule in the same order and dtype as
  stcal; groups flagged SATURATED keep their value.
* ZEROFRAME: values of 0 mean "bad" and stay 0; the others are corrected with
  the (benign-patched) forward coefficients.
* Read-level correction (stcal's ``ilin_coeffs`` path): jwst uses it only when
  the reference has INV_COEFFS, NFRAMES > 1 and the exposure has no
  READ_TIMES; it then passes ``jwst_read_pattern(ngroups, nframes)``. Each
  group is rebuilt from linearised frames along a straight line between the
  first and the last unsaturated-but-one group, un-linearised with the inverse
  coefficients, offset to match the measured group, corrected frame by frame
  and averaged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError

__all__ = ["linearity_correct"]

#: Rows processed at once (per integration, all groups).
ROW_BLOCK = 128
#: Rows processed at once by the read-level path, whose temporaries are
#: (frames per group) times larger.
ROW_BLOCK_READS = 64


def linearity_correct(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    coeffs: np.ndarray,
    lin_dq: np.ndarray,
    dqflags: Mapping[str, int],
    zeroframe: np.ndarray | None = None,
    inv_coeffs: np.ndarray | None = None,
    read_pattern: Sequence[Sequence[float]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Correct a ramp for non-linearity, as stcal ``linearity_correction``.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx)
        The ramp (DN, float32).
    groupdq : ndarray, same shape as ``data``
        Group DQ; groups flagged SATURATED are left as they are.
    pixeldq : ndarray, shape (ny, nx)
        Pixel DQ.
    coeffs : ndarray, shape (ncoeffs, ny, nx)
        COEFFS of the LINEARITY reference (subarray), lowest order first.
    lin_dq : ndarray, shape (ny, nx)
        DQ of the LINEARITY reference (subarray).
    dqflags : mapping
        Pixel flag values; uses SATURATED and NO_LIN_CORR.
    zeroframe : ndarray, shape (nints, ny, nx), optional
        The ZEROFRAME (pass it only when EXPOSURE.ZERO_FRAME is true).
    inv_coeffs : ndarray, shape (ncoeffs_inv, ny, nx), optional
        INV_COEFFS of the reference, to correct frame-averaged groups read by
        read. Pass it only when jwst would: NFRAMES > 1 and no READ_TIMES.
    read_pattern : list of lists, optional
        1-based frame numbers of each group; required with ``inv_coeffs``.

    Returns
    -------
    data : ndarray
        New corrected ramp.
    pixeldq : ndarray
        New pixel DQ.
    zeroframe : ndarray or None
        New corrected ZEROFRAME, or None.

    Raises
    ------
    InputError
        If ``inv_coeffs`` is given without ``read_pattern``.
    """
    if inv_coeffs is not None and read_pattern is None:
        raise InputError("inv_coeffs needs read_pattern (jwst_read_pattern(ngroups, nframes))")
    sat = int(dqflags["SATURATED"])
    no_lin_corr = int(dqflags["NO_LIN_CORR"])
    flagged = np.bitwise_and(lin_dq, no_lin_corr) == no_lin_corr
    benign, bad = _benign_pixels(coeffs, flagged)
    pdq_out = np.bitwise_or(pixeldq, lin_dq)
    pdq_out[bad] |= no_lin_corr
    inv_benign = None
    if inv_coeffs is not None:
        inv_benign, inv_bad = _benign_pixels(inv_coeffs, flagged)
        pdq_out[inv_bad] |= no_lin_corr

    nints, ngroups, ny, _ = data.shape
    out = np.empty_like(data)
    step = ROW_BLOCK if inv_coeffs is None else ROW_BLOCK_READS
    for r0 in range(0, ny, step):
        r1 = min(r0 + step, ny)
        c = _patched(coeffs, benign, r0, r1)
        ic = None if inv_coeffs is None else _patched(inv_coeffs, inv_benign, r0, r1)
        for i in range(nints):
            d = data[i, :, r0:r1]
            saturated = np.bitwise_and(groupdq[i, :, r0:r1], sat) != 0
            if ic is None:
                corrected = _horner(d, c)
                np.copyto(corrected, d, where=saturated)
                out[i, :, r0:r1] = corrected
            else:
                out[i, :, r0:r1] = _read_level(d, saturated, c, ic, read_pattern)

    zf_out = None
    if zeroframe is not None:
        zf_out = np.empty_like(zeroframe)
        for r0 in range(0, ny, ROW_BLOCK):
            r1 = min(r0 + ROW_BLOCK, ny)
            z = zeroframe[:, r0:r1]
            corrected = _horner(z, _patched(coeffs, benign, r0, r1))
            corrected[z == 0.0] = 0.0
            zf_out[:, r0:r1] = corrected
    return out, pdq_out, zf_out


def _benign_pixels(coeffs, flagged):
    """Pixels given benign coefficients, and those of them to flag NO_LIN_CORR.

    stcal patches NO_LIN_CORR pixels first, then pixels with a NaN coefficient,
    then pixels whose linear term is 0; only the last two add NO_LIN_CORR (the
    first already carry it through the reference DQ).
    """
    bad = np.isnan(coeffs).any(axis=0) & ~flagged
    bad |= (coeffs[1] == 0) & ~flagged
    return flagged | bad, bad


def _patched(coeffs, benign, r0, r1):
    """Rows r0:r1 of the coefficients with benign values (0, 1, 0, ...) patched in."""
    c = coeffs[:, r0:r1]
    mask = benign[r0:r1]
    if not mask.any():
        return c
    c = c.copy()
    ben = np.zeros(c.shape[0])
    ben[1] = 1.0
    c[:, mask] = ben[:, None]
    return c


def _horner(x, c):
    """``c[0] + c[1] x + ... + c[n] x**n`` in stcal's order of operations."""
    result = c[-1] * x
    for j in range(c.shape[0] - 2, 0, -1):
        result += c[j]
        result *= x
    result += c[0]
    return result


def _read_level(d, saturated, c, ic, read_pattern):
    """stcal's ``_linearity_correction_tile`` on one block of one integration."""
    ngroups = d.shape[0]
    mean_read = np.array([np.mean(reads) for reads in read_pattern])
    # The last unsaturated group is treated as saturated (it may be partly
    # affected); at least two groups are always used.
    n_unsaturated = (~saturated).sum(axis=0, dtype=np.int32) - 1
    n_unsaturated[n_unsaturated < 2] = 2
    last_valid = n_unsaturated - 1

    def linearised(values, sat_mask):
        corrected = _horner(values, c)
        return np.where(sat_mask, values, corrected)

    first = linearised(d[0], saturated[0])
    idx = last_valid[np.newaxis]
    last = linearised(
        np.take_along_axis(d, idx, axis=0)[0], np.take_along_axis(saturated, idx, axis=0)[0]
    )
    countrate = (last - first) / (mean_read[last_valid] - mean_read[0])

    out = np.empty(d.shape, dtype=np.result_type(d.dtype, np.float64))
    for g in range(ngroups):
        since_first = np.array(read_pattern[g]) - mean_read[0]
        reads = first[None, :, :] + countrate[None, :, :] * since_first[:, None, None]
        reads = _horner(reads, ic)
        reads += (d[g] - np.mean(reads, axis=0))[np.newaxis, :, :]
        reads = _horner(reads, c)
        out[g] = np.where(saturated[g], d[g], np.mean(reads, axis=0))
    return out
