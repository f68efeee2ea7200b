"""The tutorial notebooks in ``notebooks/`` run from top to bottom.

Each notebook is executed by ``nbclient`` in a fresh kernel running *this*
interpreter (a ``python3`` kernel spec written into the test's temporary
folder, so a ``python3`` kernel registered in the user's Jupyter folders can
never be picked up instead), with the test session's isolated cache and CRDS
environment (see ``conftest.py``) and a temporary working directory. A cell
that raises fails the test with that cell's source and traceback.

The notebooks are stored without outputs; a second test keeps it that way.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellExecutionError, CellTimeoutError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell; a whole tutorial is meant to take < 60 s
STARTUP_TIMEOUT = 120  # seconds for the kernel to answer


def _kernel_manager(folder: Path):
    """An AsyncKernelManager whose ``python3`` kernel is ``sys.executable``."""
    spec_dir = folder / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (jwinteract tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(folder / "kernels")], ensure_native_kernel=False)
    return AsyncKernelManager(
        kernel_name="python3",
        kernel_spec_manager=specs,
        # In the test's folder, not in the user's Jupyter runtime folder.
        connection_file=str(folder / "kernel-connection.json"),
    )


def _kernel_env(folder: Path) -> dict[str, str]:
    """The test process's environment (isolated JWINTERACT_* and CRDS settings
    from conftest.py) plus temporary folders for everything IPython and the
    notebook's ``tempfile`` calls write."""
    env = dict(os.environ)
    for name in ("tmp", "ipython"):
        (folder / name).mkdir()
    env["TMPDIR"] = str(folder / "tmp")
    env["IPYTHONDIR"] = str(folder / "ipython")
    return env


# Appended to the executed copy: what the kernel saw, so the test can check
# that it ran this interpreter, in the working folder, with the isolated env.
_PROBE = """\
import json, os, sys
print(json.dumps({"executable": sys.executable, "cwd": os.getcwd(),
                  "env": {k: os.environ.get(k) for k in %r}}))
"""
_ISOLATION_VARS = ("JWINTERACT_CACHE_DIR", "JWINTERACT_CRDS_PATH", "CRDS_PATH",
                   "CRDS_SERVER_URL", "CRDS_CONTEXT")  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE % (_ISOLATION_VARS,)))
    workdir = tmp_path / "work"
    workdir.mkdir()
    client = nbclient.NotebookClient(
        nb,
        km=_kernel_manager(tmp_path / "jupyter"),
        timeout=CELL_TIMEOUT,
        startup_timeout=STARTUP_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},  # the kernel's working directory
    )
    try:
        client.execute(env=_kernel_env(tmp_path / "jupyter"))
    except (CellExecutionError, CellTimeoutError) as exc:
        # IPython colours its tracebacks; a terminal or CI log wants plain text.
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        pytest.fail(f"{path.name}: a cell failed\n{plain}", pytrace=False)

    seen = json.loads(nb.cells[-1].outputs[0]["text"])
    # This interpreter (so the notebook tests the package installed here, not
    # whatever `python3` Jupyter would find), and the caches of conftest.py.
    assert seen["executable"] == sys.executable  # not resolved: a venv's python is a symlink
    assert Path(seen["cwd"]).resolve() == workdir.resolve()
    assert seen["env"] == {k: os.environ.get(k) for k in _ISOLATION_VARS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]  # fmt: skip
    assert not dirty, (
        f"{path.name}: code cells {dirty} have stored outputs; clear them before committing "
        "(e.g. `jupyter nbconvert --clear-output --inplace`)"
    )
