"""Step declarations and the step registry.

A step is *declared*, not hand-wired: :class:`StepSpec` holds its jwst name,
version, parameters, reference types and where it applies. The Session, the
CLI, parameter files, widgets and provenance are all derived from it.

The callable behind a step is a thin adapter with the signature::

    func(model, refs, *, progress, **params) -> DataModel | dict[str, DataModel] | Skipped

``model`` is the primary product so far (never to be modified), ``refs`` maps
each reference type to an opened reference model (or ``None`` for ``N/A``),
``progress`` is a callable ``progress(fraction, message="")``. The numerical
work lives in :mod:`jwinteract.algorithms` as functions on plain arrays.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..errors import UnknownStepError
from ..params import Param, validate_params

__all__ = [
    "StepSpec",
    "Skipped",
    "step",
    "register",
    "get_step",
    "registered_steps",
    "not_implemented_step",
]


class Skipped(NamedTuple):
    """Returned by a step that decides, from its input, that it has nothing to do.

    The Session records ``SKIPPED`` in the step's ``S_*`` keyword, as jwst does
    (e.g. group_scale when FRMDIVSR equals NFRAMES).
    """

    model: Any
    reason: str


@dataclass(frozen=True)
class StepSpec:
    """The declaration of one calibration step.

    Parameters
    ----------
    name : str
        The jwst step alias (``"jump"``, ``"ramp_fit"``...).
    func : callable or None
        The adapter (see module docstring). ``None`` for a recipe step that
        is not implemented yet.
    version : str
        Bumped whenever the step's output changes; part of every cache key.
    params : tuple of Param
        The step parameters, with jwst names and defaults.
    reference_types : tuple of str
        CRDS reference types the step needs (``"gain"``, ``"readnoise"``...).
    cal_step : str or None
        The ``meta.cal_step`` attribute that records the step (``S_*`` keyword).
    jwst_class : str or None
        Dotted path of the corresponding jwst step class, for differential tests.
    instruments, exp_types : frozenset or None
        Where the step applies; ``None`` means everywhere.
    skip_default : bool
        Whether jwst skips the step by default.
    per_product : bool
        If true the adapter is applied to every product of the state (e.g.
        gain_scale on both ``rate`` and ``rateints``), otherwise to the primary.
    description : str
        One line for tables and forms.
    """

    name: str
    func: Callable | None
    version: str = "1"
    params: tuple[Param, ...] = ()
    reference_types: tuple[str, ...] = ()
    cal_step: str | None = None
    jwst_class: str | None = None
    instruments: frozenset[str] | None = None
    exp_types: frozenset[str] | None = None
    skip_default: bool = False
    per_product: bool = False
    description: str = ""
    builtin: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def implemented(self) -> bool:
        return self.func is not None

    @property
    def param_map(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def defaults(self) -> dict[str, Any]:
        """The declared default of every parameter."""
        return {p.name: p.default for p in self.params}

    def resolve_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with validated ``overrides``."""
        values = self.defaults()
        values.update(validate_params(self.name, self.param_map, overrides or {}))
        return values

    def applies_to(self, instrument: str | None, exp_type: str | None) -> bool:
        if (
            self.instruments is not None
            and instrument
            and instrument.upper() not in self.instruments
        ):
            return False
        if self.exp_types is not None and exp_type and exp_type.upper() not in self.exp_types:
            return False
        return True

    @property
    def code_version(self) -> str:
        """Version used in cache keys.

        Built-in steps use their declared version. A user step also hashes its
        function's source, so editing the function invalidates its results
        without a manual version bump.
        """
        if self.builtin or self.func is None:
            return self.version
        try:
            src = inspect.getsource(self.func)
        except (OSError, TypeError):
            src = getattr(self.func, "__qualname__", repr(self.func))
        return f"{self.version}+{hashlib.sha256(src.encode()).hexdigest()[:12]}"


_REGISTRY: dict[str, StepSpec] = {}


def register(spec: StepSpec, *, replace: bool = False) -> StepSpec:
    """Add ``spec`` to the global registry.

    Raises
    ------
    ValueError
        If a different step of that name exists and ``replace`` is false.
    """
    old = _REGISTRY.get(spec.name)
    if old is not None and old is not spec and not replace:
        raise ValueError(
            f"a step named {spec.name!r} is already registered; pass replace=True to "
            "replace it, or give your step another name"
        )
    _REGISTRY[spec.name] = spec
    return spec


def get_step(name: str) -> StepSpec:
    """The registered step called ``name``."""
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownStepError(f"no step named {name!r}; known steps: {known}") from None


def registered_steps() -> dict[str, StepSpec]:
    """A copy of the registry (name -> spec)."""
    _ensure_builtins()
    return dict(_REGISTRY)


def step(
    name: str,
    *,
    params: Iterable[Param] = (),
    reference_types: Iterable[str] = (),
    version: str = "1",
    cal_step: str | None = None,
    description: str = "",
    per_product: bool = False,
    instruments: Iterable[str] | None = None,
    exp_types: Iterable[str] | None = None,
    register_it: bool = True,
    replace: bool = False,
    **extra: Any,
) -> Callable[[Callable], StepSpec]:
    """Decorator that declares a step from an adapter function.

    Examples
    --------
    >>> from jwinteract import Param, step
    >>> @step("scale_by", params=[Param("factor", "float", 1.0, "multiply the ramp by this")],
    ...       register_it=False)
    ... def scale_by(model, refs, *, progress, factor):
    ...     from jwinteract.models import derive
    ...     return derive(model, data=model.data * factor)
    >>> scale_by.name, scale_by.defaults()
    ('scale_by', {'factor': 1.0})
    """

    def wrap(func: Callable) -> StepSpec:
        spec = StepSpec(
            name=name,
            func=func,
            version=version,
            params=tuple(params),
            reference_types=tuple(reference_types),
            cal_step=cal_step,
            description=description or (inspect.getdoc(func) or "").split("\n")[0],
            per_product=per_product,
            instruments=frozenset(i.upper() for i in instruments) if instruments else None,
            exp_types=frozenset(e.upper() for e in exp_types) if exp_types else None,
            builtin=bool(extra.pop("builtin", False)),
            jwst_class=extra.pop("jwst_class", None),
            skip_default=bool(extra.pop("skip_default", False)),
            extra=dict(extra),
        )
        if register_it:
            register(spec, replace=replace)
        return spec

    return wrap


def not_implemented_step(name: str, *, cal_step: str | None = None, **kw: Any) -> StepSpec:
    """A placeholder declaration for a recipe step that is not implemented yet."""
    return StepSpec(name=name, func=None, cal_step=cal_step, builtin=True, **kw)


_LOADED = False


def _ensure_builtins() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import _builtin  # noqa: F401  (registers the built-in steps)
