"""Reference resolution: overrides win; a user's CRDS configuration is honoured."""

import numpy as np
import pytest

from jwinteract import Session
from jwinteract.references import crds_mode_from_env
from jwinteract.references.offline import SERVERLESS_URL


def test_mode_from_environment(monkeypatch):
    for var in ("CRDS_PATH", "CRDS_SERVER_URL"):
        monkeypatch.delenv(var, raising=False)
    assert crds_mode_from_env() == "offline"
    monkeypatch.setenv("CRDS_SERVER_URL", SERVERLESS_URL)  # what our own context sets
    assert crds_mode_from_env() == "offline"
    monkeypatch.setenv("CRDS_SERVER_URL", "https://jwst-crds.stsci.edu")
    assert crds_mode_from_env() == "user"
    monkeypatch.delenv("CRDS_SERVER_URL")
    monkeypatch.setenv("CRDS_PATH", "/somewhere/crds_cache")
    assert crds_mode_from_env() == "user"


def test_users_crds_cache_is_used_through_the_same_path(small_exposure, crds_context, monkeypatch):
    """A user with CRDS_PATH/CRDS_CONTEXT set (here: a local cache that happens to be
    our offline one) gets references from it, with no jwinteract configuration."""
    _, uncal = small_exposure
    offline = Session(uncal, crds=crds_context, cache_dir=None)
    expected = {r: i.name for r, i in offline._plan("detector1", strict=True)[7].refs.items()}
    for key, value in crds_context.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CRDS_SERVER_URL")
    user = Session(uncal, cache_dir=None)  # crds="auto"
    assert user.references.mode == "user" and user.references.offline is None
    assert user.references.context == crds_context.context
    got = {r: i.name for r, i in user._plan("detector1", strict=True)[7].refs.items()}
    assert got == expected and all(n.startswith("crds://") for n in got.values())
    np.testing.assert_array_equal(user.run("detector1", stop="dark_current").primary.data,
                                  offline.run("detector1", stop="dark_current").primary.data)  # fmt: skip


def test_overrides_win_and_change_the_key(small_exposure, crds_context, tmp_path):
    exp, uncal = small_exposure
    s = Session(uncal, crds=crds_context, cache_dir=None)
    key_before = s._plan("detector1", strict=True)[7].key  # dark_current
    dark_path = exp.references["dark"]
    same = Session(uncal, crds=crds_context, cache_dir=None, references={"dark": dark_path})
    p = same._plan("detector1", strict=True)[7]
    assert p.name == "dark_current" and p.refs["dark"].source == "override"
    assert p.refs["dark"].name == dark_path.name
    # A CRDS file is known by its name (CRDS never reuses one); an override by its
    # bytes: a copy elsewhere gives the same key, a changed file another one.
    assert (
        s._plan("detector1", strict=True)[7]
        .refs["dark"]
        .checksum.startswith(f"crds:{dark_path.name}:")
    )
    assert p.key != key_before
    copy = tmp_path / "my_dark.fits"
    copy.write_bytes(dark_path.read_bytes())
    again = Session(uncal, crds=crds_context, cache_dir=None, references={"dark": copy})
    assert again._plan("detector1", strict=True)[7].key == p.key
    changed = tmp_path / "changed_dark.fits"
    changed.write_bytes(dark_path.read_bytes()[:-1] + b"\x01")
    other = Session(uncal, crds=crds_context, cache_dir=None, references={"dark": changed})
    assert other._plan("detector1", strict=True)[7].key != p.key
    na = Session(
        uncal, crds=crds_context, cache_dir=None, steps={"dark_current": {"override_dark": "N/A"}}
    )
    row = {r.step: r for r in na.status("detector1")}["dark_current"]
    assert row.state.value == "skipped" and "N/A" in row.message


def test_lookup_failure_names_what_and_where(small_exposure, crds_context):
    from jwinteract import ReferenceFileError

    exp, _ = small_exposure
    other = exp.uncal.copy()
    other.meta.instrument.detector = "NRCB4"  # nothing simulated for it
    s = Session(other, crds=crds_context, cache_dir=None)
    with pytest.raises(ReferenceFileError, match="NRCB4.*jwinteract simulate"):
        s.run("detector1")
    # status() does not raise: the keys from there on are simply unknown
    assert {r.state.value for r in s.status("detector1")} <= {"fresh", "skipped", "not implemented"}
