"""Saturation and A/D-floor flagging (jwst ``saturation`` step, stcal 1.20.0).

Reproduces ``stcal.saturation.saturation.flag_saturated_pixels`` as called by
jwst 3.0.0, bit for bit, with whole-block numpy operations instead of a loop
over groups:

* Thresholds that are NaN, or whose reference DQ has ``NO_SAT_CHECK``, are
  raised to ``atod_limit + 1`` so they never trigger; NaN thresholds also get
  ``NO_SAT_CHECK`` in the reference DQ that is ORed into PIXELDQ.
* A group at or above the threshold is flagged ``SATURATED`` together with all
  later groups of the integration; SATURATED flags (including any already in
  the input GROUPDQ of that group) are then grown by ``n_pix_grow_sat`` pixels
  in a square box, group by group.
* Groups at or below 0 DN get ``AD_FLOOR | DO_NOT_USE`` (not grown).
* With a ``read_pattern`` (jwst's default ``use_readpatt=True``), a backward
  pass flags ``DO_NOT_USE`` (grown) in a group whose value exceeds the
  threshold diluted by the group averaging (mean/last frame of the group) when
  the next group is saturated; and a "group 2" pass flags ``DO_NOT_USE`` in
  the second group when a saturating event in its last frame is likely (only
  for more than two groups; this pass also runs for NFRAMES=1). jwst builds
  the read pattern as consecutive frames and ignores GROUPGAP
  (:func:`jwst_read_pattern`).
* The ZEROFRAME is not flagged: values that would be flagged are set to 0.

Mixed float32/float64 arithmetic follows stcal's numpy expressions exactly, so
comparisons near the threshold give the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError

__all__ = ["flag_saturation", "flag_saturation_irs2", "jwst_read_pattern"]

#: Rows of the detector processed at once (per integration, all groups).
ROW_BLOCK = 128


def jwst_read_pattern(ngroups: int, nframes: int) -> list[list[int]]:
    """The read pattern jwst 3.0.0 builds from NGROUPS and NFRAMES.

    Frame numbers are 1-based and consecutive: GROUPGAP is ignored, as in
    jwst's saturation and linearity steps.

    Examples
    --------
    >>> jwst_read_pattern(3, 2)
    [[1, 2], [3, 4], [5, 6]]
    """
    return [[x + 1 + g * nframes for x in range(nframes)] for g in range(ngroups)]


def flag_saturation(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    sat_thresh: np.ndarray,
    sat_dq: np.ndarray,
    dqflags: Mapping[str, int],
    n_pix_grow_sat: int = 1,
    zeroframe: np.ndarray | None = None,
    read_pattern: Sequence[Sequence[float]] | None = None,
    bias: np.ndarray | None = None,
    atod_limit: float = 65535.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Flag saturated and A/D-floor groups, as stcal ``flag_saturated_pixels``.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx)
        The ramp (DN).
    groupdq : ndarray, same shape as ``data``
        Group DQ (uint8).
    pixeldq : ndarray, shape (ny, nx)
        Pixel DQ (uint32).
    sat_thresh, sat_dq : ndarray, shape (ny, nx)
        SCI and DQ of the SATURATION reference, already cut to the subarray.
    dqflags : mapping
        Pixel flag values; uses DO_NOT_USE, SATURATED, AD_FLOOR, NO_SAT_CHECK.
    n_pix_grow_sat : int
        Layers of neighbouring pixels also flagged around saturated ones.
    zeroframe : ndarray, shape (nints, ny, nx), optional
        The ZEROFRAME (pass it only when EXPOSURE.ZERO_FRAME is true).
    read_pattern : list of lists, optional
        Frame numbers (or times) of each group; jwst passes
        ``jwst_read_pattern(ngroups, nframes)`` when ``use_readpatt`` is true
        (the default) and None otherwise.
    bias : ndarray, shape (ny, nx), optional
        The SUPERBIAS SCI (subarray), used by the group-2 test; 0 if None.
    atod_limit : float
        Largest value of the A/D converter (65535 in jwst).

    Returns
    -------
    groupdq : ndarray
        New group DQ with SATURATED, AD_FLOOR and DO_NOT_USE set.
    pixeldq : ndarray
        New pixel DQ: input OR reference DQ (NaN thresholds add NO_SAT_CHECK).
    zeroframe : ndarray or None
        New ZEROFRAME with flagged values set to 0, or None.

    Raises
    ------
    InputError
        If ``sat_thresh`` is not 2-D (superstripe references are not supported).
    """
    nints, ngroups, ny, nx = data.shape
    if np.ndim(sat_thresh) != 2:
        raise InputError(
            f"sat_thresh has shape {np.shape(sat_thresh)}; flag_saturation takes the 2-D "
            "SATURATION SCI array cut to the science subarray (4-D superstripe thresholds "
            "are not supported)"
        )
    sat = int(dqflags["SATURATED"])
    dnu = int(dqflags["DO_NOT_USE"])
    low_flags = int(dqflags["AD_FLOOR"]) | dnu
    thresh, nsc, ref_dq = _prepare_thresholds(sat_thresh, sat_dq, dqflags, atod_limit)
    n = int(n_pix_grow_sat)
    gdq_out = np.empty_like(groupdq)
    # Rows needed around a block: one growth for the forward flags, and one
    # more for the backward pass that reads the grown flags and grows again.
    halo = 2 * n if read_pattern is not None else n
    bias_arr = None if bias is None else np.asarray(bias)

    for i in range(nints):
        for r0 in range(0, ny, ROW_BLOCK):
            r1 = min(r0 + ROW_BLOCK, ny)
            a, b = max(r0 - halo, 0), min(r1 + halo, ny)
            own = slice(r0 - a, r1 - a)
            d = data[i, :, a:b]
            thr = thresh[a:b]
            gq = groupdq[i, :, a:b].copy()
            _forward_pass(d, gq, thr, n, sat, low_flags)
            if read_pattern is not None:
                _backward_pass(d, gq, thr, nsc[a:b], read_pattern, n, sat, dnu)
                if ngroups > 2:
                    blk_bias = 0.0 if bias_arr is None else bias_arr[r0:r1]
                    _group2_pass(d[:, own], gq[:, own], thr[own], blk_bias, read_pattern, sat, dnu)
            gdq_out[i, :, r0:r1] = gq[:, own]

    zf_out = None
    if zeroframe is not None:
        zf_out = np.empty_like(zeroframe)
        for i in range(zeroframe.shape[0]):
            zf_out[i] = _flag_zeroframe_plane(zeroframe[i], thresh, n)
    return gdq_out, np.bitwise_or(pixeldq, ref_dq), zf_out


def _prepare_thresholds(sat_thresh, sat_dq, dqflags, atod_limit):
    """Thresholds with NO_SAT_CHECK/NaN raised above the A/D limit (copies)."""
    no_sat_check = int(dqflags["NO_SAT_CHECK"])
    nan = np.isnan(sat_thresh)
    nsc = (np.bitwise_and(sat_dq, no_sat_check) == no_sat_check) | nan
    ref_dq = np.array(sat_dq, copy=True)
    ref_dq[nan] |= no_sat_check
    thresh = np.array(sat_thresh, copy=True)
    thresh[nsc] = atod_limit + 1
    return thresh, nsc, ref_dq


def _forward_pass(d, gq, thr, n, sat, low_flags):
    """SATURATED from the group onwards, grown; AD_FLOOR|DO_NOT_USE (in place)."""
    flagged = d >= thr
    for g in range(1, flagged.shape[0]):
        flagged[g] |= flagged[g - 1]
    np.bitwise_or(gq, sat, out=gq, where=flagged)
    np.less_equal(d, 0, out=flagged)
    np.bitwise_or(gq, low_flags, out=gq, where=flagged)
    if n > 0:
        grown = _dilate(np.bitwise_and(gq, sat) != 0, n)
        np.bitwise_or(gq, sat, out=gq, where=grown)


def _backward_pass(d, gq, thr, nsc, read_pattern, n, sat, dnu):
    """DO_NOT_USE where a diluted group average already reached saturation.

    Group g only reads the SATURATED bit of group g+1, which this pass never
    sets, so the groups are independent of the order stcal visits them in.
    """
    for g in range(gq.shape[0] - 2, -1, -1):
        dilution = np.mean(read_pattern[g]) / read_pattern[g][-1]
        if dilution == 1:
            continue
        partial = d[g] >= thr * np.where(nsc, 1, dilution)
        partial &= np.bitwise_and(gq[g], sat | dnu) == 0
        partial &= np.bitwise_and(gq[g + 1], sat) != 0
        if n > 0:
            partial = _dilate(partial, n)
        np.bitwise_or(gq[g], dnu, out=gq[g], where=partial)


def _group2_pass(d, gq, thr, bias, read_pattern, sat, dnu):
    """DO_NOT_USE in group 2 when a saturating jump in its last frame is likely."""
    scigp1 = d[0] - bias
    mask = ((scigp1 / np.mean(read_pattern[0])) * read_pattern[2][-1]) + bias < thr
    scigp2 = d[1] - d[0]
    mask &= scigp2 > (thr - d[0]) / len(read_pattern[1])
    mask &= np.bitwise_and(gq[2], sat) != 0
    mask &= np.bitwise_and(gq[1], sat) == 0
    np.bitwise_or(gq[1], dnu, out=gq[1], where=mask)


def _flag_zeroframe_plane(plane, thresh, n):
    """A ZEROFRAME plane with saturated (grown) and A/D-floor values zeroed."""
    bad = plane >= thresh
    if n > 0:
        bad = _dilate(bad, n)
    bad |= plane <= 0
    return np.where(bad, plane.dtype.type(0), plane)


def _dilate(mask: np.ndarray, n: int) -> np.ndarray:
    """Grow a boolean mask by ``n`` pixels in a square box (last two axes).

    The box is clipped at the array edges, as stcal's ``_adjacent_pixels`` and
    ``scipy.ndimage.binary_dilation`` with a (2n+1)^2 structure do. The box is
    separable, so it is two passes of 2n shifted ORs.
    """
    rows = mask.copy()
    for k in range(1, n + 1):
        rows[..., k:] |= mask[..., :-k]
        rows[..., :-k] |= mask[..., k:]
    out = rows.copy()
    for k in range(1, n + 1):
        out[..., k:, :] |= rows[..., :-k, :]
        out[..., :-k, :] |= rows[..., k:, :]
    return out


def flag_saturation_irs2(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    sat_thresh: np.ndarray,
    sat_dq: np.ndarray,
    dqflags: Mapping[str, int],
    science_rows: np.ndarray,
    n_pix_grow_sat: int = 1,
    zeroframe: np.ndarray | None = None,
    read_pattern: Sequence[Sequence[float]] | None = None,
    bias: np.ndarray | None = None,
    atod_limit: float = 65535.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Saturation flagging of NIRSpec IRS2 ramps, as jwst ``irs2_flag_saturation``.

    jwst does not call stcal for IRS2 data; its own loop differs from
    :func:`flag_saturation`: no backward (dilution) pass; the group-2 test
    flags group 2 ``SATURATED`` (grown) rather than ``DO_NOT_USE``, compares
    with the raw threshold test of group 3 and does not check group 2's flags;
    only the threshold crossings of each group are grown (input SATURATED
    flags are not).

    Parameters
    ----------
    data, groupdq : ndarray, shape (nints, ngroups, nrows_irs2, nx)
        Ramp and group DQ in IRS2 layout (DMS orientation).
    pixeldq : ndarray, shape (nrows_irs2, nx)
        Pixel DQ in IRS2 layout; only science rows receive the reference DQ.
    sat_thresh, sat_dq : ndarray, shape (ny, nx)
        SATURATION reference SCI and DQ (science pixels only, e.g. 2048 rows).
    dqflags : mapping
        Pixel flag values.
    science_rows : ndarray of bool, shape (nrows_irs2,)
        True for normal (science) rows: jwst's ``x_irs2.make_mask(model)``,
        reversed (``[::-1]``) for NRS2.
    n_pix_grow_sat, zeroframe, read_pattern, atod_limit
        As in :func:`flag_saturation` (zeroframe in IRS2 layout).
    bias : ndarray, shape (nrows_irs2, nx), optional
        SUPERBIAS SCI in IRS2 layout.

    Returns
    -------
    groupdq, pixeldq, zeroframe
        New arrays, as in :func:`flag_saturation`.
    """
    nints, ngroups = data.shape[:2]
    sat = int(dqflags["SATURATED"])
    low_flags = int(dqflags["AD_FLOOR"]) | int(dqflags["DO_NOT_USE"])
    thresh, _, ref_dq = _prepare_thresholds(sat_thresh, sat_dq, dqflags, atod_limit)
    rows = np.asarray(science_rows, dtype=bool)
    n = int(n_pix_grow_sat)
    sci_bias = 0.0 if bias is None else np.asarray(bias)[rows]
    gdq_out = groupdq.copy()

    for i in range(nints):
        sci = data[i][:, rows]
        gq = gdq_out[i][:, rows]
        crossed = sci >= thresh
        if read_pattern is not None and ngroups > 2:
            scigp1 = sci[0] - sci_bias
            mask = ((scigp1 / np.mean(read_pattern[0])) * read_pattern[2][-1]) + sci_bias < thresh
            mask &= sci[1] - sci[0] > (thresh - sci[0]) / len(read_pattern[1])
            mask &= crossed[2]
            if n > 0:
                mask = _dilate(mask, n)
            np.bitwise_or(gq[1], sat, out=gq[1], where=mask)
        if n > 0:
            crossed = _dilate(crossed, n)
        for g in range(1, ngroups):
            crossed[g] |= crossed[g - 1]
        np.bitwise_or(gq, sat, out=gq, where=crossed)
        np.bitwise_or(gq, low_flags, out=gq, where=sci <= 0)
        gdq_out[i][:, rows] = gq

    zf_out = None
    if zeroframe is not None:
        zf_out = zeroframe.copy()
        for i in range(zeroframe.shape[0]):
            zf_out[i][rows] = _flag_zeroframe_plane(zeroframe[i][rows], thresh, n)

    pdq_out = pixeldq.copy()
    pdq_out[rows] = np.bitwise_or(pixeldq[rows], ref_dq)
    return gdq_out, pdq_out, zf_out
