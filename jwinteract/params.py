"""Declared step parameters: type, default, bounds, choices and help.

A :class:`Param` carries everything needed to validate a value, build a form
widget, write a jwst-style parameter file and record provenance. The names and
defaults are those of the jwst step of the same name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ParameterError

__all__ = ["Param", "validate_params"]

_KINDS = {"float": float, "int": int, "bool": bool, "str": str}


@dataclass(frozen=True)
class Param:
    """One step parameter.

    Parameters
    ----------
    name : str
        The jwst parameter name, e.g. ``"rejection_threshold"``.
    kind : {"float", "int", "bool", "str"}
        The value type.
    default : object
        The jwst default (``None`` allowed when ``allow_none`` is true).
    help : str
        One line of help text, shown in forms and ``--help``.
    min, max : float, optional
        Inclusive bounds for numeric parameters.
    choices : tuple, optional
        The allowed values (``option(...)`` in a jwst spec).
    allow_none : bool
        Whether ``None`` is a valid value.
    widget_min, widget_max : float, optional
        A sensible slider range for forms when ``max`` is open-ended.
    """

    name: str
    kind: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    allow_none: bool = False
    widget_min: float | None = None
    widget_max: float | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"Param {self.name!r}: kind must be one of {sorted(_KINDS)}")
        if self.default is not None or not self.allow_none:
            self.validate(self.default)

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to the declared type, or raise.

        Raises
        ------
        ParameterError
            If the value has the wrong type, lies outside the bounds or is not
            one of the choices.
        """
        if value is None:
            if self.allow_none:
                return None
            raise ParameterError(f"parameter {self.name!r} may not be None")
        py = _KINDS[self.kind]
        if self.kind == "bool":
            if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
                value = value.lower() in {"true", "1", "yes"}
            if not isinstance(value, bool | int) or isinstance(value, float):
                raise ParameterError(
                    f"parameter {self.name!r} must be true or false, got {value!r}"
                )
            value = bool(value)
        elif self.kind in ("float", "int"):
            if isinstance(value, bool):
                raise ParameterError(f"parameter {self.name!r} must be a number, got {value!r}")
            if isinstance(value, str) and self.allow_none and value.lower() == "none":
                return None
            try:
                converted = py(float(value)) if self.kind == "float" else int(str(value), 10)
            except (TypeError, ValueError):
                try:
                    f = float(value)
                except (TypeError, ValueError):
                    raise ParameterError(
                        f"parameter {self.name!r} must be a {self.kind}, got {value!r}"
                    ) from None
                if self.kind == "int" and f.is_integer():
                    converted = int(f)
                else:
                    raise ParameterError(
                        f"parameter {self.name!r} must be a {self.kind}, got {value!r}"
                    ) from None
            if self.kind == "float" and math.isnan(converted):
                raise ParameterError(f"parameter {self.name!r} may not be NaN")
            value = converted
            if self.min is not None and value < self.min:
                raise ParameterError(
                    f"parameter {self.name!r} = {value} is below its minimum {self.min}"
                )
            if self.max is not None and value > self.max:
                raise ParameterError(
                    f"parameter {self.name!r} = {value} is above its maximum {self.max}"
                )
        else:
            if not isinstance(value, str):
                raise ParameterError(f"parameter {self.name!r} must be a string, got {value!r}")
            if self.allow_none and value.lower() == "none":
                return None
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"parameter {self.name!r} = {value!r} is not one of {list(self.choices)}"
            )
        return value

    def describe(self) -> dict:
        """The declaration as a plain dict (for forms, docs and JSON)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "help": self.help,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices else None,
            "allow_none": self.allow_none,
        }


def validate_params(
    step_name: str, declared: Mapping[str, Param], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate ``values`` against ``declared`` and return a converted copy.

    Unknown names raise :class:`ParameterError` naming the step and listing
    the parameters it does have.
    """
    out = {}
    for key, value in values.items():
        if key not in declared:
            known = ", ".join(sorted(declared)) or "(none)"
            raise ParameterError(
                f"step {step_name!r} has no parameter {key!r}; its parameters are: {known}"
            )
        try:
            out[key] = declared[key].validate(value)
        except ParameterError as exc:
            raise ParameterError(f"step {step_name!r}: {exc}") from None
    return out
