"""The ramps-and-jumps tutorial in a real browser: JupyterLab + headless Chromium.

What a workshop participant does, done by Playwright in Debian's ``chromium``
(browsers cannot be downloaded here, so Playwright is pointed at that
executable): open ``02_ramps_and_jumps.ipynb`` in JupyterLab, *Run → Run All
Cells*, click the stage runner's "Run detector1" button, click a pixel a
cosmic ray hit in the ramp inspector's bokeh image, move the jump threshold,
run again. The test asserts on the page (chip states, step rows, the pixel
readout, the rendered ramp plot) and, through a second client of the same
kernel, on the widgets' and the Session's state (which steps ran, which pixel
is selected, what the ramp plot's data sources hold).

The JupyterLab server, its kernel and the browser get folders of their own
(Jupyter config/data/runtime, IPython, TMPDIR) and the isolated cache and
CRDS environment of ``conftest.py``; the notebooks are copied to a temporary
folder. Screenshots are written to ``tests/browser/artifacts/`` (ignored by
git); the test prints their folder.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; with ``CI``
set a missing browser fails the test (``.ci/run`` installs it).
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "02_ramps_and_jumps.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# Generous but bounded: a cold start on a loaded 2-core CI machine is slow.
SERVER_TIMEOUT = 60  # s for JupyterLab to answer
KERNEL_TIMEOUT = 90  # s for the kernel to start / a Run All to finish
RUN_TIMEOUT = 90  # s for detector1 to run from a button
UI_TIMEOUT = 30_000  # ms for an element to appear
UPDATE_TIMEOUT = 20  # s for a click to reach Python and its result the page

DETECTOR1_RERUN = ["jump", "ramp_fit", "gain_scale"]  # what the threshold affects

# The server is on localhost: never through an http_proxy a CI machine may set.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _require_browser() -> None:
    if not CHROMIUM.exists():
        message = f"the browser test needs {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it", pytrace=False)
        pytest.skip(message)
    missing = [m for m in ("playwright", "jupyterlab") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"the browser test needs {', '.join(missing)}: "
                    'pip install -e ".[test]"', pytrace=False)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A JupyterLab server on localhost, with its REST API and its kernels."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.notebooks = folder / "notebooks"
        shutil.copytree(ROOT / "notebooks", self.notebooks,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))  # fmt: skip
        self.env = self._environment()
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "jupyterlab.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={self.port}", f"--ServerApp.token={self.token}",
             f"--ServerApp.root_dir={self.notebooks}",
             f"--LabApp.user_settings_dir={folder / 'lab-settings'}",
             f"--LabApp.workspaces_dir={folder / 'lab-workspaces'}"],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=folder,
        )  # fmt: skip

    def _environment(self) -> dict[str, str]:
        """This process's environment (with conftest.py's isolated JWINTERACT_* and
        CRDS settings) plus Jupyter, IPython and temporary folders of the test's own."""
        env = dict(os.environ)
        # Binder's prepared tutorial folder must not leak into a test; nor user kernels.
        for name in ("JWINTERACT_TUTORIAL_DIR", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH"):
            env.pop(name, None)
        for name in ("config", "data", "runtime", "ipython", "tmp"):
            (self.folder / name).mkdir()
        env.update(
            JUPYTER_CONFIG_DIR=str(self.folder / "config"),
            JUPYTER_DATA_DIR=str(self.folder / "data"),  # so only sys.prefix's python3 kernel
            JUPYTER_RUNTIME_DIR=str(self.folder / "runtime"),  # kernels' connection files
            IPYTHONDIR=str(self.folder / "ipython"),
            TMPDIR=str(self.folder / "tmp"),  # the notebook's tempfile.mkdtemp()
            JUPYTER_PLATFORM_DIRS="0",
        )
        # ipywidgets imported at kernel start, so the page's widget manager restores
        # state through ipywidgets' control comm, which the test can see opened
        # (_widgets_ready) before it clicks Run All. Without that wait, cells that
        # create widgets while the manager is still asking the kernel for its comms
        # race it ("Error: widget model not found", jupyter-widgets/ipywidgets#3549).
        startup = self.folder / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-ipywidgets.py").write_text("import ipywidgets  # noqa: F401\n")
        # No "Would you like to get notified about official Jupyter news?" toast.
        labconfig = self.folder / "config" / "labconfig"
        labconfig.mkdir()
        (labconfig / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
        ))  # fmt: skip
        return env

    def api(self, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {self.token}"}
        )
        with _NO_PROXY.open(request, timeout=10) as response:
            return json.load(response)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: see {self.log_path}\n{self.log_tail()}")
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"JupyterLab did not answer in {SERVER_TIMEOUT} s\n{self.log_tail()}")

    def kernel_of(self, path: str) -> dict:
        """The kernel model (id, execution_state) of the notebook session at ``path``."""
        for session in self.api("/api/sessions"):
            if session["path"] == path and session.get("kernel"):
                return session["kernel"]
        raise LookupError(path)

    def log_tail(self, n: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the server shuts its kernels down
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


class Kernel:
    """A second client of the notebook's kernel, to read the widgets' state.

    Requests are executed silently (``store_history=False``), so the
    notebook's execution counts and ``In`` are what the page's Run All made.
    """

    def __init__(self, connection_file: Path):
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=KERNEL_TIMEOUT)

    def eval(self, expression: str, *, timeout: float = 60) -> Any:
        """The value of a JSON-able Python ``expression`` in the notebook's namespace."""
        msg_id = self.client.execute(
            "", silent=True, store_history=False,
            user_expressions={"value": f"__import__('json').dumps({expression})"},
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:  # replies to the page's requests go to the page, not here; still, check
            reply = self.client.get_shell_msg(timeout=max(deadline - time.monotonic(), 0.1))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        assert content["status"] == "ok", content
        result = content["user_expressions"]["value"]
        if result["status"] != "ok":
            raise AssertionError(f"{expression!r} raised in the kernel: {result.get('evalue')}")
        return json.loads(ast.literal_eval(result["data"]["text/plain"]))

    def close(self) -> None:
        self.client.stop_channels()


def _wait(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    _require_browser()
    server = Lab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts(request) -> Path:
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")  # screenshots are never committed
    print(f"\nscreenshots: {folder}")
    return folder


# ------------------------------------------------------------------------------ the test

# Expressions evaluated in the notebook's kernel (names the notebook defines).
_CHIPS = "{step: runner.chip_state('detector1', step) for step in s.steps_of('detector1')}"
_RAN_SINCE = "sorted(e.step for e in s.events.since({mark}) if e.kind.value == 'step_finished')"
_IMAGE_MAPPING = (
    "[inspector.image_figure.x_range.start, inspector.image_figure.x_range.end, "
    "inspector.image_figure.y_range.start, inspector.image_figure.y_range.end]"
)
# The page's widget manager has opened ipywidgets' control comm and so has its state.
_WIDGETS_READY = "__import__('ipywidgets').Widget._control_comm is not None"
# The groups the ramp plot marks as JUMP_DET, from its bokeh data source.
_JUMP_GROUPS = "[int(g) for g in inspector.ramp_sources['JUMP_DET'].data['group']]"


def test_tutorial_in_jupyterlab(lab: Lab, browser, artifacts: Path) -> None:
    started = time.monotonic()
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    kernel = None

    def shot(name: str) -> None:
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=False)

    try:
        # ---- open the tutorial; JupyterLab starts a fresh kernel for it
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
        model = _wait(lambda: _kernel_if(lab, "idle"), KERNEL_TIMEOUT, "the kernel to be idle")
        kernel = Kernel(Path(lab.env["JUPYTER_RUNTIME_DIR"]) / f"kernel-{model['id']}.json")
        # This interpreter, and conftest.py's isolated caches (nothing of the user's).
        assert kernel.eval("__import__('sys').executable") == sys.executable
        isolated = ("JWINTERACT_CACHE_DIR", "JWINTERACT_CRDS_PATH", "JWINTERACT_TUTORIAL_DIR")
        seen = kernel.eval(f"{{k: __import__('os').environ.get(k) for k in {isolated!r}}}")
        assert seen == {k: lab.env.get(k) for k in isolated}
        n_code = sum(c["cell_type"] == "code" for c in _notebook_cells(lab))
        _wait(lambda: kernel.eval(_WIDGETS_READY), KERNEL_TIMEOUT,
              "the page's widget manager to connect to the kernel")  # fmt: skip

        # ---- Run → Run All Cells, as a person does; done when the kernel has run them all
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
        _wait(lambda: _ran_all(lab, kernel, n_code), KERNEL_TIMEOUT, "Run All to finish")
        assert not kernel.eval("sorted({'runner', 'inspector'} - set(globals()))")
        runner_view = page.locator(".jwi-stage-runner")
        runner_view.wait_for()
        page.locator(".jwi-ramp-inspector").wait_for()
        before = kernel.eval(_CHIPS)
        assert before["jump"] == "fresh", before
        runner_view.scroll_into_view_if_needed()
        shot("01_after_run_all")

        # ---- ▶ Run detector1
        mark = kernel.eval("len(s.events.history)")
        page.locator(".jwi-run-stage-detector1").click()
        _wait(lambda: _stage_done(kernel), RUN_TIMEOUT, "detector1 to finish")
        for step in ("dq_init", "jump", "ramp_fit", "gain_scale"):  # the page shows it too
            page.locator(f".jwi-chip-detector1-{step}.jwi-state-done").wait_for()
        first = kernel.eval(_RAN_SINCE.format(mark=mark))
        assert set(DETECTOR1_RERUN) <= set(first), first
        shot("02_after_run")

        # ---- click the brightest cosmic ray of the truth in the rate image
        bright = tuple(kernel.eval("list(try_pixel)"))
        ramp_plot = page.locator(".jwi-ramp-plot .bk-CartesianFrame")
        ramp_plot.scroll_into_view_if_needed()
        empty_plot = ramp_plot.screenshot()
        readout = page.locator(".jwi-pixel-readout")
        _click_pixel(page, kernel, *bright)
        _wait(lambda: kernel.eval("inspector.selected") == list(bright), UPDATE_TIMEOUT,
              f"the inspector to select {bright}")  # fmt: skip
        expect_text = f"x = {bright[1]}, y = {bright[0]}"
        _wait(
            lambda: expect_text in readout.inner_text(),
            UPDATE_TIMEOUT,
            "the readout to show the pixel",
        )
        jump_groups = kernel.eval(_JUMP_GROUPS)
        truth_group = kernel.eval("int(bright['group'][0])")
        assert truth_group in jump_groups, (jump_groups, truth_group)
        assert "JUMP_DET groups" in readout.inner_text()
        assert f"group {truth_group}" in readout.inner_text()
        _wait(
            lambda: ramp_plot.screenshot() != empty_plot,
            UPDATE_TIMEOUT,
            "the ramp plot to be redrawn",
        )
        shot("03_bright_cosmic_ray")

        # ---- the faint one: flagged at 4 sigma
        faint = tuple(kernel.eval("list(faint_pixel)"))
        _click_pixel(page, kernel, *faint)
        _wait(lambda: kernel.eval("inspector.selected") == list(faint), UPDATE_TIMEOUT,
              f"the inspector to select {faint}")  # fmt: skip
        faint_group = kernel.eval("int(faint['group'][0])")
        assert faint_group in kernel.eval(_JUMP_GROUPS)
        at_4_sigma = ramp_plot.screenshot()

        # ---- move the jump threshold to 10: three chips turn stale before anything runs
        _set_slider(page, ".jwi-param-jump-rejection_threshold", "10")
        _wait(lambda: kernel.eval("s.params('jump')['rejection_threshold']") == 10, UPDATE_TIMEOUT,
              "the Session's jump threshold to be 10")  # fmt: skip
        stale = kernel.eval(_CHIPS)
        assert {k for k, v in stale.items() if v == "stale"} == set(DETECTOR1_RERUN), stale
        for step in DETECTOR1_RERUN:
            page.locator(f".jwi-chip-detector1-{step}.jwi-state-stale").wait_for()
        shot("04_threshold_10_stale")

        # ---- ▶ Run detector1 again: only jump, ramp_fit and gain_scale recompute
        mark = kernel.eval("len(s.events.history)")
        page.locator(".jwi-run-stage-detector1").click()
        _wait(lambda: _stage_done(kernel), RUN_TIMEOUT, "the second detector1 run")
        assert kernel.eval(_RAN_SINCE.format(mark=mark)) == sorted(DETECTOR1_RERUN)
        after = kernel.eval(_CHIPS)
        changed = {k for k in after if after[k] != stale[k]}
        assert changed == set(DETECTOR1_RERUN), (stale, after)
        # On the page: the three show a run time, the implemented steps before them
        # "from cache".
        for step in DETECTOR1_RERUN:
            page.locator(f".jwi-chip-detector1-{step}.jwi-state-done").wait_for()
            row = page.locator(f".jwi-step-detector1-{step}").inner_text()
            assert " s" in row and "from cache" not in row, row
        for step in ("dq_init", "saturation", "superbias", "linearity", "dark_current"):
            row = page.locator(f".jwi-step-detector1-{step}").inner_text()
            assert "from cache" in row, row

        # ---- the inspector followed: at 10 sigma the faint jump is no longer flagged
        _wait(lambda: faint_group not in kernel.eval(_JUMP_GROUPS), UPDATE_TIMEOUT,
              "the faint pixel's jump flag to go")  # fmt: skip
        _wait(lambda: re.search(r"JUMP_DET groups\s+none", readout.inner_text()),
              UPDATE_TIMEOUT, "the readout to show no JUMP_DET group")  # fmt: skip
        _wait(lambda: ramp_plot.screenshot() != at_4_sigma, UPDATE_TIMEOUT,
              "the ramp plot to be redrawn")  # fmt: skip
        page.locator(".jwi-ramp-inspector").scroll_into_view_if_needed()
        shot("05_rerun_threshold_10")

        bad = [e for e in errors if "Could not create a view" in e or "Bokeh" in e]
        assert not bad, bad
        # For the record (Binder allows 2 GB): the kernel's peak memory after all this.
        peak = kernel.eval("__import__('resource').getrusage(0).ru_maxrss")  # RUSAGE_SELF, kB
        print(f"\nkernel peak RSS: {peak / 1024:.0f} MB; server: {_peak_rss_mb(lab.process.pid)}")
    except BaseException:
        with contextlib.suppress(Exception):  # the page may be gone
            shot("failure")
        print(f"JupyterLab log: {lab.log_path}\n{lab.log_tail()}")
        raise
    finally:
        if kernel is not None:
            kernel.close()
        context.close()
        if errors:
            print("browser console errors:\n  " + "\n  ".join(errors))
        print(f"browser test: {time.monotonic() - started:.1f} s; screenshots in {artifacts}")


def _peak_rss_mb(pid: int) -> str:
    try:  # Linux
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "unknown"
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return f"{kb / 1024:.0f} MB"


def _notebook_cells(lab: Lab) -> list[dict]:
    return json.loads((lab.notebooks / NOTEBOOK).read_text())["cells"]


def _kernel_if(lab: Lab, state: str) -> dict | None:
    try:
        model = lab.kernel_of(NOTEBOOK)
    except LookupError:
        return None
    return model if model["execution_state"] == state else None


def _ran_all(lab: Lab, kernel: Kernel, n_code: int) -> bool:
    # ``In`` holds one entry per cell the page executed (our own requests are not
    # stored in the history); the REST state says the last one has finished.
    return kernel.eval("len(In) - 1") >= n_code and _kernel_if(lab, "idle") is not None


def _stage_done(kernel: Kernel) -> bool:
    chips = kernel.eval(_CHIPS)
    return not any(v in ("fresh", "stale", "running") for v in chips.values())


def _click_pixel(page, kernel: Kernel, y: int, x: int) -> None:
    """Click the centre of image pixel (y, x), from the figure's ranges and frame box."""
    x0, x1, y0, y1 = kernel.eval(_IMAGE_MAPPING)
    frame = page.locator(".jwi-ramp-image .bk-CartesianFrame")
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    # Pixel (y, x) covers [x - 0.5, x + 0.5] in plot coordinates; y grows upwards.
    px = box["x"] + (x - x0) / (x1 - x0) * box["width"]
    py = box["y"] + (y1 - y) / (y1 - y0) * box["height"]
    page.mouse.click(px, py)


def _set_slider(page, selector: str, text: str) -> None:
    """Type a value into an ipywidgets slider's editable readout and press Enter."""
    readout = page.locator(f"{selector} .widget-readout")
    readout.scroll_into_view_if_needed()
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
