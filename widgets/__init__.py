"""jwinteract.widgets: notebook widgets that observe a Session and call it.

Installed from the repository's top-level ``widgets/`` folder as
``jwinteract.widgets``. Widgets never compute: every number they show comes
from the Session (or from the engine functions in ``jwinteract.inspect``).
Needs the ``widgets`` extra: ``pip install "jwinteract[widgets]"``.
"""

from ._base import SessionWidget, ensure_bokeh
from .ramp_inspector import RampInspector
from .stage_runner import StageRunner

__all__ = ["RampInspector", "SessionWidget", "StageRunner", "ensure_bokeh"]
