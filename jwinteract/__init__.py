"""jwinteract: interactive, cached, fast calibration of JWST data.

The engine: steps, recipes, the Session and its cache, reference files and the
simulator. Widgets live in :mod:`jwinteract.widgets` and are never imported
from here.
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    InputError,
    JwinteractError,
    ParameterError,
    ReferenceFileError,
    StepNotImplementedError,
    UnknownStepError,
)
from .params import Param  # noqa: E402
from .products import Products  # noqa: E402
from .steps import StepSpec, get_step, registered_steps, step  # noqa: E402


def __getattr__(name):
    # The Session pulls in crds and the cache; import it on first use so that
    # `import jwinteract` stays light.
    if name in ("Session", "StepFailedError"):
        from . import session

        return getattr(session, name)
    if name == "simulate":
        import importlib

        return importlib.import_module(".simulate", __name__)
    raise AttributeError(f"module 'jwinteract' has no attribute {name!r}")


__all__ = [
    "InputError",
    "JwinteractError",
    "Param",
    "ParameterError",
    "Products",
    "ReferenceFileError",
    "Session",
    "StepFailedError",
    "StepNotImplementedError",
    "StepSpec",
    "UnknownStepError",
    "get_step",
    "registered_steps",
    "step",
]
