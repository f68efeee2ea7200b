"""Calibration steps: declarations (one module per step) and the registry.

Use :func:`step` to declare your own step and :meth:`Session.insert_step` /
:meth:`Session.replace_step` to put it into a recipe.
"""

from .base import (
    Skipped,
    StepSpec,
    get_step,
    not_implemented_step,
    register,
    registered_steps,
    step,
)

__all__ = [
    "Skipped",
    "StepSpec",
    "get_step",
    "not_implemented_step",
    "register",
    "registered_steps",
    "step",
]
