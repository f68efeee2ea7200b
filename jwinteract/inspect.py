"""Pixel-level views of a Session's products: what the inspection widgets show.

The widgets compute nothing themselves; every number they draw comes from here.
A :class:`RampProbe` answers, for one pixel, "what did each step do to this
ramp?": the up-the-ramp values after each requested step, the group DQ decoded
into SATURATED / JUMP_DET / DO_NOT_USE masks, the PIXELDQ bit names, the
rate ± err and per-integration rates from ramp_fit, and the fitted line of each
integration, rebuilt from ramp_fit's optional products (``fitopt``) as the
workshop notebooks do.

Why a probe and not only functions: a full-frame Detector1 ramp is ~226 MB per
step, more than the Session's memory cache holds for four steps at once, so
asking the Session for each product on every click would reload them from
disk (0.5-1 s each). A probe keeps the arrays it indexes in hand, keyed by the
Session's cache keys, and lets go of those that a run made stale; a click then
only indexes ``[..., y, x]`` (no cube is copied) and checks the Session's
status (~2 ms). :func:`pixel_ramp` and :func:`pixel_summary` are the
one-call forms, convenient in a notebook cell.

No widget code is imported here (the engine never imports ipywidgets or bokeh).

Examples
--------
>>> probe = RampProbe(session)                     # doctest: +SKIP
>>> ramp = probe.ramp(113, 149)                    # doctest: +SKIP
>>> ramp.data["jump"].shape, ramp.jump.nonzero()   # doctest: +SKIP
((2, 6), (array([1]), array([2])))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from .errors import JwinteractError, UnknownStepError
from .events import StepState
from .models import GROUP, PIXEL, dq_names

__all__ = [
    "flagged_pixels",
    "DEFAULT_RAMP_STEPS",
    "DisplayImage",
    "PixelRamp",
    "RampProbe",
    "decode_group_dq",
    "display_image",
    "downsample",
    "group_times",
    "image_choice",
    "pixel_ramp",
    "pixel_summary",
]

#: Steps whose ramps are overlaid by default: raw, linearised, dark-subtracted, jump-flagged.
DEFAULT_RAMP_STEPS: tuple[str, ...] = ("dq_init", "linearity", "dark_current", "jump")

_AVAILABLE = (StepState.DONE, StepState.CACHED)
# The arrays a probe looks up, per product (None: a step's ramp).
_RAMP = ("data", "groupdq", "pixeldq")
_KEEP = {
    "rate": ("data", "err", "var_poisson", "var_rnoise", "dq"),
    "rateints": ("data", "err"),
    "fitopt": ("slope", "yint"),
}


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PixelRamp:
    """One pixel's ramps after each step, its flags, rates and fitted lines.

    Attributes
    ----------
    y, x : int
        The pixel (0-based row and column of the full array).
    times : ndarray float64 [ngroups]
        Mean time of each group's frames since the reset, s (see :func:`group_times`).
    group_time : float
        ``meta.exposure.group_time``, s.
    data : dict of str to ndarray [nints, ngroups]
        Up-the-ramp values (DN) after each available requested step, in run order.
    unavailable : dict of str to str
        Requested steps with no current result, and why (stale, skipped, not run...).
    dq_step : str
        The step whose GROUPDQ and PIXELDQ are reported: the last available one.
    groupdq : ndarray uint8 [nints, ngroups]
    saturated, jump, do_not_use : ndarray bool [nints, ngroups]
        ``groupdq`` decoded (:func:`decode_group_dq`).
    pixeldq : int
    pixeldq_names : tuple of str
        The PIXELDQ bits set, by stdatamodels name.
    rate, rate_err : float or None
        ramp_fit's rate and ERR at the pixel (DN/s); None without a current ramp_fit.
    rateints, rateints_err : ndarray [nints] or None
        The same per integration (``rateints``).
    fit : ndarray float64 [nints, ngroups] or None
        The fitted line of each integration at each group, NaN outside the fitted
        segments (a jump starts a new segment; one-group segments are not drawn).
    fit_source : {"fitopt", "rateints"} or None
        ``"fitopt"``: exact, from the per-segment slope and intercept ramp_fit saved
        (``save_opt=True``). ``"rateints"``: the integration's slope with, per segment,
        the least-squares intercept for that slope under equal weights (the mean of
        ``data - slope * t``) - an approximation: ramp_fit weights groups unequally
        and fits each segment's slope separately, so the drawn line can be off by a
        fraction of the noise.
    fit_segments : tuple of (int, int, int)
        ``(integration, first group, number of groups)`` of each drawn segment of ``fit``.
    fit_step : str or None
        The step whose output ramp_fit fitted (its input, e.g. ``"jump"``).
    fit_input : ndarray [nints, ngroups] or None
        That step's values at the pixel (what ``fit`` is to be compared with).
    """

    y: int
    x: int
    times: np.ndarray
    group_time: float
    data: dict[str, np.ndarray]
    unavailable: dict[str, str]
    dq_step: str
    groupdq: np.ndarray
    saturated: np.ndarray
    jump: np.ndarray
    do_not_use: np.ndarray
    pixeldq: int
    pixeldq_names: tuple[str, ...]
    rate: float | None = None
    rate_err: float | None = None
    rateints: np.ndarray | None = None
    rateints_err: np.ndarray | None = None
    fit: np.ndarray | None = None
    fit_source: str | None = None
    fit_segments: tuple[tuple[int, int, int], ...] = ()
    fit_step: str | None = None
    fit_input: np.ndarray | None = field(default=None, repr=False)

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps with data, in run order."""
        return tuple(self.data)

    @property
    def nints(self) -> int:
        return self.groupdq.shape[0]

    @property
    def ngroups(self) -> int:
        return self.groupdq.shape[1]

    def minus_first_group(self) -> PixelRamp:
        """A copy with each integration's first-group value subtracted from each ramp.

        Raw and bias-subtracted ramps differ by ~10^4 DN of bias; relative to the first
        group they can share one axis, so what linearity or dark subtraction changed is
        visible. The fit is shifted by its own input's first group.
        """
        data = {k: v - v[:, :1] for k, v in self.data.items()}
        fit = None
        if self.fit is not None and self.fit_input is not None:
            fit = self.fit - self.fit_input[:, :1]
        return replace(self, data=data, fit=fit)


@dataclass(frozen=True)
class DisplayImage:
    """An image prepared for display: block-averaged to at most ``max_size`` pixels a side.

    Display pixel ``[i, j]`` is the mean of the finite detector pixels
    ``[i*factor:(i+1)*factor, j*factor:(j+1)*factor]``. Drawn with its lower-left
    corner at (-0.5, -0.5) and extent ``(data.shape[1] * factor, data.shape[0] * factor)``,
    detector pixel (y, x) is centred on plot coordinates (x, y), so a click at
    (px, py) is the pixel ``(floor(py + 0.5), floor(px + 0.5))`` whatever the factor.
    """

    data: np.ndarray
    factor: int
    shape: tuple[int, int]
    vmin: float
    vmax: float
    label: str
    unit: str
    key: str | None = None


# ----------------------------------------------------------------------------- helpers


def decode_group_dq(groupdq: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks ``saturated``, ``jump`` and ``do_not_use`` of a GROUPDQ array.

    >>> m = decode_group_dq(np.array([0, 2, 4, 5], dtype=np.uint8))
    >>> m["saturated"].tolist(), m["jump"].tolist(), m["do_not_use"].tolist()
    ([False, True, False, False], [False, False, True, True], [False, False, False, True])
    """
    gdq = np.asarray(groupdq)
    return {
        "saturated": (gdq & GROUP["SATURATED"]) != 0,
        "jump": (gdq & GROUP["JUMP_DET"]) != 0,
        "do_not_use": (gdq & GROUP["DO_NOT_USE"]) != 0,
    }


def group_times(model) -> np.ndarray:
    """Mean time since reset of each group's frames, s: jwst's readout convention.

    Group ``k`` averages ``nframes`` frames read after ``drop_frames1`` dropped frames
    and ``k`` earlier groups of ``nframes + groupgap`` frames, so its mean time is
    ``frame_time * (drop_frames1 + k * (nframes + groupgap) + (nframes + 1) / 2)``
    (``(k + 1) * group_time`` for RAPID). Without ``frame_time`` / ``nframes`` in
    the header, ``(k + 1) * group_time``.
    """
    exp = model.meta.exposure
    ngroups = model.data.shape[-3]
    k = np.arange(ngroups, dtype=np.float64)
    ft, nf = exp.frame_time, exp.nframes
    if ft is None or nf is None:
        return (k + 1.0) * float(exp.group_time)
    start = (exp.drop_frames1 or 0) + (nf + 1) / 2.0
    return float(ft) * (start + k * (nf + (exp.groupgap or 0)))


def downsample(image: np.ndarray, max_size: int) -> tuple[np.ndarray, int]:
    """Block-average ``image`` by the smallest integer factor that brings it to ``max_size``.

    NaN and inf are left out of each block's mean (a block with none finite is NaN);
    the edges are padded with NaN to a multiple of the factor. Returns the float32
    image and the factor.

    >>> small, f = downsample(np.arange(16.0).reshape(4, 4), 2)
    >>> f, small.tolist()
    (2, [[2.5, 4.5], [10.5, 12.5]])
    """
    ny, nx = image.shape
    f = max(1, math.ceil(max(ny, nx) / max(1, int(max_size))))
    if f == 1:
        return np.asarray(image, dtype=np.float32), 1
    my, mx = -(-ny // f), -(-nx // f)
    padded = np.full((my * f, mx * f), np.nan, dtype=np.float32)
    padded[:ny, :nx] = image
    finite = np.isfinite(padded)
    total = np.where(finite, padded, 0.0).reshape(my, f, mx, f).sum(axis=(1, 3))
    count = finite.reshape(my, f, mx, f).sum(axis=(1, 3))
    out = np.full((my, mx), np.nan, dtype=np.float32)
    np.divide(total, count, out=out, where=count > 0)
    return out, f


def _limits(image: np.ndarray, percentiles: tuple[float, float]) -> tuple[float, float]:
    """Display limits: percentiles of the finite values (of a subsample, for speed)."""
    sample = image.reshape(-1)
    if sample.size > 1 << 18:
        sample = sample[:: sample.size >> 18]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(sample, percentiles))
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


def _segments(gdq: np.ndarray, *, usable: np.ndarray, suppress_one_group: bool):
    """Fitted segments ``(start, length)`` of one integration's ramp, as ramp_fit cuts it.

    The rules of :mod:`jwinteract.algorithms.ramp_fit` (stcal OLS_C): runs of groups
    without flags (PERSISTENCE ignored); a run after a group flagged exactly JUMP_DET
    starts at that group; when a run has two or more groups the one-group runs are
    dropped, otherwise only the first is kept; a ramp with exactly one good group has
    none when ``suppress_one_group``. The MIRI first/last-group discard is not applied.
    """
    gdq = gdq & np.uint8(~GROUP["PERSISTENCE"] & 0xFF)
    good = (gdq == 0) & usable
    if suppress_one_group and good.size > 1 and np.count_nonzero(good) == 1:
        return []
    runs, g, n = [], 0, good.size
    while g < n:
        if not good[g]:
            g += 1
            continue
        end = g
        while end < n and good[end]:
            end += 1
        start = g - 1 if g > 0 and gdq[g - 1] == GROUP["JUMP_DET"] else g
        runs.append((start, end - start))
        g = end
    long_runs = [r for r in runs if r[1] >= 2]
    return long_runs if long_runs else runs[:1]


# ----------------------------------------------------------------------------- the probe


class RampProbe:
    """Pixel lookups in one stage's ramp products, with the models kept in hand.

    Parameters
    ----------
    session : Session
    steps : sequence of str
        Steps whose output ramps are read, e.g. ``("dq_init", "linearity",
        "dark_current", "jump")``.
    stage : str
        The stage those steps (and ramp_fit) belong to.

    Raises
    ------
    UnknownStepError
        If a step is not in ``stage`` of this Session.

    Notes
    -----
    The probe keeps the arrays it indexes (each requested step's DATA, GROUPDQ and
    PIXELDQ; ramp_fit's rate, rateints and fitopt slope and intercept) so that clicks
    never reload them. That is ~226 MB per step for a full-frame 10-group ramp, shared
    with the Session's memory cache while it holds them; they are let go as soon as a
    run makes them stale, and by :meth:`release`. Fewer ``steps``, less memory.
    """

    def __init__(self, session, *, steps: Sequence[str] = DEFAULT_RAMP_STEPS,
                 stage: str = "detector1"):  # fmt: skip
        self.session = session
        self.stage = session._stage_name(stage)
        order = session.steps_of(self.stage)
        unknown = [s for s in steps if s not in order]
        if unknown:
            raise UnknownStepError(
                f"step(s) {', '.join(map(repr, unknown))} are not in {self.stage}: {', '.join(order)}"
            )
        self.steps = tuple(s for s in order if s in steps)  # run order
        self._order = order
        # (step, product) -> (cache key of step, the arrays kept from that product)
        self._held: dict[tuple[str, str | None], tuple[str, SimpleNamespace | None]] = {}

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, tuple[str | None, str]]:
        """Per step of the stage: (cache key, "" when available or the reason it is not)."""
        out = {}
        for row in self.session.status(self.stage):
            if row.state in _AVAILABLE:
                out[row.step] = (row.key, "")
            else:
                why = row.state.value + (f": {row.message}" if row.message else "")
                out[row.step] = (None, why)
        return out

    def _arrays(self, state, step: str, product: str | None = None, *, optional: bool = False):
        """The arrays looked up in the current ``product`` of ``step``, kept until its key
        changes.

        Only those arrays are kept, not the model: when the Session's cache lets go of
        the product, the arrays a lookup does not need (fitopt's sigslope, weights...)
        are freed.
        """
        key = state[step][0]
        slot = (step, product)
        held = self._held.get(slot)
        if held is not None and held[0] == key:
            return held[1]
        try:
            model = self.session.result(step, product, stage=self.stage)
        except JwinteractError:
            if not optional:
                raise
            kept = None  # e.g. no fitopt: ramp_fit ran without save_opt
        else:
            kept = SimpleNamespace(**{n: getattr(model, n) for n in _KEEP.get(product, _RAMP)})
            if product is None:
                kept.times = group_times(model)
                kept.group_time = float(model.meta.exposure.group_time)
        self._held[slot] = (key, kept)
        return kept

    def release(self) -> None:
        """Let go of every kept array (the next lookup fetches them again)."""
        self._held.clear()

    def _release_stale(self, state) -> None:
        """Let go of models a parameter change (or a new run) has replaced."""
        for slot, (key, _) in list(self._held.items()):
            if state.get(slot[0], (None, ""))[0] != key:
                del self._held[slot]

    def _fit_input_name(self) -> str | None:
        if "ramp_fit" not in self._order:
            return None
        i = self._order.index("ramp_fit")
        return self._order[i - 1] if i > 0 else None

    def shape(self) -> tuple[int, int, int, int] | None:
        """(nints, ngroups, ny, nx) of the ramps, or None before any requested step ran."""
        state = self.state()
        for s in reversed(self.steps):
            if not state[s][1]:
                return tuple(self._arrays(state, s).data.shape)
        return None

    # ------------------------------------------------------------------ lookups
    def ramp(self, y: int, x: int) -> PixelRamp:
        """The ramps, flags, rates and fitted lines of pixel (y, x); see :class:`PixelRamp`.

        Raises
        ------
        JwinteractError
            If none of the requested steps has a current result.
        IndexError
            If (y, x) is outside the detector array.
        """
        state = self.state()
        self._release_stale(state)
        present = [s for s in self.steps if not state[s][1]]
        unavailable = {s: state[s][1] for s in self.steps if state[s][1]}
        if not present:
            raise JwinteractError(
                f"none of {', '.join(self.steps)} has a result for the current settings; "
                f"run session.run({self.stage!r}) first"
            )
        models = {s: self._arrays(state, s) for s in present}
        last = models[present[-1]]
        y, x = _check_pixel(y, x, last.data.shape[-2:])
        data = {s: np.array(m.data[:, :, y, x], dtype=np.float64) for s, m in models.items()}
        gdq = np.array(last.groupdq[:, :, y, x])
        pixeldq = int(last.pixeldq[y, x])
        rates = self._rates(state, y, x)
        fit = self._fit(state, y, x, rates)
        return PixelRamp(
            y=y, x=x, times=last.times, group_time=last.group_time,
            data=data, unavailable=unavailable, dq_step=present[-1], groupdq=gdq,
            **decode_group_dq(gdq), pixeldq=pixeldq,
            pixeldq_names=tuple(dq_names(pixeldq, PIXEL)), **rates, **fit,
        )  # fmt: skip

    def _rates(self, state, y, x) -> dict[str, Any]:
        if state.get("ramp_fit", (None, "absent"))[1]:
            return {}
        rate = self._arrays(state, "ramp_fit", "rate")
        ints = self._arrays(state, "ramp_fit", "rateints")
        y, x = _check_pixel(y, x, rate.data.shape)
        return {
            "rate": float(rate.data[y, x]),
            "rate_err": float(rate.err[y, x]),
            "rateints": np.array(ints.data[:, y, x], dtype=np.float64),
            "rateints_err": np.array(ints.err[:, y, x], dtype=np.float64),
        }

    def _fit(self, state, y, x, rates) -> dict[str, Any]:
        prev = self._fit_input_name()
        if not rates or prev is None:
            return {}
        fit_step = self._last_run_before(state, prev)
        if state[fit_step][1]:
            return {}
        source = self._arrays(state, fit_step)  # shared with the overlay when requested
        gt = float(np.float32(source.group_time))
        values = np.array(source.data[:, :, y, x], dtype=np.float64)
        gdq = np.array(source.groupdq[:, :, y, x])
        nints, ngroups = values.shape
        params = self.session.params("ramp_fit")
        usable = np.ones(ngroups, dtype=bool)
        if params.get("firstgroup") is not None:
            usable[: params["firstgroup"]] = False
        if params.get("lastgroup") is not None:
            usable[params["lastgroup"] + 1 :] = False
        opt = self._arrays(state, "ramp_fit", "fitopt", optional=True)
        k = np.arange(ngroups, dtype=np.float64)
        fit = np.full((nints, ngroups), np.nan)
        drawn = []
        for i in range(nints):
            segs = _segments(gdq[i], usable=usable,
                             suppress_one_group=bool(params.get("suppress_one_group", True)))  # fmt: skip
            for order, (start, length) in enumerate(segs):
                if length < 2:
                    continue  # one-group "segments" are a single point, not a line
                g = slice(start, start + length)
                if opt is not None:
                    # stcal's segment line in group index k: yint + slope * group_time * k.
                    slope = float(opt.slope[i, order, y, x])
                    yint = float(opt.yint[i, order, y, x])
                else:
                    slope = float(rates["rateints"][i])
                    yint = float(np.mean(values[i, g] - slope * gt * k[g]))
                fit[i, g] = yint + slope * gt * k[g]
                drawn.append((i, start, length))
        return {"fit": fit, "fit_source": "fitopt" if opt is not None else "rateints",
                "fit_segments": tuple(drawn),
                "fit_step": fit_step, "fit_input": values}  # fmt: skip

    def _last_run_before(self, state, name: str) -> str:
        """``name``, or the step whose output a skipped ``name`` passes on."""
        i = self._order.index(name)
        while i > 0 and state[self._order[i]][1]:
            i -= 1
        return self._order[i]

    def summary(self, y: int, x: int) -> dict[str, Any]:
        """What a pixel readout shows; see :func:`pixel_summary`."""
        state = self.state()
        self._release_stale(state)
        out: dict[str, Any] = {"y": int(y), "x": int(x), "pixeldq": None, "pixeldq_names": [],
                               "dq_step": None, "rate": None, "err": None, "var_poisson": None,
                               "var_rnoise": None, "rate_dq": None, "rate_dq_names": [],
                               "rateints": None, "rateints_err": None, "unit": "DN/s"}  # fmt: skip
        present = [s for s in self.steps if not state[s][1]]
        if present:
            m = self._arrays(state, present[-1])
            y, x = _check_pixel(y, x, m.data.shape[-2:])
            out.update(pixeldq=int(m.pixeldq[y, x]), dq_step=present[-1])
            out["pixeldq_names"] = dq_names(out["pixeldq"], PIXEL)
        if not state.get("ramp_fit", (None, "absent"))[1]:
            rate = self._arrays(state, "ramp_fit", "rate")
            ints = self._arrays(state, "ramp_fit", "rateints")
            y, x = _check_pixel(y, x, rate.data.shape)
            out.update(
                rate=float(rate.data[y, x]), err=float(rate.err[y, x]),
                var_poisson=float(rate.var_poisson[y, x]), var_rnoise=float(rate.var_rnoise[y, x]),
                rate_dq=int(rate.dq[y, x]), rateints=ints.data[:, y, x].astype(float).tolist(),
                rateints_err=ints.err[:, y, x].astype(float).tolist(),
            )  # fmt: skip
            out["rate_dq_names"] = dq_names(out["rate_dq"], PIXEL)
        return out

    def image(self, which: str | tuple[int, int] = "rate", *, max_size: int = 1024,
              percentiles: tuple[float, float] = (1.0, 99.5)) -> DisplayImage:  # fmt: skip
        """A display-ready image: ``"rate"`` (ramp_fit) or ``(integration, group)`` of the
        last available requested step's ramp; see :func:`display_image`."""
        state = self.state()
        self._release_stale(state)
        which = image_choice(which)
        if which == "rate":
            if state.get("ramp_fit", (None, "absent"))[1]:
                raise JwinteractError(
                    f"ramp_fit has no current rate; run session.run({self.stage!r}) first"
                )
            plane, key = self._arrays(state, "ramp_fit", "rate").data, state["ramp_fit"][0]
            label, unit = "rate (ramp_fit)", "DN/s"
        else:
            integration, group = _check_group(which)
            present = [s for s in self.steps if not state[s][1]]
            if not present:
                raise JwinteractError(
                    f"none of {', '.join(self.steps)} has a result; run session.run({self.stage!r}) first"
                )
            step = present[-1]
            cube = self._arrays(state, step).data
            if not (integration < cube.shape[0] and group < cube.shape[1]):
                raise IndexError(
                    f"integration {integration}, group {group} is outside the ramp "
                    f"({cube.shape[0]} integrations x {cube.shape[1]} groups)"
                )
            plane, key = cube[integration, group], state[step][0]
            label, unit = f"{step}: integration {integration + 1}, group {group}", "DN"
        small, factor = downsample(plane, max_size)
        vmin, vmax = _limits(small, percentiles)
        return DisplayImage(small, factor, tuple(plane.shape), vmin, vmax, label, unit, key)


def _check_pixel(y, x, shape) -> tuple[int, int]:
    y, x = int(y), int(x)
    if not (0 <= y < shape[0] and 0 <= x < shape[1]):
        raise IndexError(f"pixel (y={y}, x={x}) is outside the {shape[0]} x {shape[1]} array")
    return y, x


def image_choice(which: str | Sequence[int]) -> str | tuple[int, int]:
    """Validate an image choice: ``"rate"`` or a 0-based ``(integration, group)`` pair.

    >>> image_choice("rate"), image_choice([0, 3])
    ('rate', (0, 3))
    """
    if isinstance(which, str):
        if which == "rate":
            return which
        raise ValueError(f"image {which!r}: use 'rate' or an (integration, group) pair")
    return _check_group(which)


def _check_group(which) -> tuple[int, int]:
    try:
        integration, group = (int(v) for v in which)
    except (TypeError, ValueError):
        raise ValueError(
            f"image {which!r}: use 'rate' or an (integration, group) pair of 0-based indices"
        ) from None
    if integration < 0 or group < 0:
        raise IndexError(f"image {which!r}: indices are 0-based and not negative")
    return integration, group


# ----------------------------------------------------------------------------- one-call forms


def pixel_ramp(session, y: int, x: int, *, steps: Sequence[str] = DEFAULT_RAMP_STEPS,
               stage: str = "detector1") -> PixelRamp:  # fmt: skip
    """Pixel (y, x)'s ramps after each of ``steps``, its flags, rates and fitted lines.

    Steps without a current result (not run, stale after a parameter change, skipped)
    are left out and listed in ``PixelRamp.unavailable``. For repeated lookups use a
    :class:`RampProbe`, which keeps the models in hand.

    Parameters
    ----------
    session : Session
    y, x : int
        0-based row and column.
    steps : sequence of str
        Steps of ``stage`` whose output ramps to read.
    stage : str

    Returns
    -------
    PixelRamp
    """
    return RampProbe(session, steps=steps, stage=stage).ramp(y, x)


def flagged_pixels(session, *, flag: str = "JUMP_DET", step: str = "jump",
                   stage: str = "detector1", limit: int = 20_000) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Rows and columns of the pixels with ``flag`` in any group of ``step``'s GROUPDQ.

    For an overlay that shows where to click. At most ``limit`` pixels (the
    first in row order) are returned; none when the step has no result yet.
    """
    from .models import GROUP

    try:
        gdq = session.result(step, stage=stage).groupdq
    except JwinteractError:
        return np.empty(0, int), np.empty(0, int)
    hit = np.zeros(gdq.shape[-2:], bool)
    for integration in gdq:  # one integration at a time keeps the temporary small
        hit |= np.any(integration & GROUP[flag], axis=0)
    ys, xs = np.nonzero(hit)
    return ys[:limit], xs[:limit]


def pixel_summary(session, y: int, x: int, *, stage: str = "detector1") -> dict[str, Any]:
    """What a pixel readout shows, from the current products of ``stage``.

    Returns
    -------
    dict
        ``y``, ``x``; ``pixeldq`` and ``pixeldq_names`` (of the last ramp step with a
        result, named in ``dq_step``); ramp_fit's ``rate``, ``err``, ``var_poisson``,
        ``var_rnoise``, ``rate_dq``, ``rate_dq_names``, ``rateints``, ``rateints_err``
        (DN/s, ``unit``). Values that do not exist yet are None.
    """
    order = session.steps_of(session._stage_name(stage))
    steps = [s for s in DEFAULT_RAMP_STEPS if s in order] or order[:1]
    return RampProbe(session, steps=steps, stage=stage).summary(y, x)


def display_image(session, which: str | tuple[int, int] = "rate", *,
                  steps: Sequence[str] = DEFAULT_RAMP_STEPS, stage: str = "detector1",
                  max_size: int = 1024, percentiles: tuple[float, float] = (1.0, 99.5),
                  ) -> DisplayImage:  # fmt: skip
    """The rate, or one group of the last available of ``steps``, ready to display.

    Block-averaged to at most ``max_size`` pixels a side (a 2048² float32 image is
    16 MB, a notebook payload too heavy for Binder; 1024² is 4 MB) with display
    limits at ``percentiles`` of the finite values (linear stretch).
    """
    return RampProbe(session, steps=steps, stage=stage).image(
        which, max_size=max_size, percentiles=percentiles
    )
