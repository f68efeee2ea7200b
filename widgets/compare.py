"""Compare two settings of a step side by side; show a parameter sweep.

Both widgets show what :func:`jwinteract.sweep.compare` and
:func:`jwinteract.sweep.sweep` computed; they compute nothing themselves.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as ipw
import numpy as np
from bokeh.layouts import row
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from jwinteract.sweep import Comparison, SweepResult, compare

from ._base import SessionWidget, css
from ._image import LIMITS, STRETCHES, BokehImage, bokeh_widget

__all__ = ["Compare", "SweepView", "table_html"]


def table_html(table) -> str:
    """An astropy Table as a compact HTML table (class ``jwi-table``)."""
    rows = table.pformat(html=True, max_lines=-1, max_width=-1, tableclass="jwi-table")
    style = ("<style>.jwi-table{border-collapse:collapse;font-size:12px}"
             ".jwi-table td,.jwi-table th{padding:2px 8px;border-bottom:1px solid #ddd;"
             "text-align:right}</style>")  # fmt: skip
    return style + "\n".join(rows)


def _numeric(column) -> bool:
    return np.issubdtype(column.dtype, np.number) or column.dtype == bool


def _setting_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "session settings"


class Compare(SessionWidget):
    """Two settings of one step: results A and B, their difference, the numbers.

    Runs :func:`jwinteract.sweep.compare` (the cache makes the shared
    upstream steps hits) and shows A and B with linked pan/zoom and the same
    colour limits, A - B with a diverging palette centred on zero, and a
    table of jump counts and rate changes. The Session's own settings are
    unchanged afterwards.

    Parameters
    ----------
    session : Session
    step : str
        The step whose parameters differ, e.g. ``"jump"``.
    params_a, params_b : dict
        Parameters of ``step`` for A and B, on top of the Session's settings.
    stage : str, optional
        The stage to run (default: the one holding ``step``).
    stretch, limits : str
        Initial stretch and limits of A and B (see ImageViewer).
    width : int
        Width of each image in screen pixels.

    Attributes
    ----------
    comparison : Comparison
        What is shown (``.a``, ``.b``, ``.difference``, ``.table``).
    images : dict of BokehImage
        ``"a"``, ``"b"`` and ``"difference"``.
    """

    def __init__(self, session, step: str, params_a: Mapping[str, Any],
                 params_b: Mapping[str, Any], *, stage: str | None = None,
                 stretch: str = "linear", limits: str = "zscale", width: int = 320):  # fmt: skip
        super().__init__(session)
        self.step, self.stage = step, stage
        self.params_a, self.params_b = dict(params_a), dict(params_b)
        a = BokehImage(width=width, stretch=stretch, limits=limits,
                       title=f"A: {_setting_text(self.params_a)}")  # fmt: skip
        b = BokehImage(width=width, stretch=stretch, limits=limits,
                       title=f"B: {_setting_text(self.params_b)}",
                       x_range=a.fig.x_range, y_range=a.fig.y_range)  # fmt: skip
        d = BokehImage(width=width, palette="RdBu", title="A - B",
                       x_range=a.fig.x_range, y_range=a.fig.y_range)  # fmt: skip
        self.images = {"a": a, "b": b, "difference": d}
        self.stretch = ipw.Dropdown(description="stretch", options=list(STRETCHES), value=stretch)
        self.limits = ipw.Dropdown(description="limits", options=[v for v in LIMITS if v != "manual"],
                                   value=limits)  # fmt: skip
        self.recompute = ipw.Button(description="Recompute", icon="refresh",
                                    tooltip="run both settings again with the Session's current settings")  # fmt: skip
        self.summary = css(ipw.HTML(), "jwi-compare-summary")
        self.stretch.observe(self._on_style, "value")
        self.limits.observe(self._on_style, "value")
        self.recompute.on_click(lambda _: self.refresh())
        # One bokeh document for the three: linked ranges must share a document.
        self._view = bokeh_widget(row(*(im.fig for im in self.images.values())))
        self.widget = css(ipw.VBox([
            ipw.HBox([self.stretch, self.limits, self.recompute]),
            self._view,
            self.summary,
        ]), "jwi-compare")  # fmt: skip
        self.comparison: Comparison | None = None
        self.refresh()

    def refresh(self) -> None:
        """Run the comparison again (e.g. after an upstream setting changed)."""
        c = compare(self.session, self.step, self.params_a, self.params_b, stage=self.stage)
        self.comparison = c
        unit = c.a.meta.bunit_data or ""
        a, b, d = (self.images[k] for k in ("a", "b", "difference"))
        a.set_data(np.asarray(c.a.data), dq=getattr(c.a, "dq", None), wcs=c.a.meta.wcs, unit=unit)
        b.set_data(np.asarray(c.b.data), dq=getattr(c.b, "dq", None), wcs=c.b.meta.wcs, unit=unit)
        d.set_data(c.difference, unit=unit)
        self._apply_limits()
        self.summary.value = self._summary_html(c)

    def close(self) -> None:
        """Stop observing the Session and close the widgets, the figures' view included."""
        super().close()
        self._view.close()

    def _apply_limits(self) -> None:
        a, b, d = (self.images[k] for k in ("a", "b", "difference"))
        a.limits = self.limits.value
        b.limits = (a.vmin, a.vmax)  # the same colours mean the same values in A and B
        # Symmetric about zero, from the pixels that changed: most pixels often do
        # not, and a percentile over all of them would be 0.
        changed = np.abs(d.data[np.isfinite(d.data) & (d.data != 0)])
        half = float(np.percentile(changed, 99)) if changed.size else 1.0
        d.limits = (-half, half)

    def _on_style(self, _change) -> None:
        for key in ("a", "b"):
            self.images[key].stretch = self.stretch.value
        self._apply_limits()

    def _summary_html(self, c: Comparison) -> str:
        rows = c.summary
        parts = []
        if "jump_groups" in c.table.colnames:
            parts.append(
                f"jumps: A {rows['A']['jump_groups']} groups in {rows['A']['jump_pixels']} pixels, "
                f"B {rows['B']['jump_groups']} groups in {rows['B']['jump_pixels']} pixels"
            )
        unit = html.escape(c.a.meta.bunit_data or "")
        parts.append(f"median A - B: {c.summary['median_difference']:.4g} {unit}")
        if c.summary["n_changed_1sigma"] is not None:
            parts.append(f"pixels changed by more than 1&sigma;: {c.summary['n_changed_1sigma']}")
        head = (f"<b>{html.escape(c.step)}</b> ({html.escape(c.stage)}, {html.escape(c.product)}): "
                + " &middot; ".join(parts))  # fmt: skip
        return f"<div>{head}</div>{table_html(c.table)}"


class SweepView:
    """A parameter sweep as a table and a plot of one result column against a parameter.

    Parameters
    ----------
    result : SweepResult
        From :func:`jwinteract.sweep.sweep` or ``session.sweep(...)``.
    x : str, optional
        The parameter on the x axis (default: the first swept one). With
        more than one swept parameter, each combination of the others is a
        line of its own.
    y : str, optional
        The result column on the y axis (default: ``jump_groups`` when the
        step is jump, else ``n_changed_1sigma``).
    width, height : int
        Size of the plot in screen pixels.
    """

    def __init__(self, result: SweepResult, *, x: str | None = None, y: str | None = None,
                 width: int = 420, height: int = 280):  # fmt: skip
        if not isinstance(result, SweepResult):
            raise TypeError(f"SweepView shows a SweepResult, got {type(result).__name__}")
        self.result = result
        table = result.table
        params = [p for p in result.parameters if _numeric(table[p])] or ["setting"]
        numeric = [c for c in table.colnames if c not in result.parameters and _numeric(table[c])]
        y = y or ("jump_groups" if "jump_groups" in numeric else "n_changed_1sigma")
        x = x or params[0]
        if x not in params or y not in numeric:
            raise ValueError(f"SweepView: x must be one of {params} and y one of {numeric}")
        self.x = ipw.Dropdown(description="x", options=params, value=x)
        self.y = ipw.Dropdown(description="y", options=numeric, value=y)
        self.table = css(ipw.HTML(table_html(table)), "jwi-sweep-table")
        self.fig = figure(width=width, height=height, tools="pan,wheel_zoom,reset,save",
                          toolbar_location="above")  # fmt: skip
        self.sources: list[ColumnDataSource] = []
        self.hover = HoverTool()
        self.fig.add_tools(self.hover)
        self.x.observe(lambda _: self._plot(), "value")
        self.y.observe(lambda _: self._plot(), "value")
        self._plot()
        self._view = bokeh_widget(self.fig)
        self.widget = css(ipw.VBox([
            ipw.HTML(f"<b>sweep of {html.escape(result.step)}</b> ({html.escape(result.stage)}, "
                     f"{len(result)} settings)"),
            ipw.HBox([self.x, self.y]),
            ipw.HBox([self._view, self.table]),
        ]), "jwi-sweep")  # fmt: skip

    def _plot(self) -> None:
        table, x, y = self.result.table, self.x.value, self.y.value
        xcol = np.arange(len(table)) if x == "setting" else np.asarray(table[x], dtype=float)
        others = [p for p in self.result.parameters if p != x]
        groups: dict[tuple, list[int]] = {}
        for i, entry in enumerate(table):
            groups.setdefault(tuple(entry[o] for o in others) if x != "setting" else (), []).append(
                i
            )
        self.fig.renderers = []
        if self.fig.legend:
            self.fig.legend.items = []
        self.fig.xaxis.axis_label, self.fig.yaxis.axis_label = x, y
        self.sources = []
        for n, (key, idx) in enumerate(groups.items()):
            xs = xcol[idx]
            order = np.argsort(xs)
            src = ColumnDataSource({"x": xs[order], "y": np.asarray(table[y][idx], float)[order]})
            colour = Category10_10[n % 10]
            label = ", ".join(f"{o}={v}" for o, v in zip(others, key, strict=False))
            kw = {"legend_label": label} if label else {}
            self.fig.line("x", "y", source=src, color=colour, **kw)
            self.fig.scatter("x", "y", source=src, color=colour, size=7, **kw)
            self.sources.append(src)
        self.hover.tooltips = [(x, "@x"), (y, "@y")]

    def close(self) -> None:
        """Close the widgets."""
        self.widget.close()
        self._view.close()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
