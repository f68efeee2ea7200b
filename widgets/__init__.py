"""jwinteract.widgets: notebook widgets that observe a Session and call it.

Installed from the repository's top-level ``widgets/`` folder as
``jwinteract.widgets``. Widgets never compute: every number they show comes
from the Session (or from the engine functions in ``jwinteract.inspect``).
Needs the ``widgets`` extra: ``pip install "jwinteract[widgets]"``.
"""

from ._base import SessionWidget, ensure_bokeh
from ._image import BokehImage
from .compare import Compare, SweepView
from .image_viewer import ImageViewer
from .jdaviz import open_in_jdaviz
from .ramp_inspector import RampInspector
from .stage_runner import StageRunner

__all__ = [
    "BokehImage",
    "Compare",
    "ImageViewer",
    "RampInspector",
    "SessionWidget",
    "StageRunner",
    "SweepView",
    "ensure_bokeh",
    "open_in_jdaviz",
]
