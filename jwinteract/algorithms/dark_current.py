"""Dark current subtraction (jwst ``dark_current`` step, stcal 1.20.0).

Reproduces ``stcal.dark_current.dark_sub.do_correction`` and the step's
choice of ``average_dark_current``:

* If the science readout spans more frames than the dark, the dark is first
  extrapolated with the difference of its last two groups (the extrapolated
  dark is float64, so the subtraction of unaveraged darks is then done in
  float64 and rounded to float32, as in stcal).
* If the dark's NFRAMES or GROUPGAP exceeds the science one, nothing is
  subtracted (jwst marks the step SKIPPED): ``DarkResult.skipped``.
* NaNs in the dark become 0.
* When NFRAMES/GROUPGAP differ, dark frames are averaged to the science group
  structure (``start = end + groupgap``), indexing the dark as single frames
  whatever its own NFRAMES. For 4-D (MIRI) darks only the first
  ``min(dark nints, science nints)`` integrations are averaged; the others
  stay 0.
* Science integration i uses dark integration i of a 4-D dark while
  ``i < dark nints`` and INTSTART is 1, else the dark's last integration
  (which is all zeros after averaging when the dark has more integrations
  than the science data - a jwst quirk reproduced here).
* PIXELDQ is ORed with the dark DQ (for 4-D darks: the OR over integrations
  of the first group's DQ). GROUPDQ and ZEROFRAME are not touched.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import NamedTuple

import numpy as np

__all__ = ["DarkResult", "average_dark_current", "subtract_dark"]

log = logging.getLogger(__name__)

#: Rows processed at once (per integration, all groups).
ROW_BLOCK = 256


class DarkResult(NamedTuple):
    """Output of :func:`subtract_dark`."""

    #: Dark-subtracted ramp; the input array itself when ``skipped``.
    data: np.ndarray
    #: Pixel DQ with the dark DQ ORed in; the input array itself when ``skipped``.
    pixeldq: np.ndarray
    #: The frame-averaged dark, (ngroups, ny, nx) or (dark nints, ngroups, ny,
    #: nx) for 4-D darks, when the readouts differ (what jwst's ``dark_output``
    #: saves). None when the dark was used as it is (jwst then saves the
    #: reference dark itself, NaNs zeroed) or when skipped.
    dark: np.ndarray | None
    #: True when the dark's NFRAMES or GROUPGAP exceeds the science one and
    #: jwst skips the subtraction.
    skipped: bool


def subtract_dark(
    data: np.ndarray,
    pixeldq: np.ndarray,
    *,
    dark: np.ndarray,
    dark_dq: np.ndarray,
    nframes: int,
    groupgap: int,
    dark_nframes: int,
    dark_groupgap: int,
    integration_start: int | None = None,
) -> DarkResult:
    """Subtract a DARK reference from a ramp, as stcal ``dark_sub.do_correction``.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx)
        The ramp (float32). Never modified.
    pixeldq : ndarray, shape (ny, nx)
        Pixel DQ.
    dark : ndarray, shape (dark_ngroups, ny, nx) or (dark_nints, dark_ngroups, ny, nx)
        SCI of the DARK reference (4-D for MIRI), matching the science subarray.
    dark_dq : ndarray, shape (ny, nx), or (dark_nints, dark_ngroups, ny, nx) for 4-D darks
        DQ of the DARK reference.
    nframes, groupgap : int
        NFRAMES and GROUPGAP of the science exposure.
    dark_nframes, dark_groupgap : int
        NFRAMES and GROUPGAP of the dark reference.
    integration_start : int, optional
        INTSTART of the science exposure (segmented MIRI data); None means 1.

    Returns
    -------
    DarkResult
        ``(data, pixeldq, dark, skipped)``; new arrays unless ``skipped``.
    """
    sci_nints, sci_ngroups = data.shape[:2]
    is_4d = dark.ndim == 4
    drk_ngroups = dark.shape[1] if is_4d else dark.shape[0]

    sci_total = sci_ngroups * nframes + (sci_ngroups - 1) * groupgap
    drk_total = drk_ngroups * dark_nframes + (drk_ngroups - 1) * dark_groupgap
    if sci_total > drk_total:
        log.warning("Not enough data in dark reference file to match to science data.")
        log.warning("Dark reference will be extrapolated to match length of science file.")
        n_extra = math.ceil(
            (sci_total - drk_total + dark_groupgap) / (dark_nframes + dark_groupgap)
        )
        dark = _extrapolate(dark, n_extra)

    if dark_nframes > nframes or dark_groupgap > groupgap:
        log.warning(
            "The value of nframes or groupgap in the dark data is greater than that of "
            "the science data. Input will be returned without subtracting dark current."
        )
        return DarkResult(data, pixeldq, None, True)

    matched = nframes == dark_nframes and groupgap == dark_groupgap
    if matched:
        # Used as they are, NaNs zeroed block by block below.
        planes = dark[:, :sci_ngroups] if is_4d else dark[:sci_ngroups]
    else:
        planes = _average_frames(dark, sci_nints, sci_ngroups, nframes, groupgap)

    if is_4d:
        darkdq = np.bitwise_or.reduce(dark_dq[:, 0], axis=0)
    else:
        darkdq = dark_dq
    pdq_out = np.bitwise_or(pixeldq, darkdq)

    out = np.empty_like(data)
    int_start = 1 if integration_start is None else integration_start
    ny = data.shape[-2]
    for i in range(sci_nints):
        if is_4d:
            dark_i = planes[i] if i < planes.shape[0] and int_start == 1 else planes[-1]
        else:
            dark_i = planes
        for r0 in range(0, ny, ROW_BLOCK):
            r1 = min(r0 + ROW_BLOCK, ny)
            block = dark_i[:, r0:r1]
            if matched:
                block = _without_nan(block)
            # float64 darks (extrapolated) are subtracted in float64 and
            # rounded, like stcal's in-place ``data -= dark``.
            np.subtract(data[i, :, r0:r1], block, out=out[i, :, r0:r1])
    return DarkResult(out, pdq_out, None if matched else planes, False)


def _without_nan(planes: np.ndarray) -> np.ndarray:
    """``planes`` with NaN replaced by 0 (stcal zeroes NaNs in the dark).

    A copy only when there are NaNs; the caller never writes into the result.
    """
    nan = np.isnan(planes)
    if not nan.any():
        return planes
    return np.where(nan, planes.dtype.type(0), planes)


def _extrapolate(dark: np.ndarray, ngroups: int) -> np.ndarray:
    """Extend the dark by ``ngroups`` along its group axis (float64, as stcal)."""

    def one(arr):
        rate = arr[-1] - arr[-2]
        steps = np.arange(1, ngroups + 1).reshape(-1, 1, 1)
        return np.concatenate((arr, steps * rate + arr[-1]))

    if dark.ndim == 4:
        return np.stack([one(arr) for arr in dark]).astype(np.float64, copy=False)
    return one(dark)


def _average_frames(dark, nints, ngroups, nframes, groupgap):
    """Average dark frames into the science group structure (float32).

    stcal replaces NaNs over the whole dark before averaging; doing it on the
    frames of each group gives the same values without copying the dark.
    """
    if dark.ndim == 4:
        avg = np.zeros((dark.shape[0], ngroups, *dark.shape[2:]), dtype=np.float32)
        for it in range(min(dark.shape[0], nints)):
            _average_one(dark[it], avg[it], nframes, groupgap)
    else:
        avg = np.zeros((ngroups, *dark.shape[1:]), dtype=np.float32)
        _average_one(dark, avg, nframes, groupgap)
    return avg


def _average_one(dark, avg, nframes, groupgap):
    start = 0
    for group in range(avg.shape[0]):
        end = start + nframes
        if nframes == 1:
            avg[group] = _without_nan(dark[start])
        else:
            with warnings.catch_warnings():
                # stcal silences these: groups past the end of the dark are NaN.
                warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
                warnings.filterwarnings("ignore", "invalid value", RuntimeWarning)
                avg[group] = _without_nan(dark[start:end]).mean(axis=0)
        start = end + groupgap


def average_dark_current(
    shape: tuple[int, int],
    *,
    user_value: float | None = None,
    dark_average: np.ndarray | None = None,
    dark_scalar: float | None = None,
    current: np.ndarray | None = None,
) -> np.ndarray | None:
    """The AVERAGE_DARK_CURRENT jwst's dark step leaves on the ramp (e-/s).

    ramp_fit adds it to the Poisson variance (zeros when the ramp has none).
    Priority, as in ``DarkCurrentStep.set_average_dark_current``:

    1. the step parameter ``average_dark_current``, as a constant array;
    2. if the dark's 2-D AVERAGE_DARK_CURRENT is absent or sums to 0: the
       dark's scalar ``meta.exposure.average_dark_current`` (0 if None);
    3. otherwise the dark's 2-D array - but only if it has the shape of the
       ramp's *existing* AVERAGE_DARK_CURRENT. A ramp without one (every
       uncal file) fails that test: jwst 3.0.0 warns and leaves the ramp as
       it is, so a 2-D dark average is in practice never used. Reproduced.

    Parameters
    ----------
    shape : tuple
        (ny, nx) of the science data.
    user_value : float, optional
        The step parameter ``average_dark_current``.
    dark_average : ndarray, optional
        The dark reference's AVERAGE_DARK_CURRENT (None when it has none;
        stdatamodels returns None for a missing array).
    dark_scalar : float, optional
        The dark reference's ``meta.exposure.average_dark_current``.
    current : ndarray, optional
        The ramp's AVERAGE_DARK_CURRENT before the step, None if it has none.

    Returns
    -------
    ndarray or None
        New float32 array of ``shape``; in case 3 with a shape mismatch, a
        copy of ``current`` or None when ``current`` is None (the ramp then
        keeps no AVERAGE_DARK_CURRENT).
    """
    if user_value is not None:
        return np.full(shape, user_value, dtype=np.float32)
    if dark_average is None or np.sum(dark_average) == 0.0:
        return np.full(shape, 0.0 if dark_scalar is None else dark_scalar, dtype=np.float32)
    if np.shape(current) != np.shape(dark_average):
        log.warning("DarkModel average_dark_current does not match shape of data.")
        log.warning("Dark current from reference file cannot be applied.")
        return None if current is None else np.array(current, copy=True)
    return np.array(dark_average, dtype=np.float32, copy=True)
