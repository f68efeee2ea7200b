"""Chunk loading, median rates, segmentation and segment fits of the OLS_C ramp fit.

Private helpers of :mod:`jwinteract.algorithms.ramp_fit`, whose docstring states the stcal
1.20 semantics reproduced. Each works on one chunk of columns (integrations x pixels of a
block of rows):

* loading: the group DQ as stcal's C code sees it (firstgroup/lastgroup, one-good-group
  suppression, MIRI group discard, ZEROFRAME) and the data as float64;
* the per-pixel median rate, whose median of first differences uses a pruned sorting network;
* segmentation of the ramps into runs of good groups, pruned as stcal does;
* segment fits: Fixsen weights, slopes, Poisson and read-noise variances, and the terms of
  the optional products;
* the optional products (``save_opt``): their allocation and storage.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# Fixsen weighting powers and the segment S/N edges that select them (snr_power in C).
_POWERS = np.array([0.0, 0.4, 1.0, 3.0, 6.0, 10.0], dtype=np.float32)
_SNR_EDGES = (5.0, 10.0, 20.0, 50.0, 100.0)
# The square root of two as written in stcal for two-group segment uncertainties.
_SQRT2_STCAL = 1.41421356
# Up to this many first differences the median uses a sorting network, else np.sort.
_NETWORK_MAX = 24
_OPT_SEGMENT_KEYS = ("slope", "sigslope", "var_poisson", "var_rnoise", "yint", "sigyint", "weights")


# ----------------------------------------------------------------------- chunk loading


def _columns(cube, i0, i1, groups, r0, r1):
    """``cube[i0:i1, groups, r0:r1]`` as (ngroups, ncolumns), columns ordered (int, row, x)."""
    part = cube[i0:i1, groups, r0:r1]
    return np.moveaxis(part, 1, 0).reshape(part.shape[1], -1)


def _working_dq(setup, i0, i1, r0, r1):
    """Group DQ as stcal's C code sees it, and the copy stcal keeps for CHARGELOSS.

    Applies, in jwst's order, the firstgroup/lastgroup flags, one-good-group suppression and
    the MIRI group discard (with its JUMP_DET removal from the new first group).
    """
    q = _columns(setup.groupdq, i0, i1, slice(None), r0, r1)
    if setup.extra_dnu is not None:
        q = q | setup.extra_dnu[:, None]
    orig = q[setup.g_lo : setup.g_hi]
    one = None
    if setup.suppress:  # only flagged ramps can have exactly one good group
        notpers = np.uint8(~setup.pers & 0xFF)
        cand = np.flatnonzero(np.bitwise_or.reduce(q, axis=0) & notpers)
        one = cand[np.count_nonzero((q[:, cand] & notpers) == 0, axis=0) == 1]
    q = np.array(q[setup.g_lo : setup.g_hi], dtype=np.uint8)  # always our own copy
    if one is not None and one.size:
        q[:, one] |= np.uint8(setup.dnu)
    if setup.g_lo > 0:
        q[0] &= np.uint8(~setup.jump & 0xFF)
    return q, orig


@dataclass
class _Chunk:
    """A chunk of columns (integrations x pixels of a block) as the C code sees it."""

    q: np.ndarray  # working group DQ (ngroups, ncol) uint8, ZEROFRAME applied
    orig: np.ndarray  # group DQ before suppression, for CHARGELOSS
    any_flags: np.ndarray  # OR of the group DQ over each ramp, before ZEROFRAME
    present: int  # OR of any_flags
    cnt_sat: np.ndarray
    cnt_dnu_sat: np.ndarray
    is_0th: np.ndarray  # only the first group is good: one-group timing
    is_zframe: np.ndarray  # ZEROFRAME replaced the first group: frame timing
    data: np.ndarray | None = None  # float64, SATURATED groups NaN, ZEROFRAME applied
    crmag: tuple | None = None  # (column, group, magnitude) of flagged jumps, for save_opt


def _load_chunk(setup, i0, i1, r0, r1, *, with_data=True):
    q, orig = _working_dq(setup, i0, i1, r0, r1)
    ngroups, ncol = q.shape
    any_flags = np.bitwise_or.reduce(q, axis=0)
    present = int(np.bitwise_or.reduce(any_flags)) if ncol else 0
    flagged = np.flatnonzero(any_flags)  # group counts are only needed there
    qf = q[:, flagged]

    def count(values):
        out = np.zeros(ncol, dtype=np.intp)
        out[flagged] = np.count_nonzero(values, axis=0)
        return out

    cnt_sat = count(qf & np.uint8(setup.sat))
    cnt_dnu_sat = count(qf & np.uint8(setup.dnu | setup.sat))
    is_0th = is_zframe = np.zeros(ncol, dtype=bool)
    if not setup.suppress:
        cnt_good = count(qf == 0)
        cnt_good[any_flags == 0] = ngroups
        is_0th = (cnt_good == 1) & (q[0] == 0)
        if setup.zeroframe is not None:
            zf = setup.zeroframe[i0:i1, r0:r1].reshape(-1)
            is_zframe = (cnt_good == 0) & (zf != 0)
            if is_zframe.any():
                q[0, is_zframe] = 0
                cnt_dnu_sat = cnt_dnu_sat - is_zframe  # unconditionally, as in C
                cnt_sat = cnt_sat - (is_zframe & (cnt_sat == ngroups))
    chunk = _Chunk(q, orig, any_flags, present, cnt_sat, cnt_dnu_sat, is_0th, is_zframe)
    if with_data:
        dd = _columns(setup.data, i0, i1, slice(setup.g_lo, setup.g_hi), r0, r1)
        dd = dd.astype(np.float64)
        if present & setup.sat:
            np.putmask(dd, (q & np.uint8(setup.sat)) != 0, np.nan)
        if setup.save_opt:  # jump magnitudes are taken before ZEROFRAME is substituted
            c, g = np.nonzero((q[1:] & np.uint8(setup.jump)).T)
            g += 1
            chunk.crmag = (c, g, dd[g, c] - dd[g - 1, c])
        if is_zframe.any():
            dd[0, is_zframe] = zf[is_zframe]
        chunk.data = dd
    return chunk


# ------------------------------------------------------------------------ median rate


def _median_rate(chunk, setup):
    """Per-column term of stcal's pixel "median rate" (which sets the Poisson variance)."""
    dd, q = chunk.data, chunk.q
    if dd.shape[0] == 1:
        return dd[0] / setup.one_group_time  # median_rate_1ngroup keeps NaN
    loc = dd / setup.group_time
    if chunk.present & setup.dnu:
        np.putmask(loc, (q & np.uint8(setup.dnu)) != 0, np.nan)
    diffs = loc[1:] - loc[:-1]
    if chunk.present & setup.jump:
        np.putmask(diffs, (q[1:] & np.uint8(setup.jump)) != 0, np.nan)
    med, none = _nan_median(diffs)
    med[none] = loc[0, none]  # no valid difference: the first group's rate (maybe NaN)
    med[chunk.is_0th] = dd[0, chunk.is_0th] / setup.one_group_time
    med[chunk.is_zframe] = dd[0, chunk.is_zframe] / setup.frame_time
    return np.where(np.isnan(med), 0.0, med)


def _nan_median(x):
    """Median over axis 0 ignoring NaN, as stcal's NaN-last sort + real_nan_median.

    Returns the medians and where no value was valid.
    """
    n = x.shape[0]
    if n <= _NETWORK_MAX:
        rows = list(x)
        for i, j in _median_network(n):
            rows[i], rows[j] = np.minimum(rows[i], rows[j]), np.maximum(rows[i], rows[j])
        med = 0.5 * (rows[(n - 1) // 2] + rows[n // 2])
        # A NaN input reaches every output of a sorting network (min and max both return
        # NaN): those columns are redone by sorting, which puts NaN last.
        partial = np.flatnonzero(np.isnan(med))
        srt = np.sort(x[:, partial], axis=0)
    else:
        srt = np.sort(x, axis=0)
        med = 0.5 * (srt[(n - 1) // 2] + srt[n // 2])
        partial = np.flatnonzero(np.isnan(srt[-1]))
        srt = srt[:, partial]
    none = np.zeros(med.size, dtype=bool)
    if partial.size:  # the median of the valid values at the start of the sorted columns
        k, ar = np.count_nonzero(~np.isnan(srt), axis=0), np.arange(partial.size)
        med[partial] = 0.5 * (srt[np.maximum(k - 1, 0) // 2, ar] + srt[k // 2, ar])
        none[partial] = k == 0
    return med, none


@functools.cache
def _median_network(n):
    """Comparators of Batcher's odd-even merge sort, pruned to the two middle outputs."""
    size = 1 << max(0, (n - 1).bit_length())
    pairs, p = [], size // 2
    while p > 0:  # Knuth, TAOCP 5.2.2 algorithm M
        q, r, d = size // 2, 0, p
        while True:
            pairs += [(i, i + d) for i in range(size - d) if (i & p) == r and i + d < n]
            if q == p:
                break
            d, q, r = q - p, q // 2, p
        p //= 2
    need, kept = {(n - 1) // 2, n // 2}, []
    for i, j in reversed(pairs):
        if i in need or j in need:
            kept.append((i, j))
            need |= {i, j}
    return tuple(reversed(kept))


# ------------------------------------------------------------------------ segmentation


@dataclass
class _Segments:
    """Kept segments (sorted by column, then order) and what stcal reports per column."""

    col: np.ndarray  # column of each segment
    start: np.ndarray  # first group
    length: np.ndarray  # number of groups
    order: np.ndarray  # index among the column's kept segments
    size: np.ndarray  # per column, the segment count stcal reports (sizes opt products)
    # From _ramp_segments: columns without flags, which are one whole-ramp segment not
    # listed above, and the listed segments' indices by order (0, 1, ...).
    clean: np.ndarray | None = None
    levels: tuple = ()


def _segments(good, gdq, jump) -> _Segments:
    """Kept segments of each column, as compute_integration_segments and its pruning in C.

    ``good`` marks usable groups; ``gdq`` is the group DQ without PERSISTENCE: a segment
    starting after a group whose flags are exactly JUMP_DET includes that group.
    """
    ngroups, ncol = good.shape
    edge = np.zeros((ngroups + 1, ncol), dtype=np.int8)
    edge[1:] = good
    edge = np.diff(edge, axis=0, append=0)  # +1 at run starts, -1 one past run ends
    ci, gs = np.nonzero((edge == 1).T)  # sorted by column, then group
    ge = np.nonzero((edge == -1).T)[1]
    after_jump = gdq.reshape(-1)[np.maximum(gs - 1, 0) * ncol + ci] == jump
    start = gs - ((gs > 0) & after_jump)
    length = ge - start
    long_ = length >= 2
    nlong = np.bincount(ci, weights=long_, minlength=ncol).astype(np.intp)
    nruns = np.bincount(ci, minlength=ncol)
    # Any segment of 2+ groups: keep those. Otherwise only the first one-group segment.
    keep = np.where(nlong[ci] > 0, long_, _heads(ci))
    size = np.where(nlong > 0, nlong, nruns)
    ci = ci[keep]
    return _Segments(ci, start[keep], length[keep], _rank(ci), size)


def _heads(sorted_keys):
    head = np.ones(sorted_keys.size, dtype=bool)
    head[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return head


def _rank(sorted_keys):
    """Position of each element within its run of equal keys."""
    pos = np.arange(sorted_keys.size)
    return pos - np.maximum.accumulate(np.where(_heads(sorted_keys), pos, 0))


def _ramp_segments(q, setup, exclude):
    """Segments of the working group DQ ``q``; ``exclude`` columns have none.

    Columns without any flag (but PERSISTENCE) are one whole-ramp segment (``clean``); only
    the others go through the general segmentation.
    """
    gdq = q & np.uint8(~setup.pers & 0xFF)
    flags = np.bitwise_or.reduce(gdq, axis=0)
    flagged = np.flatnonzero(flags)
    sub = gdq[:, flagged]
    seg = _segments((sub == 0) & ~exclude[flagged], sub, setup.jump)
    size = (flags == 0).astype(np.intp)
    size[flagged] = seg.size
    levels = tuple(
        np.flatnonzero(seg.order == k) for k in range(int(seg.order.max(initial=-1)) + 1)
    )
    return _Segments(flagged[seg.col], seg.start, seg.length, seg.order, size, flags == 0, levels)


# -------------------------------------------------------------------- segment fitting


@functools.cache
def _weight_table(n):
    """Fixsen weights and least-squares coefficients of an n-group segment, for each power.

    Returns ``w0`` and ``coef`` (6, n) and ``sumw``, ``m1``, ``m2`` (6,): the sums of
    ``w0``, ``i * w0`` and ``i**2 * w0``. The read-noise factor of stcal's weights cancels.
    """
    i = np.arange(n, dtype=np.float64)
    mid = (n - 1) / 2.0
    u = np.abs((i - mid) * (1.0 / mid)).astype(np.float32)
    w0 = np.power(u[None, :], _POWERS[:, None]).astype(np.float64)  # C: powf in float
    sumw, m1, m2 = w0.sum(axis=1), w0 @ i, w0 @ (i * i)
    coef = (sumw[:, None] * i - m1[:, None]) * w0 / (sumw * m2 - m1 * m1)[:, None]
    return w0, coef, sumw, m1, m2


def _fit_whole(dd, power, want_sum):
    """Slope per group (and weighted data sum) of every column's whole ramp (3+ groups).

    One matrix product for the six powers, then a pick. The product is done in pieces small
    enough for OpenBLAS to stay single-threaded: its threads only contend at these sizes.
    """
    w0, coef = _weight_table(dd.shape[0])[:2]
    mat = np.concatenate([coef, w0]) if want_sum else coef
    res = np.empty((mat.shape[0], dd.shape[1]))
    piece = max(256, (1 << 18) // mat.size)
    for a in range(0, dd.shape[1], piece):
        np.matmul(mat, dd[:, a : a + piece], out=res[:, a : a + piece])
    res = res.reshape(-1)
    at = power * dd.shape[1] + np.arange(dd.shape[1])
    slope = res.take(at)
    wsum = res.take(at + 6 * dd.shape[1]) if want_sum else None
    bad = np.flatnonzero(np.isnan(slope))
    if bad.size:  # C reads NaN data in a segment as zero (only raw NaN can be there)
        zero = np.zeros(bad.size, dtype=np.intp)
        fixed = _fit_padded(dd, bad, zero, zero + dd.shape[0], power[bad], want_sum)
        slope[bad] = fixed[0]
        if want_sum:
            wsum[bad] = fixed[1]
    return slope, wsum


def _fit_padded(dd, col, start, length, power, want_sum):
    """Slope per group (and weighted data sum) of listed segments (3+ groups).

    Segments are gathered into one zero-padded array; NaN data count as zero, as in C.
    """
    ngroups, ncol = dd.shape
    n_max = int(length.max(initial=0))
    i = np.arange(n_max)
    index = np.minimum(start[:, None] + i, ngroups - 1) * ncol + col[:, None]
    data = dd.reshape(-1)[index]
    data = np.where((i < length[:, None]) & ~np.isnan(data), data, 0.0)
    if n_max <= 64:  # one gather from a table of every length (n_max**2 in size)
        coef_table, w0_table = _padded_tables(n_max)
        coef, w0 = coef_table[length, power], w0_table[length, power]
    else:
        coef, w0 = np.zeros((2, col.size, n_max))
        for n in np.unique(length):
            sel = np.flatnonzero(length == n)
            w0[sel, :n], coef[sel, :n] = (t[power[sel]] for t in _weight_table(int(n))[:2])
    slope = np.einsum("si,si->s", coef, data)
    return slope, (np.einsum("si,si->s", w0, data) if want_sum else None)


@functools.cache
def _padded_tables(n_max):
    """Coefficients and weights of every length up to n_max, zero-padded: [length, power, i]."""
    coef, w0 = np.zeros((2, n_max + 1, _POWERS.size, n_max))
    for n in range(3, n_max + 1):
        w0[n, :, :n], coef[n, :, :n] = _weight_table(n)[:2]
    return coef, w0


def _fit_segments(chunk, pix, setup, segs=None):
    """Slope and variances (and optional terms) of segments.

    With ``segs`` None, of every column's whole ramp, on aligned rows without gathers;
    otherwise of the listed segments.
    """
    dd = chunk.data
    ngroups, ncol = dd.shape
    if segs is None and ngroups < 3:  # one- and two-group ramps: the general path
        c = np.arange(ncol)
        segs = _Segments(c, 0 * c, 0 * c + ngroups, 0 * c, None)
    gt = setup.group_time
    flat = dd.reshape(-1)
    if segs is None:
        c, s, n, timing = np.arange(ncol), np.zeros(ncol, dtype=np.intp), ngroups, gt
        d0, d1, dend, long_ = dd[0], dd[1], dd[-1], slice(None)
    else:
        c, s, n = segs.col, segs.start, segs.length
        pix = {k: v[c] for k, v in pix.items()}
        d0 = flat[s * ncol + c]
        d1 = flat[np.minimum(s + 1, ngroups - 1) * ncol + c]
        one = n == 1
        timing = gt
        if one.any():
            ogt, ft = setup.one_group_time, setup.frame_time
            frame = np.where(chunk.is_zframe[c], ft, gt)
            timing = np.where(one, np.where(chunk.is_0th[c], ogt, frame), gt)
        long_ = np.flatnonzero(n >= 3)
        dend = flat[(s[long_] + n[long_] - 1) * ncol + c[long_]]
    gain, rn, mrate, dark = pix["gain"], pix["rn"], pix["mrate"], pix["dark"]
    slope = np.empty(c.size)
    pden = timing * gain * np.maximum(n - 1, 1)
    var_p = np.where(mrate > 0, (mrate + dark) / pden, dark / pden)
    var_r = _rnoise_variance(rn, gain, timing, n)
    if segs is not None:
        short = np.flatnonzero(n < 3)
        tshort = timing if np.ndim(timing) == 0 else timing[short]
        slope[short] = np.where(one[short], d0[short], (d1 - d0)[short]) / tshort
    lrn, lg = rn[long_], gain[long_]
    delta = dend - d0[long_]
    den = lrn * lrn + delta * lg
    snr = np.where((den <= 0) | (lg == 0), 0.0, np.maximum(delta * lg / np.sqrt(den), 0.0))
    power = _snr_power(snr)
    if segs is None:
        slope_g, wsum = _fit_whole(dd, power, setup.save_opt)
    else:
        slope_g, wsum = _fit_padded(dd, c[long_], s[long_], n[long_], power, setup.save_opt)
    invrn2 = 1.0 / (lrn * lrn)
    bad_rn = ~(np.isfinite(invrn2) & (invrn2 > 0))  # weights inf or NaN: C's fit is NaN
    slope_g[bad_rn] = np.nan
    slope[long_] = slope_g / gt
    fit = {"var_p": var_p, "var_r": var_r, "var_e": var_p + var_r, "slope": slope}
    if setup.save_opt:
        n_all = np.broadcast_to(n, c.shape)
        long_ = np.arange(c.size)[long_]
        fit.update(_opt_segment_terms(s, n_all, fit, d0, d1, long_, power, slope_g, wsum, rn))
        for key in ("sigslope", "yint", "sigyint"):
            fit[key][long_[bad_rn]] = np.nan
    return fit


def _snr_power(snr):
    """Index into _POWERS: 5 minus the number of edges above ``snr``, as snr_power in C.

    A NaN S/N compares false everywhere, in C as here, and gets the largest power.
    """
    power = np.full(snr.shape, _POWERS.size - 1, dtype=np.intp)
    for edge in _SNR_EDGES:
        power -= snr < edge
    return power


def _rnoise_variance(rn, gain, timing, n):
    """Read-noise variance of segments (segment_rnoise_len1/len2/default in C)."""
    rnum = rn / timing
    rnum = 12.0 * rnum * rnum
    var_r = rnum / (np.where(n == 1, 6.0, np.asarray(n, dtype=np.float64) ** 3 - n) * gain * gain)
    return np.where((n >= 3) & ~(gain > 0), 0.0, var_r)  # only the general case checks gain


def _opt_segment_terms(s, n, fit, d0, d1, li, power, slope_g, wsum, rn):
    """sigslope, yint, sigyint and weights of each segment, for the optional products."""
    two = n == 2
    x1 = s + 1.0
    out = {
        "weights": 1.0 / fit["var_r"],
        "sigslope": np.where(two, _SQRT2_STCAL * rn, 0.0),
        "yint": np.where(two, d1 * (1.0 - x1) + d0 * x1, 0.0),
    }
    out["sigyint"] = out["sigslope"].copy()
    ls, ln = s[li], n[li]
    sumw0, m1, m2 = (np.empty(ln.size) for _ in range(3))
    for length in np.unique(ln):
        sel = ln == length
        sumw0[sel], m1[sel], m2[sel] = (t[power[sel]] for t in _weight_table(int(length))[2:])
    invrn2 = 1.0 / (rn[li] * rn[li])
    sumw = sumw0 * invrn2
    sumx = (ls * sumw0 + m1) * invrn2
    sumxx = (ls * ls * sumw0 + 2.0 * ls * m1 + m2) * invrn2
    invden = 1.0 / (sumw * sumxx - sumx * sumx)
    out["sigslope"][li] = np.sqrt(sumw * invden)
    out["sigyint"][li] = np.sqrt(sumxx * invden)
    out["yint"][li] = wsum / sumw0 - slope_g * (ls + m1 / sumw0)  # mean - slope * mean x
    return out


# ---------------------------------------------------------------------- optional products


def _allocate_opt(setup, rows, per_chunk):
    """Allocate stcal's optional products; a DQ-only pass finds their segment/jump depth."""
    nints, _, ny, nx = setup.data.shape
    max_segs = max_crs = 0
    for r0 in range(0, ny, rows):
        for i0 in range(0, nints, per_chunk):
            i1, r1 = min(i0 + per_chunk, nints), min(r0 + rows, ny)
            chunk = _load_chunk(setup, i0, i1, r0, r1, with_data=False)
            q = chunk.q
            bad = ((q[0] & np.uint8(setup.sat)) != 0) | (chunk.cnt_dnu_sat == q.shape[0])
            sizes = _ramp_segments(q, setup, bad).size
            max_segs = max(max_segs, int(sizes.max(initial=0)))
            njump = np.count_nonzero(q[1:] & np.uint8(setup.jump), axis=0)
            max_crs = max(max_crs, int(njump.max(initial=0)))
    opt = {k: np.zeros((nints, max_segs, ny, nx), np.float32) for k in _OPT_SEGMENT_KEYS}
    opt["pedestal"] = np.zeros((nints, ny, nx), np.float32)
    opt["crmag"] = np.zeros((nints, max_crs, ny, nx), np.float32)
    return opt


def _store_opt(opt, chunk, segs, whole, listed, slope, sat, setup, where):
    i0, r0, r1 = where
    nx = opt["pedestal"].shape[2]
    npix = (r1 - r0) * nx

    def index(columns):
        integ, p = np.divmod(columns, npix)
        row, x = np.divmod(p, nx)
        return integ + i0, row + r0, x

    names = {"var_poisson": "var_p", "var_rnoise": "var_r"}
    clean = np.flatnonzero(segs.clean)
    for fit, cols, order, pick in ((whole, clean, 0, clean), (listed, segs.col, segs.order, ...)):
        if fit:
            ii, rr, xx = index(cols)
            for key in _OPT_SEGMENT_KEYS:
                opt[key][ii, order, rr, xx] = fit[names.get(key, key)][pick]
    ped = chunk.data[0] - slope * setup.ped_tmp
    np.putmask(ped, sat | np.isnan(ped), 0.0)
    ii, rr, xx = index(np.arange(ped.size))
    opt["pedestal"][ii, rr, xx] = ped
    c, _, mag = chunk.crmag  # sorted by column, then group
    ii, rr, xx = index(c)
    opt["crmag"][ii, _rank(c), rr, xx] = mag
