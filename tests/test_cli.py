"""The command line: run twice runs nothing; a jump parameter re-runs jump and after."""

import subprocess
import sys

import pytest

from jwinteract.cli import _parse_step_args, main
from jwinteract.errors import JwinteractError


def table(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "detector1":
            rows[parts[1]] = " ".join(parts[2:4]) if parts[2] == "not" else parts[2]
    return rows


def test_step_args_parse_like_strun():
    assert _parse_step_args(
        ["--steps.jump.rejection_threshold=5", "--steps.dark_current.skip", "true"]
    ) == {"jump": {"rejection_threshold": "5"}, "dark_current": {"skip": "true"}}
    with pytest.raises(JwinteractError, match="--steps.jump.rejection_threshold=5"):
        _parse_step_args(["--rejection_threshold=5"])


def test_run_twice_then_change_jump(small_exposure, crds_context, tmp_path, capsys):
    _, uncal = small_exposure
    args = ["run", "detector1", str(uncal), "--cache-dir", str(tmp_path / "c"),
            "--crds-dir", str(crds_context.root), "--no-progress"]  # fmt: skip
    assert main([*args, "--output-dir", str(tmp_path / "out")]) == 0
    first = table(capsys.readouterr().out)
    assert first["jump"] == first["ramp_fit"] == first["dark_current"] == "ran"
    assert first["ipc"] == "not implemented" and first["persistence"] == "skipped"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [uncal.name.replace("_uncal", "_rate"), uncal.name.replace("_uncal", "_rateints")]
    )
    assert main(args) == 0
    second = table(capsys.readouterr().out)
    assert "ran" not in second.values() and second["jump"] == "cached"
    assert main([*args, "--steps.jump.rejection_threshold=5"]) == 0
    third = table(capsys.readouterr().out)
    assert sorted(k for k, v in third.items() if v == "ran") == ["gain_scale", "jump", "ramp_fit"]
    assert third["dark_current"] == "cached"


def test_bad_parameter_is_a_clear_error_and_writes_nothing(
    small_exposure, crds_context, tmp_path, capsys
):
    _, uncal = small_exposure
    code = main(["run", "detector1", str(uncal), "--crds-dir", str(crds_context.root),
                 "--cache-dir", "none", "--output-dir", str(tmp_path / "out"),
                 "--steps.jump.rejection_threshold=-3"])  # fmt: skip
    assert code == 2
    assert "below its minimum" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_simulate_command_writes_uncal_truth_and_context(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "jwinteract.cli", "simulate", "--instrument", "NIRCAM",
         "--subarray", "SUB160", "--ngroups", "4", "--output-dir", str(tmp_path / "sim"),
         "--crds-dir", str(tmp_path / "crds"), "--seed", "5"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    names = sorted(p.name for p in (tmp_path / "sim").iterdir())
    assert any(n.endswith("_uncal.fits") for n in names) and any("truth" in n for n in names)
    assert (tmp_path / "crds" / "config" / "jwst" / "server_config").exists()
    assert "offline CRDS context" in out.stdout


def test_demo_twice_takes_everything_from_the_cache(tmp_path, capsys, monkeypatch):
    """The README's promise: run the demo again and every step comes from the cache
    (the exposure is simulated again, written at another time, with the same content)."""
    monkeypatch.chdir(tmp_path)
    args = ["demo", "--subarray", "SUB160", "--ngroups", "5", "--no-progress",
            "--cache-dir", str(tmp_path / "c"), "--crds-dir", str(tmp_path / "crds")]  # fmt: skip
    assert main(args) == 0
    assert "ran" in table(capsys.readouterr().out).values()
    assert main(args) == 0
    second = table(capsys.readouterr().out)
    assert second["jump"] == "cached" and "ran" not in second.values()
