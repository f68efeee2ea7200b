"""An offline CRDS context that jwinteract writes itself.

:class:`OfflineContext` keeps a small CRDS cache in its own folder (never the
user's real CRDS cache) with the layout the ``crds`` library expects::

    <root>/config/jwst/server_config            what crds reads when no server answers
    <root>/config/jwst/ref_cache_subdir_mode    "instrument"
    <root>/mappings/jwst/jwst_0007.pmap         pipeline -> instrument mappings
    <root>/mappings/jwst/jwst_nircam_0007.imap  reftype -> rmap or "N/A"
    <root>/mappings/jwst/jwst_nircam_gain_0005.rmap
    <root>/references/jwst/nircam/jwst_nircam_gain_1f3a9c0b.fits
    <root>/jwinteract_context.json              the rules, from which the mappings are written

With the environment from :meth:`OfflineContext.env` (``CRDS_PATH`` pointing
here, ``CRDS_MODE=local``, ``CRDS_CONTEXT`` the newest ``.pmap`` and a
"serverless" server URL) both ``crds.getreferences`` and the official ``jwst``
pipeline resolve every reference type through this folder with no network and
no overrides.

Mappings are never rewritten in place: every change writes a new ``.pmap``
(and new ``.imap`` / ``.rmap`` files for what changed) with the next serial
number, as CRDS itself does. A process that already loaded an older context
keeps a consistent view of it, and crds, which caches mappings by name, sees
a new context simply because the name is new. Each mapping header carries
``derived_from`` (its predecessor) and the ``sha1sum`` crds verifies on load.

Reference files are named by content (``jwst_<instrument>_<reftype>_<8 hex>``):
adding the same reference twice writes nothing and changes no mapping, and two
different files can never share a name.

Every change of the rules happens under an exclusive lock on ``<root>/.lock``
(``fcntl.flock``), so several processes (e.g. dask workers simulating
exposures) can add references to one context at once.

The text of the mappings (headers, selectors, ``sha1sum``) is written by
:mod:`jwinteract.references._mappings`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ReferenceFileError
from ._mappings import OBSERVATORY, _check_mapping_text, _format_imap, _format_pmap, _format_rmap

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock (jwst targets POSIX systems)
    fcntl = None

__all__ = ["OfflineContext", "default_root", "SERVERLESS_URL"]


#: A CRDS server URL that the crds client recognises as "no server": it never
#: opens a connection for it (crds' own default when CRDS_SERVER_URL is unset).
SERVERLESS_URL = "https://crds-serverless-mode.stsci.edu"

_STATE_FILE = "jwinteract_context.json"
_USEAFTER_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2}(\.\d+)?)?$")


def default_root() -> Path:
    """The folder of the default offline context.

    ``$JWINTERACT_CRDS_PATH`` if set, else ``$XDG_CACHE_HOME/jwinteract/crds``,
    else ``~/.cache/jwinteract/crds``.
    """
    explicit = os.environ.get("JWINTERACT_CRDS_PATH")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "jwinteract" / "crds"


class OfflineContext:
    """A local CRDS cache whose rules jwinteract writes.

    Parameters
    ----------
    root : str or Path, optional
        The cache folder (created if needed). Default: :func:`default_root`.

    Examples
    --------
    >>> import tempfile
    >>> ctx = OfflineContext(tempfile.mkdtemp())
    >>> ctx.context
    'jwst_0001.pmap'
    >>> ctx.mark_not_applicable("NIRCAM", ["ipc"])
    >>> ctx.context
    'jwst_0002.pmap'
    >>> ctx.env()["CRDS_MODE"]
    'local'
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser().resolve() if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not self._state_path.exists():
                self._bootstrap()

    def __repr__(self) -> str:
        return f"OfflineContext({str(self.root)!r}, context={self.context!r})"

    # ------------------------------------------------------------------ paths

    @property
    def _state_path(self) -> Path:
        return self.root / _STATE_FILE

    @property
    def mapping_dir(self) -> Path:
        """Folder of the ``.pmap`` / ``.imap`` / ``.rmap`` files."""
        return self.root / "mappings" / OBSERVATORY

    @property
    def config_dir(self) -> Path:
        """Folder of ``server_config`` and ``ref_cache_subdir_mode``."""
        return self.root / "config" / OBSERVATORY

    def reference_dir(self, instrument: str) -> Path:
        """Folder of the reference files of ``instrument``."""
        return self.root / "references" / OBSERVATORY / instrument.lower()

    # ------------------------------------------------------------- public API

    @property
    def context(self) -> str:
        """The newest pipeline mapping, e.g. ``"jwst_0007.pmap"``."""
        return self._read_state()["pmap"]

    def env(self) -> dict[str, str]:
        """Environment variables that make crds and jwst resolve through this cache.

        ``CRDS_PATH`` (this folder), ``CRDS_MODE=local``, ``CRDS_CONTEXT`` (the
        newest ``.pmap``), ``CRDS_SERVER_URL`` set to a serverless URL (so an
        inherited real server URL can neither be contacted nor overwrite
        ``server_config``) and ``CRDS_OBSERVATORY=jwst``.

        crds reads ``CRDS_SERVER_URL`` when it is imported and caches the
        context it resolved in its first call: set these before the first
        reference lookup of a process (e.g. in a subprocess's environment), or
        use :meth:`activate` in a running process.
        """
        return {
            "CRDS_PATH": str(self.root),
            "CRDS_MODE": "local",
            "CRDS_CONTEXT": self.context,
            "CRDS_SERVER_URL": SERVERLESS_URL,
            "CRDS_OBSERVATORY": OBSERVATORY,
        }

    @contextlib.contextmanager
    def activate(self) -> Iterator[OfflineContext]:
        """Point crds in *this* process at the context while the block runs.

        Sets the variables of :meth:`env`, takes the crds client out of any
        server it was configured for, clears crds' caches of configuration and
        resolved contexts, and restores all of it afterwards. Use this for
        in-process jwst steps; a subprocess only needs :meth:`env`.
        """
        from crds.client import api
        from crds.core import config, utils

        saved_env = {key: os.environ.get(key) for key in self.env()}
        saved_server = api.get_crds_server()
        saved_subdir_mode = config.CRDS_REF_SUBDIR_MODE
        try:
            os.environ.update(self.env())
            api.set_crds_server(SERVERLESS_URL)
            config.CRDS_REF_SUBDIR_MODE = "None"
            utils.clear_function_caches()
            yield self
        finally:
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            api.set_crds_server(saved_server)
            config.CRDS_REF_SUBDIR_MODE = saved_subdir_mode
            utils.clear_function_caches()

    def add_reference(
        self,
        model,
        *,
        reftype: str,
        selector: Mapping[str, str],
        useafter: str = "2014-01-01T00:00:00",
    ) -> Path:
        """Write a reference file and make the context select it.

        Parameters
        ----------
        model : stdatamodels reference model
            E.g. a ``GainModel``. Its instrument (``meta.instrument.name``)
            chooses the mapping. The model is not modified: the written copy
            gets ``REFTYPE`` (if missing) and ``USEAFTER`` = ``useafter``.
        reftype : str
            The CRDS reference type (``"gain"``, ``"dark"``, ...).
        selector : mapping of str to str
            CRDS parameter keys and the values they must have in a dataset for
            this file to be selected, e.g. ``{"META.INSTRUMENT.DETECTOR":
            "NRCA1", "META.SUBARRAY.NAME": "FULL"}``. Every reference of one
            reftype and instrument must use the same keys. ``{}`` selects the
            file for every dataset of the instrument.
        useafter : str
            Selected for observations on or after this date
            (``YYYY-MM-DDTHH:MM:SS``).

        Returns
        -------
        Path
            The reference file in the cache. Adding a reference for a selector
            and useafter that already have one replaces that entry.
        """
        paths = self.add_references([(reftype, model, selector)], useafter=useafter)
        return paths[_check_reftype(reftype)]

    def add_references(
        self,
        entries: Iterable[tuple[str, Any, Mapping[str, str]]],
        *,
        useafter: str = "2014-01-01T00:00:00",
    ) -> dict[str, Path]:
        """Add several references at once: ``(reftype, model, selector)`` tuples.

        Same as :meth:`add_reference` for each, but the mappings are rewritten
        once, so the whole set appears in one new context. Returns
        ``{reftype: path}``.
        """
        useafter_iso = _normalise_useafter(useafter)
        prepared = []
        for reftype, model, selector in entries:
            reftype = _check_reftype(reftype)
            instrument = _model_instrument(model)
            parkeys, values = _normalise_selector(selector)
            name, path = self._write_reference(model, instrument, reftype, useafter_iso)
            entry = {"match": list(values), "useafter": _rmap_date(useafter_iso), "file": name}
            prepared.append((instrument, reftype, list(parkeys), entry, path))

        def change(state: dict) -> bool:
            changed = False
            for instrument, reftype, parkeys, entry, _ in prepared:
                rules = _instrument_rules(state, instrument)
                current = rules.get(reftype)
                if current is None or current == "N/A":
                    current = {"rmap": None, "parkeys": parkeys, "entries": []}
                elif current["parkeys"] != parkeys:
                    raise ReferenceFileError(
                        f"the {instrument} {reftype!r} rules select on {current['parkeys']}, "
                        f"but this reference was added with selector keys {parkeys}; "
                        "use the same keys for every reference of one type"
                    )
                if entry in current["entries"]:
                    continue
                kept = [e for e in current["entries"] if _entry_key(e) != _entry_key(entry)]
                rules[reftype] = dict(current, entries=sorted([*kept, entry], key=_entry_key))
                changed = True
            return changed

        self._update(change)
        return {reftype: path for _, reftype, _, _, path in prepared}

    def _write_reference(self, model, instrument: str, reftype: str, useafter_iso: str):
        """Save ``model`` under its content name (nothing is written if it exists)."""
        from ..models import derive, model_fingerprint, save_atomic

        # The written copy: metadata deep-copied, arrays shared (never written to).
        ref = derive(model)
        if ref.meta.reftype is None:
            ref.meta.reftype = reftype.upper()
        elif str(ref.meta.reftype).lower() != reftype:
            raise ReferenceFileError(
                f"{type(model).__name__} has REFTYPE={ref.meta.reftype!r} but was added as "
                f"reftype {reftype!r}; pass the matching reftype or fix meta.reftype"
            )
        # The file's USEAFTER is the one the rmap selects it by.
        ref.meta.useafter = useafter_iso
        name = f"{OBSERVATORY}_{instrument}_{reftype}_{model_fingerprint(ref)[:8]}.fits"
        path = self.reference_dir(instrument) / name
        if not path.exists():
            # Content-addressed: an existing file of this name has this content.
            save_atomic(ref, path)
        return name, path

    def mark_not_applicable(self, instrument: str, reftypes: Iterable[str]) -> None:
        """Map ``reftypes`` to ``N/A`` for ``instrument``.

        A jwst step whose reference resolves to ``N/A`` is skipped (or, for
        optional references such as ``sirskernel``, runs without it). This
        replaces any rules the reftype had.
        """
        instrument = _check_instrument(instrument)
        reftypes = [_check_reftype(r) for r in reftypes]

        def change(state: dict) -> bool:
            rules = _instrument_rules(state, instrument)
            changed = False
            for reftype in reftypes:
                if rules.get(reftype) != "N/A":
                    rules[reftype] = "N/A"
                    changed = True
            return changed

        self._update(change)

    def lookup(
        self, instrument: str, reftype: str, selector: Mapping[str, str]
    ) -> Path | str | None:
        """What the context holds for exactly this selector.

        Returns the reference file (the entry with the latest useafter),
        ``"N/A"`` if the reftype is not applicable, or ``None`` if the context
        has no entry for the selector. This reads the rules; it does not do
        CRDS matching (no wildcards, no dates).
        """
        instrument = _check_instrument(instrument)
        reftype = _check_reftype(reftype)
        parkeys, values = _normalise_selector(selector)
        rules = (
            self._read_state()["instruments"].get(instrument, {}).get("reftypes", {}).get(reftype)
        )
        if rules is None:
            return None
        if rules == "N/A":
            return "N/A"
        if rules["parkeys"] != list(parkeys):
            return None
        found = [e for e in rules["entries"] if e["match"] == list(values)]
        if not found:
            return None
        return self.reference_dir(instrument) / max(found, key=_entry_key)["file"]

    # ---------------------------------------------------------------- internals

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # flock is released when the file is closed, also if the process dies.
        with open(self.root / ".lock", "a+") as handle:
            if fcntl is None:  # pragma: no cover
                yield
                return
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_state(self) -> dict:
        try:
            return json.loads(self._state_path.read_text())
        except (OSError, ValueError) as exc:
            raise ReferenceFileError(
                f"{self._state_path}: the offline CRDS context is missing or damaged ({exc}); "
                "delete the folder to start a new context"
            ) from exc

    def _bootstrap(self) -> None:
        _atomic_write(self.config_dir / "ref_cache_subdir_mode", "instrument")
        state = {"serial": 0, "pmap": None, "instruments": {}}
        self._write_mappings(state, changed_instruments=set(), changed_reftypes=set())

    def _update(self, change) -> None:
        """Apply ``change(state) -> bool`` under the lock; write new mappings if it changed."""
        with self._locked():
            state = self._read_state()
            before = json.loads(json.dumps(state["instruments"]))
            if not change(state):
                return
            after = state["instruments"]
            changed_instruments = {i for i in after if after[i] != before.get(i)}
            changed_reftypes = {
                (i, r)
                for i in changed_instruments
                for r, rules in after[i]["reftypes"].items()
                if rules != before.get(i, {}).get("reftypes", {}).get(r) and rules != "N/A"
            }
            self._write_mappings(state, changed_instruments, changed_reftypes)

    def _write_mappings(self, state: dict, changed_instruments, changed_reftypes) -> None:
        """Write the next serial's mappings, then server_config, then the state.

        The state file is replaced last, so a crash leaves the old context
        fully usable (the new mapping files are then unused orphans).
        """
        serial = state["serial"] + 1
        if serial > 9999:
            # CRDS names carry exactly four digits (jwst_0001.pmap).
            raise ReferenceFileError(
                f"{self.root}: the offline context has reached 9999 versions; "
                "start a new context in another folder"
            )
        tag = f"{serial:04d}"
        for instrument, reftype in sorted(changed_reftypes):
            rules = state["instruments"][instrument]["reftypes"][reftype]
            name = f"{OBSERVATORY}_{instrument}_{reftype}_{tag}.rmap"
            text = _format_rmap(name, instrument, reftype, rules, derived_from=rules["rmap"])
            self._write_mapping(name, text)
            rules["rmap"] = name
        for instrument in sorted(changed_instruments):
            rules = state["instruments"][instrument]
            name = f"{OBSERVATORY}_{instrument}_{tag}.imap"
            text = _format_imap(name, instrument, rules, derived_from=rules["imap"])
            self._write_mapping(name, text)
            rules["imap"] = name
        name = f"{OBSERVATORY}_{tag}.pmap"
        text = _format_pmap(name, state["instruments"], derived_from=state["pmap"])
        self._write_mapping(name, text)
        state["pmap"] = name
        state["serial"] = serial
        self._write_server_config(state)
        _atomic_write(self._state_path, json.dumps(state, indent=1, sort_keys=True))

    def _write_mapping(self, name: str, text: str) -> None:
        # Parse it with crds' own loader first: a mapping crds would reject
        # (syntax, checksum, missing header key) fails here, at write time.
        _check_mapping_text(name, text)
        _atomic_write(self.mapping_dir / name, text)

    def _write_server_config(self, state: dict) -> None:
        import crds

        mappings = [state["pmap"]]
        for rules in state["instruments"].values():
            mappings.append(rules["imap"])
            mappings.extend(
                r["rmap"] for r in rules["reftypes"].values() if r != "N/A" and r["rmap"]
            )
        info = {
            "observatory": OBSERVATORY,
            "operational_context": state["pmap"],
            "latest_context": state["pmap"],
            "edit_context": state["pmap"],
            "versions_context": state["pmap"],
            "bad_files": "",
            "bad_files_list": [],
            "force_remote_mode": False,
            "connected": False,
            "status": "cache",
            "last_synced": datetime.now(UTC).isoformat(timespec="seconds"),
            "mappings": sorted(mappings),
            "crds_version": {"str": crds.__version__},
            "reference_url": "none",
            "mapping_url": "none",
            "server": SERVERLESS_URL,
            "generated_by": "jwinteract.references.offline",
        }
        _atomic_write(self.config_dir / "server_config", repr(info))


# --------------------------------------------------------------------- rules


def _instrument_rules(state: dict, instrument: str) -> dict:
    """The reftype rules of ``instrument`` in ``state``, created if new.

    A new instrument maps every ``pars-*`` reftype to N/A: jwst's ``Step.call``
    asks CRDS for parameter reference files, and N/A means "use the code
    defaults" (a reftype missing from the imap would be an error instead).
    """
    from crds.jwst import FILEKINDS

    if instrument not in state["instruments"]:
        state["instruments"][instrument] = {
            "imap": None,
            "reftypes": {k: "N/A" for k in FILEKINDS if k.startswith("pars-")},
        }
    return state["instruments"][instrument]["reftypes"]


def _entry_key(entry: dict) -> tuple:
    return (entry["match"], entry["useafter"])


# ---------------------------------------------------------------- validation


def _check_instrument(instrument: str) -> str:
    from crds.jwst import INSTRUMENTS

    name = str(instrument).strip().lower()
    if name not in INSTRUMENTS or name in ("all", "system"):
        valid = sorted(set(INSTRUMENTS) - {"all", "system"})
        raise ReferenceFileError(f"unknown JWST instrument {instrument!r}; expected one of {valid}")
    return name


def _check_reftype(reftype: str) -> str:
    from crds.jwst import FILEKINDS

    name = str(reftype).strip().lower()
    if name not in FILEKINDS or name == "all":
        raise ReferenceFileError(
            f"{reftype!r} is not a JWST CRDS reference type (e.g. 'gain', 'dark', 'linearity')"
        )
    return name


def _model_instrument(model) -> str:
    try:
        name = model.meta.instrument.name
    except AttributeError:
        name = None
    if not name:
        raise ReferenceFileError(
            f"{type(model).__name__} has no meta.instrument.name (INSTRUME); set it before "
            "adding the model to the offline context"
        )
    return _check_instrument(name)


def _normalise_selector(selector: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    items = sorted((str(k).strip().upper(), str(v).strip().upper()) for k, v in selector.items())
    for key, value in items:
        if not key.startswith("META."):
            raise ReferenceFileError(
                f"selector key {key!r} is not a CRDS parameter key; use data model paths "
                "such as 'META.INSTRUMENT.DETECTOR' or 'META.SUBARRAY.NAME'"
            )
        if not value:
            raise ReferenceFileError(f"selector key {key!r} has an empty value")
    return tuple(k for k, _ in items), tuple(v for _, v in items)


def _normalise_useafter(useafter: str) -> str:
    text = str(useafter).strip()
    if not _USEAFTER_RE.match(text):
        raise ReferenceFileError(
            f"useafter {useafter!r} is not a date; use 'YYYY-MM-DDTHH:MM:SS', "
            "e.g. '2014-01-01T00:00:00'"
        )
    text = text.replace(" ", "T")
    return text if "T" in text else text + "T00:00:00"


def _rmap_date(useafter_iso: str) -> str:
    """'2014-01-01T00:00:00' -> '2014-01-01 00:00:00', the form rmaps use."""
    return useafter_iso.split(".")[0].replace("T", " ")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
