"""Ordinary-least-squares ramp fitting with the semantics of stcal 1.20 ``OLS_C``.

This reproduces what jwst 3.0's ``RampFitStep`` (``algorithm="OLS_C"``) computes, pixel for
pixel, including the quirks of stcal's C extension (``slope_fitter.c``):

* Each integration ramp is cut into segments of consecutive good groups (group DQ zero once
  PERSISTENCE is ignored); a segment that follows a group flagged exactly JUMP_DET starts at
  that group. If any segment has two or more groups the one-group segments are dropped,
  otherwise only the first one-group segment is kept.
* Segments of three or more groups are fitted by weighted least squares with Fixsen weights
  ``|(i - mid) / mid| ** P``, ``P`` from the segment's signal-to-noise ratio; two-group
  segments use their difference, one-group segments ``data / time``, where ``time`` is the
  group time, or ``(nframes + 1) * frame_time / 2`` when only the first group is good, or
  the frame time when ZEROFRAME replaced a ramp without good groups (the last two only
  without ``suppress_one_group``).
* A segment's Poisson variance is ``(median rate + dark) / (time * gain * (n - 1))``, the
  pixel's median rate being the mean over integrations of the median of its usable first
  differences (NaN counted as zero); its read-noise variance is
  ``12 * RN**2 / ((n**3 - n) * time**2 * gain**2)`` (with ``n**3 - n`` taken as 6 for n = 1).
* Segments combine into an integration, and integrations into the exposure, weighted by the
  inverse *read-noise* variance (JP-4318); VAR_POISSON and VAR_RNOISE combine as inverse
  sums. Integration ERR is ``sqrt(1 / sum(1 / (var_poisson + var_rnoise)))`` over segments,
  exposure ERR is ``sqrt(VAR_POISSON + VAR_RNOISE)``. Combined variances of 1e6 or more are
  set to zero.
* DQ: JUMP_DET and PERSISTENCE in any group, and SATURATED in any group, carry to the
  integration and exposure DQ; an integration is DO_NOT_USE when all its groups are
  DO_NOT_USE or SATURATED (or its first group is SATURATED), the exposure only when every
  integration is; gain <= 0 or NaN adds NO_GAIN_VALUE and DO_NOT_USE. Where DO_NOT_USE or
  SATURATED is set the slope is NaN and the variances and ERR are zero.
* For ramps with CHARGELOSS groups the read-noise variances are recomputed as if those groups
  were good (neither the slope nor ERR change).

All arithmetic is float64, as in the C code; products are rounded to float32 at the end.

How it is computed: pixels are processed in blocks of rows (about ``BLOCK_SAMPLES`` samples)
by one of two implementations of the same float64 arithmetic.

* The compiled kernel, :mod:`jwinteract.algorithms._ramp_kernel` (numba, ``nogil``), fits
  whole pixels, every integration and then the exposure. Pixels without flags (most) are
  fitted in loops over tiles of a row that the compiler vectorises; the others one by one.
  Blocks run on a thread pool of ``THREADS`` (2) threads. It declines pixels with CHARGELOSS
  groups and, with a ZEROFRAME, pixels with an integration without good groups.
* The vectorised numpy path (here and in :mod:`jwinteract.algorithms._ramp_segments`) fits
  those declined pixels, everything when ``save_opt`` is set (optional products) or ramps
  exceed the kernel's ``MAX_GROUPS``; it is also the reference the kernel is tested against
  (``USE_COMPILED = False``). Each (integration, pixel) ramp is one column of a ``[ngroups,
  ncolumns]`` array; columns without flags are one whole-ramp segment fitted by one matrix
  product, the others go through the general segmentation; medians use sorting networks.

Why numba (measured on the 2-core target machine, NIRCam FULL 2048x2048x10, one
integration, 0.3% jumps, 2% saturating pixels; the target is 0.2 s): the numpy path alone
takes 0.63-0.83 s. A numpy restructuring in which unflagged pixels take one closed-form pass
(median network, whole-ramp fit per power class, variances) was prototyped: its bare core,
without any DQ handling or flagged pixel, already took 0.18-0.2 s on one thread and gained
nothing from a second (numpy calls on cache-sized blocks are short and the GIL is held
between them). The kernel takes 0.20 s on one thread, 0.14 s of wall time (0.25 s of CPU)
on two. Its cost is compilation: ~7 s the first time after installation; later processes
load the machine code from numba's on-disk cache (beside the module, or in the user's cache
directory when site-packages is read-only) in ~0.4 s, numba's import included.

This module holds the public API, the set-up, the block loop, the numpy path's combination
of segments into integrations and the exposure; chunk loading, the median rate,
segmentation, segment fits and the optional products are in
:mod:`jwinteract.algorithms._ramp_segments`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from ._ramp_segments import (
    _allocate_opt,
    _fit_segments,
    _load_chunk,
    _median_rate,
    _ramp_segments,
    _rnoise_variance,
    _segments,
    _store_opt,
    _working_dq,
)

__all__ = ["BLOCK_SAMPLES", "RampFitOutput", "fit_ramps"]

log = logging.getLogger(__name__)

#: Ramp samples (groups x pixels x integrations) handled at once. Small enough for the
#: float64 temporaries to stay in cache, large enough to amortise numpy call overhead.
BLOCK_SAMPLES = 1 << 18
#: Worker threads for row blocks on the compiled path.
THREADS = min(2, os.cpu_count() or 1)
#: Use the compiled kernel (numba) where it applies; False forces the numpy path (tests).
USE_COMPILED = True

# stcal's C code zeroes combined variances at or above this (LARGE_VARIANCE_THRESHOLD).
_LARGE_VARIANCE = 1.0e6
_PRODUCTS = ("slope", "dq", "var_poisson", "var_rnoise", "err")


@dataclass
class RampFitOutput:
    """Ramp-fit products of one level (exposure ``rate`` or per-integration ``rateints``).

    Attributes
    ----------
    slope : ndarray of float32
        Count rate, DN/s (the SCI extension).
    dq : ndarray of uint32
        Data quality.
    var_poisson, var_rnoise : ndarray of float32
        Poisson and read-noise variance of the slope, (DN/s)^2.
    err : ndarray of float32
        Slope uncertainty, DN/s.
    """

    slope: np.ndarray
    dq: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    err: np.ndarray

    @classmethod
    def _empty(cls, shape):
        f = [np.empty(shape, np.float32) for _ in range(4)]
        return cls(f[0], np.empty(shape, np.uint32), f[1], f[2], f[3])


@dataclass(frozen=True)
class _Setup:
    """Everything about the exposure that is the same for every block."""

    data: np.ndarray
    groupdq: np.ndarray
    zeroframe: np.ndarray | None
    dnu: int
    sat: int
    jump: int
    pers: int
    ngval: int
    chargeloss: int  # 0 unless some group has CHARGELOSS
    group_time: float
    frame_time: float
    one_group_time: float
    ped_tmp: float
    g_lo: int  # groups [g_lo, g_hi) are fitted (stcal drops all-DO_NOT_USE MIRI groups)
    g_hi: int
    extra_dnu: np.ndarray | None  # per input group, DO_NOT_USE from firstgroup/lastgroup
    suppress: bool
    save_opt: bool


def fit_ramps(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    readnoise: np.ndarray,
    gain: np.ndarray,
    frame_time: float,
    group_time: float,
    nframes: int,
    groupgap: int,
    dropframes1: int | None = 0,
    dqflags: Mapping[str, int],
    suppress_one_group: bool = True,
    firstgroup: int | None = None,
    lastgroup: int | None = None,
    average_dark_current: np.ndarray | None = None,
    zeroframe: np.ndarray | None = None,
    save_opt: bool = False,
    instrument: str | None = None,
    progress: Callable[[float], object] | None = None,
) -> tuple[RampFitOutput | None, RampFitOutput | None, dict[str, np.ndarray] | None]:
    """Fit ramps by optimally weighted least squares, as jwst's RampFitStep (OLS_C) does.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx)
        Ramp data, DN (float32).
    groupdq : ndarray of uint8, same shape as ``data``
        Group DQ (JUMP_DET, SATURATED, DO_NOT_USE... split the ramps).
    pixeldq : ndarray of uint32, shape (ny, nx)
        Pixel DQ; DO_NOT_USE or SATURATED here make the pixel's slopes NaN.
    readnoise : ndarray, shape (ny, nx)
        Read noise as stored in the READNOISE reference file (CDS noise, DN). It is scaled
        by ``gain / sqrt(2 * nframes)`` as stcal does (on a copy).
    gain : ndarray, shape (ny, nx)
        Gain, e-/DN. Pixels with gain <= 0 or NaN get NO_GAIN_VALUE and DO_NOT_USE.
    frame_time, group_time : float
        Exposure timing (``meta.exposure``), s.
    nframes, groupgap, dropframes1 : int
        Readout pattern (``meta.exposure.nframes``, ``groupgap``, ``drop_frames1``).
    dqflags : mapping of str to int
        Pixel DQ flag values by name (``stdatamodels.jwst.datamodels.dqflags.pixel``).
    suppress_one_group : bool
        Treat integrations with exactly one good group as having none (jwst default True).
    firstgroup, lastgroup : int, optional
        Zero-based first and last groups to use; the others are flagged DO_NOT_USE, with the
        validation jwst's RampFitStep applies.
    average_dark_current : ndarray, shape (ny, nx), optional
        Dark current, DN/s, added to the Poisson variance (RampModel ``average_dark_current``).
    zeroframe : ndarray, shape (nints, ny, nx), optional
        RampModel ``zeroframe``. As in stcal it is used only when ``suppress_one_group`` is
        False, for integrations without any good group, where it is not zero.
    save_opt : bool
        Also return the optional fit products (stcal's ``opt_info``).
    instrument : str, optional
        ``meta.instrument.name``. For ``"MIRI"``, groups flagged DO_NOT_USE in every pixel at
        the start or end of the ramps are first discarded, as stcal does.
    progress : callable, optional
        Called with the fraction done (0-1] after each block of rows.

    Returns
    -------
    rate : RampFitOutput or None
        Exposure products, shape (ny, nx).
    rateints : RampFitOutput or None
        Per-integration products, shape (nints, ny, nx).
    opt : dict of str to ndarray, or None
        If ``save_opt``: per-segment ``slope`` (DN/s), ``sigslope``, ``var_poisson``,
        ``var_rnoise``, ``yint`` (DN), ``sigyint``, ``weights`` (nints, nsegments, ny, nx),
        ``pedestal`` (nints, ny, nx) and ``crmag`` (nints, njumps, ny, nx), float32, as stcal
        returns them. A segment of three or more groups is the line
        ``yint + slope * group_time * k`` in group index ``k``.

    All three are None where stcal returns None: every ramp saturated in its first group, or
    (MIRI) fewer than two usable groups.

    Notes
    -----
    Inputs are never modified. Memory is bounded by processing ``BLOCK_SAMPLES`` ramp samples
    at a time.
    """
    data, groupdq, pixeldq = np.asarray(data), np.asarray(groupdq), np.asarray(pixeldq)
    if data.ndim != 4:
        raise ValueError(f"data must be [nints, ngroups, ny, nx], got shape {data.shape}")
    nints, ngroups, ny, nx = data.shape
    if groupdq.shape != data.shape:
        raise ValueError(f"groupdq shape {groupdq.shape} differs from data shape {data.shape}")
    for name, arr in (("pixeldq", pixeldq), ("readnoise", readnoise), ("gain", gain)):
        if np.shape(arr) != (ny, nx):
            raise ValueError(f"{name} must have shape {(ny, nx)}, got {np.shape(arr)}")
    if zeroframe is not None and np.shape(zeroframe) != (nints, ny, nx):
        raise ValueError(f"zeroframe must have shape {(nints, ny, nx)}, got {np.shape(zeroframe)}")

    gain32 = np.asarray(gain, dtype=np.float32)
    # stcal: readnoise_2d *= gain_2d / np.sqrt(2.0 * nframes), in place on the caller's
    # array. The same expression on a float32 copy rounds identically.
    rn32 = np.array(readnoise, dtype=np.float32, copy=True)
    rn32 *= gain32 / np.sqrt(2.0 * nframes)
    if average_dark_current is None:
        dark = np.zeros((ny, nx), dtype=np.float32)
    else:
        dark = np.asarray(average_dark_current, dtype=np.float32)
    pixel = {
        "gain": gain32,
        "rn": rn32,
        "dark": dark,
        "pdq": pixeldq.astype(np.uint32, copy=False),
    }
    suppress = bool(suppress_one_group) and ngroups > 1
    chargeloss = int(dqflags.get("CHARGELOSS", 0))
    ft = float(np.float32(frame_time))  # C reads the times through (float) casts
    setup = _Setup(
        data=data,
        groupdq=groupdq,
        zeroframe=None if suppress else zeroframe,
        dnu=int(dqflags["DO_NOT_USE"]),
        sat=int(dqflags["SATURATED"]),
        jump=int(dqflags["JUMP_DET"]),
        pers=int(dqflags["PERSISTENCE"]),
        ngval=int(dqflags["NO_GAIN_VALUE"]),
        chargeloss=chargeloss if chargeloss and _any_flag(groupdq, chargeloss) else 0,
        group_time=float(np.float32(group_time)),
        frame_time=ft,
        one_group_time=(float(nframes) + 1.0) * ft / 2.0,
        ped_tmp=((nframes + 1) / 2.0 + int(dropframes1 or 0)) / (nframes + groupgap),
        g_lo=0,
        g_hi=ngroups,
        extra_dnu=_group_selection(firstgroup, lastgroup, ngroups, int(dqflags["DO_NOT_USE"])),
        suppress=suppress,
        save_opt=bool(save_opt),
    )
    if instrument is not None and instrument.upper() == "MIRI" and ngroups > 1:
        kept = _miri_groups(setup)
        if kept is None:
            return None, None, None
        setup = replace(setup, g_lo=kept[0], g_hi=kept[1])
    if np.all(groupdq[:, setup.g_lo] & setup.sat):
        log.info("All ramps are saturated in their first group: no ramp fit")
        return None, None, None

    rate, rateints = RampFitOutput._empty((ny, nx)), RampFitOutput._empty((nints, ny, nx))
    rows, per_chunk = _block_shape(nints, setup.g_hi - setup.g_lo, ny, nx)
    opt = _allocate_opt(setup, rows, per_chunk) if save_opt else None
    module = _kernel_module() if USE_COMPILED and not save_opt else None
    kernel = None if module is None else module.prepare(setup, pixel)

    def block(r0):
        r1 = min(r0 + rows, ny)
        # Bad pixels (zero or NaN gain and read noise, NaN data) take NaN and inf through
        # the arithmetic exactly as in C; the results are then flagged or zeroed as stcal
        # does. (errstate is per thread: it is set in the worker.)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if kernel is None:
                pix = {k: v[r0:r1].reshape(-1) for k, v in pixel.items()}
                _fit_block(setup, pix, r0, r1, per_chunk, rate, rateints, opt)
            else:
                _fit_rows_compiled(module, kernel, setup, pixel, r0, r1, rate, rateints)
        return r1

    starts = range(0, ny, rows)
    pool = None
    if kernel is not None and THREADS > 1 and len(starts) > 1:
        # The compiled kernel releases the GIL: row blocks run in parallel.
        pool = ThreadPoolExecutor(THREADS, thread_name_prefix="jwinteract-ramp-fit")
    try:
        if pool is None:
            done = map(block, starts)
        else:
            done = (f.result() for f in [pool.submit(block, r0) for r0 in starts])
        for r1 in done:  # in row order
            if progress is not None:
                progress(r1 / ny)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return rate, rateints, opt


# ----------------------------------------------------------------------------- set-up


def _any_flag(cube, flag):
    step = max(1, BLOCK_SAMPLES // (cube.shape[0] * cube.shape[1] * cube.shape[3]))
    return any(np.any(cube[:, :, r : r + step] & flag) for r in range(0, cube.shape[2], step))


def _group_selection(firstgroup, lastgroup, ngroups, dnu):
    """DO_NOT_USE per group for firstgroup/lastgroup, as jwst's RampFitStep.set_groupdq."""
    if firstgroup is None and lastgroup is None:
        return None
    first = 0 if firstgroup is None else int(firstgroup)
    last = ngroups - 1 if lastgroup is None else int(lastgroup)
    if first < 0:
        log.warning("first group < 0, reset to 0")
        first = 0
    if last >= ngroups:
        # jwst says so but keeps the value, which then flags nothing at the end.
        log.warning(f"Last group number >= #groups ({ngroups}), reset to {ngroups - 1}")
    if first >= last:
        log.warning(
            f"firstgroup ({first}) cannot be >= lastgroup ({last}); group selectors ignored"
        )
        first, last = 0, ngroups - 1
    extra = np.zeros(ngroups, dtype=np.uint8)
    extra[:first] = dnu
    extra[last + 1 :] = dnu
    return extra if extra.any() else None


def _block_shape(nints, ngroups, ny, nx):
    """Rows per block, and integrations per chunk, for ~BLOCK_SAMPLES samples per chunk."""
    per_row = ngroups * nx
    if nints * per_row <= BLOCK_SAMPLES:
        return min(ny, BLOCK_SAMPLES // (nints * per_row)), nints
    rows = min(ny, max(1, BLOCK_SAMPLES // per_row))
    return rows, max(1, min(nints, BLOCK_SAMPLES // (per_row * rows)))


def _miri_groups(setup):
    """Groups kept by stcal's discard_miri_groups, or None where it gives up."""
    nints, ngroups, ny, nx = setup.groupdq.shape
    all_dnu = np.ones(ngroups, dtype=bool)
    rows = max(1, BLOCK_SAMPLES // (nints * ngroups * nx))
    for r0 in range(0, ny, rows):
        all_dnu &= np.all(_working_dq(setup, 0, nints, r0, r0 + rows)[0] & setup.dnu, axis=1)
    first = int(np.argmin(all_dnu)) if not all_dnu.all() else ngroups
    last = ngroups - 1 if first < ngroups and all_dnu[-1] else ngroups
    if first == ngroups or last - first < 1:
        log.error("All groups have all pixels flagged as DO_NOT_USE: no ramp fit")
        return None
    if last - first < 2:
        log.warning("MIRI datasets require at least 2 groups/integration: no ramp fit")
        return None
    return first, last


# ------------------------------------------------------------------ compiled fast path


@functools.cache
def _kernel_module():
    """:mod:`._ramp_kernel`, imported on first use (numba's import takes ~0.3 s)."""
    try:
        from . import _ramp_kernel
    except ImportError:  # pragma: no cover - numba is a dependency
        log.warning("numba is not available: ramp fitting uses the slower numpy path")
        return None
    return _ramp_kernel


def _fit_rows_compiled(module, kernel, setup, pixel, r0, r1, rate, rateints):
    """Fit rows r0:r1 with the compiled kernel, and the pixels it declines with numpy."""
    outputs = [getattr(o, k) for o in (rate, rateints) for k in _PRODUCTS]
    ys, xs = module.fit_block(kernel, setup, r0, r1, outputs)
    if ys.size:
        _fit_pixels(setup, pixel, ys, xs, rate, rateints)


def _fit_pixels(setup, pixel, ys, xs, rate, rateints):
    """Fit pixels (ys, xs) with the numpy path, as a one-row exposure of those pixels."""
    nints, zeroframe = setup.data.shape[0], setup.zeroframe
    sub = replace(
        setup,
        data=setup.data[:, :, ys, xs][:, :, None],
        groupdq=setup.groupdq[:, :, ys, xs][:, :, None],
        zeroframe=None if zeroframe is None else zeroframe[:, ys, xs][:, None],
    )
    pix = {k: v[ys, xs] for k, v in pixel.items()}
    one, ints = RampFitOutput._empty((1, ys.size)), RampFitOutput._empty((nints, 1, ys.size))
    per_chunk = _block_shape(nints, setup.g_hi - setup.g_lo, 1, ys.size)[1]
    _fit_block(sub, pix, 0, 1, per_chunk, one, ints, None)
    for k in _PRODUCTS:
        getattr(rate, k)[ys, xs] = getattr(one, k)[0]
        getattr(rateints, k)[:, ys, xs] = getattr(ints, k)[:, 0]


# ---------------------------------------------------------------------------- blocks


def _fit_block(setup, pix, r0, r1, per_chunk, rate, rateints, opt):
    """Fit rows r0:r1: median rates over all integrations first, then the fits."""
    nints = setup.data.shape[0]
    npix = pix["gain"].size
    gain = pix["gain"].astype(np.float64)
    pdq = pix["pdq"].copy()
    pdq[~(gain > 0)] |= np.uint32(setup.dnu | setup.ngval)
    base = {
        "gain": gain,
        "rn": pix["rn"].astype(np.float64),
        "dark": pix["dark"].astype(np.float64),
    }
    chunks = [(i0, min(i0 + per_chunk, nints)) for i0 in range(0, nints, per_chunk)]
    loaded = None
    median = np.zeros(npix)
    for i0, i1 in chunks:
        chunk = _load_chunk(setup, i0, i1, r0, r1)
        term = _median_rate(chunk, setup)
        for j in range(i1 - i0):  # sequential, as C accumulates
            median += term[j * npix : (j + 1) * npix]
        loaded = chunk if len(chunks) == 1 else None
    base["mrate"] = median / nints

    acc = {k: np.zeros(npix) for k in ("vp", "vr", "slope", "cl_evar")}
    cnt = {k: np.zeros(npix, dtype=np.intp) for k in ("dnu", "sat")}
    any_ = {k: np.zeros(npix, dtype=bool) for k in ("partial_sat", "cl")}
    flags = np.zeros(npix, dtype=np.uint32)
    for i0, i1 in chunks:
        chunk = loaded if loaded is not None else _load_chunk(setup, i0, i1, r0, r1)
        ni = i1 - i0
        cpix = base if ni == 1 else {k: np.tile(v, ni) for k, v in base.items()}
        res = _fit_integrations(chunk, cpix, np.tile(pdq, ni), setup, opt, (i0, r0, r1))
        for j in range(ni):
            sl = slice(j * npix, (j + 1) * npix)
            for k in acc:
                acc[k] += res[k][sl]
            for k in cnt:
                cnt[k] += res[k][sl]
            for k in any_:
                any_[k] |= res[k][sl]
            flags |= res["flags"][sl]
        for k in ("slope", "dq", "var_poisson", "var_rnoise", "err"):
            getattr(rateints, k)[i0:i1, r0:r1] = res["int_" + k].reshape(ni, r1 - r0, -1)

    # Exposure level (end of ramp_fit_pixel in C).
    dq = pdq | flags
    dq[cnt["dnu"] == nints] |= np.uint32(setup.dnu)
    dq[cnt["sat"] == nints] |= np.uint32(setup.sat)
    vp = np.where(acc["vp"] > 0, 1.0 / acc["vp"], acc["vp"])
    np.putmask(vp, (vp >= _LARGE_VARIANCE) | (vp < 0), 0.0)
    vr = np.where(acc["vr"] > 0, 1.0 / acc["vr"], acc["vr"])
    np.putmask(vr, vr >= _LARGE_VARIANCE, 0.0)
    err = np.sqrt(vp + vr)
    slope = acc["slope"] * vr
    invalid = (dq & np.uint32(setup.dnu | setup.sat)) != 0
    np.putmask(slope, invalid, np.nan)
    for arr in (vp, vr, err):
        np.putmask(arr, invalid, 0.0)
    dq[any_["partial_sat"]] |= np.uint32(setup.sat)
    if setup.chargeloss:  # read noise only; slope and ERR keep the values above
        cl, evar = any_["cl"], acc["cl_evar"]
        vr = np.where(cl & (evar > 0), 1.0 / evar, vr)
        np.putmask(vr, cl & (vr >= _LARGE_VARIANCE), 0.0)
    for k, v in (
        ("slope", slope),
        ("dq", dq),
        ("var_poisson", vp),
        ("var_rnoise", vr),
        ("err", err),
    ):
        getattr(rate, k)[r0:r1] = v.reshape(r1 - r0, -1)


def _fit_integrations(chunk, pix, pdq, setup, opt, where):
    """Integration products of a chunk of columns (ramp_fit_pixel_integration in C)."""
    q = chunk.q
    ngroups, ncol = q.shape
    u32 = np.uint32
    jump_pers = (chunk.any_flags & np.uint8(setup.jump | setup.pers)).astype(u32)
    dq = pdq | jump_pers
    sat0 = (q[0] & np.uint8(setup.sat)) != 0
    np.bitwise_or(dq, u32(setup.dnu | setup.sat), out=dq, where=sat0)
    unusable = chunk.cnt_dnu_sat == ngroups
    np.bitwise_or(dq, u32(setup.dnu), out=dq, where=unusable)
    np.bitwise_or(dq, u32(setup.sat), out=dq, where=unusable & (chunk.cnt_sat == ngroups))

    segs = _ramp_segments(q, setup, sat0 | unusable)
    whole = _fit_segments(chunk, pix, setup) if segs.clean.any() else None
    listed = _fit_segments(chunk, pix, setup, segs) if segs.col.size else None

    def total(term):  # per-column sum over segments, in segment order as C adds them
        out = np.where(segs.clean, term(whole), 0.0) if whole else np.zeros(ncol)
        if listed:
            values = term(listed)
            for idx in segs.levels:
                out[segs.col[idx]] += values[idx]
        return out

    inv_r = total(lambda f: 1.0 / f["var_r"])
    inv_p = total(lambda f: np.where(f["var_p"] > 0, 1.0 / f["var_p"], 0.0))
    inv_e = total(lambda f: 1.0 / f["var_e"])
    snum = total(lambda f: f["slope"] / f["var_r"])
    fitted = segs.size > 0
    var_p = np.where(inv_p > 0, 1.0 / inv_p, 0.0)
    var_r = np.where(fitted, 1.0 / inv_r, 0.0)
    var_e = 1.0 / inv_e
    err = np.where(fitted & ~(var_e > _LARGE_VARIANCE), np.sqrt(var_e), 0.0)
    np.putmask(var_p, var_p >= _LARGE_VARIANCE, 0.0)
    np.putmask(var_r, var_r >= _LARGE_VARIANCE, 0.0)
    slope = np.where(fitted, snum * var_r, 0.0)
    invalid = fitted & ((dq & u32(setup.dnu | setup.sat)) != 0)
    np.putmask(slope, invalid, np.nan)
    for arr in (var_p, var_r, err):
        np.putmask(arr, invalid, 0.0)

    dnu = (dq & u32(setup.dnu)) != 0
    np.putmask(slope, dnu, np.nan)
    sat = (dq & u32(setup.sat)) != 0
    if opt is not None:
        _store_opt(opt, chunk, segs, whole, listed, slope, sat, setup, where)
    np.putmask(slope, sat, np.nan)
    partial = chunk.cnt_sat > 0
    np.bitwise_or(dq, u32(setup.sat), out=dq, where=partial)
    res = {
        "int_slope": slope,
        "int_dq": dq,
        "int_var_poisson": var_p,
        "int_var_rnoise": var_r,
        "int_err": err,
        "vp": np.where(inv_p > 0, inv_p, 0.0),
        "vr": inv_r,
        "slope": snum,
        "dnu": dnu,
        "sat": sat,
        "partial_sat": partial,
        "flags": jump_pers,
        "cl": np.zeros(ncol, dtype=bool),
        "cl_evar": np.zeros(ncol),
    }
    if setup.chargeloss:
        _chargeloss(chunk, pix, setup, res)
    return res


def _chargeloss(chunk, pix, setup, res):
    """Recompute read-noise variances as if CHARGELOSS groups were good (C *_chargeloss)."""
    var_r = res["int_var_rnoise"]
    cl = (chunk.any_flags & np.uint8(setup.chargeloss)) != 0
    res["cl_evar"] = np.where(~cl & (var_r > 0), 1.0 / var_r, 0.0)
    res["cl"] = cl
    cols = np.flatnonzero(cl)
    if cols.size == 0:
        return
    og = chunk.orig[:, cols]
    both = np.uint8(setup.dnu | setup.chargeloss)
    # C flips both bits with XOR, setting DO_NOT_USE where only CHARGELOSS was set.
    og = og ^ np.where((og & np.uint8(setup.chargeloss)) != 0, both, np.uint8(0))
    gdq = og & np.uint8(~setup.pers & 0xFF)
    segs = _segments(gdq == 0, gdq, setup.jump)
    c, n = cols[segs.col], segs.length
    gt = setup.group_time
    frame = np.where(chunk.is_zframe[c], setup.frame_time, gt)
    timing = np.where(n == 1, np.where(chunk.is_0th[c], setup.one_group_time, frame), gt)
    svar = _rnoise_variance(pix["rn"][c], pix["gain"][c], timing, n)
    inv = np.bincount(segs.col, np.where(svar > 0, 1.0 / svar, 0.0), minlength=cols.size)
    new = 1.0 / inv
    np.putmask(new, new >= _LARGE_VARIANCE, 0.0)
    var_r[cols] = new
    res["cl_evar"][cols] = inv
