"""ImageViewer: look at a rate, cal or i2d image of a Session (or any image model).

Stretch and limits use astropy.visualization; a DQ overlay shows the pixels
carrying chosen flags; hovering reads value, DQ flag names and (when the
product has a WCS) RA/Dec in the browser; clicking a pixel reads the exact,
full-resolution values in the kernel. Big images are sent binned and re-binned
finer on zoom (see :class:`~jwinteract.widgets._image.BokehImage`).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as ipw
import numpy as np

from jwinteract.events import EventKind, StepState
from jwinteract.models import PIXEL

from ._base import SessionWidget, css
from ._image import LIMITS, PALETTES, STRETCHES, BokehImage, bokeh_widget

__all__ = ["ImageViewer"]

_LAYOUT = ipw.Layout(width="auto")
# Catalog columns understood by show_catalog, in order of preference.
_XY_COLUMNS = (("xcentroid", "ycentroid"), ("x_centroid", "y_centroid"), ("xcenter", "ycenter"),
               ("x", "y"))  # fmt: skip


class ImageViewer(SessionWidget):
    """An image of a Session product or of a model, with stretch, limits and DQ overlay.

    Parameters
    ----------
    source : Session, DataModel or numpy.ndarray
        A Session: a dropdown chooses among the stage products that exist
        (``detector1: rate``, ``image2: cal``, ``image3: i2d`` ...) and the
        view follows re-runs. A model (``ImageModel``, ``CubeModel`` ...)
        or a 2-D/3-D array: shown as it is.
    product : str, optional
        With a Session: the product to show first, ``"rate"`` (the latest
        stage that has it) or ``"detector1:rate"``. Default: the primary
        product of the latest stage run.
    stretch : {"linear", "sqrt", "log", "asinh"}
    limits : str
        One of ``zscale``, ``min-max`` or a percentile such as ``99.5%``.
    palette : str
        A bokeh palette name (``Greys256``, ``Viridis256``, ``Inferno256`` ...).
    dq_flags : sequence of str
        Pixel DQ flags to overlay from the start (e.g. ``["JUMP_DET"]``).
    width : int
        Width of the image in screen pixels.
    max_display : int
        Largest number of pixels a side sent to the page (bigger images are binned).

    Attributes
    ----------
    image : BokehImage
        The figure and its data sources.
    model : DataModel or None
        The product shown.
    """

    def __init__(self, source: Any, *, product: str | None = None, stretch: str = "linear",
                 limits: str = "zscale", palette: str = "Greys256", dq_flags: tuple = (),
                 width: int = 480, max_display: int = 512):  # fmt: skip
        is_session = hasattr(source, "events") and hasattr(source, "products")
        if is_session:
            super().__init__(source)
        else:
            if product is not None:
                raise TypeError("ImageViewer(product=...) chooses a product of a Session; "
                                "the source given is a single model")  # fmt: skip
            self.session, self._unsubscribe = None, None
        unknown = [f for f in dq_flags if f not in PIXEL]
        if unknown:
            raise ValueError(f"unknown DQ flag(s) {unknown}; pixel flags are: {', '.join(PIXEL)}")
        self.model = None
        self.image = BokehImage(width=width, max_display=max_display, stretch=stretch,
                                limits=limits, palette=palette)  # fmt: skip
        self.image.on_tap(self._on_tap)
        self._busy = False  # set while the code (not the user) updates controls
        self._stage_product: tuple[str, str] | None = None

        self.product = ipw.Dropdown(description="product", options=[], layout=_LAYOUT)
        self.plane = ipw.IntSlider(description="integration", min=0, max=0,
                                   layout=ipw.Layout(display="none"))  # fmt: skip
        self.stretch = ipw.Dropdown(description="stretch", options=list(STRETCHES),
                                    value=stretch, layout=_LAYOUT)  # fmt: skip
        self.limits = ipw.Dropdown(description="limits", options=list(LIMITS), value=limits,
                                   layout=_LAYOUT)  # fmt: skip
        self.vmin = ipw.FloatText(description="min", layout=ipw.Layout(width="170px"))
        self.vmax = ipw.FloatText(description="max", layout=ipw.Layout(width="170px"))
        self.palette = ipw.Dropdown(description="colours", options=list(PALETTES),
                                    value=palette, layout=_LAYOUT)  # fmt: skip
        self.dq_flags = ipw.SelectMultiple(options=list(PIXEL), rows=8,
                                           layout=ipw.Layout(width="230px"))  # fmt: skip
        self.readout = css(ipw.HTML("<i>click a pixel for its exact value</i>"), "jwi-readout")
        self.status = css(ipw.HTML(), "jwi-status")

        self.product.observe(self._on_product, "value")
        self.plane.observe(lambda _: self._show_plane(), "value")
        self.stretch.observe(self._on_stretch, "value")
        self.limits.observe(self._on_limits, "value")
        self.vmin.observe(self._on_manual, "value")
        self.vmax.observe(self._on_manual, "value")
        self.palette.observe(lambda ch: setattr(self.image, "palette", ch["new"]), "value")
        self.dq_flags.observe(lambda _: self._update_overlay(), "value")

        top = [self.product] if is_session else []
        self._view = bokeh_widget(self.image.fig)
        self.widget = css(ipw.VBox([
            css(ipw.HBox([*top, self.plane]), "jwi-image-source"),
            css(ipw.HBox([self.stretch, self.limits, self.vmin, self.vmax, self.palette]),
                "jwi-image-controls"),
            ipw.HBox([self._view,
                      css(ipw.VBox([ipw.HTML("<b>DQ overlay</b>"), self.dq_flags]), "jwi-dq-overlay")]),
            self.readout, self.status,
        ]), "jwi-image-viewer")  # fmt: skip

        if is_session:
            self._refresh_products(select=product)
        else:
            self._set_model(source)
        if dq_flags:
            self.dq_flags.value = tuple(dq_flags)

    # ------------------------------------------------------------ sources
    def _available(self) -> list[tuple[str, tuple[str, str]]]:
        """(label, (stage, product)) of the 2-D/3-D products the Session has now."""
        options = []
        for stage in self.session.stages:
            states = {r.state for r in self.session.status(stage)}
            if not states & {StepState.DONE, StepState.CACHED} or states & {
                StepState.FRESH,
                StepState.STALE,
                StepState.FAILED,
                StepState.RUNNING,
            }:
                continue  # not run with the current settings (or nothing but pass-throughs)
            try:
                products = self.session.products(stage)
            except Exception:  # noqa: BLE001 - not available now; the status line says why
                continue
            for name, m in products.items():
                if getattr(m, "data", None) is not None and np.ndim(m.data) in (2, 3):
                    options.append((f"{stage}: {name}", (stage, name)))
        return options

    def _refresh_products(self, select: str | None = None) -> None:
        options = self._available()
        keys = [v for _, v in options]
        current = self._stage_product
        if select is not None:
            wanted = _match(select, keys)
        elif current in keys:
            wanted = current
        else:  # the primary product of the latest stage
            wanted = next((k for k in keys if k[0] == keys[-1][0]), None) if keys else None
        self._busy = True
        try:
            self.product.options = options
            self.product.value = wanted
        finally:
            self._busy = False
        if not options:
            self.status.value = ("<i>nothing to show yet: run a stage, e.g. "
                                 "<code>session.run('detector1')</code></i>")  # fmt: skip
            return
        self._load(wanted, force=wanted != current)

    def _load(self, key: tuple[str, str], *, force: bool = False) -> None:
        model = self.session.products(key[0])[key[1]]
        if model is self.model and not force:
            return
        keep = key == self._stage_product
        self._stage_product = key
        self._set_model(model, keep_view=keep)
        self.status.value = f"{html.escape(key[0])}: {html.escape(key[1])}"

    def _set_model(self, model: Any, *, keep_view: bool = False) -> None:
        self.model = model
        data = np.asarray(model.data if hasattr(model, "data") else model)
        if data.ndim not in (2, 3):
            raise ValueError(f"ImageViewer shows 2-D images (3-D: one plane at a time); "
                             f"got shape {data.shape}")  # fmt: skip
        self._busy = True
        try:
            self.plane.max = data.shape[0] - 1 if data.ndim == 3 else 0
            self.plane.layout.display = None if data.ndim == 3 else "none"
        finally:
            self._busy = False
        self._show_plane(keep_view=keep_view)

    def _show_plane(self, *, keep_view: bool = True) -> None:
        if self._busy or self.model is None:
            return
        m = self.model
        data = np.asarray(m.data if hasattr(m, "data") else m)
        dq = getattr(m, "dq", None)
        if data.ndim == 3:
            data = data[self.plane.value]
            dq = dq[self.plane.value] if dq is not None and np.ndim(dq) == 3 else dq
        meta = getattr(m, "meta", None)
        wcs = getattr(meta, "wcs", None) if meta is not None else None
        unit = (getattr(meta, "bunit_data", None) or "") if meta is not None else ""
        self.image.set_data(data, dq=dq, wcs=wcs, unit=unit, keep_view=keep_view)
        self._sync_limits()
        self._update_flag_counts()
        self._update_overlay()

    # ------------------------------------------------------------ controls
    def _on_product(self, change) -> None:
        if not self._busy and change["new"] is not None:
            self._load(change["new"], force=True)

    def _on_stretch(self, change) -> None:
        self.image.stretch = change["new"]

    def _on_limits(self, change) -> None:
        if self._busy:
            return
        self.image.limits = change["new"]
        self._sync_limits()

    def _on_manual(self, change) -> None:
        if self._busy:
            return
        self.image.limits = (float(self.vmin.value), float(self.vmax.value))
        self._busy = True
        try:
            self.limits.value = "manual"
        finally:
            self._busy = False

    def _sync_limits(self) -> None:
        self._busy = True
        try:
            self.vmin.value, self.vmax.value = self.image.vmin, self.image.vmax
        finally:
            self._busy = False

    def _update_flag_counts(self) -> None:
        dq = self.image.dq
        counts = dict.fromkeys(PIXEL, 0)
        if dq is not None:
            flagged = dq[dq != 0]  # usually a few per cent of pixels: count those only
            counts = {n: int(np.count_nonzero(flagged & b)) if b else 0 for n, b in PIXEL.items()}
        order = sorted(PIXEL, key=lambda n: counts[n] == 0)  # present flags first
        selected = self.dq_flags.value
        self._busy = True
        try:
            self.dq_flags.options = [(f"{n} ({counts[n]})", n) for n in order]
            self.dq_flags.value = tuple(selected)
        finally:
            self._busy = False

    def _update_overlay(self) -> None:
        if self._busy:
            return
        flags = self.dq_flags.value
        if not flags or self.image.dq is None:
            self.image.set_overlay(None)
            return
        bits = np.uint32(sum(PIXEL[f] for f in flags))
        self.image.set_overlay((self.image.dq.astype(np.uint32, copy=False) & bits) != 0)

    def _on_tap(self, x: int, y: int) -> None:
        info = self.image.pixel_info(x, y)
        parts = [
            f"<b>x={x}, y={y}</b>",
            f"value {info['value']:.6g} {html.escape(self.image.color_bar.title or '')}",
        ]
        err = getattr(self.model, "err", None)
        if err is not None and np.ndim(err) >= 2:
            e = err[self.plane.value] if np.ndim(err) == 3 else err
            parts.append(f"&plusmn; {float(e[y, x]):.3g}")
        if "dq" in info:
            parts.append(f"DQ {info['dq']} {', '.join(info['dq_names']) or '(good)'}")
        if "ra" in info:
            parts.append(f"RA {info['ra']:.6f}, Dec {info['dec']:.6f}")
        self.readout.value = " &nbsp; ".join(parts)

    # ------------------------------------------------------------ catalog
    def show_catalog(self, table, *, x: str | None = None, y: str | None = None,
                     radius: float = 5.0, color: str = "#2ca02c", label: str | None = None) -> None:  # fmt: skip
        """Draw a circle at each source of ``table`` (e.g. an image3 ``_cat``).

        Pixel columns (``xcentroid``/``ycentroid``, ``x``/``y`` ... or those
        named by ``x``, ``y``) are used when present; otherwise ``sky_centroid``
        or ``ra``/``dec`` through the image's WCS. ``label`` names a column
        shown on hover (default ``label`` or ``id`` when present).
        """
        names = list(table.colnames)
        if x is None and y is None:
            x, y = next(((a, b) for a, b in _XY_COLUMNS if a in names and b in names), (None, None))
        if x is not None:
            px, py = np.asarray(table[x], float), np.asarray(table[y], float)
        elif self.image.wcs is not None and (
            "sky_centroid" in names or {"ra", "dec"} <= set(names)
        ):
            if "sky_centroid" in names:
                sky = table["sky_centroid"]
                ra, dec = sky.ra.deg, sky.dec.deg
            else:
                ra, dec = np.asarray(table["ra"], float), np.asarray(table["dec"], float)
            px, py = self.image.wcs.world_to_pixel_values(ra, dec)
        else:
            raise ValueError(f"show_catalog: no pixel columns ({', '.join('/'.join(p) for p in _XY_COLUMNS)}) "
                             f"and no sky columns with a WCS; the table has: {', '.join(names)}")  # fmt: skip
        label = label or next((c for c in ("label", "id") if c in names), None)
        labels = [str(v) for v in table[label]] if label else None
        self.image.show_points(px, py, radius=radius, color=color, labels=labels)

    def hide_catalog(self) -> None:
        """Remove the circles drawn by :meth:`show_catalog`."""
        self.image.clear_points()

    def close(self) -> None:
        """Stop observing the Session and close the widgets, the figure's view included."""
        super().close()
        self._view.close()

    # ------------------------------------------------------------ session events
    def on_event(self, event) -> None:
        if event.kind is EventKind.STAGE_FINISHED:
            self._refresh_products()
        elif event.kind is EventKind.PARAMS_CHANGED and self._stage_product:
            stage, name = self._stage_product
            if not any(s.startswith(f"{stage}.") for s in event.steps):
                return
            states = {r.state for r in self.session.status(stage)}
            if states & {StepState.FRESH, StepState.STALE, StepState.FAILED}:
                self.status.value = (f"{html.escape(stage)}: {html.escape(name)} &mdash; "
                                     f"<b>stale</b>: {html.escape(event.step or '')} changed; "
                                     "run the stage again to update")  # fmt: skip
            else:  # changed back to settings whose result is cached (e.g. after a sweep)
                self._refresh_products()


def _match(wanted: str, keys: list[tuple[str, str]]) -> tuple[str, str]:
    """The (stage, product) named by ``"rate"`` (latest stage) or ``"detector1:rate"``."""
    stage, _, name = wanted.replace(" ", "").rpartition(":")
    hits = [k for k in keys if k[1] == name and (not stage or k[0] == stage)]
    if not hits:
        have = ", ".join(f"{s}:{n}" for s, n in keys) or "none yet (run a stage first)"
        raise ValueError(f"product {wanted!r} is not available; available: {have}")
    return hits[-1]
