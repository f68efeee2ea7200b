"""What every jwinteract widget shares.

A widget holds a Session, observes its events and calls its methods; it never
computes calibration results itself. The ipywidgets tree is ``.widget``;
displaying the object displays that tree. Unknown keyword arguments are
rejected (a typo must not be silently ignored).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as ipw

__all__ = ["SessionWidget", "ensure_bokeh", "css"]

_BOKEH_READY = False


def ensure_bokeh() -> None:
    """Load BokehJS inline, once per kernel.

    The default loads it from a CDN, which is unreachable offline and on some
    workshop networks; jupyter_bokeh's views then fail with "Could not create
    a view for model id".
    """
    global _BOKEH_READY
    if not _BOKEH_READY:
        from bokeh.io import output_notebook
        from bokeh.resources import INLINE

        output_notebook(INLINE, hide_banner=True)
        _BOKEH_READY = True


def css(widget: ipw.Widget, *classes: str) -> ipw.Widget:
    """Give ``widget`` stable CSS classes (``jwi-...``) for styling and browser tests."""
    for c in classes:
        widget.add_class(c)
    return widget


class SessionWidget:
    """Base class: a Session, an event subscription, an ipywidgets tree.

    Subclasses build ``self.widget`` in ``__init__`` and override
    :meth:`on_event`. Events arrive on the thread that runs the Session (the
    kernel's), so widget updates made there reach the page while a run goes on.
    """

    widget: ipw.Widget

    def __init__(self, session, **kwargs: Any):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}"
            )
        self.session = session
        self._unsubscribe = session.events.observe(self.on_event)

    def on_event(self, event) -> None:  # pragma: no cover - overridden
        """Called for every Session event."""

    def close(self) -> None:
        """Stop observing the Session and close the widgets."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.widget.close()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
