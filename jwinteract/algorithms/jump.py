"""Two-point-difference jump (cosmic-ray) detection (jwst ``jump`` step, stcal 1.20.0).

Reproduces ``stcal.jump.jump.detect_jumps_data`` as jwst 3.0.0 calls it (one
process, no snowballs, no MIRI showers), group DQ bit for bit, including the
float32/float64 mix of stcal's numpy expressions and these quirks:

* Differences are in electrons (ramp and CDS read noise times the gain; NaN
  gain or gain 0 detect nothing, negative gains flip the ramp), pooled per
  pixel over all integrations; sigma = sqrt(|median| + RN**2 / nframes).
* The regime is chosen once from the groups that are DO_NOT_USE in every
  pixel: sigma clipping (astropy ``sigma_clip``) with enough integrations
  (groups, if not ``only_use_ints``); else a single pass when an integration
  has ``min_diffs_single_pass`` usable differences; else iterative. With fewer
  than 3 usable groups nothing is detected (``minimum_groups`` is replaced by 3
  in stcal's single-process path).
* The iterative regime works on absolute differences around their median
  after dropping every copy of the largest (4+ values; median of 3; smaller
  of 2), rounds residuals and later medians to float32, flags all ties of the
  largest residual, and thresholds by the number of usable differences: 4+
  ``rejection_threshold``, 3 ``four_group_rejection_threshold``, 2
  ``three_group_rejection_threshold``.
* After sigma clipping, a group plane whose pixels are all JUMP_DET or
  DO_NOT_USE has its pure JUMP_DET pixels reset to 0.
* Neighbour and after-jump flagging use the plain (non-iterative) median and
  sigma, and count JUMP_DET flags already in the input as detections.
* JUMP_DET is finally removed where DO_NOT_USE or SATURATED is set.

Work proceeds in two sweeps over blocks of rows: per-pixel detection, then
neighbour and after-jump flagging, which reads one row either side of the
block as it was after detection.

The per-pixel order statistics (sorting-network medians) are in
:mod:`jwinteract.algorithms._medians`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, ParameterError
from ._medians import _clipped_abs_median, _nanmedian, _SortedLanes

__all__ = ["detect_jumps", "BLOCK_SAMPLES"]

#: Ramp samples (integrations x groups x rows x columns) processed at once:
#: 32 rows of a 2048-column, 10-group ramp. Temporaries are a few arrays of
#: this many elements (5 MB each in float64); on a 2048 x 2048 x 10 ramp this
#: size ran faster than 64-256 rows (the working set stays in cache).
BLOCK_SAMPLES = 32 * 2048 * 10


@dataclass(frozen=True)
class _Settings:
    fl_jump: int
    fl_sat: int
    fl_dnu: int
    rejection_threshold: float
    three_group_rejection_threshold: float
    four_group_rejection_threshold: float
    flag_4_neighbors: bool
    max_jump_to_flag_neighbors: float
    min_jump_to_flag_neighbors: float
    after_jump_flag_e1: float
    after_jump_flag_e2: float
    after_jump_flag_n1: int
    after_jump_flag_n2: int
    rn_denominator: float
    only_use_ints: bool


def detect_jumps(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    gain: np.ndarray,
    readnoise: np.ndarray,
    nframes: int,
    group_time: float,
    dqflags: Mapping[str, int],
    rejection_threshold: float = 4.0,
    three_group_rejection_threshold: float = 6.0,
    four_group_rejection_threshold: float = 5.0,
    flag_4_neighbors: bool = True,
    max_jump_to_flag_neighbors: float = 1000.0,
    min_jump_to_flag_neighbors: float = 10.0,
    after_jump_flag_dn1: float = 0.0,
    after_jump_flag_time1: float = 0.0,
    after_jump_flag_dn2: float = 0.0,
    after_jump_flag_time2: float = 0.0,
    min_diffs_single_pass: int = 10,
    minimum_groups: int = 3,
    minimum_sigclip_groups: int = 100,
    only_use_ints: bool = True,
    progress: Callable[[float], object] | None = None,
    return_primary_crs: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, int]:
    """Flag jumps by the two-point-difference method, as stcal 1.20.0.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx)
        The ramp (DN), float32.
    groupdq : ndarray, same shape as ``data``
        Group DQ (uint8).
    pixeldq : ndarray, shape (ny, nx)
        Pixel DQ (uint32).
    gain : ndarray, shape (ny, nx)
        Gain (electrons/DN), already cut to the subarray.
    readnoise : ndarray, shape (ny, nx)
        CDS read noise (DN) as stored in the READNOISE reference file.
    nframes : int
        Frames averaged per group (NFRAMES).
    group_time : float
        Group time (s), to turn the after-jump times into numbers of groups.
    dqflags : mapping
        DQ flag values by name; needs ``JUMP_DET``, ``SATURATED``,
        ``DO_NOT_USE`` and ``NO_GAIN_VALUE``.
    rejection_threshold, three_group_rejection_threshold, \
four_group_rejection_threshold : float
        Detection thresholds (sigma), as the jwst step parameters.
    flag_4_neighbors : bool
        Flag the four neighbours of jumps between
        ``min_jump_to_flag_neighbors`` and ``max_jump_to_flag_neighbors`` sigma.
    max_jump_to_flag_neighbors, min_jump_to_flag_neighbors : float
        Bounds (sigma, exclusive) for neighbour flagging.
    after_jump_flag_dn1, after_jump_flag_dn2 : float
        Jump sizes (DN) above which later groups are flagged.
    after_jump_flag_time1, after_jump_flag_time2 : float
        How long (s) after such jumps groups are flagged.
    min_diffs_single_pass : int
        Usable differences per integration from which all outliers are flagged
        in one pass instead of iteratively.
    minimum_groups : int
        Accepted for compatibility with the jwst parameter; stcal 1.20.0's
        single-process path, which jwst uses by default, replaces it by 3, and
        so does this function.
    minimum_sigclip_groups : int
        Integrations (groups, if ``only_use_ints`` is false) from which sigma
        clipping is used.
    only_use_ints : bool
        Sigma-clip each difference across integrations only, rather than all
        differences of a pixel together.
    progress : callable, optional
        Called as ``progress(fraction)`` after each block of rows.
    return_primary_crs : bool
        Also return stcal's count of primary cosmic rays, from which jwst
        derives ``meta.exposure.primary_cosmic_rays``.

    Returns
    -------
    groupdq : ndarray of uint8
        New group DQ with JUMP_DET flags.
    pixeldq : ndarray of uint32
        New pixel DQ with NO_GAIN_VALUE | DO_NOT_USE where the gain is bad.
    primary_crs : int
        Only with ``return_primary_crs``: the JUMP_DET flags after detection,
        before neighbour and after-jump flagging (flags already in the input
        included, as stcal counts them); -99 when detection was skipped, as
        stcal returns.

    Notes
    -----
    The inputs are never modified. Snowball (``expand_large_events``) and
    MIRI shower flagging are not done here.

    Examples
    --------
    >>> import numpy as np
    >>> flags = {"JUMP_DET": 4, "SATURATED": 2, "DO_NOT_USE": 1, "NO_GAIN_VALUE": 524288}
    >>> ramp = np.cumsum(np.full((1, 5, 3, 3), 100.0, np.float32), axis=1)
    >>> ramp[0, 3:, 1, 1] += 1000.0
    >>> gdq, pdq = detect_jumps(
    ...     ramp, np.zeros(ramp.shape, np.uint8), np.zeros((3, 3), np.uint32),
    ...     gain=np.ones((3, 3), np.float32), readnoise=np.full((3, 3), 5, np.float32),
    ...     nframes=1, group_time=10.0, dqflags=flags)
    >>> gdq[0, :, 1, 1]
    array([0, 0, 0, 4, 0], dtype=uint8)
    >>> int(gdq[0, 3, 0, 1]), int(gdq[0, 3, 0, 0])  # a neighbour, a corner
    (4, 0)
    """
    data, groupdq, pixeldq, gain, readnoise = _check_inputs(data, groupdq, pixeldq, gain, readnoise)
    try:
        fl_jump, fl_sat = int(dqflags["JUMP_DET"]), int(dqflags["SATURATED"])
        fl_dnu, fl_ngv = int(dqflags["DO_NOT_USE"]), int(dqflags["NO_GAIN_VALUE"])
    except KeyError as err:
        raise ParameterError(f"dqflags has no {err.args[0]!r} flag; pass dqflags.pixel") from None
    if not group_time > 0:
        raise ParameterError(f"group_time must be > 0 (TGROUP), got {group_time!r}")
    if not nframes > 0:
        raise ParameterError(f"nframes must be > 0 (NFRAMES), got {nframes!r}")

    nints, ngroups, ny, nx = data.shape

    new_pdq = pixeldq.copy()
    bad_gain = (gain <= 0.0) | np.isnan(gain)
    new_pdq[bad_gain] |= np.uint32(fl_ngv | fl_dnu)

    n1 = int(after_jump_flag_time1 // group_time)
    n2 = int(after_jump_flag_time2 // group_time)
    e1 = e2 = 0.0
    if n1 > 0 or n2 > 0:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            median_gain = np.nanmedian(gain)
        # Python float times a float32 scalar stays float32, as in stcal.
        e1 = after_jump_flag_dn1 * median_gain
        e2 = after_jump_flag_dn2 * median_gain
    settings = _Settings(
        fl_jump=fl_jump,
        fl_sat=fl_sat,
        fl_dnu=fl_dnu,
        rejection_threshold=rejection_threshold,
        three_group_rejection_threshold=three_group_rejection_threshold,
        four_group_rejection_threshold=four_group_rejection_threshold,
        flag_4_neighbors=bool(flag_4_neighbors),
        max_jump_to_flag_neighbors=max_jump_to_flag_neighbors,
        min_jump_to_flag_neighbors=min_jump_to_flag_neighbors,
        after_jump_flag_e1=e1,
        after_jump_flag_e2=e2,
        after_jump_flag_n1=n1,
        after_jump_flag_n2=n2,
        # stcal: n_reads_groupdiff = ones(1) * 2 * nframes, used as 0.5 * that.
        rn_denominator=0.5 * (2.0 * nframes),
        only_use_ints=bool(only_use_ints),
    )

    rows = _block_rows(nints * ngroups * nx, ny)
    blocks = [(r0, min(r0 + rows, ny)) for r0 in range(0, ny, rows)]
    regime = _choose_regime(
        groupdq, blocks, fl_dnu, minimum_sigclip_groups, only_use_ints, min_diffs_single_pass
    )
    with np.errstate(invalid="ignore"):  # NaN is data here (bad groups, bad gains)
        new_gdq, primary_crs = _detect(
            data, groupdq, gain, readnoise, regime, blocks, settings, progress
        )
    if return_primary_crs:
        return new_gdq, new_pdq, primary_crs
    return new_gdq, new_pdq


def _detect(data, groupdq, gain, readnoise, regime, blocks, s, progress):
    """The two sweeps over blocks of rows; returns (new groupdq, primary CR count)."""
    nints, ngroups, ny, _ = data.shape
    second_sweep = regime != "skip" and (
        s.flag_4_neighbors or s.after_jump_flag_n1 > 0 or s.after_jump_flag_n2 > 0
    )
    nsteps, done = len(blocks) * (2 if second_sweep else 1), 0

    def report():
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / nsteps)

    new_gdq = np.empty_like(groupdq)
    # Per (integration, group): is every pixel JUMP_DET or DO_NOT_USE after
    # sigma clipping? (stcal then clears pure JUMP_DET pixels of that group.)
    all_jump_or_dnu = np.ones((nints, ngroups), bool)
    primary_crs = 0
    for r0, r1 in blocks:
        out = new_gdq[:, :, r0:r1]
        out[...] = groupdq[:, :, r0:r1]
        if regime != "skip":
            bad = s.fl_sat | s.fl_dnu
            diffs = _first_diffs(data[:, :, r0:r1], groupdq[:, :, r0:r1], gain[r0:r1], bad)
            rn_var = _readnoise_variance(readnoise[r0:r1], gain[r0:r1], s)
            if regime == "single":
                _detect_single_pass(diffs, rn_var, out, s)
            elif regime == "iterative":
                _detect_iterative(diffs, rn_var, out, s)
            else:
                _detect_sigma_clip(diffs, out, s)
                all_jump_or_dnu &= np.all(out & (s.fl_jump | s.fl_dnu) != 0, axis=(2, 3))
            del diffs
            primary_crs += int(np.count_nonzero(out & s.fl_jump))
        if not second_sweep:
            _remove_redundant_jumps(out, s)
        report()

    if regime == "sigclip":
        for i, g in zip(*np.nonzero(all_jump_or_dnu), strict=True):
            plane = new_gdq[i, g]
            reset = plane == s.fl_jump
            plane[reset] = 0
            primary_crs -= int(np.count_nonzero(reset))

    if second_sweep:
        # Neighbour flags of block k depend on the detections (only) in the
        # row above it, which block k-1 has already rewritten: keep that row.
        row_above = None
        for r0, r1 in blocks:
            last_row = new_gdq[:, :, r1 - 1].copy()
            lo, hi = max(r0 - 1, 0), min(r1 + 1, ny)
            ext = new_gdq[:, :, lo:hi].copy()
            if row_above is not None:
                ext[:, :, 0] = row_above
            _flag_neighbours_and_after(ext, r0 - lo, r1 - lo, lo, data, groupdq, gain, readnoise, s)
            block = ext[:, :, r0 - lo : r1 - lo]
            _remove_redundant_jumps(block, s)
            new_gdq[:, :, r0:r1] = block
            row_above = last_row
            report()
    return new_gdq, primary_crs if regime != "skip" else -99


def _check_inputs(data, groupdq, pixeldq, gain, readnoise):
    data = np.asarray(data)
    if data.ndim != 4:
        raise InputError(
            f"data must be a ramp [nints, ngroups, ny, nx] (SCI of a RampModel), got shape {data.shape}"
        )
    groupdq = np.asarray(groupdq)
    if groupdq.shape != data.shape:
        raise InputError(f"groupdq shape {groupdq.shape} differs from data shape {data.shape}")
    frame = data.shape[2:]
    arrays = {"pixeldq": pixeldq, "gain": gain, "readnoise": readnoise}
    for name, arr in arrays.items():
        arrays[name] = np.asarray(arr)
        if arrays[name].shape != frame:
            raise InputError(
                f"{name} shape {arrays[name].shape} differs from the frame shape {frame}; "
                "cut reference files to the science subarray first"
            )
    return data, groupdq, arrays["pixeldq"], arrays["gain"], arrays["readnoise"]


def _block_rows(samples_per_row: int, ny: int) -> int:
    return int(min(max(BLOCK_SAMPLES // max(samples_per_row, 1), 1), max(ny, 1)))


def _choose_regime(groupdq, blocks, fl_dnu, minimum_sigclip_groups, only_use_ints, min_diffs):
    """stcal's ``groups_all_set_dnu``, ``check_group_counts`` and regime tests."""
    nints, ngroups = groupdq.shape[:2]
    if ngroups < 2:
        return "skip"
    all_dnu = np.ones((nints, ngroups), bool)
    for r0, r1 in blocks:
        all_dnu &= np.all(groupdq[:, :, r0:r1] & fl_dnu != 0, axis=(2, 3))
    flagged_per_int = all_dnu.sum(axis=1)
    min_usable_groups = ngroups - int(flagged_per_int.max())
    total_groups = nints * ngroups - int(flagged_per_int.sum())
    if only_use_ints:
        sigclip = nints >= minimum_sigclip_groups
    else:
        sigclip = total_groups >= minimum_sigclip_groups
    if sigclip:
        return "sigclip"
    if min_usable_groups < 3:
        return "skip"
    if min_usable_groups - 1 >= min_diffs:
        return "single"
    return "iterative"


def _first_diffs(data, groupdq, gain, bad_bits):
    """Differences of adjacent groups in electrons; NaN next to bad groups."""
    electrons = data * gain
    np.copyto(electrons, np.nan, where=groupdq & bad_bits != 0)
    return np.diff(electrons, axis=1)


def _readnoise_variance(readnoise, gain, settings):
    rn = readnoise * gain
    return (rn**2).astype(np.float64) / settings.rn_denominator


def _sigma(median, rn_var):
    """Noise of one difference, NaN where it would be 0 (stcal)."""
    sigma = np.sqrt(np.abs(median) + rn_var)
    sigma[sigma == 0.0] = np.nan
    return sigma


# --------------------------------------------------------------------------
# Detection regimes (write JUMP_DET into ``gdq``, the block's output DQ)


def _detect_single_pass(diffs, rn_var, gdq, s):
    nints, ndiffs, nrows, ncols = diffs.shape
    flat = diffs.reshape(nints * ndiffs, nrows * ncols)
    median = _nanmedian(_SortedLanes(flat)).reshape(nrows, ncols)
    sigma = _sigma(median, rn_var)
    ratio = diffs.astype(np.float64)
    ratio -= median
    np.abs(ratio, out=ratio)
    ratio /= sigma
    jump = ratio > s.rejection_threshold
    del ratio
    # NaN differences compare False already; +-inf ones are excluded by stcal.
    inf = np.isinf(diffs) & jump
    if inf.any():
        jump &= ~inf
    gdq[:, 1:] |= jump.view(np.uint8) * np.uint8(s.fl_jump)


def _cr_test(count, ratio, s):
    """stcal ``get_cr_locs``: threshold by the number of usable differences."""
    return (
        ((count >= 4) & (ratio > s.rejection_threshold))
        | ((count == 3) & (ratio > s.four_group_rejection_threshold))
        | ((count == 2) & (ratio > s.three_group_rejection_threshold))
    )


def _detect_iterative(diffs, rn_var, gdq, s):
    nints, ndiffs, nrows, ncols = diffs.shape
    nlanes, npix = nints * ndiffs, nrows * ncols
    absdiff = np.abs(diffs.reshape(nlanes, npix))
    rn_var = rn_var.reshape(npix)
    lanes = _SortedLanes(absdiff)
    count = lanes.count
    median = _clipped_abs_median(lanes)
    sigma = _sigma(median, rn_var)
    # The largest |float32(|d| - median)| of a pixel is at its smallest or
    # largest |d| (rounding is monotonic), so the first round needs no pass
    # over all differences. ratio = |e| / sigma with sigma > 0 is monotonic
    # in |e|, and distinct float32 |e| give distinct float64 ratios, so
    # "ratio == max ratio" is "|e| == max |e|".
    lo = (lanes.take(np.zeros_like(count)).astype(np.float64) - median).astype(np.float32)
    hi = (lanes.take(count - 1).astype(np.float64) - median).astype(np.float32)
    ratio = np.maximum(np.abs(lo), np.abs(hi)).astype(np.float64) / sigma
    pix = np.flatnonzero(_cr_test(count, ratio, s))
    del lanes, lo, hi, ratio
    if pix.size == 0:
        return

    values = absdiff[:, pix].astype(np.float64)
    median, sigma, count = median[pix], sigma[pix], count[pix]
    hit_lanes, hit_pixels = [], []
    for _ in range(nlanes):  # stcal's bound: no pixel can have more jumps
        resid = np.abs((values - median).astype(np.float32))
        with np.errstate(invalid="ignore"):
            largest = np.fmax.reduce(resid, axis=0)
        found = _cr_test(count, largest.astype(np.float64) / sigma, s)
        if not found.any():
            break
        hit = (resid == largest) & found
        lane, col = np.nonzero(hit)
        hit_lanes.append(lane)
        hit_pixels.append(pix[col])
        values[hit] = np.nan
        values, pix = values[:, found], pix[found]
        # stcal keeps later medians in a float32 array.
        lanes = _SortedLanes(values)
        count = lanes.count
        median = _clipped_abs_median(lanes).astype(np.float32).astype(np.float64)
        sigma = _sigma(median, rn_var[pix])
    lane = np.concatenate(hit_lanes)
    p = np.concatenate(hit_pixels)
    i, j = np.divmod(lane, ndiffs)
    y, x = np.divmod(p, ncols)
    gdq[i, j + 1, y, x] |= np.uint8(s.fl_jump)


def _detect_sigma_clip(diffs, gdq, s):
    from astropy.stats import sigma_clip
    from astropy.utils.exceptions import AstropyUserWarning

    # stcal calls astropy's sigma_clip (median centre, standard deviation,
    # 5 iterations); its C implementation is reused so the bounds agree to
    # the last bit (its mean/std sums run in an order set by its selection).
    axis = 0 if s.only_use_ints else (0, 1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Input data contains invalid", AstropyUserWarning)
        _, lower, upper = sigma_clip(
            diffs.astype(np.float64),
            sigma=s.rejection_threshold,
            axis=axis,
            masked=False,
            return_bounds=True,
            copy=False,
        )
    shape = (1,) + lower.shape if s.only_use_ints else (1, 1) + lower.shape
    with np.errstate(invalid="ignore"):
        jump = (diffs < lower.reshape(shape)) | (diffs > upper.reshape(shape))
    jump &= np.isfinite(diffs)
    jump &= gdq[:, 1:] & (s.fl_sat | s.fl_dnu) == 0
    gdq[:, 1:] |= jump.view(np.uint8) * np.uint8(s.fl_jump)


# --------------------------------------------------------------------------
# Neighbours, after-jump flagging, clean-up


def _pixel_stats(ys, xs, data, groupdq, gain, readnoise, s):
    """First differences, median and sigma (stcal's non-iterative ones) of some pixels."""
    electrons = data[:, :, ys, xs] * gain[ys, xs]
    electrons[groupdq[:, :, ys, xs] & (s.fl_sat | s.fl_dnu) != 0] = np.nan
    diffs = np.diff(electrons, axis=1).astype(np.float64)
    nints, ndiffs, npix = diffs.shape
    median = _nanmedian(_SortedLanes(diffs.reshape(nints * ndiffs, npix)))
    rn_var = _readnoise_variance(readnoise[ys, xs], gain[ys, xs], s)
    return diffs, median, _sigma(median, rn_var)


def _flag_neighbours_and_after(ext, k0, k1, row0, data, groupdq, gain, readnoise, s):
    """Neighbour and after-jump flagging of rows ``k0:k1`` of ``ext`` (in place).

    ``ext`` holds the group DQ after detection of the block and of one row on
    either side (detector rows from ``row0``).
    """
    jump, bad = np.uint8(s.fl_jump), s.fl_sat | s.fl_dnu
    nrows, ncols = ext.shape[2:]
    if s.flag_4_neighbors:
        jump_set = ext[:, 1:] & jump != 0
        ys, xs = np.nonzero(jump_set.any(axis=(0, 1)))
        if ys.size:
            diffs, median, sigma = _pixel_stats(ys + row0, xs, data, groupdq, gain, readnoise, s)
            ratio = np.abs(diffs - median) / sigma
            with np.errstate(invalid="ignore"):
                trigger = (
                    (ratio < s.max_jump_to_flag_neighbors)
                    & (ratio > s.min_jump_to_flag_neighbors)
                    & jump_set[:, :, ys, xs]
                )
            i, j, q = np.nonzero(trigger)
            g = j + 1
            for dy, dx in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                y, x = ys[q] + dy, xs[q] + dx
                ok = (y >= k0) & (y < k1) & (x >= 0) & (x < ncols)
                ii, gg, yy, xx = i[ok], g[ok], y[ok], x[ok]
                ok = ext[ii, gg, yy, xx] & bad == 0
                ext[ii[ok], gg[ok], yy[ok], xx[ok]] |= jump

    n1, n2 = s.after_jump_flag_n1, s.after_jump_flag_n2
    if n1 > 0 or n2 > 0:
        block = ext[:, :, k0:k1]
        ngroups = block.shape[1]
        jump_set = block & jump != 0
        ys, xs = np.nonzero(jump_set[:, 1:].any(axis=(0, 1)))
        if ys.size:
            diffs, median, _ = _pixel_stats(ys + row0 + k0, xs, data, groupdq, gain, readnoise, s)
            excess = diffs - median
            jump_set = jump_set[:, :, ys, xs]
            flag = np.zeros(jump_set.shape, bool)
            for e, n in ((s.after_jump_flag_e1, n1), (s.after_jump_flag_e2, n2)):
                big = np.zeros(jump_set.shape, bool)
                big[:, 1:] = (excess >= e) & jump_set[:, 1:]
                flag |= _propagate(big, min(n, ngroups - 2))
            pix = block[:, :, ys, xs]
            flag &= pix & bad == 0
            block[:, :, ys, xs] = pix | flag.view(np.uint8) * jump


def _propagate(flag, ngroups_after):
    """Also set the ``ngroups_after`` groups after each set group (axis 1)."""
    if ngroups_after <= 0:
        return flag
    counts = np.cumsum(flag, axis=1, dtype=np.int32)
    window = counts.copy()
    window[:, ngroups_after + 1 :] -= counts[:, : -ngroups_after - 1]
    return window > 0


def _remove_redundant_jumps(gdq, s):
    """stcal: drop JUMP_DET where DO_NOT_USE or SATURATED is also set (in place)."""
    redundant = (gdq & s.fl_jump != 0) & (gdq & (s.fl_dnu | s.fl_sat) != 0)
    gdq &= ~(redundant.view(np.uint8) * np.uint8(s.fl_jump))
