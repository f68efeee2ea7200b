"""Compiled (numba) OLS_C ramp fit: the fast path of :mod:`jwinteract.algorithms.ramp_fit`.

:func:`fit_rows` fits whole pixels (every integration, then the exposure) of a range of
rows, writing ``rate`` and ``rateints`` in place, with the semantics documented in
:mod:`jwinteract.algorithms.ramp_fit`. It follows, operation by operation and in the same
float64 order, that module's vectorised numpy path (the reference, which handles every
case); only the order of the Fixsen-weighted sums differs (BLAS and einsum there), which can
change a float64 ulp and so, rarely, the last bit of a float32 product.

Each row is cut in tiles of pixels copied with groups as rows. Pixels without flags, with
finite data and usable gain and read noise (most) are fitted by :func:`_fit_simple` in loops
across the tile, which the compiler vectorises; the others by :func:`_fit_general`, one at a
time, following the numpy path's segment rules. Pixels it does not handle are *declined*
and returned to ``ramp_fit``, which fits them with numpy: pixels with a CHARGELOSS group
(whose read-noise variance is recomputed) and, when a ZEROFRAME is in use, pixels with an
integration without good groups. ``save_opt`` never uses this module.

Compiled with ``cache=True, nogil=True``: the machine code is cached on disk (beside this
file, or in numba's user-wide cache directory when the package folder is read-only), and
the GIL is released so that row blocks run in parallel on ``ramp_fit``'s thread pool.
Helpers take scalars or are called once per tile: passing arrays costs an atomic reference
count update each, which per pixel would dominate and make the threads contend.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
from numba import njit

from ._ramp_segments import _median_network, _weight_table

log = logging.getLogger(__name__)
_NO_CACHE = []  # non-empty once the no-cache warning is logged

_LARGE_VARIANCE = 1.0e6
#: Pixels per tile (see fit_rows).
_TILE = 1024
# Beyond this many first differences a pixel's median sorts them (quicksort), not by network
# or insertion sort. (Any sort gives the same median.)
_SORT_MIN = 32
#: Longest ramp (groups) the kernel takes; its weight table grows as ngroups**2.
MAX_GROUPS = 512
# Indices into the integer parameters.
_DNU, _SAT, _JUMP, _PERS, _NGVAL, _CL, _GLO, _GHI, _SUPPRESS, _ZF = range(10)


@functools.lru_cache(maxsize=4)
def weight_tables(ngroups):
    """Least-squares coefficients of every segment length up to ``ngroups``, packed.

    ``coef[offset[n] + power * n + i]`` is coefficient ``i`` of an n-group segment (n >= 3)
    for Fixsen power index ``power``: the very numbers the numpy path uses.
    """
    offset = np.zeros(max(ngroups, 2) + 2, dtype=np.int64)
    for n in range(3, ngroups + 1):
        offset[n + 1] = offset[n] + 6 * n
    coef = np.zeros(int(offset[max(ngroups, 2) + 1]) + 1)
    for n in range(3, ngroups + 1):
        coef[offset[n] : offset[n] + 6 * n] = _weight_table.__wrapped__(n)[1].reshape(-1)
    return coef, offset


@functools.lru_cache(maxsize=16)
def median_pairs(n):
    """The pruned median network of ``n`` values as an (ncomparators, 2) array."""
    return np.array(_median_network(n), dtype=np.int64).reshape(-1, 2)


def prepare(setup, pixel):
    """Arguments of :func:`fit_rows` that are the same for every block of ``fit_ramps``.

    ``setup`` is ``ramp_fit._Setup``, ``pixel`` its per-pixel arrays. Returns None where the
    kernel does not apply (ramps of more than ``MAX_GROUPS`` groups).
    """
    ngroups = setup.g_hi - setup.g_lo
    if ngroups > MAX_GROUPS:
        return None
    data, gdq = setup.data, setup.groupdq
    native = data.dtype in (np.float32, np.float64) and data.dtype.isnative
    coef, offset = weight_tables(ngroups)
    extra = setup.extra_dnu
    params = (setup.dnu, setup.sat, setup.jump, setup.pers, setup.ngval, setup.chargeloss)
    params += (setup.g_lo, setup.g_hi, setup.suppress, setup.zeroframe is not None)
    return {
        # Else each block's data and group DQ are copied to native, C-ordered arrays.
        "whole": native
        and data.flags.c_contiguous
        and gdq.dtype == np.uint8
        and gdq.flags.c_contiguous,
        "dtype": np.float32 if data.dtype.kind == "f" and data.dtype.itemsize <= 4 else np.float64,
        "pixel": [np.ascontiguousarray(pixel[k]) for k in ("gain", "rn", "dark", "pdq")],
        "tables": (
            np.zeros(data.shape[1], np.uint8) if extra is None else extra,
            median_pairs(max(ngroups - 1, 1)),
            coef,
            offset,
            np.array([setup.group_time, setup.frame_time, setup.one_group_time]),
            np.array(params, dtype=np.int64),
        ),
    }


def fit_block(kernel, setup, r0, r1, outputs):
    """Fit rows r0:r1 into ``outputs`` (rate, then rateints: slope, dq, var_poisson,
    var_rnoise, err); returns the rows and columns of the pixels declined."""
    if kernel["whole"]:
        data, gdq, row0 = setup.data, setup.groupdq, 0
    else:
        data = np.ascontiguousarray(setup.data[:, :, r0:r1], dtype=kernel["dtype"])
        gdq = np.ascontiguousarray(setup.groupdq[:, :, r0:r1], dtype=np.uint8)
        row0 = r0
    nx = setup.data.shape[3]
    declined = np.empty((r1 - r0) * nx, dtype=np.int64)
    n = fit_rows(data, gdq, row0, r0, r1, *kernel["pixel"], *kernel["tables"], *outputs, declined)
    return r0 + declined[:n] // nx, declined[:n] % nx


def _compiled(*, inner=False):
    """``njit`` with the kernel's options: cached on disk, GIL released, float division as
    in numpy (no ZeroDivisionError). ``inner`` functions, called only from compiled code,
    need no Python wrapper (saving compile time). Where numba finds no writable cache
    directory (read-only package folder and home) the code is compiled in each process."""
    options = {"nogil": True, "error_model": "numpy"}
    if inner:
        options.update(no_cpython_wrapper=True, no_cfunc_wrapper=True)

    def decorate(function):
        try:
            return njit(cache=True, **options)(function)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            if not _NO_CACHE:
                log.warning("no writable numba cache directory: ramp_fit compiles its kernel")
                _NO_CACHE.append(True)
            return njit(**options)(function)

    return decorate


_jit, _inner = _compiled(), _compiled(inner=True)


@_inner
def _snr_power(delta, rn, gain):
    """Index of the Fixsen power of a 3+ group segment (_fit_segments, _snr_power)."""
    den = rn * rn + delta * gain
    if den <= 0 or gain == 0:
        snr = 0.0
    else:
        snr = delta * gain / math.sqrt(den)
        if snr < 0.0:  # np.maximum(snr, 0): NaN stays NaN, and gets the largest power
            snr = 0.0
    return 5 - (snr < 5.0) - (snr < 10.0) - (snr < 20.0) - (snr < 50.0) - (snr < 100.0)


@_inner
def _variances(timing, n, gain, rn, mrate, dark):
    """Poisson and read-noise variances of an n-group segment (_fit_segments)."""
    pden = timing * gain * max(n - 1, 1)
    var_p = (mrate + dark) / pden if mrate > 0 else dark / pden
    rnum = rn / timing
    rnum = 12.0 * rnum * rnum
    var_r = rnum / ((6.0 if n == 1 else float(n) ** 3 - n) * gain * gain)
    if n >= 3 and not gain > 0:  # only the general case checks the gain
        var_r = 0.0
    return var_p, var_r


@_jit
def fit_rows(
    data, gdq, row0, y0, y1, gain2, rn2, dark2, pdq2, extra, pairs, coef, offset, tf, ip,
    r_slope, r_dq, r_vp, r_vr, r_err, i_slope, i_dq, i_vp, i_vr, i_err, declined,
):  # fmt: skip
    """Fit the pixels of rows y0:y1; ``data`` and ``gdq`` row ``y - row0`` is image row y.

    ``tf`` holds the group, frame and one-group times, ``ip`` the integer parameters
    (flags, group range, suppression, ZEROFRAME in use). Returns the number of declined
    pixels, whose flat indices relative to row y0 are written to ``declined``.

    Rows are cut in tiles of up to ``_TILE`` pixels, copied with groups as rows (data as
    float64). The medians of first differences of every column come from a sorting network
    run across the tile; pixels without flags (most) are fitted by :func:`_fit_simple`, in
    loops over the tile that the compiler vectorises, the others one by one by
    :func:`_fit_general`.
    """
    nints, ngroups_all, _, nx = data.shape
    gt = tf[0]
    g_lo = ip[_GLO]
    ng = ip[_GHI] - g_lo
    width = max(16, min(_TILE, nx, (1 << 14) // (nints * ngroups_all)))
    dt = np.empty((nints, ng, width))
    mt = np.empty((nints, max(ng - 1, 1), width))
    flg = np.empty(width, dtype=np.uint8)  # OR of the group DQ
    fin = np.empty(width)  # 0 where all data are finite
    pt = np.empty((4, width))  # gain, read noise, dark, scratch
    pdqt = np.empty(width, dtype=np.uint32)
    simple = np.empty(width, dtype=np.bool_)
    ft = np.empty((nints + 1, 4, width))  # slope, var_poisson, var_rnoise, err; exposure last
    dqt = np.empty((nints + 1, width), dtype=np.uint32)
    ws = np.empty((6, width))
    base = np.empty(width, dtype=np.int64)
    iw = np.empty((nints + 1, max(ngroups_all, 4)), dtype=np.int64)
    fw = np.empty((nints + 2, max(ng, 1)))
    nfound = 0
    for y in range(y0, y1):
        yd = y - row0
        for x0 in range(0, nx, width):
            w = min(width, nx - x0)
            flg[:w] = 0
            fin[:w] = 0.0 if ng >= 3 else np.nan
            for i in range(nints):
                for k in range(ng):
                    e = extra[g_lo + k]
                    grow, drow = (
                        gdq[i, g_lo + k, yd, x0 : x0 + w],
                        data[i, g_lo + k, yd, x0 : x0 + w],
                    )
                    trow = dt[i, k]
                    for j in range(w):
                        flg[j] |= grow[j] | e
                    for j in range(w):
                        v = np.float64(drow[j])
                        trow[j] = v
                        fin[j] += v - v  # NaN if some value is NaN or infinite
                if ng >= 3:  # first differences of data / group time, and their medians
                    prev = pt[3]
                    for j in range(w):
                        prev[j] = dt[i, 0, j] / gt
                    for k in range(ng - 1):
                        trow, mrow = dt[i, k + 1], mt[i, k]
                        for j in range(w):
                            cur = trow[j] / gt
                            mrow[j] = cur - prev[j]
                            prev[j] = cur
                    for c in range(pairs.shape[0]):
                        a_row, b_row = mt[i, pairs[c, 0]], mt[i, pairs[c, 1]]
                        for j in range(w):
                            a, b = a_row[j], b_row[j]
                            a_row[j] = a if a < b else b
                            b_row[j] = b if a < b else a
            bad_pdq = ip[_DNU] | ip[_SAT]
            g_row, r_row = gain2[y, x0 : x0 + w], rn2[y, x0 : x0 + w]
            d_row, p_row = dark2[y, x0 : x0 + w], pdq2[y, x0 : x0 + w]
            for j in range(w):
                pt[0, j] = gain = np.float64(g_row[j])
                pt[1, j] = rn = np.float64(r_row[j])
                pt[2, j] = np.float64(d_row[j])
                pdqt[j] = p_row[j]
                invrn2 = 1.0 / (rn * rn)
                simple[j] = (
                    (flg[j] == 0)
                    & (fin[j] == 0.0)
                    & (gain > 0)
                    & (invrn2 > 0)
                    & (invrn2 < np.inf)
                    & (p_row[j] & bad_pdq == 0)
                )
            _fit_simple(w, dt, mt, pt, pdqt, tf, coef, offset, ws, base, ft, dqt)
            nfound += _fit_general(
                w, simple, gdq, yd, x0, dt, extra, pt, pdqt, tf, ip, pairs, coef, offset, iw, fw,
                ft, dqt, declined[nfound:], (y - y0) * nx + x0,
            )  # fmt: skip
            for i in range(nints + 1):  # the tile's products to the outputs, exposure last
                if i < nints:
                    outs = (i_slope[i, y], i_vp[i, y], i_vr[i, y], i_err[i, y])
                    dq_out = i_dq[i, y, x0 : x0 + w]
                else:
                    outs = (r_slope[y], r_vp[y], r_vr[y], r_err[y])
                    dq_out = r_dq[y, x0 : x0 + w]
                for m in range(4):
                    out, src = outs[m][x0 : x0 + w], ft[i, m]
                    for j in range(w):
                        out[j] = src[j]
                src_dq = dqt[i]
                for j in range(w):
                    dq_out[j] = src_dq[j]
    return nfound


@_inner
def _fit_simple(w, dt, mt, pt, pdqt, tf, coef, offset, ws, base, ft, dqt):
    """Products of the tile's pixels as if simple: no flag, finite data, gain > 0, usable read
    noise, no DO_NOT_USE or SATURATED pixel DQ, 3+ groups.

    Each integration is then one whole-ramp segment; the arithmetic is that of
    :func:`_fit_general` for such a pixel, in branch-free loops over the tile's columns.
    Every column is written; :func:`_fit_general` overwrites the others.
    """
    nints, ng = dt.shape[0], dt.shape[1]
    if ng < 3:
        return
    gt = tf[0]
    lo, hi = (ng - 2) // 2, (ng - 1) // 2  # the middle first difference(s)
    mrate, var_r, acc_vp, acc_vr, acc_slope, slope_g = ws[0], ws[1], ws[2], ws[3], ws[4], ws[5]
    for j in range(w):
        median = 0.0
        for i in range(nints):
            median += 0.5 * (mt[i, lo, j] + mt[i, hi, j])
        mrate[j] = median / nints
        var_r[j] = _variances(gt, ng, pt[0, j], pt[1, j], 0.0, 0.0)[1]
        acc_vp[j] = acc_vr[j] = acc_slope[j] = 0.0
    for i in range(nints):
        for j in range(w):
            power = _snr_power(dt[i, ng - 1, j] - dt[i, 0, j], pt[1, j], pt[0, j])
            base[j] = offset[ng] + ng * power
            slope_g[j] = 0.0
        for k in range(ng):
            for j in range(w):
                slope_g[j] += coef[base[j] + k] * dt[i, k, j]
        for j in range(w):
            var_p = _variances(gt, ng, pt[0, j], pt[1, j], mrate[j], pt[2, j])[0]
            inv_r = 1.0 / var_r[j]
            inv_p = 1.0 / var_p if var_p > 0 else 0.0
            inv_e = 1.0 / (var_p + var_r[j])
            snum = slope_g[j] / gt / var_r[j]
            var_pi = 1.0 / inv_p if inv_p > 0 else 0.0
            var_ri = 1.0 / inv_r
            var_ei = 1.0 / inv_e
            var_ri = var_ri if var_ri < _LARGE_VARIANCE else 0.0
            ft[i, 0, j] = snum * var_ri
            ft[i, 1, j] = var_pi if var_pi < _LARGE_VARIANCE else 0.0
            ft[i, 2, j] = var_ri
            ft[i, 3, j] = math.sqrt(var_ei) if not var_ei > _LARGE_VARIANCE else 0.0
            dqt[i, j] = pdqt[j]
            acc_vp[j] += inv_p
            acc_vr[j] += inv_r
            acc_slope[j] += snum
    for j in range(w):
        vp = 1.0 / acc_vp[j] if acc_vp[j] > 0 else acc_vp[j]
        vp = 0.0 if vp >= _LARGE_VARIANCE or vp < 0 else vp
        vr = 1.0 / acc_vr[j] if acc_vr[j] > 0 else acc_vr[j]
        vr = 0.0 if vr >= _LARGE_VARIANCE else vr
        ft[nints, 0, j] = acc_slope[j] * vr
        ft[nints, 1, j] = vp
        ft[nints, 2, j] = vr
        ft[nints, 3, j] = math.sqrt(vp + vr)
        dqt[nints, j] = pdqt[j]


@_inner
def _fit_general(
    w, simple, gdq, yd, x0, dt, extra, pt, pdqt, tf, ip, pairs, coef, offset, iw, fw,
    ft, dqt, declined, first,
):  # fmt: skip
    """Products of the tile's pixels that are not simple, one by one, as the numpy path.

    Declined pixels (see the module docstring) are written to ``declined`` as ``first +
    column``; returns their number.
    """
    nints, ngroups_all = gdq.shape[0], gdq.shape[1]
    ng = dt.shape[1]
    gt, ogt = tf[0], tf[2]
    dnu, sat, jump, pers, cl = ip[_DNU], ip[_SAT], ip[_JUMP], ip[_PERS], ip[_CL]
    g_lo = ip[_GLO]
    suppress, zf = ip[_SUPPRESS] != 0, ip[_ZF] != 0
    notpers = ~pers & 0xFF
    bad = np.uint32(dnu | sat)
    raw = iw[nints]
    da, loc, buf = fw[:nints], fw[nints], fw[nints + 1]  # data (SATURATED NaN), scratch
    nfound = 0
    for j in range(w):
        if simple[j]:
            continue
        gain, rn, dark = pt[0, j], pt[1, j], pt[2, j]
        # Pass 1: working group DQ (_working_dq, _load_chunk) and the median rate.
        median = 0.0
        decline = False
        for i in range(nints):
            q = iw[i]
            ngood_all = 0
            for g in range(ngroups_all):
                f = np.int64(gdq[i, g, yd, x0 + j]) | np.int64(extra[g])
                decline |= (f & cl) != 0
                raw[g] = f
                ngood_all += (f & notpers) == 0
            one = suppress and ngood_all == 1
            ngood = 0
            for k in range(ng):
                f = raw[g_lo + k]
                if one:
                    f |= dnu
                if k == 0 and g_lo > 0:
                    f &= ~jump & 0xFF
                q[k] = f
                da[i, k] = np.nan if f & sat else dt[i, k, j]
                ngood += f == 0
            decline |= zf and ngood == 0
            if ng == 1:  # median_rate_1ngroup keeps NaN
                median += da[i, 0] / ogt
                continue
            nv = 0
            for k in range(ng):
                loc[k] = np.nan if q[k] & dnu else da[i, k] / gt
            for k in range(ng - 1):
                d = loc[k + 1] - loc[k]
                if not (q[k + 1] & jump or math.isnan(d)):
                    buf[nv] = d
                    nv += 1
            if nv > _SORT_MIN:
                buf[:nv].sort()
            elif nv == ng - 1:  # all valid: the pruned sorting network
                for c in range(pairs.shape[0]):
                    a, b = buf[pairs[c, 0]], buf[pairs[c, 1]]
                    buf[pairs[c, 0]], buf[pairs[c, 1]] = min(a, b), max(a, b)
            else:  # insertion sort of the valid values
                for a in range(1, nv):
                    v = buf[a]
                    b = a - 1
                    while b >= 0 and buf[b] > v:
                        buf[b + 1] = buf[b]
                        b -= 1
                    buf[b + 1] = v
            med = 0.5 * (buf[max(nv - 1, 0) // 2] + buf[nv // 2]) if nv > 0 else loc[0]
            if not suppress and ngood == 1 and q[0] == 0:
                med = da[i, 0] / ogt
            median += 0.0 if math.isnan(med) else med
        if decline:
            declined[nfound] = first + j
            nfound += 1
            continue
        mrate = median / nints
        pdq = pdqt[j]
        if not gain > 0:
            pdq |= np.uint32(dnu | ip[_NGVAL])
        bad_rn = not (math.isfinite(1.0 / (rn * rn)) and 1.0 / (rn * rn) > 0)
        # Pass 2: integrations (_fit_integrations), accumulated for the exposure.
        acc_vp = acc_vr = acc_slope = 0.0
        cnt_dnu = cnt_sat = 0
        flags = np.uint32(0)
        partial = False
        for i in range(nints):
            q = iw[i]
            anyf = nsat = ndnusat = ngood = 0
            for k in range(ng):
                anyf |= q[k]
                nsat += (q[k] & sat) != 0
                ndnusat += (q[k] & (dnu | sat)) != 0
                ngood += q[k] == 0
            is_0th = not suppress and ngood == 1 and q[0] == 0
            jump_pers = np.uint32(anyf & (jump | pers))
            dq = pdq | jump_pers
            sat0 = (q[0] & sat) != 0
            if sat0:
                dq |= bad
            unusable = ndnusat == ng
            if unusable:
                dq |= np.uint32(dnu)
                if nsat == ng:
                    dq |= np.uint32(sat)
            inv_r = inv_p = inv_e = snum = 0.0
            nlong = nseg = 0
            # Segments: runs of good groups (DQ zero but PERSISTENCE), a run after a group
            # flagged exactly JUMP_DET starting there; the runs of 2+ groups are kept if
            # any, else the first (_segments). Sweep 0 counts, sweep 1 fits.
            for sweep in range(0 if sat0 or unusable else 2):
                k = 0
                while k < ng:
                    if q[k] & notpers:
                        k += 1
                        continue
                    e = k
                    while e < ng and q[e] & notpers == 0:
                        e += 1
                    s = k - 1 if k > 0 and q[k - 1] & notpers == jump else k
                    n = e - s
                    k = e
                    if sweep == 0:
                        nlong += n >= 2
                        continue
                    if n < 2 and (nlong > 0 or nseg > 0):
                        continue
                    timing = (ogt if is_0th else gt) if n == 1 else gt
                    var_p, var_r = _variances(timing, n, gain, rn, mrate, dark)
                    if n == 1:
                        slope = da[i, s] / timing
                    elif n == 2:
                        slope = (da[i, s + 1] - da[i, s]) / timing
                    else:
                        at = offset[n] + n * _snr_power(da[i, s + n - 1] - da[i, s], rn, gain)
                        acc = 0.0
                        for m in range(n):
                            v = da[i, s + m]
                            if not math.isnan(v):  # C reads NaN data in a segment as zero
                                acc += coef[at + m] * v
                        slope = (np.nan if bad_rn else acc) / gt
                    inv_r += 1.0 / var_r
                    inv_p += 1.0 / var_p if var_p > 0 else 0.0
                    inv_e += 1.0 / (var_p + var_r)
                    snum += slope / var_r
                    nseg += 1
            fitted = nseg > 0
            var_pi = 1.0 / inv_p if inv_p > 0 else 0.0
            var_ri = 1.0 / inv_r if fitted else 0.0
            var_ei = 1.0 / inv_e
            err = math.sqrt(var_ei) if fitted and not var_ei > _LARGE_VARIANCE else 0.0
            if var_pi >= _LARGE_VARIANCE:
                var_pi = 0.0
            if var_ri >= _LARGE_VARIANCE:
                var_ri = 0.0
            slope_i = snum * var_ri if fitted else 0.0
            if fitted and dq & bad:
                slope_i = np.nan
                var_pi = var_ri = err = 0.0
            is_dnu = (dq & np.uint32(dnu)) != 0
            is_sat = (dq & np.uint32(sat)) != 0
            if is_dnu or is_sat:
                slope_i = np.nan
            if nsat > 0:
                dq |= np.uint32(sat)
                partial = True
            ft[i, 0, j], ft[i, 1, j], ft[i, 2, j], ft[i, 3, j] = slope_i, var_pi, var_ri, err
            dqt[i, j] = dq
            acc_vp += inv_p if inv_p > 0 else 0.0
            acc_vr += inv_r
            acc_slope += snum
            cnt_dnu += is_dnu
            cnt_sat += is_sat
            flags |= jump_pers
        # The exposure (end of _fit_block).
        dq = pdq | flags
        if cnt_dnu == nints:
            dq |= np.uint32(dnu)
        if cnt_sat == nints:
            dq |= np.uint32(sat)
        vp = 1.0 / acc_vp if acc_vp > 0 else acc_vp
        if vp >= _LARGE_VARIANCE or vp < 0:
            vp = 0.0
        vr = 1.0 / acc_vr if acc_vr > 0 else acc_vr
        if vr >= _LARGE_VARIANCE:
            vr = 0.0
        err = math.sqrt(vp + vr)
        slope = acc_slope * vr
        if dq & bad:
            slope = np.nan
            vp = vr = err = 0.0
        if partial:
            dq |= np.uint32(sat)
        ft[nints, 0, j], ft[nints, 1, j], ft[nints, 2, j], ft[nints, 3, j] = slope, vp, vr, err
        dqt[nints, j] = dq
    return nfound
