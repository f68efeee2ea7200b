"""Session: run stages, set parameters, skip steps, get results, observe events.

A Session owns one input (a file or a model; never modified), the recipe for
its EXP_TYPE, the user's parameter choices, a :class:`~jwinteract.cache.Cache`
and a :class:`~jwinteract.references.References` resolver. Every step output
is cached under a key chained from its input's key, so after any change only
the affected steps run again.

Examples
--------
>>> s = Session("jw01234001001_01101_00001_nrca1_uncal.fits")   # doctest: +SKIP
>>> s.run("detector1")                                           # doctest: +SKIP
>>> s.set("jump", rejection_threshold=5.0)                       # doctest: +SKIP
>>> s.run("detector1")   # only jump, ramp_fit and gain_scale run # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .cache import DEFAULT_MEMORY_BUDGET, Cache, default_cache_dir, step_key
from .errors import (
    InputError,
    JwinteractError,
    ParameterError,
    ReferenceFileError,
    StepNotImplementedError,
    UnknownStepError,
)
from .events import Event, EventKind, EventLog, StepState, StepStatus
from .models import as_ramp, derive, freeze, model_fingerprint, open_model, save_atomic
from .products import Products
from .provenance import mark_skipped, product_rootname, record_step
from .recipes import STAGE_ALIASES, PipelineDef, stage_pipelines
from .references import References
from .session_settings import SessionSettings
from .steps import Skipped, StepSpec, get_step

__all__ = ["Session", "StepFailedError"]

log = logging.getLogger("jwinteract")

# Parameters every jwst step accepts; the others are declared per step.
_COMMON = {"skip", "save_results"}


class StepFailedError(JwinteractError, RuntimeError):
    """A step raised; the message names the step and the cause."""


@dataclass
class _Planned:
    stage: str
    name: str
    spec: StepSpec
    params: dict
    skip_reason: str | None  # None: the step runs
    refs: dict | None
    key: str | None
    input_key: str | None
    skipped_before: tuple[str, ...] = ()  # cal_step names of earlier pass-through steps

    @property
    def passthrough(self) -> bool:
        return self.skip_reason is not None or not self.spec.implemented


@dataclass
class _Done:
    key: str
    seconds: float | None
    how: str  # "ran" | "cache" | "skipped" | "not implemented"


class Session(SessionSettings):
    """An interactive, cached calibration of one exposure (or, given an
    association file, of each of its exposures: see :class:`AssociationSession`).

    Parameters
    ----------
    input : str, os.PathLike or DataModel
        An ``_uncal`` (or ``_ramp``) file or model for stage 1, a ``_rate`` /
        ``_rateints`` for stage 2, a ``_cal`` for stage 3.
    steps : dict, optional
        jwst-style per-step parameters, unchanged from a jwst notebook:
        ``{"jump": {"rejection_threshold": 5.0}, "dark_current": {"skip": True}}``.
        ``override_<reftype>`` entries set that step's reference file.
    references : dict, optional
        Session-wide reference overrides: reftype -> path, model or ``"N/A"``.
    crds : {"auto", "offline", "user"}, path or OfflineContext
        Where reference lookups go (see :class:`~jwinteract.references.References`).
    cache_dir : path, None or "default"
        Disk tier of the cache; ``None`` for memory only. Default:
        ``$JWINTERACT_CACHE_DIR`` or ``~/.cache/jwinteract/products``.
    memory_budget : int
        Bytes the in-memory cache may hold.
    on_not_implemented : {"warn", "error"}
        What to do when a recipe step jwinteract does not implement yet is
        reached: pass the data through uncorrected, recorded as
        ``not implemented`` in the status and SKIPPED in its ``S_*`` keyword;
        or raise :class:`~jwinteract.errors.StepNotImplementedError`.
    """

    def __new__(cls, input: Any = None, *args, **kwargs):
        if cls is Session and isinstance(input, str | os.PathLike):
            from .association import is_association

            if is_association(input):
                from .asn_session import AssociationSession

                return AssociationSession(input, *args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        input: Any,
        *,
        steps: Mapping[str, Mapping[str, Any]] | None = None,
        references: Mapping[str, Any] | None = None,
        crds: Any = "auto",
        cache_dir: str | os.PathLike | None = "default",
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        on_not_implemented: str = "warn",
        _shared: dict | None = None,
    ):
        if on_not_implemented not in ("warn", "error"):
            raise ParameterError("on_not_implemented must be 'warn' or 'error'")
        self.on_not_implemented = on_not_implemented
        self.input_path = Path(input) if isinstance(input, str | os.PathLike) else None
        self._input = open_model(input)
        meta = self._input.meta
        self.instrument = (meta.instrument.name or "").upper() or None
        self.exp_type = (meta.exposure.type or "").upper() or None
        if (
            not self.exp_type
            and self.input_path is not None
            and self.input_path.suffix.lower() == ".fits"
        ):
            # stdatamodels drops a value its schema does not allow: look at the raw card
            # so the error names it.
            from astropy.io import fits

            raw = fits.getheader(self.input_path).get("EXP_TYPE")
            if raw:
                stage_pipelines(str(raw), self.instrument)
        if not self.exp_type:
            raise InputError(
                f"{self._describe_input()}: EXP_TYPE is missing from the primary header; "
                "jwinteract needs it to choose the pipelines"
            )
        self.pipelines: dict[str, PipelineDef] = {}
        for pdef in stage_pipelines(self.exp_type, self.instrument):
            if pdef is not None:
                self.pipelines[pdef.name.removeprefix("calwebb_")] = pdef
        self.first_stage = self._first_stage()
        if _shared:  # a member of an AssociationSession: one cache, resolver and event log
            self.cache, self.references, self.events = (
                _shared["cache"], _shared["references"], _shared["events"],
            )  # fmt: skip
        else:
            self.cache = Cache(
                default_cache_dir() if cache_dir == "default" else cache_dir, memory_budget
            )
            self.references = References(references, crds)
            self.events = EventLog()
        self._steps: dict[str, StepSpec] = {}  # session-level user steps / replacements
        self._orders: dict[str, list[str]] = {}  # stage -> step order, when edited
        self._params: dict[str, dict] = {}
        self._skips: dict[str, bool] = {}
        self._save: dict[str, bool] = {}
        self._ref_overrides: dict[str, dict] = {}
        self._done: dict[tuple[str, str], _Done] = {}
        self._failed: dict[tuple[str, str], tuple[str | None, str]] = {}
        self._running: tuple[str, str] | None = None
        self._warned: set[tuple[str, str]] = set()
        self._input_key: str | None = None
        self._stage_input: Products | None = None
        if steps:
            self.apply(steps)

    # ------------------------------------------------------------ description
    def _emit(self, kind: EventKind, **fields: Any) -> None:
        self.events.emit(Event(kind, exposure=self.rootname, **fields))

    def _describe_input(self) -> str:
        return str(self.input_path) if self.input_path else f"<{type(self._input).__name__}>"

    def _first_stage(self) -> str:
        """The first stage this input feeds: 1 for ramps, 2 for rates, 3 for cal."""
        from stdatamodels.jwst import datamodels as dm

        m = self._input
        stages = list(self.pipelines)
        if not stages:
            raise InputError(
                f"{self._describe_input()}: no pipeline applies to EXP_TYPE {self.exp_type}"
            )
        if (
            isinstance(m, dm.RampModel | dm.Level1bModel)
            or getattr(m, "data", None) is not None
            and m.data.ndim == 4
        ):
            return stages[0]
        done = m.meta.cal_step
        if (
            getattr(done, "photom", None) == "COMPLETE"
            or getattr(done, "flat_field", None) == "COMPLETE"
        ):
            later = [s for s in stages if self.pipelines[s].stage == 3]
        else:
            later = [s for s in stages if self.pipelines[s].stage == 2]
        if not later:
            raise InputError(
                f"{self._describe_input()}: a {type(m).__name__} has no later stage for "
                f"EXP_TYPE {self.exp_type}"
            )
        return later[0]

    @property
    def stages(self) -> list[str]:
        """Stage names this Session can run, in order (e.g. detector1, image2, image3)."""
        names = list(self.pipelines)
        return names[names.index(self.first_stage) :]

    def steps_of(self, stage: str) -> list[str]:
        """The step names of ``stage`` in run order."""
        stage = self._stage_name(stage)
        return list(self._orders.get(stage, self.pipelines[stage].steps))

    def step_spec(self, name: str) -> StepSpec:
        """The declaration in force for step ``name`` in this Session."""
        if name in self._steps:
            return self._steps[name]
        return get_step(name)

    def stage_name(self, stage: str | int | None) -> str:
        """This Session's name for ``stage`` (``"detector1"``, 1, ``"calwebb_detector1"``...)."""
        return self._stage_name(stage)

    def _stage_name(self, stage: str | int | None) -> str:
        if stage is None:
            return self.stages[-1]
        key = str(stage).lower().removeprefix("calwebb_")
        if key in self.pipelines:
            return key
        number = STAGE_ALIASES.get(key)
        if number is not None:
            for name, pdef in self.pipelines.items():
                if pdef.stage == number:
                    return name
        raise InputError(
            f"stage {stage!r} does not apply to EXP_TYPE {self.exp_type}; "
            f"this Session's stages are: {', '.join(self.stages)}"
        )

    def _stages_of_step(self, name: str) -> list[str]:
        return [s for s in self.stages if name in self.steps_of(s)]

    # ------------------------------------------------------------ planning
    def _input_fingerprint(self) -> str:
        if self._input_key is None:
            self._input_key = model_fingerprint(self._input)
        return self._input_key

    def _skip_reason(self, stage: str, spec: StepSpec) -> str | None:
        if spec.name in self._skips:
            return "skipped by user" if self._skips[spec.name] else None
        if spec.name in self.pipelines[stage].skip:
            return f"skipped in {self.pipelines[stage].name}"
        if spec.skip_default:
            return "skipped by default (as in jwst)"
        if not spec.applies_to(self.instrument, self.exp_type):
            return f"does not apply to {self.instrument} {self.exp_type}"
        return None

    def _prefetch_references(self, stage: str) -> None:
        """One CRDS lookup for every reference the stage's running steps need.

        Per step, each lookup re-reads the context; together they cost one.
        The resolver memoises the answers; a failure here is left for the
        step that needs the reference to report.
        """
        wanted = set()
        for name in self.steps_of(stage):
            spec = self.step_spec(name)
            if spec.implemented and self._skip_reason(stage, spec) is None:
                overridden = self._ref_overrides.get(name, {})
                wanted |= {r for r in spec.reference_types if r not in overridden}
        wanted -= set(self.references.overrides)
        if wanted:
            try:
                self.references.resolve(self._input, sorted(wanted))
            except ReferenceFileError:
                pass

    def _plan(self, stage: str, *, strict: bool) -> list[_Planned]:
        """Steps of ``stage`` with their parameters, references and keys.

        With ``strict`` false, a reference that cannot be resolved leaves the
        keys from there on unknown (``None``) instead of raising.
        """
        index = self.stages.index(stage)
        if index == 0:
            input_key = self._input_fingerprint()
        else:
            prev = self._plan(self.stages[index - 1], strict=strict)
            input_key = prev[-1].key if prev else None
        self._prefetch_references(stage)
        plan = []
        for name in self.steps_of(stage):
            spec = self.step_spec(name)
            params = spec.resolve_params(self._params.get(name))
            reason = self._skip_reason(stage, spec)
            refs = None
            if reason is None and spec.implemented and input_key is not None:
                try:
                    refs = self.references.resolve(
                        self._input, spec.reference_types, self._ref_overrides.get(name)
                    )
                except ReferenceFileError:
                    if strict:
                        raise
                    input_key = None
                if refs is not None:
                    na = [r for r, i in refs.items() if i.not_applicable
                          and r not in spec.extra.get("optional_reftypes", ())]  # fmt: skip
                    if na:
                        reason = f"reference {', '.join(na)} is N/A"
            if input_key is None:
                key = None
            elif reason is not None or not spec.implemented:
                why = reason or "not implemented"
                key = step_key(name, "passthrough", {"why": why}, {}, input_key)
            else:
                key = step_key(
                    name, _code_version(spec), params,
                    {r: i.checksum for r, i in refs.items()}, input_key,
                )  # fmt: skip
            before = tuple(q.spec.cal_step for q in plan if q.passthrough and q.spec.cal_step)
            plan.append(_Planned(stage, name, spec, params, reason, refs, key, input_key, before))
            input_key = key
        return plan

    # ------------------------------------------------------------ status
    def status(self, stage: str | None = None) -> list[StepStatus]:
        """Per step: fresh / stale / cached / running / done / skipped / failed / not implemented."""
        stages = [self._stage_name(stage)] if stage else self.stages
        rows = []
        for st in stages:
            for p in self._plan(st, strict=False):
                rows.append(self._status_of(p))
        return rows

    def _status_of(self, p: _Planned) -> StepStatus:
        ident = (p.stage, p.name)
        done = self._done.get(ident)
        seconds = done.seconds if done else None
        if self._running == ident:
            return StepStatus(p.stage, p.name, StepState.RUNNING, None, p.key)
        if p.skip_reason is not None:
            return StepStatus(p.stage, p.name, StepState.SKIPPED, None, p.key, p.skip_reason)
        if not p.spec.implemented:
            return StepStatus(p.stage, p.name, StepState.NOT_IMPLEMENTED, None, p.key,
                              "not implemented in jwinteract yet; data pass through uncorrected")  # fmt: skip
        failed = self._failed.get(ident)
        if failed and failed[0] == p.key:
            return StepStatus(p.stage, p.name, StepState.FAILED, None, p.key, failed[1])
        if done and p.key is not None and done.key == p.key:
            return StepStatus(p.stage, p.name, StepState.DONE, seconds, p.key, done.how)
        if p.key is not None and self.cache.where(p.key):
            return StepStatus(p.stage, p.name, StepState.CACHED, None, p.key)
        if done:
            return StepStatus(p.stage, p.name, StepState.STALE, seconds, p.key)
        return StepStatus(p.stage, p.name, StepState.FRESH, None, p.key)

    def status_table(self, stage: str | None = None) -> str:
        """:meth:`status` as a plain-text table."""
        rows = self.status(stage)
        lines = [f"{'stage':<10} {'step':<22} {'status':<16} {'seconds':>8}  note"]
        for r in rows:
            sec = f"{r.seconds:8.2f}" if r.seconds is not None else " " * 8
            lines.append(f"{r.stage:<10} {r.step:<22} {r.state.value:<16} {sec}  {r.message}")
        return "\n".join(lines)

    # ------------------------------------------------------------ running
    def run(self, stage: str | int | None = None, *, start: str | None = None,
            stop: str | None = None) -> Products:  # fmt: skip
        """Run ``stage`` (and any earlier stage it needs); return its products.

        Only steps whose key is not in the cache run. ``start`` names the
        first step to run (earlier ones come from the cache, and run only if
        missing there); ``stop`` names the last step to run (its output is
        returned). Disk writes of the cache are finished before returning.
        """
        target = self._stage_name(stage)
        stages = self.stages[: self.stages.index(target) + 1]
        try:
            for st in stages[:-1]:
                self._run_stage(st, None, None)
            return self._run_stage(target, start, stop)
        finally:
            self.cache.flush()

    def _run_stage(self, stage: str, start: str | None, stop: str | None) -> Products:
        plan = self._plan(stage, strict=True)
        names = [p.name for p in plan]
        for label, value in (("start", start), ("stop", stop)):
            if value is not None and value not in names:
                raise UnknownStepError(
                    f"{label}={value!r} is not a step of {stage}: {', '.join(names)}"
                )
        last = names.index(stop) if stop else len(plan) - 1
        first = names.index(start) if start else 0
        self._emit(EventKind.STAGE_STARTED, stage=stage)
        t0 = time.perf_counter()
        current: Products | None = None  # output of the previous step, when in hand
        if first > 0:
            # Steps before `start` are not run: the input of `start` must be cached.
            before = [p for p in plan[:first] if not p.passthrough]
            if before and not self.cache.where(before[-1].key):
                raise JwinteractError(
                    f"start={start!r}: the output of {before[-1].name!r} (the input of "
                    f"{start!r}) is not in the cache; run {stage!r} without start= first"
                )
        for i, p in enumerate(plan[: last + 1]):
            if i < first:
                continue
            if p.passthrough:
                self._passthrough(p)
                continue
            hit = self.cache.where(p.key)
            if hit:
                self._done[(stage, p.name)] = _Done(p.key, None, f"cache ({hit})")
                self._emit(EventKind.CACHE_HIT, stage=stage, step=p.name, key=p.key, message=hit)
                current = None
                continue
            inputs = current if current is not None else self._materialize(plan, i - 1)
            current = self._execute(p, inputs)
        out = current if current is not None else self._materialize(plan, last)
        self._emit(EventKind.STAGE_FINISHED, stage=stage, seconds=time.perf_counter() - t0)
        return out

    def _passthrough(self, p: _Planned) -> None:
        ident = (p.stage, p.name)
        if p.skip_reason is not None:
            self._done[ident] = _Done(p.key, None, "skipped")
            self._emit(EventKind.STEP_SKIPPED, stage=p.stage, step=p.name, key=p.key,
                                   message=p.skip_reason)  # fmt: skip
            return
        msg = (f"step {p.name!r} of {p.stage} is not implemented in jwinteract yet: "
               "the data pass through it uncorrected")  # fmt: skip
        self._emit(EventKind.NOT_IMPLEMENTED, stage=p.stage, step=p.name, key=p.key, message=msg)
        if self.on_not_implemented == "error":
            raise StepNotImplementedError(msg + "; skip it or use on_not_implemented='warn'")
        if ident not in self._warned:  # the event, status and table say it every run
            self._warned.add(ident)
            log.info(msg)
        self._done[ident] = _Done(p.key, None, "not implemented")

    def _stage_inputs(self, stage: str) -> Products:
        index = self.stages.index(stage)
        if index > 0:
            prev = self._plan(self.stages[index - 1], strict=True)
            return self._materialize(prev, len(prev) - 1)
        if self._stage_input is None:
            model = self._input
            if self.pipelines[stage].stage == 1:
                ramp = as_ramp(model)
                # A RampModel given by the user is copied, so freezing the
                # cached stage input never touches the caller's arrays.
                model = ramp.copy() if ramp is model else ramp
                name = "ramp"
            else:
                model = model.copy()
                level = self.pipelines[stage].stage
                name = "rate" if level == 2 else "cal"
                if model.data.ndim == 3:
                    name += "ints"
            freeze(model)
            self._stage_input = Products({name: model})
        return self._stage_input

    def _materialize(self, plan: list[_Planned], index: int) -> Products:
        """The products of ``plan[index]`` (its input when it was skipped)."""
        while index >= 0 and plan[index].passthrough:
            index -= 1
        if index < 0:
            return self._stage_inputs(plan[0].stage)
        p = plan[index]
        got = self.cache.get(p.key)
        if got is not None:
            return got
        # Evicted from memory and not on disk: recompute it (and what it needs).
        inputs = self._materialize(plan, index - 1)
        return self._execute(p, inputs)

    def _execute(self, p: _Planned, inputs: Products) -> Products:
        ident = (p.stage, p.name)
        self._running = ident
        self._emit(EventKind.STEP_STARTED, stage=p.stage, step=p.name, key=p.key)
        refs = {r: self.references.open(info, self.instrument) for r, info in p.refs.items()}
        last_progress = [-1.0]

        def progress(fraction: float, message: str = "") -> None:
            if fraction - last_progress[0] >= 0.02 or fraction >= 1.0:
                last_progress[0] = fraction
                self._emit(EventKind.PROGRESS, stage=p.stage, step=p.name,
                                       fraction=float(fraction), message=message)  # fmt: skip

        t0 = time.perf_counter()
        try:
            if p.spec.per_product:
                names = p.spec.extra.get("product_names") or list(inputs)
                targets = [(n, m) for n, m in inputs.items() if n in names]
            else:
                targets = [(inputs.primary_name, inputs.primary)]
            produced: dict[str, Any] = {}
            status = "COMPLETE"
            for pname, model in targets:
                out = p.spec.func(model, refs, progress=progress, **p.params)
                if isinstance(out, Skipped):
                    status = "SKIPPED"
                    log.info("%s: %s", p.name, out.reason)
                    out = out.model
                if isinstance(out, Mapping):
                    produced.update(out)
                else:
                    produced[pname] = out
            # Products the step did not touch travel on unchanged.
            for pname, model in inputs.items():
                if pname not in produced and not (
                    targets and pname == targets[0][0] and not p.spec.per_product
                ):
                    produced[pname] = model
            for pname, model in list(produced.items()):
                if any(model is m for m in inputs.values()):
                    model = produced[pname] = derive(model)
                record_step(
                    model, name=p.name, version=_code_version(p.spec), cal_step=p.spec.cal_step,
                    status=status, params=p.params, refs=p.refs,
                    context=self.references.context, skipped_before=p.skipped_before,
                )  # fmt: skip
        except Exception as exc:
            self._running = None
            msg = f"{type(exc).__name__}: {exc}"
            self._failed[ident] = (p.key, msg)
            self._emit(EventKind.STEP_FAILED, stage=p.stage, step=p.name, key=p.key, message=msg)
            if isinstance(exc, JwinteractError):
                raise
            raise StepFailedError(f"step {p.name!r} ({p.stage}) failed: {msg}") from exc
        seconds = time.perf_counter() - t0
        products = Products(produced)
        record = {"step": p.name, "stage": p.stage, "version": _code_version(p.spec), "params": p.params,
                  "references": {r: i.name for r, i in p.refs.items()}, "input_key": p.input_key,
                  "seconds": seconds, "jwinteract": __version__}  # fmt: skip
        self.cache.put(p.key, products, record)
        self._running = None
        self._failed.pop(ident, None)
        self._done[ident] = _Done(p.key, seconds, "ran")
        self._emit(EventKind.STEP_FINISHED, stage=p.stage, step=p.name, key=p.key, seconds=seconds)
        return products

    # ------------------------------------------------------------ results
    def result(self, step: str, product: str | None = None, *, stage: str | None = None):
        """The current output of ``step`` (its primary product, or ``product``).

        Raises
        ------
        JwinteractError
            If the step has not been run (or is stale) with the current settings.
        """
        stages = [self._stage_name(stage)] if stage else self._stages_of_step(step)
        if not stages:
            raise UnknownStepError(f"step {step!r} is not in this Session's recipe")
        plan = self._plan(stages[-1], strict=False)
        index = [p.name for p in plan].index(step)
        p = plan[index]
        if p.key is None or not (self.cache.where(p.key) or p.passthrough):
            raise JwinteractError(
                f"step {step!r} has no result for the current parameters; run "
                f"session.run({stages[-1]!r}, stop={step!r}) first"
            )
        products = self._materialize(plan, index)
        if product is None:
            return products.primary
        if product not in products:
            raise JwinteractError(f"step {step!r} produced {list(products)}, not {product!r}")
        return products[product]

    def products(self, stage: str | None = None) -> Products:
        """All products of the last step of ``stage`` (after running it)."""
        stage = self._stage_name(stage)
        last = self.steps_of(stage)[-1]
        self.result(last, stage=stage)
        plan = self._plan(stage, strict=True)
        return self._materialize(plan, len(plan) - 1)

    def sweep(self, step: str, *, stage: str | None = None, **param_lists: Any):
        """Run ``stage`` once per parameter setting and tabulate the results.

        ``session.sweep("jump", rejection_threshold=[4, 5, 6])``: the cache
        makes the shared upstream steps run once. The parameters are restored
        afterwards. See :func:`jwinteract.sweep.sweep`.
        """
        from .sweep import sweep

        return sweep(self, step, stage=stage, **param_lists)

    def save(self, stage: str | None = None, output_dir: str | os.PathLike = ".") -> list[Path]:
        """Write ``stage``'s products with jwst names (``<root>_rate.fits`` ...).

        Also writes the output of every step with ``save_results`` set. Files
        are written atomically; skipped steps are recorded as SKIPPED.
        """
        stage = self._stage_name(stage)
        out_dir = Path(output_dir)
        root = self.rootname
        written = []
        plan = self._plan(stage, strict=True)
        skipped = [p.spec.cal_step for p in plan if p.passthrough and p.spec.cal_step]
        for p_index, p in enumerate(plan):
            if self._save.get(p.name) and not p.passthrough:
                prods = self._materialize(plan, p_index)
                for name, model in prods.items():
                    suffix = name if name in ("rate", "rateints") else p.name
                    written.append(self._write(model, out_dir / f"{root}_{suffix}.fits", skipped))
        for name, model in self.products(stage).items():
            suffix = self.pipelines[stage].suffix if name == "ramp" and stage == "dark" else name
            written.append(self._write(model, out_dir / f"{root}_{suffix}.fits", skipped))
        return written

    def _write(self, model, path: Path, skipped: list[str]) -> Path:
        final = derive(model)
        mark_skipped(final, skipped)
        save_atomic(final, path)
        self._emit(EventKind.PRODUCT_WRITTEN, message=str(path))
        return path

    @property
    def rootname(self) -> str:
        """File root for products: the input name without its suffix (``_uncal``...)."""
        if self.input_path is not None:
            return product_rootname(self.input_path)
        return product_rootname(self._input.meta.filename or "jwinteract")

    def close(self) -> None:
        """Finish pending cache writes."""
        self.cache.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<Session {self._describe_input()} {self.instrument} {self.exp_type} "
                f"stages={self.stages}>")  # fmt: skip


def _code_version(spec: StepSpec) -> str:
    return f"{spec.code_version}/{__version__}" if spec.builtin else spec.code_version
