"""Parameter sweeps and A/B comparisons of one step, through a Session.

A sweep sets a step's parameters to each combination of the given values,
runs the stage, and tabulates summary numbers of the result. It relies on the
Session's cache (DESIGN principle 3): the steps before the swept one have the
same keys for every setting, so they run once, and a setting seen before is a
cache hit. The user's own settings of the step are restored afterwards, even
when a run fails. Both are engine code: the widgets in ``jwinteract.widgets``
(Compare, SweepView) only display what these return.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import MaskedColumn, Table

from .errors import ParameterError, UnknownStepError
from .events import EventKind
from .models import GROUP, PIXEL

__all__ = [
    "STEP_SUMMARIES",
    "Comparison",
    "SweepResult",
    "compare",
    "jump_counts",
    "rate_summary",
    "sweep",
]

#: Summary columns read from the swept step's own output, per step name. Each
#: function takes that product (e.g. the jump step's RampModel) and returns a
#: dict of numbers; add an entry to summarise another step.
STEP_SUMMARIES: dict[str, Callable[[Any], dict[str, float | int]]] = {}


def jump_counts(ramp) -> dict[str, int]:
    """Groups and pixels flagged JUMP_DET in a ramp's GROUPDQ.

    Returns
    -------
    dict
        ``jump_groups``: number of (integration, group, y, x) entries with the
        JUMP_DET bit; ``jump_pixels``: number of (y, x) pixels with a jump in
        any group of any integration.
    """
    groupdq = getattr(ramp, "groupdq", None)
    if groupdq is None:
        return {"jump_groups": 0, "jump_pixels": 0}
    jumps = (np.asarray(groupdq) & GROUP["JUMP_DET"]) != 0
    return {
        "jump_groups": int(np.count_nonzero(jumps)),
        "jump_pixels": int(np.count_nonzero(jumps.any(axis=tuple(range(jumps.ndim - 2))))),
    }


STEP_SUMMARIES["jump"] = jump_counts


def _good(model) -> np.ndarray:
    """Pixels with a finite value and no DO_NOT_USE bit."""
    data = np.asarray(model.data)
    good = np.isfinite(data)
    dq = getattr(model, "dq", None)
    if dq is not None:
        good &= (np.asarray(dq) & PIXEL["DO_NOT_USE"]) == 0
    return good


def rate_summary(model, reference=None) -> dict[str, float | int | None]:
    """Median of a rate (or any image) product and how it differs from ``reference``.

    Parameters
    ----------
    model : DataModel
        A product with ``data`` (and usually ``dq`` and ``err``).
    reference : DataModel, optional
        The product to compare with (the first setting of a sweep).

    Returns
    -------
    dict
        ``median_rate``: median of the usable pixels (finite, not DO_NOT_USE).
        ``median_rate_change``: median of ``model - reference`` over pixels
        usable in both. ``n_changed_1sigma``: pixels where
        ``|model - reference| > reference.err`` -- the reference's ERR is the
        scale because both products come from the same ramps, so their errors
        are not independent and cannot be added in quadrature. Without a
        reference the change is 0; without an ERR array the count is None.
    """
    good = _good(model)
    data = np.asarray(model.data)
    out: dict[str, float | int | None] = {
        "median_rate": float(np.median(data[good])) if good.any() else float("nan")
    }
    if reference is None:
        return {**out, "median_rate_change": 0.0, "n_changed_1sigma": 0}
    both = good & _good(reference)
    delta = data - np.asarray(reference.data)
    out["median_rate_change"] = float(np.median(delta[both])) if both.any() else float("nan")
    err = getattr(reference, "err", None)
    out["n_changed_1sigma"] = None
    if err is not None:
        with np.errstate(invalid="ignore"):  # a NaN ERR compares False: not counted
            out["n_changed_1sigma"] = int(np.count_nonzero(both & (np.abs(delta) > err)))
    return out


@dataclass
class SweepResult:
    """The outcome of :func:`sweep`.

    Attributes
    ----------
    step, stage : str
        The swept step and the stage that was run.
    settings : list of dict
        The parameter combinations, in the order they ran.
    results : list of (dict, DataModel)
        Each setting with the stage's primary product (the rate for
        detector1). These are references to the cached models, which are
        read-only: a full-frame rate is ~100 MB, so keep sweeps short on Binder.
    table : astropy.table.Table
        One row per setting: the swept parameters, then the step's own
        summary (e.g. ``jump_groups``, ``jump_pixels``), ``median_rate``,
        ``median_rate_change`` and ``n_changed_1sigma`` (relative to the
        first setting) and ``steps_run`` (steps that ran, not cache hits).
    """

    step: str
    stage: str
    settings: list[dict[str, Any]]
    results: list[tuple[dict[str, Any], Any]]
    table: Table
    product: str = "rate"

    def __len__(self) -> int:
        return len(self.settings)

    @property
    def parameters(self) -> list[str]:
        """The names of the swept parameters (the first columns of the table)."""
        return list(self.settings[0]) if self.settings else []

    def __repr__(self) -> str:
        return (f"<SweepResult {self.step} ({self.stage}) over {', '.join(self.parameters)}: "
                f"{len(self)} settings>")  # fmt: skip

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


@dataclass
class Comparison:
    """The outcome of :func:`compare`: two settings of one step, side by side.

    Attributes
    ----------
    a, b : DataModel
        The stage's primary product (the rate for detector1) for each setting.
    step_a, step_b : DataModel
        The step's own primary product for each setting (e.g. the jump ramps).
    difference : numpy.ndarray
        ``a.data - b.data`` (float32).
    table : astropy.table.Table
        Two rows, A then B, with the same columns as a sweep's table
        (changes are B relative to A).
    """

    step: str
    stage: str
    params_a: dict[str, Any]
    params_b: dict[str, Any]
    a: Any
    b: Any
    step_a: Any
    step_b: Any
    difference: np.ndarray
    table: Table
    product: str = "rate"
    summary: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Comparison {self.step} ({self.stage}): {self.params_a} vs {self.params_b}>"


def _default_stage(session, step: str) -> str:
    stages = [st for st in session.stages if step in session.steps_of(st)]
    if not stages:
        raise UnknownStepError(
            f"step {step!r} is not in this Session's recipe ({', '.join(session.stages)})"
        )
    return stages[0]


@contextmanager
def _restoring(session, step: str):
    """Put the step's settings back exactly as they were (even "not set": a step
    skipped by default must not come back explicitly un-skipped)."""
    saved = session.step_settings(step)
    try:
        yield lambda: session.restore_step_settings(step, saved)
    finally:
        session.restore_step_settings(step, saved)


def _run_settings(session, step: str, stage: str | None, settings: Sequence[Mapping[str, Any]],
                  *, keep_own: bool = False):  # fmt: skip
    """Run ``stage`` once per setting; return rows, stage products and step products.

    The step's own products (for jump, 4-D ramps) are kept only with
    ``keep_own``: a sweep needs just their summary numbers.
    """
    home = _default_stage(session, step)
    stage = home if stage is None else session.stage_name(stage)
    if session.stages.index(stage) < session.stages.index(home):
        raise UnknownStepError(
            f"step {step!r} runs in stage {home!r}, after stage {stage!r}; give stage= "
            f"{home!r} or a later stage"
        )
    summarise = STEP_SUMMARIES.get(step)
    names = list(dict.fromkeys(k for s in settings for k in s))
    rows, products, step_products, product_name = [], [], [], None
    with _restoring(session, step) as reset:
        # Validate every setting before anything runs: a typo in the last value
        # must not cost the whole sweep.
        for setting in settings:
            session.set(step, **setting)
            reset()
        ran: list[str] = []

        def count(event) -> None:
            if event.kind is EventKind.STEP_FINISHED:
                ran.append(event.step)

        unsubscribe = session.events.observe(count)
        try:
            for setting in settings:
                reset()
                session.set(step, **setting)
                ran.clear()
                out = session.run(stage)
                product_name, model = out.primary_name, out.primary
                own = session.result(step, stage=home)
                row = _effective(session, step, names, setting)
                if summarise is not None:
                    row.update(summarise(own))
                row.update(rate_summary(model, products[0] if products else None))
                row["steps_run"] = len(ran)
                rows.append(row)
                products.append(model)
                step_products.append(own if keep_own else None)
        finally:
            unsubscribe()
    return stage, product_name, rows, products, step_products


def _effective(session, step: str, names: list[str], setting: Mapping[str, Any]) -> dict:
    """The value each swept name has in this run (a setting may leave a name out)."""
    params = session.params(step)
    row = {}
    for name in names:
        if name in setting:
            value = setting[name]
            row[name] = value if isinstance(value, int | float | str | bool) else str(value)
        elif name in params:
            row[name] = params[name]
        elif name == "skip":
            row[name] = session.step_settings(step)["skip"]  # None: the recipe's default
        else:
            row[name] = None  # an override_<reftype> not given: the usual reference
    return row


def _table(rows: list[dict[str, Any]], meta: dict[str, Any]) -> Table:
    names = list(dict.fromkeys(k for row in rows for k in row))
    columns = []
    for name in names:
        values = [row.get(name) for row in rows]
        missing = [v is None for v in values]
        fill = next((v for v in values if v is not None), 0)
        columns.append(MaskedColumn([fill if m else v for v, m in zip(values, missing, strict=True)],
                                    name=name, mask=missing) if any(missing) else values)  # fmt: skip
    return Table(columns, names=names, meta=meta)


def _settings_from_lists(param_lists: Mapping[str, Any]) -> list[dict[str, Any]]:
    if not param_lists:
        raise ParameterError(
            "sweep needs at least one parameter with a list of values, e.g. "
            "sweep(session, 'jump', rejection_threshold=[4, 5, 6])"
        )
    lists = {}
    for name, values in param_lists.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray | range):
            raise ParameterError(
                f"sweep: {name}={values!r} must be a list of values to try, e.g. {name}=[{values!r}]"
            )
        if len(values) == 0:
            raise ParameterError(f"sweep: {name} has no values to try")
        lists[name] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return [dict(zip(lists, combo, strict=True)) for combo in itertools.product(*lists.values())]


def sweep(session, step: str, stage: str | None = None, **param_lists: Any) -> SweepResult:
    """Run ``stage`` once per combination of ``step``'s parameter values.

    Parameters
    ----------
    session : Session
        The Session to run. Its settings of ``step`` are the same afterwards.
    step : str
        The step whose parameters change, e.g. ``"jump"``.
    stage : str, optional
        The stage to run (default: the stage holding ``step``); a later stage
        shows how the change carries through.
    **param_lists
        Parameter name -> list of values. Every combination runs (a Cartesian
        product, in the order given, the last parameter varying fastest).
        ``skip=[False, True]`` sweeps the step on and off.

    Returns
    -------
    SweepResult

    Raises
    ------
    ParameterError
        If a name or value is not valid for ``step`` (before anything runs).

    Examples
    --------
    >>> res = sweep(session, "jump", rejection_threshold=[4, 5, 6])  # doctest: +SKIP
    >>> list(res.table["jump_groups"])                               # doctest: +SKIP
    [1402, 233, 61]
    """
    settings = _settings_from_lists(param_lists)
    stage, name, rows, products, _ = _run_settings(session, step, stage, settings)
    table = _table(rows, {"step": step, "stage": stage, "product": name})
    return SweepResult(step, stage, settings, list(zip(settings, products, strict=True)), table,
                       name)  # fmt: skip


def compare(
    session,
    step: str,
    params_a: Mapping[str, Any],
    params_b: Mapping[str, Any],
    stage: str | None = None,
) -> Comparison:
    """Run ``stage`` with two settings of ``step`` and difference the results.

    Parameters
    ----------
    session : Session
        The Session to run. Its settings of ``step`` are the same afterwards.
    step : str
        The step whose parameters differ.
    params_a, params_b : dict
        Parameters of ``step`` for A and B, each applied on top of the
        Session's own settings (``{}`` means "as the Session has it";
        ``{"skip": True}`` compares with the step left out).
    stage : str, optional
        The stage to run (default: the stage holding ``step``).

    Returns
    -------
    Comparison
        With ``difference = a.data - b.data`` and a two-row table.
    """
    settings = [dict(params_a), dict(params_b)]
    stage, name, rows, products, own = _run_settings(session, step, stage, settings, keep_own=True)
    a, b = products
    if np.shape(a.data) != np.shape(b.data):
        raise ParameterError(
            f"compare: the two {name} products have different shapes "
            f"{np.shape(a.data)} and {np.shape(b.data)}; they cannot be differenced"
        )
    difference = np.asarray(a.data, dtype=np.float32) - np.asarray(b.data, dtype=np.float32)
    rows = [{"setting": label, **row} for label, row in zip("AB", rows, strict=True)]
    table = _table(rows, {"step": step, "stage": stage, "product": name})
    both = _good(a) & _good(b)
    summary = {
        "A": rows[0],
        "B": rows[1],
        "median_difference": float(np.median(difference[both])) if both.any() else float("nan"),
        "n_changed_1sigma": rows[1]["n_changed_1sigma"],
    }
    return Comparison(step, stage, dict(params_a), dict(params_b), a, b, own[0], own[1],
                      difference, table, name, summary)  # fmt: skip
