"""RampInspector: click a pixel, see its ramp after each step, its flags and its fit.

An image (the rate, or one group of the ramp) on the left; clicking a pixel
draws that pixel's up-the-ramp samples of every integration after each chosen
step (raw, linearised, dark-subtracted...), marks the SATURATED, JUMP_DET and
DO_NOT_USE groups, and draws the line ramp_fit fitted; a readout gives the DQ
bit names and the rate ± err. Everything shown comes from
:class:`jwinteract.inspect.RampProbe`; the widget only lays it out. When the
Session finishes a run of the stage (say, jump again with another threshold)
the image, the flags and the fit of the current pixel follow.

Both figures are bokeh models inside ``jupyter_bokeh.BokehModel`` widgets, so
a tap in the browser reaches :meth:`RampInspector.handle_tap` in Python.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

import ipywidgets as ipw
import numpy as np
from bokeh.events import Tap
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d, TapTool
from bokeh.palettes import Category10_10, Greys256
from bokeh.plotting import figure

from jwinteract.errors import JwinteractError
from jwinteract.events import EventKind
from jwinteract.inspect import (
    DEFAULT_RAMP_STEPS,
    PixelRamp,
    RampProbe,
    flagged_pixels,
    image_choice,
)

from ._base import SessionWidget, css, ensure_bokeh
from ._image import bokeh_widget

__all__ = ["RampInspector"]

log = logging.getLogger("jwinteract")

#: Flag markers on the ramp plot: PixelRamp mask attribute -> (DQ name, marker, colour).
FLAG_MARKERS = {
    "saturated": ("SATURATED", "square", "#ff7f0e"),
    "jump": ("JUMP_DET", "triangle", "#d62728"),
    "do_not_use": ("DO_NOT_USE", "x", "#000000"),
}
_FIT_COLOR = "#9467bd"
_MAX_INTS_LISTED = 10  # integrations offered in the image menu (any can be passed as image=)
_EMPTY_RAMP = {"time": [], "value": [], "integration": [], "group": []}


class RampInspector(SessionWidget):
    """Pixel ramps, flags and fits of a Session's Detector1 products.

    Parameters
    ----------
    session : Session
    image : "rate" or (int, int)
        What the image shows first: ramp_fit's rate, or ``(integration, group)``
        (0-based) of the last available step of ``steps``.
    steps : sequence of str
        Steps whose output ramps can be overlaid (all shown at first).
    stage : str
        The stage of those steps (default ``"detector1"``).
    max_display_size : int
        The image is block-averaged to at most this many pixels a side (a 2048²
        float32 image would be a 16 MB notebook payload; 1024² is 4 MB).
        Taps map to full-resolution pixels whatever the averaging. The stretch is
        linear between the 1st and 99.5th percentiles; NaN pixels are red.

    Attributes
    ----------
    image_source : ColumnDataSource
        The image (``image``, ``x``, ``y``, ``dw``, ``dh``).
    ramp_sources : dict of str to ColumnDataSource
        One per step (``time``, ``value``, ``integration``, ``group``; NaN rows
        separate integrations), ``"fit"`` (NaN rows separate segments), and one
        per flag marker, by DQ name: ``"SATURATED"``, ``"JUMP_DET"``, ``"DO_NOT_USE"``.
    selected : (int, int) or None
        The pixel (y, x) shown.
    readout : ipywidgets.HTML
        DQ bit names, rate ± err, flagged groups.
    """

    def __init__(self, session, *, image: str | tuple[int, int] = "rate",
                 steps: Sequence[str] = DEFAULT_RAMP_STEPS, stage: str = "detector1",
                 max_display_size: int = 1024, **kwargs):  # fmt: skip
        super().__init__(session, **kwargs)
        try:
            image = image_choice(image)
            self.probe = RampProbe(session, steps=steps, stage=stage)
        except Exception:
            self._unsubscribe()
            self._unsubscribe = None
            raise
        ensure_bokeh()
        self.max_display_size = int(max_display_size)
        self.selected: tuple[int, int] | None = None
        self.ramp: PixelRamp | None = None  # what the plot shows (before any offset)
        self._image_shown: tuple | None = None  # (choice, cache key) in the image source
        self._extent: tuple[int, int] | None = None  # detector shape the axes were set for
        self._build_image()
        self._build_ramp_plot()
        self._build_controls(image)
        self.readout = css(ipw.HTML(self._message("Click a pixel of the image.")),
                           "jwi-pixel-readout")  # fmt: skip
        # The image goes into the views' initial render bundle; later changes are patches.
        self._show_image()
        self.image_view = css(bokeh_widget(self.image_figure), "jwi-ramp-image")
        self.ramp_view = css(bokeh_widget(self.ramp_figure), "jwi-ramp-plot")
        right = ipw.VBox(
            [ipw.HBox([self.step_choice, self.relative]), self.ramp_view, self.readout]
        )
        self.widget = css(
            ipw.VBox(
                [
                    ipw.HBox([self.image_choice, self.goto, self.goto_button, self.show_jumps]),
                    ipw.HBox([self.image_view, right]),
                ]
            ),
            "jwi-ramp-inspector",
        )

    # ------------------------------------------------------------------ building
    def _build_image(self) -> None:
        blank = np.full((1, 1), np.nan, np.float32)
        self.image_source = ColumnDataSource(
            {"image": [blank], "x": [-0.5], "y": [-0.5], "dw": [1], "dh": [1]}
        )
        self.marker_source = ColumnDataSource({"x": [], "y": []})
        self.jump_marks = ColumnDataSource({"x": [], "y": []})
        self.color_mapper = LinearColorMapper(palette=Greys256, low=0, high=1,
                                              nan_color="rgba(214, 39, 40, 0.5)")  # fmt: skip
        fig = figure(width=470, height=440, match_aspect=True, title="",
                     tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
                     x_axis_label="x (column)", y_axis_label="y (row)",
                     x_range=Range1d(-0.5, 0.5), y_range=Range1d(-0.5, 0.5))  # fmt: skip
        renderer = fig.image(image="image", x="x", y="y", dw="dw", dh="dh",
                             source=self.image_source, color_mapper=self.color_mapper)  # fmt: skip
        self.image_hover = HoverTool(renderers=[renderer], tooltips=[
            ("x", "$x{0}"), ("y", "$y{0}"), ("value", "@image{0.000}")])  # fmt: skip
        fig.add_tools(TapTool(renderers=[renderer]), self.image_hover)
        fig.scatter(
            "x", "y", source=self.jump_marks, marker="x", size=7, color="#ff7f0e", line_width=1.5
        )
        fig.scatter("x", "y", source=self.marker_source, marker="circle", size=16,
                    fill_alpha=0, line_color="#1f77b4", line_width=2)  # fmt: skip
        fig.add_layout(ColorBar(color_mapper=self.color_mapper, width=10), "right")
        fig.on_event(Tap, self.handle_tap)
        self.image_figure = fig

    def _build_ramp_plot(self) -> None:
        fig = figure(width=540, height=360, title="no pixel selected",
                     x_axis_label="time since reset (s)", y_axis_label="DN",
                     tools="pan,wheel_zoom,box_zoom,reset,save")  # fmt: skip
        self.ramp_sources: dict[str, ColumnDataSource] = {}
        self._step_renderers: dict[str, list] = {}
        hovered = []
        for i, step in enumerate(self.probe.steps):
            src = self.ramp_sources[step] = ColumnDataSource(dict(_EMPTY_RAMP))
            color = Category10_10[i % 10]
            line = fig.line("time", "value", source=src, color=color, legend_label=step,
                            line_width=1.5)  # fmt: skip
            points = fig.scatter("time", "value", source=src, color=color, size=5,
                                 legend_label=step, name=step)  # fmt: skip
            self._step_renderers[step] = [line, points]
            hovered.append(points)
        src = self.ramp_sources["fit"] = ColumnDataSource(dict(_EMPTY_RAMP))
        fig.line("time", "value", source=src, color=_FIT_COLOR, line_dash="dashed", line_width=2,
                 legend_label="fit (ramp_fit)")  # fmt: skip
        for label, marker, color in FLAG_MARKERS.values():
            src = self.ramp_sources[label] = ColumnDataSource(dict(_EMPTY_RAMP))
            hovered.append(fig.scatter("time", "value", source=src, marker=marker, size=13,
                                       fill_alpha=0.25, color=color, line_width=2,
                                       legend_label=label, name=label))  # fmt: skip
        fig.add_tools(HoverTool(renderers=hovered, tooltips=[
            ("", "$name"), ("integration", "@integration"), ("group", "@group"),
            ("time", "@time{0.000} s"), ("value", "@value{0.0} DN")]))  # fmt: skip
        # Bottom right: ramps rise from the bottom left, and an early jump sits
        # top left in relative plots.
        fig.legend.location = "bottom_right"
        fig.legend.click_policy = "hide"
        fig.legend.label_text_font_size = "8pt"
        self.ramp_figure = fig

    def _build_controls(self, image) -> None:
        self.image_choice = ipw.Dropdown(description="image", options=[("rate (ramp_fit)", "rate")],
                                         value="rate", layout=ipw.Layout(width="340px"))  # fmt: skip
        self._image_options(extra=image)
        self.image_choice.value = image
        self.image_choice.observe(lambda _: self._show_image(), "value")
        steps = list(self.probe.steps)
        self.step_choice = ipw.SelectMultiple(options=steps, value=steps, description="ramps",
                                              rows=min(len(steps), 5))  # fmt: skip
        self.step_choice.observe(lambda _: self._show_steps(), "value")
        self.relative = ipw.Checkbox(value=True, description="relative to group 0",
                                     tooltip="subtract each integration's first group, so raw "
                                     "and bias-subtracted ramps share one axis")  # fmt: skip
        self.relative.observe(lambda _: self._draw(), "value")
        self.show_jumps = css(ipw.Checkbox(value=False, description="mark pixels with jumps",
                                           indent=False), "jwi-show-jumps")  # fmt: skip
        self.show_jumps.observe(lambda _: self._mark_jumps(), "value")
        self.goto = css(ipw.Text(placeholder="y, x", description="go to",
                                 layout=ipw.Layout(width="180px")), "jwi-goto")  # fmt: skip
        self.goto_button = css(ipw.Button(description="show", layout=ipw.Layout(width="60px")),
                               "jwi-goto-button")  # fmt: skip
        self.goto_button.on_click(lambda _: self.go_to(self.goto.value))
        # Enter in the box (continuous_update off: the value changes on Enter/blur).
        self.goto.continuous_update = False
        self.goto.observe(
            lambda change: self.go_to(change["new"]) if change["new"] else None, "value"
        )

    def _image_options(self, extra=None) -> None:
        options = [("rate (ramp_fit)", "rate")]
        try:
            shape = self.probe.shape()
        except JwinteractError:
            shape = None
        if shape is not None:
            nints, ngroups = shape[:2]
            options += [(f"group {g}, integration {i + 1}", (i, g))
                        for i in range(min(nints, _MAX_INTS_LISTED)) for g in range(ngroups)]  # fmt: skip
        for value in (extra, self.image_choice.value):
            if value is not None and value not in [v for _, v in options]:
                options.append((f"group {value[1]}, integration {value[0] + 1}", value))
        if options != list(self.image_choice.options):
            current = self.image_choice.value
            self.image_choice.options = options
            self.image_choice.value = current

    # ------------------------------------------------------------------ image
    def _show_image(self) -> None:
        which = self.image_choice.value
        try:
            img = self.probe.image(which, max_size=self.max_display_size)
        except (JwinteractError, IndexError) as exc:
            self.image_figure.title.text = f"{which}: not available ({exc})"
            self._image_shown = None
            return
        shown = (which, img.key)
        if shown == self._image_shown:
            return
        self.image_source.data = {
            "image": [img.data], "x": [-0.5], "y": [-0.5],
            "dw": [img.data.shape[1] * img.factor], "dh": [img.data.shape[0] * img.factor],
        }  # fmt: skip
        self.color_mapper.update(low=img.vmin, high=img.vmax)
        block = f", {img.factor}x{img.factor} block means" if img.factor > 1 else ""
        self.image_figure.title.text = f"{img.label} [{img.unit}{block}]"
        self.image_hover.tooltips = [("x", "$x{0}"), ("y", "$y{0}"),
                                     ("mean" if img.factor > 1 else "value", "@image{0.000}")]  # fmt: skip
        if img.shape != self._extent:  # keep the user's zoom unless the detector changed
            ny, nx = self._extent = img.shape
            self.image_figure.x_range.update(start=-0.5, end=nx - 0.5)
            self.image_figure.y_range.update(start=-0.5, end=ny - 0.5)
        self._image_shown = shown

    # ------------------------------------------------------------------ selection
    def handle_tap(self, event: Tap) -> None:
        """A tap on the image (bokeh ``Tap`` event, plot coordinates): select that pixel."""
        if event.x is None or event.y is None:
            return
        y, x = int(np.floor(event.y + 0.5)), int(np.floor(event.x + 0.5))
        try:
            self.select(y, x)
        except IndexError:
            pass  # a tap beside the image

    def go_to(self, text: str, *, zoom: int = 20) -> None:
        """Select the pixel typed as ``"y, x"`` and zoom the image around it."""
        try:
            y, x = (int(float(v)) for v in str(text).replace(",", " ").split())
        except ValueError:
            self.readout.value = self._message(f"type a pixel as 'y, x' (got {text!r})")
            return
        try:
            self.select(y, x)
        except IndexError as exc:
            self.readout.value = self._message(str(exc))
            return
        fig = self.image_figure
        fig.x_range.start, fig.x_range.end = x - zoom, x + zoom
        fig.y_range.start, fig.y_range.end = y - zoom, y + zoom

    def _mark_jumps(self) -> None:
        if self.show_jumps.value:
            ys, xs = flagged_pixels(self.session, stage=self.probe.stage)
            self.jump_marks.data = {"x": xs, "y": ys}
        else:
            self.jump_marks.data = {"x": [], "y": []}

    def select(self, y: int, x: int) -> None:
        """Show pixel (y, x) (0-based row, column): its ramps, flags, fit and readout.

        Raises
        ------
        IndexError
            If the pixel is outside the detector array.
        """
        try:
            ramp, summary = self.probe.ramp(y, x), self.probe.summary(y, x)
        except JwinteractError as exc:  # nothing to show yet: say so, keep the pixel
            ramp, summary, message = None, None, self._message(str(exc))
        # (an IndexError propagates with the current selection unchanged)
        self.selected = (int(y), int(x))
        self.marker_source.data = {"x": [int(x)], "y": [int(y)]}
        self.ramp, self._summary = ramp, summary
        self._draw()
        if ramp is None:
            self.readout.value = message

    def _draw(self) -> None:
        """Fill the ramp sources (and readout) from ``self.ramp``."""
        ramp = self.ramp
        if ramp is None:
            for src in self.ramp_sources.values():
                src.data = dict(_EMPTY_RAMP)
            self.ramp_figure.title.text = "no pixel selected"
            return
        view = ramp.minus_first_group() if self.relative.value else ramp
        for step in self.probe.steps:
            self.ramp_sources[step].data = (
                _flat(view.times, view.data[step]) if step in view.data else dict(_EMPTY_RAMP)
            )
        self.ramp_sources["fit"].data = _fit_columns(view)
        base = view.data[view.dq_step]
        for key, (label, _, _) in FLAG_MARKERS.items():
            i, g = np.nonzero(getattr(view, key))
            self.ramp_sources[label].data = {"time": view.times[g], "value": base[i, g],
                                           "integration": i + 1, "group": g}  # fmt: skip
        self.ramp_figure.yaxis.axis_label = "DN − group 0" if self.relative.value else "DN"
        self.ramp_figure.title.text = f"pixel x={ramp.x}, y={ramp.y}"
        self._show_steps()
        self.readout.value = _readout_html(ramp, self._summary)

    def _show_steps(self) -> None:
        chosen = set(self.step_choice.value)
        for step, renderers in self._step_renderers.items():
            for r in renderers:
                r.visible = step in chosen

    # ------------------------------------------------------------------ session
    def on_event(self, event) -> None:
        """After a run of the stage, show the new products of the current image and pixel."""
        if event.kind is not EventKind.STAGE_FINISHED or event.stage != self.probe.stage:
            return
        if event.exposure not in (None, self.session.rootname):
            return  # another exposure of an association sharing the event log
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - a widget error must not stop a run
            log.warning("RampInspector: refresh failed (%s)", exc)
            self.readout.value = self._message(f"refresh failed: {exc}")

    def refresh(self) -> None:
        """Re-read the Session's current products (image options, image, current pixel)."""
        self._image_options()
        self._show_image()
        self._mark_jumps()
        if self.selected is not None:
            self.select(*self.selected)

    def close(self) -> None:
        """Stop observing the Session, close the views and let go of the held products."""
        super().close()
        for view in (self.image_view, self.ramp_view):
            view.close()
        self.probe.release()

    def _repr_mimebundle_(self, **kwargs):
        # A BokehView starts from its render bundle, and patches sent while no view
        # existed are lost: bring the bundles up to date before each display.
        for view in (self.image_view, self.ramp_view):
            view.update_from_model(view._model)
        return super()._repr_mimebundle_(**kwargs)

    @staticmethod
    def _message(text: str) -> str:
        return f"<div class='jwi-readout-message'>{html.escape(text)}</div>"


# ----------------------------------------------------------------------------- layout helpers


def _flat(times: np.ndarray, values: np.ndarray) -> dict:
    """[nints, ngroups] values as one column with a NaN row after each integration,
    so one line glyph draws every integration without joining them."""
    nints, ngroups = values.shape
    t = np.full((nints, ngroups + 1), np.nan)
    v = np.full((nints, ngroups + 1), np.nan)
    t[:, :ngroups], v[:, :ngroups] = times, values
    return {
        "time": t.ravel(), "value": v.ravel(),
        "integration": np.repeat(np.arange(1, nints + 1), ngroups + 1),
        "group": np.tile(np.r_[np.arange(ngroups), -1], nints),
    }  # fmt: skip


def _fit_columns(view: PixelRamp) -> dict:
    """The fitted segments, each followed by a NaN row (segments are not joined)."""
    if view.fit is None or not view.fit_segments:
        return dict(_EMPTY_RAMP)
    cols = {k: [] for k in _EMPTY_RAMP}
    for i, start, length in view.fit_segments:
        g = np.r_[np.arange(start, start + length), -1]
        cols["time"].append(np.where(g >= 0, view.times[g], np.nan))
        cols["value"].append(np.where(g >= 0, view.fit[i, g], np.nan))
        cols["integration"].append(np.full(g.size, i + 1))
        cols["group"].append(g)
    return {k: np.concatenate(v) for k, v in cols.items()}


def _fmt(value, spec: str = ".4g") -> str:
    return "—" if value is None else format(value, spec)


def _readout_html(ramp: PixelRamp, summary: dict) -> str:
    esc = html.escape
    rows = [("pixel", f"x = {ramp.x}, y = {ramp.y} (0-based)")]
    if summary.get("rate") is not None:
        rows.append(("rate", f"{_fmt(summary['rate'])} ± {_fmt(summary['err'])} DN/s "
                             f"(VAR_POISSON {_fmt(summary['var_poisson'])}, "
                             f"VAR_RNOISE {_fmt(summary['var_rnoise'])})"))  # fmt: skip
        per_int = ", ".join(
            f"{i + 1}: {_fmt(r)} ± {_fmt(e)}"
            for i, (r, e) in enumerate(
                zip(summary["rateints"], summary["rateints_err"], strict=True)
            )
        )
        rows.append(("per integration", per_int))
        rows.append(("rate DQ", ", ".join(summary["rate_dq_names"]) or "none"))
    else:
        rows.append(("rate", "— (ramp_fit has no current result)"))
    rows.append((f"PIXELDQ ({ramp.dq_step})", ", ".join(ramp.pixeldq_names) or "none"))
    for key, (label, _, _) in FLAG_MARKERS.items():
        i, g = np.nonzero(getattr(ramp, key))
        where = "; ".join(f"int {a + 1} group {b}" for a, b in zip(i, g, strict=True)) or "none"
        rows.append((f"{label} groups", where))
    if ramp.fit_source == "fitopt":
        rows.append(("fit", "ramp_fit segment slopes and intercepts (fitopt)"))
    elif ramp.fit_source == "rateints":
        rows.append(("fit", "integration slope, intercept estimated (run ramp_fit with "
                            "save_opt=True for the exact segment fits)"))  # fmt: skip
    for step, why in ramp.unavailable.items():
        rows.append((f"{step} not shown", why))
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th>"
                   f"<td style='text-align:left'>{esc(v)}</td></tr>" for k, v in rows)  # fmt: skip
    return f"<table class='jwi-readout-table'>{body}</table>"
