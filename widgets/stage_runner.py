"""StageRunner: run a Session stage by stage, change parameters, see what is stale.

One tab per stage; in each, the ordered steps with a skip toggle, a status
chip, the last run time, "run from here" / "run to here" buttons and a
parameter form built from the step's declaration. Every value shown comes
from the Session (``status()``, ``params()``) or its events; every action is
a Session call (``set``, ``skip``, ``run``).

Stable CSS classes (browser tests): ``jwi-stage-runner`` (root),
``jwi-run-stage`` + ``jwi-run-stage-<stage>``, ``jwi-step-<step>``,
``jwi-chip-<step>`` (+ ``jwi-state-<state>``), ``jwi-param-<step>-<param>``,
``jwi-skip-<step>``, ``jwi-run-from-<step>``, ``jwi-run-to-<step>``,
``jwi-progress``, ``jwi-log``; row, chip and run-button classes also come
stage-qualified (``jwi-chip-<stage>-<step>``) for steps in two stages.
"""

from __future__ import annotations

import html
import sys
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as ipw

from jwinteract.events import Event, EventKind, StepState
from jwinteract.params import Param

from ._base import SessionWidget, css

__all__ = ["StageRunner"]

#: Chip colours (background, text) per step state.
CHIP_COLOURS = {
    StepState.FRESH: ("#9e9e9e", "white"),
    StepState.STALE: ("#f0ad4e", "black"),
    StepState.CACHED: ("#5bc0de", "black"),
    StepState.RUNNING: ("#337ab7", "white"),
    StepState.DONE: ("#5cb85c", "white"),
    StepState.SKIPPED: ("#e0e0e0", "#555555"),
    StepState.FAILED: ("#d9534f", "white"),
    StepState.NOT_IMPLEMENTED: ("#f5f5f5", "#888888"),
}

# Step events: the chip state each one means, and its word in the stage summary.
_STEP_EVENTS = {
    EventKind.STEP_STARTED: (StepState.RUNNING, ""),
    EventKind.STEP_FINISHED: (StepState.DONE, "ran"),
    EventKind.CACHE_HIT: (StepState.DONE, "from cache"),
    EventKind.STEP_SKIPPED: (StepState.SKIPPED, "skipped"),
    EventKind.NOT_IMPLEMENTED: (StepState.NOT_IMPLEMENTED, "not implemented"),
    EventKind.STEP_FAILED: (StepState.FAILED, "failed"),
}
_FORM_SHOWN = 6  # parameters shown before the "more parameters" fold
_LOG_LINES = 1000
_BIG_FLOAT = sys.float_info.max
_BIG_INT = 2**53


class StageRunner(SessionWidget):
    """Run the stages of a Session step by step, with a form per step.

    Parameters
    ----------
    session : jwinteract.Session
        The Session to observe and drive.
    expanded : iterable of str, optional
        Steps whose parameter form starts open (default: ``jump``, so the jump
        rejection thresholds are on screen without a click).
    verbose : bool, optional
        Log every Session event, not only stage summaries and errors.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The root of the widget tree (CSS class ``jwi-stage-runner``).
    run_buttons : dict
        stage -> "Run stage" button.
    run_from_buttons, run_to_buttons : dict
        (stage, step) -> "run from here" / "run to here" button.
    param_controls : dict
        (step, param) -> form control; a step in several stages shares one.
    skip_controls : dict
        step -> skip checkbox.
    chips, seconds_labels : dict
        (stage, step) -> status chip (HTML) / last-run-time label.
    progress, progress_label : ipywidgets.FloatProgress, ipywidgets.Label
        Progress of the running stage and the step being run.
    log, log_text : ipywidgets.Accordion, ipywidgets.Textarea
        The collapsible log pane and its text.
    last_error : str or None
        The last error shown in the log.

    Examples
    --------
    >>> runner = StageRunner(session)                      # doctest: +SKIP
    >>> runner.param_controls["jump", "rejection_threshold"].value = 5.0  # doctest: +SKIP
    >>> runner.run_buttons["detector1"].click()            # doctest: +SKIP
    """

    def __init__(self, session, *, expanded: Iterable[str] = ("jump",), verbose: bool = False,
                 **kwargs: Any):  # fmt: skip
        self._built = False
        super().__init__(session, **kwargs)  # rejects unknown kwargs, subscribes
        try:
            self._build(set(expanded), verbose)
        except BaseException:
            self._unsubscribe()
            raise
        self._built = True
        self.refresh()

    # ------------------------------------------------------------ building
    def _build(self, expanded: set[str], verbose: bool) -> None:
        s = self.session
        self._root_name = getattr(s, "rootname", None)
        self._syncing = False
        self._running = self._failed_in_run = False
        self._counts: Counter = Counter()
        self._lines: deque[str] = deque(maxlen=_LOG_LINES)
        self._states: dict[tuple[str, str], str] = {}
        self._index: dict[tuple[str, str], tuple[int, int]] = {}
        self.last_error: str | None = None
        self.run_buttons: dict[str, ipw.Button] = {}
        self.run_from_buttons: dict[tuple[str, str], ipw.Button] = {}
        self.run_to_buttons: dict[tuple[str, str], ipw.Button] = {}
        self.param_controls: dict[tuple[str, str], ipw.ValueWidget] = {}
        self.skip_controls: dict[str, ipw.Checkbox] = {}
        self.chips: dict[tuple[str, str], ipw.HTML] = {}
        self.seconds_labels: dict[tuple[str, str], ipw.Label] = {}
        self.forms: dict[str, ipw.VBox] = {}
        self.form_toggles: dict[str, ipw.ToggleButton] = {}

        panels = [self._stage_panel(stage, expanded) for stage in s.stages]
        self.tabs = ipw.Tab(children=panels, titles=tuple(s.stages))
        self.progress = css(ipw.FloatProgress(0.0, min=0.0, max=1.0), "jwi-progress")
        self.progress_label = ipw.Label("")
        self.verbose_toggle = css(ipw.Checkbox(verbose, description="log every event",
                                               indent=False), "jwi-log-verbose")  # fmt: skip
        clear = _button("clear", "eraser", "empty the log", "jwi-log-clear")
        clear.on_click(lambda _: self._clear_log())
        self.log_text = ipw.Textarea("", disabled=True, layout={"width": "100%", "height": "200px"})
        pane = ipw.VBox([ipw.HBox([self.verbose_toggle, clear]), self.log_text])
        self.log = css(ipw.Accordion([pane], titles=("Log",), selected_index=None), "jwi-log")
        progress_row = ipw.HBox([self.progress, self.progress_label])
        self.widget = css(ipw.VBox([self.tabs, progress_row, self.log]), "jwi-stage-runner")

    def _stage_panel(self, stage: str, expanded: set[str]) -> ipw.VBox:
        pdef = self.session.pipelines.get(stage) if hasattr(self.session, "pipelines") else None
        title = f"<b>{html.escape(pdef.name if pdef else stage)}</b>"
        if pdef is not None and pdef.description:
            title += f" — {html.escape(pdef.description)}"
        button = _button(f"Run {stage}", "play", f"session.run({stage!r})", "jwi-run-stage",
                         f"jwi-run-stage-{stage}", button_style="primary")  # fmt: skip
        button.on_click(lambda _: self._run(stage))
        self.run_buttons[stage] = button
        steps = self.session.steps_of(stage)
        self._index.update({(stage, step): (i, len(steps)) for i, step in enumerate(steps)})
        rows = [self._step_row(stage, step, expanded) for step in steps]
        head = ipw.HBox([button, ipw.HTML(title)])
        return css(ipw.VBox([head, *rows]), "jwi-stage", f"jwi-stage-{stage}")

    def _step_row(self, stage: str, step: str, expanded: set[str]) -> ipw.VBox:
        spec = self.session.step_spec(step)
        ident = (stage, step)
        if step not in self.skip_controls:  # a step in two stages shares its skip and form
            skip = css(ipw.Checkbox(False, description="skip", indent=False,
                                    layout={"width": "60px"}), f"jwi-skip-{step}")  # fmt: skip
            skip.observe(lambda ch: self._on_skip(step, ch["new"]), "value")
            self.skip_controls[step] = skip
            self._make_form(step, spec, step in expanded)
        name = ipw.HTML(f"<code>{html.escape(step)}</code>", layout={"width": "190px"},
                        tooltip=spec.description or None)  # fmt: skip
        self.chips[ident] = css(ipw.HTML(layout={"width": "130px"}), f"jwi-chip-{step}",
                                f"jwi-chip-{stage}-{step}")  # fmt: skip
        self.seconds_labels[ident] = css(ipw.Label("", layout={"width": "80px"}),
                                         f"jwi-seconds-{step}", f"jwi-seconds-{stage}-{step}")  # fmt: skip
        frm = _button("from here", "step-forward", f"session.run({stage!r}, start={step!r})",
                      f"jwi-run-from-{step}", f"jwi-run-from-{stage}-{step}",
                      layout={"width": "110px"})  # fmt: skip
        to = _button("to here", "fast-forward", f"session.run({stage!r}, stop={step!r})",
                     f"jwi-run-to-{step}", f"jwi-run-to-{stage}-{step}",
                     layout={"width": "100px"})  # fmt: skip
        frm.on_click(lambda _: self._run(stage, start=step))
        to.on_click(lambda _: self._run(stage, stop=step))
        self.run_from_buttons[ident], self.run_to_buttons[ident] = frm, to
        parts = (self.chips[ident], self.seconds_labels[ident], self.form_toggles[step], frm, to)
        line = ipw.HBox([self.skip_controls[step], name, *parts])
        row = ipw.VBox([line, self.forms[step]])
        return css(row, f"jwi-step-{step}", f"jwi-step-{stage}-{step}")

    def _make_form(self, step: str, spec, open_: bool) -> None:
        controls = [self._control(step, p) for p in spec.params]
        shown, more = controls[:_FORM_SHOWN], controls[_FORM_SHOWN:]
        if more:  # long forms (jump has 35) keep the first few in view
            title = (f"more parameters ({len(more)})",)
            shown.append(ipw.Accordion([ipw.VBox(more)], titles=title, selected_index=None))
        form = css(ipw.VBox(shown, layout={"margin": "0 0 6px 60px"}), f"jwi-form-{step}")
        toggle = css(ipw.ToggleButton(open_ and bool(controls), description=f"params ({len(controls)})",
                                      disabled=not controls, layout={"width": "110px"},
                                      tooltip="show / hide the parameter form"),
                     f"jwi-params-toggle-{step}")  # fmt: skip
        form.layout.display = None if toggle.value else "none"
        toggle.observe(lambda ch: setattr(form.layout, "display", None if ch["new"] else "none"),
                       "value")  # fmt: skip
        self.forms[step], self.form_toggles[step] = form, toggle

    def _control(self, step: str, p: Param) -> ipw.ValueWidget:
        """A form control for Param ``p``: slider, checkbox, dropdown or text box."""
        common = {"description": p.name, "tooltip": p.help, "layout": {"width": "520px"},
                  "style": {"description_width": "240px"}}  # fmt: skip
        lo = p.min if p.min is not None else p.widget_min
        hi = p.max if p.max is not None else p.widget_max
        if p.kind == "bool":
            w = ipw.Checkbox(**common)
        elif p.choices is not None:
            options = [(str(c), c) for c in p.choices]
            options = [("None", None), *options] if p.allow_none else options
            w = ipw.Dropdown(options=options, **common)
        elif p.kind == "str" or p.allow_none:
            # Text for strings and for numbers that may be None (empty box = None).
            hint = "None" if p.allow_none else ""
            w = ipw.Text(placeholder=hint, continuous_update=False, **common)
        elif hi is not None:
            lo = lo if lo is not None else min(0, p.default)
            cls = ipw.FloatSlider if p.kind == "float" else ipw.IntSlider
            extra = {"step": (hi - lo) / 200, "readout_format": ".3g"} if p.kind == "float" else {}
            w = cls(min=lo, max=hi, continuous_update=False, **extra, **common)
        else:  # open-ended: a slider would have no sensible range
            big = _BIG_FLOAT if p.kind == "float" else _BIG_INT
            cls = ipw.BoundedFloatText if p.kind == "float" else ipw.BoundedIntText
            w = cls(min=p.min if p.min is not None else -big, max=big, **common)
        self._show_value(w, self.session.params(step)[p.name])
        w.observe(lambda ch: self._on_param(step, p, ch["new"]), "value")
        self.param_controls[(step, p.name)] = css(w, f"jwi-param-{step}-{p.name}")
        return w

    # ------------------------------------------------------------ user actions
    def _on_param(self, step: str, p: Param, value: Any) -> None:
        if self._syncing:
            return
        if isinstance(value, str) and p.allow_none and value.strip() in ("", "None"):
            value = None
        try:
            self.session.set(step, **{p.name: value})
        except Exception as exc:  # noqa: BLE001 - shown in the log, the control reverts
            self._error(f"{step}.{p.name}: {exc}")
            self._sync_controls(step)
        else:
            self._log(f"set {step}.{p.name} = {value!r}")

    def _on_skip(self, step: str, skip: bool) -> None:
        if self._syncing:
            return
        try:
            self.session.skip(step, skip)  # its params_changed event refreshes the chips
        except Exception as exc:  # noqa: BLE001
            self._error(f"skip {step}: {exc}")
            self.refresh()
        if self.skip_controls[step].value != skip:  # e.g. a reference is N/A for this step
            why = "; ".join(r.message for r in self.session.status() if r.step == step)
            self._log(f"{step} stays {'skipped' if not skip else 'unskipped'}: {why}")
        else:
            self._log(f"{'skip' if skip else 'unskip'} {step}")

    def _run(self, stage: str, *, start: str | None = None, stop: str | None = None) -> None:
        """Run ``stage`` through the Session; errors go to the log, not the notebook."""
        if self._running:
            return
        self._running, self._failed_in_run = True, False
        buttons = [*self.run_buttons.values(), *self.run_from_buttons.values(),
                   *self.run_to_buttons.values()]  # fmt: skip
        for b in buttons:
            b.disabled = True
        self.progress.bar_style = ""
        try:
            self.session.run(stage, start=start, stop=stop)
        except Exception as exc:  # noqa: BLE001 - a notebook user reads it in the log
            self.progress.bar_style = "danger"
            if not self._failed_in_run:  # a step_failed event has already said it
                self._error(str(exc) or type(exc).__name__)
        finally:
            self._running = False
            for b in buttons:
                b.disabled = False
            self.refresh()

    # ------------------------------------------------------------ session -> widgets
    def on_event(self, event: Event) -> None:
        """Update chips, progress and log from one Session event."""
        if not self._built or self._unsubscribe is None:
            return
        if event.exposure is not None and self._root_name not in (None, event.exposure):
            return  # another member of a shared event log
        try:
            self._handle(event)
        except Exception as exc:  # noqa: BLE001 - a raising observer would be dropped
            self._error(f"widget could not show {event.kind.value} event: {exc}")

    def _handle(self, ev: Event) -> None:
        kind, ident = ev.kind, (ev.stage, ev.step)
        if self.verbose_toggle.value:
            where = ".".join(x for x in (ev.stage, ev.step) if x)
            extra = f" ({ev.seconds:.2f} s)" if ev.seconds is not None else ""
            if kind is not EventKind.PROGRESS:
                self._log(f"{kind.value} {where}{extra} {ev.message}".rstrip())
        if kind is EventKind.PARAMS_CHANGED:
            if ev.step in self.forms:
                self._sync_controls(ev.step)
            self.refresh()
        elif kind is EventKind.STAGE_STARTED:
            self._counts = Counter()
            self.progress.value, self.progress.bar_style = 0.0, ""
            self.progress_label.value = f"{ev.stage}: starting"
        elif kind is EventKind.STAGE_FINISHED:
            self.progress.value, self.progress.bar_style = 1.0, "success"
            self.progress_label.value = f"{ev.stage}: finished in {ev.seconds or 0:.2f} s"
            parts = [f"{_STEP_EVENTS[k][1]} {n}" for k, n in self._counts.items()]
            self._log(f"{ev.stage} finished in {ev.seconds or 0:.2f} s: {', '.join(parts)}")
            self.refresh(ev.stage)
        elif kind is EventKind.PROGRESS and ident in self._index:
            i, n = self._index[ident]
            self.progress.value = (i + min(max(ev.fraction or 0.0, 0.0), 1.0)) / n
            self.progress_label.value = f"{ev.stage}: {ev.step} {ev.message}".rstrip()
        elif kind in _STEP_EVENTS and ident in self.chips:
            state = _STEP_EVENTS[kind][0]
            seconds = ev.seconds if kind is EventKind.STEP_FINISHED else None
            note = "from cache" if kind is EventKind.CACHE_HIT else None
            self._set_chip(ident, state, ev.message, seconds, note)
            i, n = self._index[ident]
            if kind is EventKind.STEP_STARTED:
                self.progress.value = i / n
                self.progress_label.value = f"{ev.stage}: {ev.step}"
            else:
                self._counts[kind] += 1
                self.progress.value = (i + 1) / n
            if kind is EventKind.STEP_FAILED:
                self.progress.bar_style, self._failed_in_run = "danger", True
                self._error(f"{ev.stage}.{ev.step} failed: {ev.message}")

    def refresh(self, stage: str | None = None) -> None:
        """Redraw chips, times and skip toggles from ``session.status()``."""
        try:
            rows = self.session.status(stage)
        except Exception as exc:  # noqa: BLE001
            self._error(f"status: {exc}")
            return
        seen: set[str] = set()
        for r in rows:
            if (r.stage, r.step) not in self.chips:
                continue
            note = "from cache" if r.state is StepState.DONE and r.seconds is None else None
            self._set_chip((r.stage, r.step), r.state, r.message, r.seconds, note)
            if r.step not in seen and r.step in self.skip_controls:
                seen.add(r.step)
                with self._quiet():
                    self.skip_controls[r.step].value = r.state is StepState.SKIPPED

    def chip_state(self, stage: str, step: str) -> str:
        """The state the chip of ``step`` in ``stage`` shows (``"done"``, ``"stale"``...)."""
        return self._states[(stage, step)]

    def _set_chip(self, ident, state: StepState, message: str, seconds, note) -> None:
        bg, fg = CHIP_COLOURS[state]
        chip = self.chips[ident]
        old = self._states.get(ident)
        if old is not None:
            chip.remove_class(f"jwi-state-{old.replace(' ', '-')}")
        chip.add_class(f"jwi-state-{state.value.replace(' ', '-')}")
        self._states[ident] = state.value
        chip.value = (
            f'<span title="{html.escape(message or state.value)}" style="background:{bg};'
            f'color:{fg};border-radius:9px;padding:1px 9px;font-size:85%">{state.value}</span>'
        )
        text = f"{seconds:.2f} s" if seconds is not None else note or ""
        label = self.seconds_labels[ident]
        label.value = "…" if state is StepState.RUNNING else text
        # A stable selector for "ran" versus "came from the cache" (both are done).
        label.remove_class("jwi-ran")
        label.remove_class("jwi-from-cache")
        if state is StepState.DONE:
            label.add_class("jwi-ran" if seconds is not None else "jwi-from-cache")

    def _sync_controls(self, step: str) -> None:
        for name, value in self.session.params(step).items():
            if (step, name) in self.param_controls:
                self._show_value(self.param_controls[step, name], value)

    def _show_value(self, w: ipw.ValueWidget, value: Any) -> None:
        """Put ``value`` in control ``w`` without calling the Session back."""
        with self._quiet():
            if isinstance(w, ipw.Text):
                value = "" if value is None else str(value)
            elif isinstance(w, ipw.FloatSlider | ipw.IntSlider):
                # A value set from Python may lie outside the slider's suggested range.
                w.max, w.min = max(w.max, value), min(w.min, value)
            w.value = value

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Change controls from the Session's side: their observers must not call it back."""
        self._syncing, old = True, self._syncing
        try:
            yield
        finally:
            self._syncing = old

    # ------------------------------------------------------------ log
    def _log(self, line: str) -> None:
        self._lines.append(line)
        self.log_text.value = "\n".join(self._lines)

    def _error(self, message: str) -> None:
        self.last_error = message
        self._log(f"ERROR {message}")
        self.log.set_title(0, "Log (errors)")
        self.log.selected_index = 0  # collapsed by default, but an error must be seen

    def _clear_log(self) -> None:
        self._lines.clear()
        self.log_text.value = ""
        self.log.set_title(0, "Log")

    @property
    def log_lines(self) -> list[str]:
        """The lines in the log pane, oldest first."""
        return list(self._lines)

    def close(self) -> None:
        """Stop observing the Session and close every widget of the tree."""
        super().close()
        stack = list(self.widget.children)
        while stack:
            w = stack.pop()
            stack.extend(getattr(w, "children", ()))
            w.close()


def _button(description: str, icon: str, tooltip: str, *classes: str, **kw: Any) -> ipw.Button:
    return css(ipw.Button(description=description, icon=icon, tooltip=tooltip, **kw), *classes)
