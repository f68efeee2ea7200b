"""A Session over an association runs each exposure, cached per exposure."""

import pytest

from jwinteract import Session, StepNotImplementedError
from jwinteract.asn_session import AssociationSession
from jwinteract.association import association_from_files, write_association


@pytest.fixture(scope="module")
def asn_path(small_exposure, crds_context, tmp_path_factory):
    from jwinteract.simulate import simulate_exposure

    _, first = small_exposure
    exp2 = simulate_exposure(instrument="NIRCAM", detector="NRCA1", subarray="SUB160",
                             readpatt="RAPID", ngroups=6, nints=2, seed=4, exposure_number=2,
                             context=crds_context)  # fmt: skip
    folder = tmp_path_factory.mktemp("asn")
    second = exp2.write(folder)["uncal"]
    asn = association_from_files([first, second], level=2)
    return write_association(asn, folder / "jw01234-o001_image2_asn.json")


def test_session_on_an_association_runs_each_member(asn_path, crds_context, tmp_path):
    with Session(asn_path, crds=crds_context, cache_dir=tmp_path / "c") as s:
        assert isinstance(s, AssociationSession) and len(s.members) == 2
        mark = len(s.events.history)
        out = s.run("detector1")
        assert [list(p) for p in out] == [["rate", "rateints"]] * 2
        finished = [
            (e.exposure, e.step) for e in s.events.since(mark) if e.kind.value == "step_finished"
        ]
        assert {exp for exp, _ in finished} == {m.rootname for m in s.members}
        assert sum(step == "jump" for _, step in finished) == 2
        # A parameter change re-runs jump and after, in both exposures only.
        s.set("jump", rejection_threshold=5.0)
        mark = len(s.events.history)
        s.run("detector1")
        ran = [e.step for e in s.events.since(mark) if e.kind.value == "step_finished"]
        assert sorted(ran) == sorted(["jump", "ramp_fit", "gain_scale"] * 2)
        assert set(s.status("detector1")) == {m.rootname for m in s.members}
        with pytest.raises(StepNotImplementedError, match="stage 3 .*image3"):
            s.run("image3")
        paths = s.save("detector1", tmp_path / "out")
        assert len(paths) == 4
