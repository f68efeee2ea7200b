"""BokehImage: one 2-D array in a bokeh figure, shared by the image widgets.

ImageViewer, Compare and (later) RampInspector, CubeViewer and SpectrumViewer
show images the same way: a figure whose pixel centres sit at integer
coordinates (0-based, as numpy and gwcs count), a stretch and limits computed
with :mod:`astropy.visualization`, a colour bar labelled in data units, a DQ
mask layer, point overlays (catalogs, a selected pixel), a hover readout and a
tap callback. A consumer calls :meth:`BokehImage.set_data` with a full-
resolution array and never deals with what is sent to the page.

What is sent is small: the stretched image travels as ``uint8`` colour indices
(the palette has 256 colours, so nothing visible is lost), and images larger
than ``max_display`` pixels a side are binned into blocks -- a 2048x2048
float32 rate is 16 MB, too heavy for a Binder page. Zooming in re-bins the
visible window at a finer scale, down to single pixels (a level-of-detail
view), so a cosmic ray is always inspectable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from astropy import visualization as viz
from bokeh import palettes
from bokeh.events import RangesUpdate, Tap
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    CustomJSHover,
    FixedTicker,
    HoverTool,
    LinearColorMapper,
    Range1d,
)
from bokeh.plotting import figure
from jupyter_bokeh import BokehModel

from jwinteract.models import PIXEL, dq_names

from ._base import ensure_bokeh

__all__ = ["BokehImage", "BokehView", "LIMITS", "PALETTES", "STRETCHES", "block_reduce",
           "bokeh_widget"]  # fmt: skip

STRETCHES = {"linear": viz.LinearStretch, "sqrt": viz.SqrtStretch, "log": viz.LogStretch,
             "asinh": viz.AsinhStretch}  # fmt: skip
#: Named limits. zscale is an interval (as in DS9 and astropy), so it is here.
LIMITS = ("zscale", "min-max", "99.9%", "99.5%", "99%", "98%", "95%", "90%", "manual")
PALETTES = ("Greys256", "Viridis256", "Inferno256", "Magma256", "Cividis256", "RdBu")
_LEVELS = 255  # colour indices 1..255 are data; 0 is "no data" (NaN)
_NO_DATA = "#00000000"  # transparent: the figure background shows through

# Decodes a DQ value into flag names in the browser (hover needs no kernel).
_DQ_JS = """
const flags = FLAGS;
const names = [];
for (const [name, bit] of flags) { if ((value & bit) !== 0) names.push(name); }
return names.length ? `${value >>> 0} (${names.join(", ")})` : `${value >>> 0}`;
"""
_DEG_JS = "let v = ref + value; if (wrap) { v = ((v % 360) + 360) % 360; } return v.toFixed(6);"


class BokehView(BokehModel):
    """A BokehModel whose close() may run twice (the widget's, then ``__del__``)."""

    _closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                super().close()
            except KeyError:  # jupyter_bokeh 4.1: the document already forgot this view
                pass


def bokeh_widget(fig) -> BokehView:
    """An ipywidget showing the bokeh ``fig`` (BokehJS loaded inline first)."""
    ensure_bokeh()
    return BokehView(fig)


def palette(name: str, n: int = _LEVELS) -> list[str]:
    """``n`` colours of the bokeh palette ``name`` (``"RdBu"``: diverging, blue to red)."""
    if name == "RdBu":
        return list(palettes.interp_palette(palettes.RdBu11, n))
    try:
        base = getattr(palettes, name)
    except AttributeError:
        raise ValueError(f"unknown palette {name!r}; choose one of {', '.join(PALETTES)}") from None
    return list(palettes.linear_palette(base, n))


def interval(limits: str | tuple[float, float]):
    """The astropy interval for a name in :data:`LIMITS` or a ``(vmin, vmax)`` pair."""
    if isinstance(limits, tuple):
        return viz.ManualInterval(*limits)
    if limits == "zscale":
        return viz.ZScaleInterval()
    if limits == "min-max":
        return viz.MinMaxInterval()
    if isinstance(limits, str) and limits.endswith("%"):
        return viz.PercentileInterval(float(limits[:-1]))
    raise ValueError(f"unknown limits {limits!r}; use one of {', '.join(LIMITS[:-1])} "
                     "or a (vmin, vmax) pair")  # fmt: skip


def block_reduce(arr: np.ndarray, factor: int, how: str = "mean") -> np.ndarray:
    """Bin a 2-D array into ``factor`` x ``factor`` blocks (edges padded).

    ``how``: ``"mean"`` (of the finite values; NaN where a block has none),
    ``"or"`` (bitwise, for DQ: a flagged pixel stays visible when binned) or
    ``"any"`` (for boolean masks).
    """
    if factor == 1:
        return arr
    ny, nx = arr.shape
    py, px = -ny % factor, -nx % factor
    fill = np.nan if how == "mean" else 0
    a = np.pad(arr.astype(np.float32, copy=False) if how == "mean" else arr,
               ((0, py), (0, px)), constant_values=fill)  # fmt: skip
    a = a.reshape((ny + py) // factor, factor, (nx + px) // factor, factor)
    if how == "or":
        return np.bitwise_or.reduce(a, axis=(1, 3))
    if how == "any":
        return a.any(axis=(1, 3))
    finite = np.isfinite(a)
    count = finite.sum(axis=(1, 3))
    total = np.where(finite, a, 0).sum(axis=(1, 3), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan).astype(np.float32)


class BokehImage:
    """A bokeh figure showing one 2-D array: stretch, limits, colour bar, overlays.

    Parameters
    ----------
    width : int
        Width of the image frame in screen pixels; the height follows the
        image's aspect ratio.
    max_display : int
        Largest number of display pixels a side; bigger images (or windows
        of them) are shown binned.
    stretch : {"linear", "sqrt", "log", "asinh"}
    limits : str or (float, float)
        A name in :data:`LIMITS` or a ``(vmin, vmax)`` pair.
    palette : str
        A name in :data:`PALETTES`.
    title : str
    x_range, y_range : bokeh Range1d, optional
        Share ranges with another BokehImage (linked pan and zoom).
    overlay_color : str
        Colour of the DQ mask layer (drawn half transparent).
    """

    def __init__(self, *, width: int = 480, max_display: int = 512, stretch: str = "linear",
                 limits: str | tuple[float, float] = "zscale", palette: str = "Greys256",
                 title: str = "", x_range: Range1d | None = None, y_range: Range1d | None = None,
                 overlay_color: str = "#ff2d55"):  # fmt: skip
        if stretch not in STRETCHES:
            raise ValueError(f"unknown stretch {stretch!r}; use one of {', '.join(STRETCHES)}")
        interval(limits)  # validates
        self.width, self.max_display = int(width), int(max_display)
        self._stretch, self._limits, self._palette = stretch, limits, palette
        self.data: np.ndarray | None = None
        self.dq: np.ndarray | None = None
        self.wcs = None
        self.vmin, self.vmax = 0.0, 1.0
        self.factor = 1
        self.window = (0, 1, 0, 1)  # y0, y1, x0, x1 of the array shown (full resolution)
        self._mask: np.ndarray | None = None
        self._display: np.ndarray = np.zeros((1, 1), np.float32)
        self._tap_callbacks: list[Callable[[int, int], None]] = []
        self._sky_ref = (0.0, 0.0)
        self.fig = figure(
            title=title, frame_width=self.width, frame_height=self.width,
            x_range=x_range or Range1d(-0.5, 0.5), y_range=y_range or Range1d(-0.5, 0.5),
            tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
            toolbar_location="above", x_axis_label="x (pixel)", y_axis_label="y (pixel)",
        )  # fmt: skip
        self.fig.grid.visible = False
        self.mapper = LinearColorMapper(palette=[_NO_DATA, *self._colours()], low=0, high=_LEVELS)
        self.source = ColumnDataSource(self._empty())
        self.renderer = self.fig.image(image="image", x="x", y="y", dw="dw", dh="dh",
                                       source=self.source, color_mapper=self.mapper)  # fmt: skip
        self.bar_mapper = LinearColorMapper(palette=self._colours(), low=1, high=_LEVELS)
        self.color_bar = ColorBar(color_mapper=self.bar_mapper, ticker=FixedTicker(ticks=[]),
                                  width=12, title="")  # fmt: skip
        self.fig.add_layout(self.color_bar, "right")
        self.overlay_mapper = LinearColorMapper(palette=[_NO_DATA, overlay_color], low=0, high=1)
        self.overlay_source = ColumnDataSource({"mask": [np.zeros((1, 1), np.uint8)], "x": [0.0],
                                                "y": [0.0], "dw": [1], "dh": [1]})  # fmt: skip
        self.overlay = self.fig.image(image="mask", x="x", y="y", dw="dw", dh="dh",
                                      source=self.overlay_source, global_alpha=0.5,
                                      color_mapper=self.overlay_mapper, visible=False)  # fmt: skip
        self.points_source = ColumnDataSource({"x": [], "y": [], "r": [], "label": []})
        self.points = self.fig.circle(x="x", y="y", radius="r", source=self.points_source,
                                      fill_alpha=0, line_width=1.5, line_color="#2ca02c")  # fmt: skip
        self._dq_fmt = CustomJSHover(code=_DQ_JS.replace("FLAGS", _flags_js()))
        self._ra_fmt = CustomJSHover(args={"ref": 0.0, "wrap": True}, code=_DEG_JS)
        self._dec_fmt = CustomJSHover(args={"ref": 0.0, "wrap": False}, code=_DEG_JS)
        self.hover = HoverTool(renderers=[self.renderer], formatters={
            "@value": "printf", "@dq": self._dq_fmt, "@ra": self._ra_fmt, "@dec": self._dec_fmt})  # fmt: skip
        self.fig.add_tools(
            self.hover, HoverTool(renderers=[self.points], tooltips=[("", "@label")])
        )
        self.fig.on_event(RangesUpdate, self._on_ranges)

    # ------------------------------------------------------------ data
    def set_data(self, data: np.ndarray, *, dq: np.ndarray | None = None, wcs=None,
                 unit: str = "", keep_view: bool = False) -> None:  # fmt: skip
        """Show ``data`` (2-D, full resolution; not copied, never modified).

        ``dq`` feeds the hover and :meth:`pixel_info`; ``wcs`` (any APE 14
        WCS, e.g. a gwcs) adds RA/Dec. ``keep_view`` keeps the zoom when the
        shape is unchanged (a re-run of the same product).
        """
        data = np.asarray(data)
        if data.ndim != 2:
            raise ValueError(f"BokehImage shows 2-D arrays; got shape {data.shape}")
        same = self.data is not None and self.data.shape == data.shape
        self.data, self.dq, self.wcs = data, None if dq is None else np.asarray(dq), wcs
        self._mask = None
        self.color_bar.title = unit
        if wcs is not None:
            ny, nx = data.shape
            self._sky_ref = tuple(
                float(v) for v in wcs.pixel_to_world_values((nx - 1) / 2, (ny - 1) / 2)
            )
            self._ra_fmt.args = {"ref": self._sky_ref[0], "wrap": True}
            self._dec_fmt.args = {"ref": self._sky_ref[1], "wrap": False}
        self._update_limits()
        if not (keep_view and same):
            self._reset_ranges()
            self.window = (0, data.shape[0], 0, data.shape[1])
            self.factor = self._factor_for(data.shape[0], data.shape[1])
        self._render()
        self.overlay.visible = False

    @property
    def stretch(self) -> str:
        return self._stretch

    @stretch.setter
    def stretch(self, name: str) -> None:
        if name not in STRETCHES:
            raise ValueError(f"unknown stretch {name!r}; use one of {', '.join(STRETCHES)}")
        self._stretch = name
        self._render_image()

    @property
    def limits(self) -> str | tuple[float, float]:
        """A name in :data:`LIMITS` or the ``(vmin, vmax)`` pair in force."""
        return self._limits

    @limits.setter
    def limits(self, limits: str | tuple[float, float]) -> None:
        if limits == "manual":
            limits = (self.vmin, self.vmax)
        interval(limits)
        self._limits = (
            tuple(float(v) for v in limits) if isinstance(limits, tuple | list) else limits
        )
        self._update_limits()
        self._render_image()

    @property
    def palette(self) -> str:
        return self._palette

    @palette.setter
    def palette(self, name: str) -> None:
        colours = palette(name)
        self._palette = name
        self.mapper.palette = [_NO_DATA, *colours]
        self.bar_mapper.palette = colours

    def _colours(self) -> list[str]:
        return palette(self._palette)

    def _update_limits(self) -> None:
        if self.data is None:
            return
        finite = self.data[np.isfinite(self.data)]
        if finite.size > 1_000_000:  # limits from a regular subsample: fast, same answer
            finite = finite[:: finite.size // 1_000_000 + 1]
        if finite.size == 0:
            self.vmin, self.vmax = 0.0, 1.0
            return
        vmin, vmax = interval(self._limits).get_limits(finite)
        if not vmax > vmin:
            vmax = vmin + max(abs(vmin) * 1e-6, 1e-12)
        self.vmin, self.vmax = float(vmin), float(vmax)

    # ------------------------------------------------------------ rendering
    def _factor_for(self, ny: int, nx: int) -> int:
        return max(1, math.ceil(max(ny, nx) / self.max_display))

    def _reset_ranges(self) -> None:
        ny, nx = self.data.shape
        for rng, n in ((self.fig.x_range, nx), (self.fig.y_range, ny)):
            rng.update(start=-0.5, end=n - 0.5, reset_start=-0.5, reset_end=n - 0.5)
        self.fig.frame_height = max(100, min(2 * self.width, round(self.width * ny / nx)))

    def _empty(self) -> dict:
        z = np.zeros((1, 1), np.float32)
        return {"image": [z.astype(np.uint8)], "value": [z], "dq": [z.astype(np.uint32)],
                "ra": [z], "dec": [z], "x": [0.0], "y": [0.0], "dw": [1], "dh": [1]}  # fmt: skip

    def _render(self) -> None:
        """Send the window: binned values, DQ, sky offsets and the stretched image."""
        y0, y1, x0, x1 = self.window
        f = self.factor
        cut = self.data[y0:y1, x0:x1]
        self._display = block_reduce(cut, f, "mean")
        nby, nbx = self._display.shape
        geometry = {"x": [x0 - 0.5], "y": [y0 - 0.5], "dw": [nbx * f], "dh": [nby * f]}
        dq = self.dq[y0:y1, x0:x1] if self.dq is not None else np.zeros_like(cut, np.uint32)
        columns = {"image": [self._scaled(self._display)], "value": [self._display],
                   "dq": [block_reduce(dq.astype(np.uint32, copy=False), f, "or")], **geometry}  # fmt: skip
        z = np.zeros((1, 1), np.float32)
        columns["ra"], columns["dec"] = [z], [z]
        tooltips = [("x, y", "$x{0}, $y{0}"),
                    ("value" if f == 1 else f"value ({f}x{f} mean)", "@value{%.5g}"),
                    ("DQ" if f == 1 else "DQ (any in bin)", "@dq{custom}")]  # fmt: skip
        if self.wcs is not None:
            yc = y0 + np.arange(nby) * f + (f - 1) / 2
            xc = x0 + np.arange(nbx) * f + (f - 1) / 2
            ra, dec = self.wcs.pixel_to_world_values(*np.meshgrid(xc, yc))
            # Offsets from a reference point: float32 keeps ~1e-9 deg that way.
            dra = (np.asarray(ra) - self._sky_ref[0] + 180.0) % 360.0 - 180.0
            columns["ra"] = [dra.astype(np.float32)]
            columns["dec"] = [(np.asarray(dec) - self._sky_ref[1]).astype(np.float32)]
            tooltips += [("RA", "@ra{custom}"), ("Dec", "@dec{custom}")]
        self.hover.tooltips = tooltips
        self.source.data = columns
        self.overlay_source.data = {"mask": [self._binned_mask()], **geometry}
        self._update_bar()

    def _render_image(self) -> None:
        """Only the colours changed (stretch, limits): resend the image column alone."""
        if self.data is None:
            return
        self.source.data["image"] = [self._scaled(self._display)]
        self._update_bar()

    def _norm(self) -> viz.ImageNormalize:
        return viz.ImageNormalize(vmin=self.vmin, vmax=self.vmax, stretch=STRETCHES[self._stretch](),
                              clip=True)  # fmt: skip

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        finite = np.isfinite(values)
        t = np.ma.filled(self._norm()(np.where(finite, values, self.vmin)), 0.0)
        index = 1 + np.rint(np.asarray(t) * (_LEVELS - 1))
        return np.where(finite, index, 0).astype(np.uint8)

    def _update_bar(self) -> None:
        t = np.linspace(0.0, 1.0, 5)
        values = self._norm().inverse(t)
        ticks = [float(1 + x * (_LEVELS - 1)) for x in t]
        self.color_bar.ticker.ticks = ticks
        self.color_bar.major_label_overrides = {k: f"{v:.4g}" for k, v in zip(ticks, values, strict=True)}  # fmt: skip

    # ------------------------------------------------------------ overlays
    def set_overlay(self, mask: np.ndarray | None) -> None:
        """Show a full-resolution boolean ``mask`` as a half-transparent layer (None hides it)."""
        if mask is not None and (self.data is None or np.shape(mask) != self.data.shape):
            raise ValueError("the overlay mask must have the shape of the image")
        self._mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.overlay_source.data["mask"] = [self._binned_mask()]
        self.overlay.visible = self._mask is not None and bool(self._mask.any())

    def _binned_mask(self) -> np.ndarray:
        if self._mask is None:
            return np.zeros((1, 1), np.uint8)
        y0, y1, x0, x1 = self.window
        return block_reduce(self._mask[y0:y1, x0:x1], self.factor, "any").astype(np.uint8)

    def show_points(self, x: Sequence[float], y: Sequence[float], *, radius: float = 5.0,
                    color: str = "#2ca02c", labels: Sequence[str] | None = None) -> None:  # fmt: skip
        """Draw circles of ``radius`` pixels at pixel positions ``(x, y)``."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        labels = [str(v) for v in labels] if labels is not None else [""] * len(x)
        self.points.glyph.line_color = color
        self.points_source.data = {"x": x, "y": y, "r": np.full(len(x), float(radius)),
                                   "label": labels}  # fmt: skip

    def clear_points(self) -> None:
        """Remove the circles drawn by :meth:`show_points`."""
        self.points_source.data = {"x": [], "y": [], "r": [], "label": []}

    # ------------------------------------------------------------ interaction
    def on_tap(self, callback: Callable[[int, int], None]) -> None:
        """Call ``callback(x, y)`` with the (full-resolution) pixel a user clicks."""
        if not self._tap_callbacks:
            self.fig.on_event(Tap, self._on_tap)
        self._tap_callbacks.append(callback)

    def _on_tap(self, event) -> None:
        if self.data is None or event.x is None or event.y is None:
            return
        x, y = int(round(event.x)), int(round(event.y))
        if 0 <= y < self.data.shape[0] and 0 <= x < self.data.shape[1]:
            for cb in list(self._tap_callbacks):
                cb(x, y)

    def _on_ranges(self, event) -> None:
        if None not in (event.x0, event.x1, event.y0, event.y1):
            self.set_view(event.x0, event.x1, event.y0, event.y1)

    def set_view(self, x0: float, x1: float, y0: float, y1: float) -> None:
        """Re-bin for the visible ranges: finer as the user zooms in (level of detail).

        The window sent is the visible area plus a margin, so small pans
        need no new data.
        """
        if self.data is None:
            return
        ny, nx = self.data.shape
        if self._factor_for(ny, nx) == 1 and self.window == (0, ny, 0, nx):
            return  # small image: always shown whole at full resolution
        w, h = abs(x1 - x0), abs(y1 - y0)
        xa, xb = sorted((x0, x1))
        ya, yb = sorted((y0, y1))
        wx0, wx1 = max(0, math.floor(xa - w / 2)), min(nx, math.ceil(xb + w / 2) + 1)
        wy0, wy1 = max(0, math.floor(ya - h / 2)), min(ny, math.ceil(yb + h / 2) + 1)
        if wx1 <= wx0 or wy1 <= wy0:
            return
        factor = self._factor_for(wy1 - wy0, wx1 - wx0)
        if factor == self._factor_for(ny, nx):  # zoomed out: the whole image, binned
            wy0, wy1, wx0, wx1 = 0, ny, 0, nx
        if (wy0, wy1, wx0, wx1) == self.window and factor == self.factor:
            return
        self.window, self.factor = (wy0, wy1, wx0, wx1), factor
        self._render()

    def pixel_info(self, x: int, y: int) -> dict:
        """Full-resolution value, DQ (and names) and RA/Dec of pixel ``(x, y)``."""
        info = {"x": int(x), "y": int(y), "value": float(self.data[y, x])}
        if self.dq is not None:
            info["dq"] = int(self.dq[y, x])
            info["dq_names"] = dq_names(info["dq"])
        if self.wcs is not None:
            ra, dec = self.wcs.pixel_to_world_values(x, y)
            info["ra"], info["dec"] = float(ra), float(dec)
        return info


def _flags_js() -> str:
    pairs = ", ".join(f'["{name}", {bit}]' for name, bit in PIXEL.items() if bit)
    return f"[{pairs}]"
