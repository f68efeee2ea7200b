"""Association files: our reader and writer, and compatibility with jwst 3.0.0's.

jwst is used only here, as the reference: associations it makes with
``asn_from_list`` must read with ours, and ours must load with ``load_asn``
and pass its Level 2b / Level 3 schema validation.
"""

import json
import subprocess
import sys

import pytest

from jwinteract import InputError
from jwinteract.association import (
    Association,
    Member,
    Product,
    association_from_files,
    is_association,
    read_association,
    write_association,
)


def touch(folder, *names):
    """Empty member files: the reader checks they exist, never opens them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return [folder / n for n in names]


@pytest.fixture
def cal_files(tmp_path):
    return touch(tmp_path, "jw01_nrca1_cal.fits", "jw02_nrca1_cal.fits", "jw03_nrca1_cal.fits")


# --------------------------------------------------------------------------- our round trips


def test_level3_round_trip_writes_basenames_and_reads_back_the_same_files(tmp_path, cal_files):
    asn = association_from_files(cal_files, product_name="mosaic")
    assert asn.level == 3 and asn.path is None
    written = write_association(asn, tmp_path / "mosaic_asn.json")
    assert written == tmp_path / "mosaic_asn.json"

    back = read_association(written)
    assert back.path == written
    assert (back.asn_type, back.asn_rule, back.level) == ("image3", "DMS_Level3_Base", 3)
    assert [p.name for p in back.products] == ["mosaic"]
    assert [m.expname for m in back.products[0].members] == [f.name for f in cal_files]
    assert back.member_paths() == cal_files
    # A second write of what was read gives the same bytes.
    again = write_association(back, tmp_path / "again_asn.json")
    assert again.read_text() == written.read_text()


def test_level2_makes_one_product_per_exposure_named_without_suffix(tmp_path):
    rates = touch(tmp_path, "jw01_nrca1_rate.fits", "jw02_nrca1_rateints.fits")
    asn = association_from_files(rates, level=2)
    assert (asn.asn_type, asn.asn_rule, asn.level) == ("image2", "DMSLevel2bBase", 2)
    assert [p.name for p in asn.products] == ["jw01_nrca1", "jw02_nrca1"]
    assert [len(p.members) for p in asn.products] == [1, 1]
    back = read_association(write_association(asn, tmp_path / "l2_asn.json"))
    assert back.products == tuple(
        Product(p.name, [Member(m.name, "science")])
        for p, m in zip(asn.products, rates, strict=True)
    )


def test_member_extras_and_unknown_keys_survive_a_round_trip(tmp_path):
    touch(tmp_path, "a_cal.fits", "b_cal.fits")
    data = {
        "asn_type": "image3",
        "asn_rule": "candidate_Asn_Lv3Image",
        "version_id": "20240101t000000",
        "code_version": "1.14.0",
        "degraded_status": "No known degraded exposures in association.",
        "program": "01234",
        "constraints": "DMSAttrConstraint(...)",
        "asn_id": "c1000",
        "target": "t001",
        "asn_pool": "jw01234_20240101t000000_pool",
        "products": [
            {
                "name": "jw01234-c1000_t001_nircam_clear-f200w",
                "members": [
                    {"expname": "a_cal.fits", "exptype": "science", "group_id": "g1",
                     "tweakreg_catalog": "a_cat.ecsv", "exposerr": "null"},
                    {"expname": "b_cal.fits", "exptype": "science",
                     "asn_candidate": "[('o001', 'observation')]"},
                ],
            }
        ],
    }  # fmt: skip
    src = tmp_path / "src_asn.json"
    src.write_text(json.dumps(data, indent=4, separators=(",", ": ")))
    asn = read_association(src)
    assert asn.level == 3
    assert asn.products[0].members[0].extra["group_id"] == "g1"
    assert asn.extra["target"] == "t001"
    assert write_association(asn, tmp_path / "out_asn.json").read_text() == src.read_text()


def test_member_paths_select_by_type_without_case_and_list_each_file_once(tmp_path):
    # A Level 2 association where one background exposure serves two products.
    touch(tmp_path, "s1_rate.fits", "s2_rate.fits", "bg_rate.fits")
    asn = Association(
        asn_type="spec2", asn_rule="Asn_Lv2Spec", asn_id="o001", asn_pool="pool",
        program="01234", version_id=None, path=tmp_path / "x_asn.json",
        products=[
            Product("s1", [Member("s1_rate.fits", "SCIENCE"), Member("bg_rate.fits", "background")]),
            Product("s2", [Member("s2_rate.fits", "science"), Member("bg_rate.fits", "background")]),
        ],
    )  # fmt: skip
    assert asn.level == 2
    assert asn.member_paths() == [tmp_path / "s1_rate.fits", tmp_path / "s2_rate.fits"]
    assert asn.member_paths("Background") == [tmp_path / "bg_rate.fits"]
    assert len(asn.member_paths(None)) == 3
    assert asn.member_paths("imprint") == []


def test_writing_elsewhere_keeps_pointing_at_the_same_files(tmp_path):
    data_dir, sub = tmp_path / "data", tmp_path / "out" / "cal"
    files = touch(data_dir, "a_cal.fits") + touch(sub, "b_cal.fits")
    asn = association_from_files(files, product_name="mix")
    written = write_association(asn, tmp_path / "out" / "mix_asn.json")
    names = [m["expname"] for m in json.loads(written.read_text())["products"][0]["members"]]
    # Outside the association's folder: absolute; inside: relative, POSIX separators.
    assert names == [files[0].as_posix(), "cal/b_cal.fits"]
    assert read_association(written).member_paths() == files

    # An association read from one folder and written to another still finds its files.
    moved = write_association(read_association(written), tmp_path / "elsewhere" / "m_asn.json")
    assert read_association(moved).member_paths() == files


def test_relative_names_of_an_association_not_on_disk_are_written_as_given(tmp_path):
    touch(tmp_path, "a_cal.fits")
    asn = Association("image3", "DMS_Level3_Base", "a3001", "none", "noprogram", None,
                      [Product("p", [Member("a_cal.fits", "science")])])  # fmt: skip
    back = read_association(write_association(asn, tmp_path / "p_asn.json"))
    assert back.products[0].members[0].expname == "a_cal.fits"


def test_to_dict_is_plain_json_in_jwst_key_order(cal_files):
    d = association_from_files(cal_files, product_name="m").to_dict()
    assert list(d) == ["asn_type", "asn_rule", "version_id", "program", "asn_id", "target",
                       "asn_pool", "products"]  # fmt: skip
    assert json.loads(json.dumps(d)) == d


def test_dataclasses_are_immutable_and_hashable():
    m = Member("a_cal.fits", "science", {"group_id": "g1"})
    with pytest.raises(AttributeError):
        m.expname = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.extra["group_id"] = "g2"  # type: ignore[index]
    assert hash(Product("p", [m])) == hash(Product("p", (m,)))


# --------------------------------------------------------------------------- is_association


def test_is_association(tmp_path, cal_files):
    good = write_association(
        association_from_files(cal_files, product_name="m"), tmp_path / "a.json"
    )
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "other.json").write_text('{"name": "x"}')
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "asn.txt").write_text(good.read_text())
    assert is_association(good) and is_association(str(good))
    for name in ("list.json", "broken.json", "other.json", "binary.json", "asn.txt", "none.json"):
        assert not is_association(tmp_path / name), name
    assert not is_association(tmp_path)
    assert not is_association(cal_files[0])
    # Broken members still look like an association, so the caller gets
    # read_association's precise error rather than a confusing one.
    (tmp_path / "nomembers.json").write_text('{"products": []}')
    assert is_association(tmp_path / "nomembers.json")


# --------------------------------------------------------------------------- bad input


def _asn_text(**changes):
    data = {
        "asn_type": "image3",
        "asn_rule": "DMS_Level3_Base",
        "asn_id": "a3001",
        "asn_pool": "none",
        "program": "noprogram",
        "version_id": None,
        "products": [{"name": "m", "members": [{"expname": "a_cal.fits", "exptype": "science"}]}],
    }
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data, indent=4)


def _member(**kw):
    return [{"name": "m", "members": [kw]}]


BAD = {
    "trailing comma": ('{"products": [],}', r"not valid JSON \(line 1, column 17.*trailing comma"),
    "top-level list": ("[]", "JSON object with a 'products' list, not a list"),
    "no products": (_asn_text(products=...), "no 'products' key"),
    "products not a list": (_asn_text(products={"name": "m"}), "'products' must be a list"),
    "empty products": (_asn_text(products=[]), "'products' is empty"),
    "product not an object": (_asn_text(products=["m"]), r"products\[0\] must be an object"),
    "product without name": (
        _asn_text(products=[{"members": [{"expname": "a_cal.fits", "exptype": "science"}]}]),
        r"products\[0\] has no 'name' key",
    ),
    "product without members": (
        _asn_text(products=[{"name": "m"}]), r"products\[0\] has no 'members' key"),
    "empty members": (
        _asn_text(products=[{"name": "m", "members": []}]), r"products\[0\] \('m'\) has no members"),
    "member without exptype": (
        _asn_text(products=_member(expname="a_cal.fits")),
        r"products\[0\]\.members\[0\] has no 'exptype' key",
    ),
    "expname not a string": (
        _asn_text(products=_member(expname=3, exptype="science")),
        r"products\[0\]\.members\[0\]\.expname must be a non-empty string, not 3",
    ),
    "asn_type not a string": (_asn_text(asn_type=3), "'asn_type' must be a string, not 3"),
    "version_id a number": (_asn_text(version_id=1), "'version_id' must be a string or null"),
}  # fmt: skip


@pytest.mark.parametrize("text,match", BAD.values(), ids=BAD.keys())
def test_bad_association_files_name_the_problem(tmp_path, text, match):
    touch(tmp_path, "a_cal.fits")
    path = tmp_path / "bad_asn.json"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as info:
        read_association(path)
    assert str(path) in str(info.value)


def test_missing_member_files_are_all_reported(tmp_path):
    touch(tmp_path, "b_cal.fits")
    members = [{"expname": n, "exptype": t} for n, t in
               [("a_cal.fits", "science"), ("b_cal.fits", "science"), ("bg_cal.fits", "background")]]  # fmt: skip
    path = tmp_path / "m_asn.json"
    path.write_text(_asn_text(products=[{"name": "m", "members": members}]))
    with pytest.raises(InputError, match=r"2 member file\(s\) not found: a_cal.fits, bg_cal.fits\. "
                       rf"Relative 'expname' values are read from {tmp_path}"):  # fmt: skip
        read_association(path)
    assert read_association(path, check_members=False).member_paths()[1] == tmp_path / "b_cal.fits"


def test_missing_or_unreadable_association_file(tmp_path):
    with pytest.raises(InputError, match=r"association file .*nope_asn.json not found"):
        read_association(tmp_path / "nope_asn.json")
    with pytest.raises(InputError, match="is a folder"):
        read_association(tmp_path)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not a text"):
        read_association(tmp_path / "bin.json")


def test_level_that_cannot_be_told_is_an_error_naming_the_fields():
    asn = Association("mosaic", "my_rule", "a1", "none", "p", None, [])
    with pytest.raises(InputError, match="asn_rule='my_rule' or asn_type='mosaic'"):
        _ = asn.level
    assert Association("spec2", "Asn_MIRLRSTAConfirm", "a1", "none", "p", None, []).level == 2


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(files=[]), "files is empty"),
        (dict(files=["a_cal.fits", "./a_cal.fits"]), "listed twice"),
        (dict(files=["a_cal.fits", 3]), "files must be paths; got 3"),
        (dict(files=["a_cal.fits"], product_name=None), "Level 3 association needs product_name"),
        (dict(files=["a_cal.fits"], level=1), "level must be 2 or 3, not 1"),
        (dict(files=["a_rate.fits"], level=2, asn_rule="DMS_Level3_Base"),
         "is a Level 3 rule but level=2"),
        (dict(files=["a_rate.fits"], level=2, exptype="background"), "exptype must be 'science'"),
        (dict(files=["x/a_rate.fits", "y/a_rateints.fits"], level=2),
         "both give the Level 2 product name 'a'"),
    ],
    ids=["empty", "twice", "not a path", "no product name", "level 1", "rule vs level",
         "level 2 background", "name clash"],
)  # fmt: skip
def test_association_from_files_rejects_bad_arguments(kwargs, match):
    kwargs.setdefault("product_name", "m")
    files = kwargs.pop("files")
    with pytest.raises(InputError, match=match):
        association_from_files(files, **kwargs)


def test_a_single_path_is_one_file_not_a_list_of_characters(cal_files):
    asn = association_from_files(cal_files[0], product_name="m")
    assert asn.member_paths() == [cal_files[0]]


# --------------------------------------------------------------------------- atomic write


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path, cal_files, monkeypatch):
    asn = association_from_files(cal_files, product_name="m")
    target = tmp_path / "out" / "m_asn.json"
    write_association(asn, target)
    write_association(asn, target)  # overwriting an existing file
    assert sorted(p.name for p in target.parent.iterdir()) == ["m_asn.json"]
    before = target.read_text()

    import jwinteract.association as mod

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(mod.os, "replace", fail)
    smaller = association_from_files(cal_files[:1], product_name="m")
    with pytest.raises(OSError, match="disk full"):
        write_association(smaller, target)
    assert target.read_text() == before  # the earlier file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["m_asn.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_written_file_has_the_usual_permissions(tmp_path, cal_files):
    # A temporary file from tempfile.mkstemp is private (0600); renamed into
    # place it would hide the association from other users of a shared folder.
    written = write_association(association_from_files(cal_files, product_name="m"),
                                tmp_path / "m_asn.json")  # fmt: skip
    (tmp_path / "plain.json").write_text("{}")
    assert written.stat().st_mode == (tmp_path / "plain.json").stat().st_mode


def test_write_refuses_what_would_not_read_back(tmp_path):
    with pytest.raises(InputError, match=r"must end in \.json"):
        write_association(association_from_files(["a_cal.fits"], product_name="m"),
                          tmp_path / "m_asn.yaml")  # fmt: skip
    empty = Association("image3", "DMS_Level3_Base", "a1", "none", "p", None, [])
    with pytest.raises(InputError, match="'products' is empty"):
        write_association(empty, tmp_path / "e_asn.json")
    assert list(tmp_path.iterdir()) == []


def test_module_does_not_import_jwst():
    code = "import sys, jwinteract.association; print('jwst' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- jwst compatibility


@pytest.fixture(scope="module")
def jwst_asn():
    """jwst's asn_from_list, its rules and load_asn."""
    pytest.importorskip("jwst")
    from jwst.associations import load_asn
    from jwst.associations.asn_from_list import asn_from_list
    from jwst.associations.lib.rules_level2_base import DMSLevel2bBase
    from jwst.associations.lib.rules_level3_base import DMS_Level3_Base

    return asn_from_list, DMSLevel2bBase, DMS_Level3_Base, load_asn


def _jwst_dump(asn_from_list, names, **kw):
    return asn_from_list(names, **kw).dump()[1]


@pytest.mark.jwst
@pytest.mark.parametrize("with_background", [False, True])
def test_reads_jwst_level3_associations_and_writes_them_back_byte_for_byte(
    tmp_path, jwst_asn, with_background
):
    asn_from_list, _, level3, _ = jwst_asn
    names = ["jw01_nrca1_cal.fits", "jw02_nrca1_cal.fits"]
    items, kw = names, {}
    if with_background:
        items, kw = [(names[0], "science"), (names[1], "background")], {"with_exptype": True}
    text = _jwst_dump(asn_from_list, items, rule=level3, product_name="mosaic", **kw)
    touch(tmp_path, *names)
    src = tmp_path / "jwst_asn.json"
    src.write_text(text)

    asn = read_association(src)
    assert asn.level == 3 and asn.asn_rule == "DMS_Level3_Base"
    assert [p.name for p in asn.products] == ["mosaic"]
    assert asn.member_paths() == [tmp_path / n for n in (names[:1] if with_background else names)]
    if with_background:
        assert asn.member_paths("background") == [tmp_path / names[1]]
    assert write_association(asn, tmp_path / "ours_asn.json").read_text() == text


@pytest.mark.jwst
def test_reads_jwst_level2_associations_with_jwst_product_names(tmp_path, jwst_asn):
    asn_from_list, level2, _, _ = jwst_asn
    # Suffixes jwst strips, one it keeps (only the last suffix goes), a "-" separator.
    names = ["jw01_nrca1_rate.fits", "jw02_nrca1_rateints.fits", "jw03_nrca1_cal.fits",
             "jw04_nrca1_jump.fits", "a_rate_rate.fits", "b-rate.fits", "plain.fits"]  # fmt: skip
    text = _jwst_dump(asn_from_list, names, rule=level2)
    touch(tmp_path, *names)
    src = tmp_path / "jwst_l2_asn.json"
    src.write_text(text)

    theirs = read_association(src)
    assert theirs.level == 2
    assert len(theirs.products) == len(names)
    ours = association_from_files([tmp_path / n for n in names], level=2)
    assert [p.name for p in ours.products] == [p.name for p in theirs.products]
    assert theirs.member_paths() == [tmp_path / n for n in names]
    assert write_association(theirs, tmp_path / "ours_asn.json").read_text() == text


@pytest.mark.jwst
@pytest.mark.parametrize("level", [2, 3])
def test_files_we_write_load_and_validate_in_jwst(tmp_path, jwst_asn, level):
    _, level2, level3, load_asn = jwst_asn
    files = touch(tmp_path, "jw01_nrca1_cal.fits", "jw02_nrca1_cal.fits")
    path = write_association(association_from_files(files, product_name="m", level=level),
                             tmp_path / "ours_asn.json")  # fmt: skip
    with path.open() as fh:
        loaded = load_asn(fh)
    assert loaded == json.loads(path.read_text())
    rule = level2 if level == 2 else level3
    assert rule.validate(loaded)  # the schema the pipelines rely on
    # The same products jwst makes from the same list.
    kw = {"product_name": "m"} if level == 3 else {}
    expected = json.loads(_jwst_dump(jwst_asn[0], [f.name for f in files], rule=rule, **kw))
    assert loaded["products"] == expected["products"]


@pytest.mark.jwst
def test_jwst_warns_about_absolute_member_names_and_still_loads(tmp_path, jwst_asn):
    load_asn = jwst_asn[3]
    files = touch(tmp_path / "data", "a_cal.fits")
    path = write_association(association_from_files(files, product_name="m"),
                             tmp_path / "asn" / "m_asn.json")  # fmt: skip
    with path.open() as fh, pytest.warns(UserWarning, match="path information"):
        loaded = load_asn(fh)
    assert loaded["products"][0]["members"][0]["expname"] == files[0].as_posix()


@pytest.mark.jwst
def test_suffix_list_matches_jwst():
    from jwst.lib.suffix import KNOW_SUFFIXES

    from jwinteract.association import _KNOWN_SUFFIXES

    assert _KNOWN_SUFFIXES == set(KNOW_SUFFIXES), "jwst's suffix list changed: update ours"


@pytest.mark.jwst
def test_level_of_every_jwst_rule():
    import inspect

    from jwst.associations.lib import rules_level2b, rules_level3

    checked = 0
    for module, level in ((rules_level2b, 2), (rules_level3, 3)):
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not name.startswith("Asn_"):
                continue
            # MAST files carry the rule with a "candidate_"/"discover_" prefix and
            # the asn_type its mixin sets; Asn_MIRLRSTAConfirm has only the latter.
            asn_type = "spec2" if name == "Asn_MIRLRSTAConfirm" else "None"
            for rule in (name, f"candidate_{name}"):
                asn = Association(asn_type, rule, "a1", "none", "p", None, [])
                assert asn.level == level, rule
            checked += 1
    assert checked > 40
