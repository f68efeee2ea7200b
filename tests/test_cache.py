"""The cache on its own: keys, memory budget accounting, disk entries, concurrency."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from stdatamodels.jwst.datamodels import ImageModel
from stdatamodels.jwst.datamodels import open as dm_open

from jwinteract.cache import Cache, step_key
from jwinteract.models import derive
from jwinteract.products import Products


def image(value=1.0, shape=(64, 64)):
    m = ImageModel(np.full(shape, value, dtype=np.float32))
    m.meta.instrument.name = "NIRCAM"
    return m


def test_key_changes_with_every_ingredient():
    base = ("jump", "1", {"rejection_threshold": 4.0}, {"gain": "aa"}, "input")
    k0 = step_key(*base)
    assert step_key(*base) == k0
    assert step_key("ramp_fit", *base[1:]) != k0
    assert step_key(base[0], "2", *base[2:]) != k0
    assert step_key(base[0], base[1], {"rejection_threshold": 5.0}, *base[3:]) != k0
    assert step_key(*base[:3], {"gain": "bb"}, base[4]) != k0
    assert step_key(*base[:4], "other-input") != k0
    # parameter order does not matter
    assert step_key("s", "1", {"a": 1, "b": 2}, {}, "x") == step_key(
        "s", "1", {"b": 2, "a": 1}, {}, "x"
    )


def test_memory_budget_counts_shared_arrays_once():
    one = image().data.nbytes
    cache = Cache(None, memory_budget=3 * one)
    a = image()
    b = derive(a, dq=np.zeros((64, 64), np.uint32))  # shares a.data
    cache.put("a", Products({"x": a}))
    cache.put("b", Products({"x": b}))
    # a.data (shared) + a.dq? (ImageModel((64,64)) has no dq until set) + b.dq
    held = {id(arr) for m in (a, b) for arr in m._instance.values() if isinstance(arr, np.ndarray)}
    assert cache.memory_bytes == sum(
        arr.nbytes for m in (a, b) for arr in m._instance.values()
        if isinstance(arr, np.ndarray) and id(arr) in held and not held.discard(id(arr))
    )  # fmt: skip
    assert cache.memory_bytes <= 3 * one


def test_lru_eviction_within_budget_and_frozen_entries():
    one = image().data.nbytes
    cache = Cache(None, memory_budget=2 * one)
    for k in "abc":
        cache.put(k, Products({"x": image()}))
    assert (
        cache.where("a") is None and cache.where("b") == "memory" and cache.where("c") == "memory"
    )
    assert cache.memory_bytes == 2 * one
    got = cache.get("c").primary
    with pytest.raises(ValueError, match="read-only"):
        got.data[0, 0] = 5


def test_single_entry_larger_than_budget_is_kept_until_the_next():
    cache = Cache(None, memory_budget=10)
    cache.put("big", Products({"x": image()}))
    assert cache.where("big") == "memory"
    cache.put("next", Products({"x": image()}))
    assert cache.where("big") is None


def test_disk_entry_is_an_ordinary_product_readable_by_a_new_cache(tmp_path):
    c1 = Cache(tmp_path, memory_budget=0)
    c1.put("k" * 40, Products({"rate": image(3.0)}), {"step": "demo"})
    c1.flush()
    d = c1.entry_dir("k" * 40)
    assert (d / "entry.json").exists() and (d / "rate.fits").exists()
    assert json.loads((d / "entry.json").read_text())["step"] == "demo"
    with dm_open(d / "rate.fits") as m:  # a user can open it with stdatamodels
        assert isinstance(m, ImageModel) and float(m.data[0, 0]) == 3.0
    c2 = Cache(tmp_path)  # a new kernel
    assert c2.where("k" * 40) == "disk"
    assert float(c2.get("k" * 40).primary.data[5, 5]) == 3.0
    assert not list(tmp_path.rglob("*.tmp*")) and not [
        p for p in tmp_path.rglob(".*") if p.is_dir()
    ]


def test_saving_does_not_touch_the_cached_model_metadata(tmp_path):
    m = image()
    m.meta.filename = "original.fits"
    cache = Cache(tmp_path)
    cache.put("m" * 40, Products({"rate": m}))
    cache.flush()
    assert m.meta.filename == "original.fits"


def test_two_processes_writing_the_same_keys_leave_valid_entries(tmp_path):
    script = textwrap.dedent(
        f"""
        import numpy as np
        from stdatamodels.jwst.datamodels import ImageModel
        from jwinteract.cache import Cache
        from jwinteract.products import Products
        c = Cache({str(tmp_path)!r})
        for i in range(6):
            c.put(f"{{i:040d}}", Products({{"rate": ImageModel(np.full((256, 256), i, np.float32))}}))
        c.close()
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    c = Cache(tmp_path)
    assert len(c.keys_on_disk()) == 6
    for i in range(6):
        assert float(c.get(f"{i:040d}").primary.data.mean()) == i
    assert not [p for p in tmp_path.rglob(".*") if p.is_dir()]


def test_unreadable_entry_is_a_miss_not_a_crash(tmp_path, caplog):
    c = Cache(tmp_path)
    c.put("z" * 40, Products({"rate": image()}))
    c.flush()
    (c.entry_dir("z" * 40) / "rate.fits").write_bytes(b"SIMPLE  = garbage")
    fresh = Cache(tmp_path)
    assert fresh.get("z" * 40) is None
    assert "unreadable" in caplog.text
