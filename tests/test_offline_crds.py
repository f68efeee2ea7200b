"""The offline CRDS context: layout, mappings, crds and jwst resolving through it.

crds caches its configuration (server, context, cache layout) on first use
in a process, so the crds and jwst round trips run in a subprocess whose
environment is ``OfflineContext.env()`` - the way a user's fresh kernel or a
batch worker sees it. ``OfflineContext.activate()`` is tested in-process too.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

import jwinteract
from jwinteract.errors import ReferenceFileError
from jwinteract.references.offline import OfflineContext, default_root
from jwinteract.simulate import simulate_exposure

DETECTOR_SUB160 = {"META.INSTRUMENT.DETECTOR": "NRCA1", "META.SUBARRAY.NAME": "SUB160"}


def python_command(code: str, **values) -> list[str]:
    """A command running ``code`` with ``values`` bound to variables of those names."""
    header = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    return [sys.executable, "-c", header + textwrap.dedent(code)]


def subprocess_env(env: dict[str, str]) -> dict[str, str]:
    """This environment plus ``env``, with jwinteract importable and no real CRDS server."""
    full_env = dict(os.environ)
    full_env.pop("CRDS_SERVER_URL", None)
    full_env.update(env)
    package_parent = str(Path(jwinteract.__file__).resolve().parents[1])
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_parent, os.environ.get("PYTHONPATH")) if p
    )
    return full_env


def run_python(code: str, env: dict[str, str], **values) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    proc = subprocess.run(
        python_command(code, **values),
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def gain_model(value: float, detector: str = "NRCA1", shape=(8, 8)) -> datamodels.GainModel:
    model = datamodels.GainModel(data=np.full(shape, value, dtype=np.float32))
    model.meta.instrument.name = "NIRCAM"
    model.meta.instrument.detector = detector
    model.meta.subarray.name = "SUB160"
    model.meta.description = "test gain"
    model.meta.author = "test"
    model.meta.pedigree = "DUMMY"
    return model


def load_mapping(path: Path):
    """Parse a mapping with crds' own loader (verifies syntax and sha1sum)."""
    from crds.core import rmap

    cls = {
        ".pmap": rmap.PipelineContext,
        ".imap": rmap.InstrumentContext,
        ".rmap": rmap.ReferenceMapping,
    }[path.suffix]
    return cls.from_string(path.read_text(), path.name)


# ----------------------------------------------------------------- layout


def test_default_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("JWINTERACT_CRDS_PATH", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "jwinteract" / "crds"
    monkeypatch.setenv("JWINTERACT_CRDS_PATH", str(tmp_path / "explicit"))
    assert default_root() == tmp_path / "explicit"
    monkeypatch.delenv("JWINTERACT_CRDS_PATH")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_root() == Path.home() / ".cache" / "jwinteract" / "crds"


def test_new_context_has_the_files_crds_needs(tmp_path):
    ctx = OfflineContext(tmp_path)
    assert ctx.context == "jwst_0001.pmap"
    info = ast.literal_eval((tmp_path / "config/jwst/server_config").read_text())
    assert info["observatory"] == "jwst"
    assert info["operational_context"] == ctx.context
    assert (tmp_path / "config/jwst/ref_cache_subdir_mode").read_text() == "instrument"
    pmap = load_mapping(tmp_path / "mappings/jwst" / ctx.context)
    assert pmap.header["derived_from"].startswith("generated")
    env = ctx.env()
    assert env["CRDS_PATH"] == str(tmp_path.resolve())
    assert env["CRDS_MODE"] == "local"
    assert env["CRDS_CONTEXT"] == ctx.context
    assert "serverless" in env["CRDS_SERVER_URL"]
    # Opening an existing context does not change it.
    assert OfflineContext(tmp_path).context == "jwst_0001.pmap"


def test_mappings_carry_derived_from_and_a_valid_sha1sum(tmp_path):
    ctx = OfflineContext(tmp_path)
    ctx.add_reference(gain_model(2.0), reftype="gain", selector=DETECTOR_SUB160)
    ctx.add_reference(
        gain_model(2.0, "NRCA2"),
        reftype="gain",
        selector={**DETECTOR_SUB160, "META.INSTRUMENT.DETECTOR": "NRCA2"},
    )
    mapdir = tmp_path / "mappings/jwst"
    for path in mapdir.iterdir():
        mapping = load_mapping(path)  # raises on a wrong checksum
        assert mapping.header["name"] == path.name
    assert load_mapping(mapdir / "jwst_0003.pmap").header["derived_from"] == "jwst_0002.pmap"
    rmap = load_mapping(mapdir / "jwst_nircam_gain_0003.rmap")
    assert rmap.header["derived_from"] == "jwst_nircam_gain_0002.rmap"
    assert rmap.header["parkey"] == (
        ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"),
        ("META.OBSERVATION.DATE", "META.OBSERVATION.TIME"),
    )
    # A tampered mapping is rejected by crds.
    from crds.core.exceptions import ChecksumError

    tampered = mapdir / "jwst_0003.pmap"
    text = tampered.read_text().replace("jwst_nircam_0003.imap", "jwst_nircam_0002.imap")
    tampered.write_text(text)
    with pytest.raises(ChecksumError):
        load_mapping(tampered)


def test_add_reference_names_by_content_and_replaces_a_selector(tmp_path):
    ctx = OfflineContext(tmp_path)
    first = ctx.add_reference(gain_model(2.0), reftype="gain", selector=DETECTOR_SUB160)
    assert first.parent == tmp_path.resolve() / "references/jwst/nircam"
    assert (
        first.name.startswith("jwst_nircam_gain_")
        and len(first.stem) == len("jwst_nircam_gain_") + 8
    )
    context = ctx.context
    # Same content again: same file, no new context.
    assert ctx.add_reference(gain_model(2.0), reftype="gain", selector=DETECTOR_SUB160) == first
    assert ctx.context == context
    # New content for the same selector replaces the entry.
    second = ctx.add_reference(gain_model(2.1), reftype="gain", selector=DETECTOR_SUB160)
    assert second != first and second.exists()
    assert ctx.lookup("NIRCAM", "gain", DETECTOR_SUB160) == second
    state = json.loads((tmp_path / "jwinteract_context.json").read_text())
    assert len(state["instruments"]["nircam"]["reftypes"]["gain"]["entries"]) == 1
    # A different set of selector keys for the same reftype is an error.
    with pytest.raises(ReferenceFileError, match="same keys"):
        ctx.add_reference(
            gain_model(2.2), reftype="gain", selector={"META.INSTRUMENT.DETECTOR": "NRCA1"}
        )
    with pytest.raises(ReferenceFileError, match="not a JWST CRDS reference type"):
        ctx.add_reference(gain_model(2.2), reftype="gian", selector=DETECTOR_SUB160)
    # The caller's model is not modified.
    model = gain_model(3.0)
    ctx.add_reference(model, reftype="gain", selector=DETECTOR_SUB160)
    assert model.meta.reftype is None and model.meta.useafter is None


def test_mark_not_applicable(tmp_path):
    ctx = OfflineContext(tmp_path)
    ctx.add_reference(gain_model(2.0), reftype="gain", selector=DETECTOR_SUB160)
    ctx.mark_not_applicable("NIRCAM", ["ipc", "persat"])
    assert ctx.lookup("NIRCAM", "ipc", {}) == "N/A"
    imap = load_mapping(tmp_path / "mappings/jwst" / f"jwst_nircam_{ctx.context[5:9]}.imap")
    assert imap.selector["ipc"] == "N/A" and imap.selector["persat"] == "N/A"
    assert imap.selector["pars-jumpstep"] == "N/A"  # step parameters: code defaults
    before = ctx.context
    ctx.mark_not_applicable("nircam", ["ipc"])  # already N/A: no new context
    assert ctx.context == before
    # Marking a reftype with rules N/A drops the rules.
    ctx.mark_not_applicable("NIRCAM", ["gain"])
    assert ctx.lookup("NIRCAM", "gain", DETECTOR_SUB160) == "N/A"


# --------------------------------------------------- crds and jwst round trips


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """One small exposure whose references live in a fresh offline context."""
    root = tmp_path_factory.mktemp("crds")
    ctx = OfflineContext(root)
    exp = simulate_exposure(
        detector="NRCA1", subarray="SUB160", readpatt="RAPID", ngroups=5, seed=11, context=ctx
    )
    paths = exp.write(tmp_path_factory.mktemp("data"))
    return ctx, exp, paths


def test_crds_getreferences_returns_the_written_files(simulated):
    ctx, exp, paths = simulated
    code = """
        import json
        import crds
        from stdatamodels.jwst import datamodels
        params = datamodels.open(uncal).get_crds_parameters()
        refs = crds.getreferences(params, reftypes=reftypes, observatory="jwst")
        print(json.dumps({"refs": refs, "context": crds.get_context_name("jwst")}))
    """
    reftypes = [*sorted(exp.references), "ipc", "persat", "pars-jumpstep"]
    out = run_python(code, ctx.env(), uncal=str(paths["uncal"]), reftypes=reftypes)
    assert out["context"] == ctx.context
    for reftype, path in exp.references.items():
        assert Path(out["refs"][reftype]) == path
    for reftype in ("ipc", "persat", "pars-jumpstep"):
        assert "N/A" in out["refs"][reftype].upper()


@pytest.fixture(scope="module")
def jwst_run(simulated, tmp_path_factory):
    """SaturationStep and Detector1Pipeline on the exposure, resolved only through CRDS."""
    ctx, exp, paths = simulated
    outdir = tmp_path_factory.mktemp("det1")
    code = """
        import json, warnings
        warnings.simplefilter("ignore")
        from jwst.saturation import SaturationStep
        from jwst.pipeline import Detector1Pipeline
        sat = SaturationStep.call(uncal)
        rate = Detector1Pipeline.call(uncal, output_dir=outdir, save_results=True)
        print(json.dumps({
            "saturation_ref": sat.meta.ref_file.saturation.name,
            "cal_step": rate.meta.cal_step.instance,
            "ref_file": {k: v.get("name") for k, v in rate.meta.ref_file.instance.items()
                         if isinstance(v, dict) and "name" in v},
            "context": rate.meta.ref_file.crds.context_used,
        }))
    """
    out = run_python(code, ctx.env(), uncal=str(paths["uncal"]), outdir=str(outdir))
    rate_path = outdir / Path(paths["uncal"]).name.replace("_uncal", "_rate")
    return out, rate_path


def test_jwst_step_resolves_the_simulated_reference(simulated, jwst_run):
    _, exp, _ = simulated
    out, _ = jwst_run
    assert out["saturation_ref"] == "crds://" + exp.references["saturation"].name


def test_detector1_runs_end_to_end_offline(simulated, jwst_run):
    ctx, exp, _ = simulated
    out, rate_path = jwst_run
    steps = out["cal_step"]
    ran = sorted(k for k, v in steps.items() if v == "COMPLETE")
    skipped = sorted(k for k, v in steps.items() if v == "SKIPPED")
    print(f"Detector1 ran {ran}; skipped {skipped}")
    assert set(ran) >= {
        "dq_init", "saturation", "superbias", "refpix", "linearity", "dark_sub", "jump", "ramp_fit"
    }  # fmt: skip
    # ipc has no reference (N/A); the others are off by default in jwst 3.0.
    assert set(skipped) >= {"ipc", "persistence", "charge_migration", "picture_frame"}
    assert out["context"] == ctx.context
    for reftype in ("mask", "saturation", "superbias", "linearity", "dark", "gain", "readnoise"):
        assert out["ref_file"][reftype] == "crds://" + exp.references[reftype].name
    assert out["ref_file"]["ipc"] == "N/A"


def test_detector1_rate_matches_the_truth(simulated, jwst_run):
    """The official pipeline with the simulated references recovers the true rate.

    On good pixels, (rate - truth) / ERR should be ~N(0, 1): the tolerance on its
    median is 5 standard errors of a median (1.253 / sqrt(n)); on its robust
    width 10% (the jwst ERR of a 5-group ramp is itself approximate).
    """
    _, exp, _ = simulated
    _, rate_path = jwst_run
    rate = datamodels.open(rate_path)
    good = (rate.dq == 0) & np.isfinite(rate.data)
    pull = ((rate.data - exp.truth.rate) / rate.err)[good]
    n = pull.size
    assert n > 20000
    assert abs(np.median(pull)) < 5 * 1.253 / np.sqrt(n)
    robust_sigma = 1.4826 * np.median(np.abs(pull - np.median(pull)))
    assert 0.9 < robust_sigma < 1.1


def test_activate_points_crds_at_the_context_in_process(simulated):
    import crds

    ctx, exp, paths = simulated
    params = datamodels.open(paths["uncal"]).get_crds_parameters()
    before = os.environ.get("CRDS_CONTEXT")
    with ctx.activate():
        assert os.environ["CRDS_CONTEXT"] == ctx.context
        refs = crds.getreferences(params, reftypes=["gain", "dark"], observatory="jwst")
    assert Path(refs["gain"]) == exp.references["gain"]
    assert Path(refs["dark"]) == exp.references["dark"]
    assert os.environ.get("CRDS_CONTEXT") == before


def test_two_processes_adding_at_once_leave_valid_mappings(tmp_path):
    """Two writers, 6 references each, at the same time: all 12 selectors resolve."""
    OfflineContext(tmp_path)
    code = """
        import json
        import numpy as np
        from stdatamodels.jwst import datamodels
        from jwinteract.references.offline import OfflineContext
        ctx = OfflineContext(root)
        for i in range(6):
            m = datamodels.GainModel(data=np.full((4, 4), writer * 10 + i, np.float32))
            m.meta.instrument.name = "NIRCAM"
            m.meta.description, m.meta.author, m.meta.pedigree = "t", "t", "DUMMY"
            ctx.add_reference(m, reftype="gain", selector={
                "META.INSTRUMENT.DETECTOR": ["NRCA1", "NRCA2"][writer],
                "META.SUBARRAY.NAME": ["FULL", "SUB640", "SUB320", "SUB160", "SUB400P", "SUB64P"][i],
            })
        print(json.dumps({"done": writer}))
    """
    procs = [
        subprocess.Popen(
            python_command(code, root=str(tmp_path), writer=w),
            env=subprocess_env({}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (0, 1)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    ctx = OfflineContext(tmp_path)
    assert ctx.context == "jwst_0013.pmap"  # 1 + 12 changes, each its own serial
    for path in (tmp_path / "mappings/jwst").iterdir():
        load_mapping(path)
    out = run_python(
        """
        import json, crds
        found = {}
        for det in ("NRCA1", "NRCA2"):
            for sub in ("FULL", "SUB640", "SUB320", "SUB160", "SUB400P", "SUB64P"):
                refs = crds.getreferences({
                    "META.INSTRUMENT.NAME": "NIRCAM", "META.INSTRUMENT.DETECTOR": det,
                    "META.SUBARRAY.NAME": sub, "META.OBSERVATION.DATE": "2024-01-01",
                    "META.OBSERVATION.TIME": "00:00:00"}, reftypes=["gain"], observatory="jwst")
                found[det + sub] = refs["gain"]
        print(json.dumps(found))
        """,
        ctx.env(),
    )
    assert len(set(out.values())) == 12
    assert all(Path(p).exists() for p in out.values())
