"""The part of a Session a user changes: parameters, skips, references, step order.

Every change is validated at once (a bad name or value raises before anything
runs) and announced with a ``params_changed`` event listing the steps it makes
stale, so widgets can mark them before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ParameterError, UnknownStepError
from .events import EventKind
from .params import Param
from .steps import StepSpec

__all__ = ["SessionSettings"]


class SessionSettings:
    """Mixin of :class:`~jwinteract.session.Session` holding the user's choices.

    Relies on the Session for ``stages``, ``steps_of``, ``step_spec``,
    ``_stage_name``, ``_stages_of_step`` and ``_emit``; owns ``_params``,
    ``_skips``, ``_save``, ``_ref_overrides``, ``_steps`` and ``_orders``.
    """

    def apply(self, steps: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply a jwst-style ``steps={...}`` dict (see the class docstring)."""
        for name, values in steps.items():
            if not isinstance(values, Mapping):
                raise ParameterError(
                    f"steps[{name!r}] must be a dict of parameters, got {type(values).__name__}"
                )
            self.set(name, **values)

    def set(self, step: str, **params: Any) -> None:
        """Set parameters of ``step`` (validated now); downstream becomes stale.

        ``skip=True`` skips the step, ``save_results=True`` writes its output
        when the stage is saved, ``override_<reftype>=path`` sets a reference.
        """
        spec = self.step_spec(step)
        if not self._stages_of_step(step):
            raise UnknownStepError(
                f"step {step!r} is not in this Session's recipe ({', '.join(self.stages)})"
            )
        declared = {}
        for key, value in params.items():
            if key == "skip":
                self._skips[step] = bool(get_param_bool("skip", value))
            elif key == "save_results":
                self._save[step] = bool(get_param_bool("save_results", value))
            elif key.startswith("override_"):
                reftype = key.removeprefix("override_")
                if reftype not in spec.reference_types:
                    raise ParameterError(
                        f"step {step!r} uses no {reftype!r} reference; its reference types are: "
                        f"{', '.join(spec.reference_types) or '(none)'}"
                    )
                self._ref_overrides.setdefault(step, {})[reftype] = value
            else:
                declared[key] = value
        spec.resolve_params({**self._params.get(step, {}), **declared})  # validates, raises
        self._params.setdefault(step, {}).update(declared)
        self._announce_change(step)

    def reset(self, step: str, *names: str) -> None:
        """Return parameters of ``step`` (all, or those named) to their defaults."""
        if names:
            for n in names:
                self._params.get(step, {}).pop(n, None)
        else:
            self._params.pop(step, None)
        self._announce_change(step)

    def skip(self, step: str, skip: bool = True) -> None:
        """Skip (or un-skip) ``step``."""
        self.set(step, skip=skip)

    def params(self, step: str) -> dict[str, Any]:
        """The parameter values ``step`` will run with."""
        return self.step_spec(step).resolve_params(self._params.get(step))

    def step_settings(self, step: str) -> dict[str, Any]:
        """What the user chose for ``step`` (not the defaults), as a plain copy.

        ``{"params": {...}, "skip": True/False/None, "references": {...}}``;
        ``None`` for skip means "not set" (the recipe's default applies). Give it
        back to :meth:`restore_step_settings` to undo later changes exactly.
        """
        return {
            "params": dict(self._params.get(step, {})),
            "skip": self._skips.get(step),
            "references": dict(self._ref_overrides.get(step, {})),
        }

    def restore_step_settings(self, step: str, settings: Mapping[str, Any]) -> None:
        """Put back what :meth:`step_settings` returned, "not set" included."""
        for store, value in ((self._params, settings["params"]), (self._skips, settings["skip"]),
                             (self._ref_overrides, settings["references"])):  # fmt: skip
            if value is None or value == {}:
                store.pop(step, None)
            else:
                store[step] = dict(value) if isinstance(value, dict) else value
        self._announce_change(step)

    def _announce_change(self, step: str) -> None:
        affected = []
        for stage in self.stages:
            order = self.steps_of(stage)
            if affected:
                affected += [(stage, s) for s in order]
            elif step in order:
                affected += [(stage, s) for s in order[order.index(step) :]]
        self._emit(
            EventKind.PARAMS_CHANGED, step=step, steps=tuple(f"{a}.{b}" for a, b in affected)
        )

    # ------------------------------------------------------------ custom steps
    def replace_step(self, name: str, spec: StepSpec) -> None:
        """Use ``spec`` wherever the recipe has step ``name``."""
        stages = self._stages_of_step(name)
        if not stages:
            raise UnknownStepError(f"step {name!r} is not in this Session's recipe")
        if spec.name != name:
            for stage in stages:
                order = self.steps_of(stage)
                order[order.index(name)] = spec.name
                self._orders[stage] = order
        self._steps[spec.name] = spec
        self._announce_change(spec.name)

    def insert_step(self, spec: StepSpec, *, after: str | None = None, before: str | None = None,
                    stage: str | None = None) -> None:  # fmt: skip
        """Insert a (user-declared) step into a stage, after or before a named step."""
        if (after is None) == (before is None):
            raise ParameterError("give exactly one of after= or before=")
        anchor = after or before
        stages = [self._stage_name(stage)] if stage else self._stages_of_step(anchor)
        if not stages or anchor not in self.steps_of(stages[0]):
            raise UnknownStepError(f"step {anchor!r} is not in this Session's recipe")
        order = self.steps_of(stages[0])
        if spec.name in order:
            raise ParameterError(f"step {spec.name!r} is already in stage {stages[0]}")
        order.insert(order.index(anchor) + (1 if after else 0), spec.name)
        self._orders[stages[0]] = order
        self._steps[spec.name] = spec
        self._announce_change(spec.name)


def get_param_bool(name: str, value: Any) -> bool:
    """``value`` as a bool, accepting what a command line or config file gives."""
    return Param(name, "bool", False, "").validate(value)
