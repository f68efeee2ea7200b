"""jwinteract.widgets: notebook widgets that observe a Session and call it.

Installed from the repository's top-level ``widgets/`` folder as
``jwinteract.widgets``. Widgets never compute: every number they show comes
from the Session. (StageRunner, RampInspector, ImageViewer and Compare arrive
with the widgets issue.)
"""
