"""Project-level checks: the wheel, the README/CI contract, Binder, engine/widget layering."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split("### Run the tests", 1)[1].split("```", 2)[1]
    lines = [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    return lines[-1]


def test_ci_runs_exactly_the_readme_test_command():
    command = _readme_test_command()
    assert "pytest" in command
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in [ln.strip() for ln in ci], f"{command!r} not in .ci/run"


def test_binder_installs_the_widgets_extra_declared_in_pyproject():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    reqs = (ROOT / "binder" / "requirements.txt").read_text()
    wanted = re.findall(r"^\.\[([\w,]+)\]", reqs, flags=re.M)
    assert wanted, "binder/requirements.txt must install this package with extras"
    for extra in wanted[0].split(","):
        assert extra in extras


def test_engine_does_not_import_widget_code():
    code = (
        "import sys, jwinteract, jwinteract.session, jwinteract.cli, jwinteract.simulate\n"
        "bad = [m for m in ('ipywidgets', 'bokeh', 'jdaviz', 'jupyter_bokeh', 'jwinteract.widgets')"
        " if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _package_dirs() -> set[str]:
    found = set()
    for base, name in (
        (ROOT / "jwinteract", "jwinteract"),
        (ROOT / "widgets", "jwinteract.widgets"),
    ):
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    return found


@pytest.mark.slow
def test_wheel_contains_every_package_on_disk(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
         str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    wheel = next(tmp_path.glob("jwinteract-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        files = zf.namelist()
    in_wheel = {str(Path(f).parent).replace("/", ".") for f in files if f.endswith("/__init__.py")}
    missing = _package_dirs() - in_wheel
    assert not missing, (
        f"packages on disk missing from the wheel (add them to pyproject): {missing}"
    )
    assert "jwinteract/widgets/__init__.py" in files
