"""Content-addressed store of step outputs: memory LRU + disk of product files.

The key of a step's output is :func:`step_key` of (step name, step version,
parameters, reference checksums, input key): a Merkle chain, so changing a
parameter changes the key of that step and of everything after it, and no
invalidation code exists that could be wrong.

* Memory tier: least-recently-used entries within a byte budget. Steps share
  unchanged arrays between input and output (the entries are frozen), so the
  budget counts each distinct array once.
* Disk tier: one folder per key holding ordinary stdatamodels product files
  (``rate.fits`` ...) and ``entry.json`` (what made it). A folder is written
  under a temporary name and renamed, so readers never see half an entry and
  two Sessions sharing the folder cannot corrupt it. Writing happens on a
  background thread so the next step computes meanwhile. No pickle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from .models import derive, freeze, open_model
from .products import Products

__all__ = ["Cache", "step_key", "default_cache_dir", "DEFAULT_MEMORY_BUDGET", "canonical_json"]

log = logging.getLogger(__name__)

#: Default memory budget: room for a full-frame 10-group ramp and its rate on a
#: 2 GB Binder, leaving the rest for the kernel and the notebook.
DEFAULT_MEMORY_BUDGET = 768 * 2**20

_ENTRY = "entry.json"


def _quiet_fits_cards() -> None:
    """Silence astropy's cosmetic "Card is too long" warning, once, narrowly.

    Every JWST product triggers it (schema comments of VPARITY, DRPFRMS1,
    R_* ... exceed 80 columns) and the cache writes products on a background
    thread, where a catch_warnings() block would not be thread-safe.
    """
    from astropy.io.fits.verify import VerifyWarning

    warnings.filterwarnings(
        "ignore", message="Card is too long, comment will be truncated", category=VerifyWarning
    )


_quiet_fits_cards()
_MAX_PENDING_WRITES = 2


def default_cache_dir() -> Path:
    """``$JWINTERACT_CACHE_DIR``, else ``$XDG_CACHE_HOME/jwinteract/products``."""
    env = os.environ.get("JWINTERACT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jwinteract" / "products"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON-serialisable in a cache key: {value!r}")


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces) used inside keys."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_jsonable)


def step_key(
    name: str,
    version: str,
    params: dict[str, Any],
    ref_checksums: dict[str, str],
    input_key: str,
) -> str:
    """The cache key of a step's output.

    Examples
    --------
    >>> a = step_key("jump", "1", {"rejection_threshold": 4.0}, {"gain": "ab"}, "in")
    >>> b = step_key("jump", "1", {"rejection_threshold": 5.0}, {"gain": "ab"}, "in")
    >>> a == b, len(a)
    (False, 40)
    """
    record = canonical_json([name, version, params, ref_checksums, input_key])
    return hashlib.blake2b(record.encode(), digest_size=20).hexdigest()


class Cache:
    """Two-tier store of :class:`~jwinteract.products.Products` by key.

    Parameters
    ----------
    directory : path or None
        Disk tier location; ``None`` keeps everything in memory only.
    memory_budget : int
        Bytes of array data the memory tier may hold.
    """

    def __init__(
        self, directory: str | os.PathLike | None, memory_budget: int = DEFAULT_MEMORY_BUDGET
    ):
        self.directory = Path(directory).expanduser() if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.memory_budget = int(memory_budget)
        self._mem: OrderedDict[str, Products] = OrderedDict()
        # id(array) -> [array, number of memory entries holding it]
        self._arrays: dict[int, list] = {}
        self._bytes = 0
        self._lock = threading.RLock()
        self._queue: queue.Queue | None = None
        self._writer: threading.Thread | None = None
        self._pending: dict[str, Products] = {}
        self._write_errors: list[tuple[str, BaseException]] = []

    # ------------------------------------------------------------------ memory
    @property
    def memory_bytes(self) -> int:
        """Bytes of distinct arrays currently held by the memory tier."""
        return self._bytes

    def _arrays_of(self, products: Products):
        seen = set()
        for model in products.values():
            for value in model._instance.values():
                if isinstance(value, np.ndarray) and id(value) not in seen:
                    seen.add(id(value))
                    yield value

    def _hold(self, products: Products) -> None:
        for arr in self._arrays_of(products):
            slot = self._arrays.get(id(arr))
            if slot is None:
                self._arrays[id(arr)] = [arr, 1]
                self._bytes += arr.nbytes
            else:
                slot[1] += 1

    def _release(self, products: Products) -> None:
        for arr in self._arrays_of(products):
            slot = self._arrays.get(id(arr))
            if slot is None:
                continue
            slot[1] -= 1
            if slot[1] == 0:
                del self._arrays[id(arr)]
                self._bytes -= arr.nbytes

    def _remember(self, key: str, products: Products) -> None:
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return
            self._mem[key] = products
            self._hold(products)
            # Evict least recently used entries, but never the newest one: a
            # single entry larger than the budget still lives until the next.
            while self._bytes > self.memory_budget and len(self._mem) > 1:
                old_key, old = self._mem.popitem(last=False)
                self._release(old)
                log.debug("evicted %s from memory", old_key)

    def forget_memory(self) -> None:
        """Drop every memory entry (the disk tier keeps them)."""
        with self._lock:
            self._mem.clear()
            self._arrays.clear()
            self._bytes = 0

    # ------------------------------------------------------------------ disk
    def entry_dir(self, key: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / key[:2] / key

    def where(self, key: str) -> str | None:
        """``"memory"``, ``"disk"`` or ``None``: where ``key`` can be found."""
        with self._lock:
            if key in self._mem or key in self._pending:
                return "memory"
        d = self.entry_dir(key)
        if d is not None and (d / _ENTRY).exists():
            return "disk"
        return None

    def get(self, key: str) -> Products | None:
        """The products stored under ``key``, or ``None``."""
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return self._mem[key]
            if key in self._pending:
                return self._pending[key]
        d = self.entry_dir(key)
        if d is None or not (d / _ENTRY).exists():
            return None
        try:
            record = json.loads((d / _ENTRY).read_text())
            items = {}
            for name in record["products"]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    items[name] = freeze(open_model(d / f"{name}.fits"))
            products = Products(items)
        except Exception as exc:  # noqa: BLE001 - a broken entry is a miss, not a crash
            log.warning("cache entry %s is unreadable (%s); it will be recomputed", d, exc)
            return None
        self._remember(key, products)
        return products

    def record(self, key: str) -> dict | None:
        """The ``entry.json`` record of a disk entry."""
        d = self.entry_dir(key)
        if d is None or not (d / _ENTRY).exists():
            return None
        return json.loads((d / _ENTRY).read_text())

    def put(
        self, key: str, products: Products, record: dict | None = None, *, persist: bool = True
    ) -> None:
        """Store ``products`` under ``key`` (frozen first).

        With a disk tier and ``persist`` the products are written in the
        background; :meth:`flush` waits for pending writes.
        """
        for model in products.values():
            freeze(model)
        self._remember(key, products)
        if self.directory is None or not persist:
            return
        if self.where(key) == "disk":
            return
        with self._lock:
            self._pending[key] = products
            if self._writer is None or not self._writer.is_alive():
                # Bounded: when the disk is slower than the steps, the next
                # put() waits instead of piling up full-frame ramps in memory.
                self._queue = queue.Queue(maxsize=_MAX_PENDING_WRITES)
                self._writer = threading.Thread(
                    target=self._write_loop, name="jwinteract-cache-writer", daemon=True
                )
                self._writer.start()
        self._queue.put((key, products, dict(record or {})))

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            key, products, record = item
            try:
                self._write_entry(key, products, record)
            except BaseException as exc:  # noqa: BLE001 - reported by flush()
                log.error("could not write cache entry %s: %s", key, exc)
                self._write_errors.append((key, exc))
            finally:
                with self._lock:
                    self._pending.pop(key, None)
                self._queue.task_done()

    def _write_entry(self, key: str, products: Products, record: dict) -> None:
        final = self.entry_dir(key)
        if (final / _ENTRY).exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
        try:
            for name, model in products.items():
                # No warnings.catch_warnings() here: it swaps the process-wide
                # filter list and, from a background thread, races with the
                # main thread's own (see _quiet_fits_cards below).
                # Save a metadata copy: stdatamodels' save rewrites FILENAME
                # and DATE on the model it is given.
                derive(model).save(str(tmp / f"{name}.fits"))
            record = dict(record, key=key, products=list(products), written=time.time())
            (tmp / _ENTRY).write_text(json.dumps(record, indent=1, default=_jsonable))
            try:
                os.rename(tmp, final)
            except OSError:
                # Another Session wrote the same key first; its entry is as good.
                if not (final / _ENTRY).exists():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def flush(self) -> None:
        """Wait until every pending disk write is done; raise the first failure."""
        q = self._queue
        if q is not None:
            q.join()
        if self._write_errors:
            key, exc = self._write_errors.pop(0)
            self._write_errors.clear()
            raise OSError(f"could not write cache entry {key} to {self.directory}: {exc}") from exc

    def close(self) -> None:
        """Flush and stop the writer thread."""
        try:
            self.flush()
        finally:
            if self._writer is not None and self._writer.is_alive():
                self._queue.put(None)
                self._writer.join(timeout=30)
            self._writer = None

    def keys_on_disk(self) -> list[str]:
        """Every complete disk entry's key."""
        if self.directory is None:
            return []
        return sorted(p.parent.name for p in self.directory.glob(f"*/*/{_ENTRY}"))
