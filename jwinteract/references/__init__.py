"""Reference files: explicit overrides, then CRDS, then jwinteract's offline context.

Resolution goes through the ``crds`` library exactly as the official pipeline
does (``crds.getreferences`` on the dataset's ``get_crds_parameters()``):

* ``override_<reftype>`` (a path, a model or ``"N/A"``) always wins;
* when the user has configured CRDS (``CRDS_PATH`` or ``CRDS_SERVER_URL`` in the
  environment) their cache / server and ``CRDS_CONTEXT`` are used;
* otherwise jwinteract's own offline context (:mod:`.offline`), which the
  simulator fills, is used — in its own folder, never the user's CRDS cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ReferenceFileError
from ..models import model_fingerprint, open_model
from .fast_open import open_reference

__all__ = [
    "RefInfo",
    "References",
    "file_checksum",
    "crds_identity",
    "crds_mode_from_env",
    "reference_model_class",
]

_NA = "N/A"

log = logging.getLogger(__name__)

# The model class jwst opens each reference type with (real files often lack
# DATAMODL, and a generic model would have none of the arrays a step needs).
_REFTYPE_MODELS = {
    "dark": "DarkModel",
    "gain": "GainModel",
    "readnoise": "ReadnoiseModel",
    "mask": "MaskModel",
    "saturation": "SaturationModel",
    "superbias": "SuperBiasModel",
    "linearity": "LinearityModel",
    "ipc": "IPCModel",
}
_INSTRUMENT_MODELS = {("dark", "MIRI"): "DarkMIRIModel", ("dark", "NIRSPEC"): "DarkNirspecModel"}


def reference_model_class(reftype: str, instrument: str | None = None):
    """The stdatamodels class jwst uses for ``reftype`` (None: let the file decide)."""
    from stdatamodels.jwst import datamodels

    name = _INSTRUMENT_MODELS.get((reftype, (instrument or "").upper())) or _REFTYPE_MODELS.get(
        reftype
    )
    return getattr(datamodels, name) if name else None


@dataclass(frozen=True)
class RefInfo:
    """A resolved reference file.

    ``name`` is what goes into the product's ``R_<reftype>`` keyword
    (``crds://<file>`` for CRDS files, as jwst writes it); ``checksum`` is
    what goes into cache keys.
    """

    reftype: str
    name: str
    checksum: str
    path: Path | None = None
    model: Any = None
    source: str = "crds"

    @property
    def not_applicable(self) -> bool:
        return self.name == _NA


_checksums: dict[tuple, str] = {}


def file_checksum(path: str | os.PathLike) -> str:
    """blake2b of a file's bytes, memoised on (path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    memo_key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if memo_key not in _checksums:
        h = hashlib.blake2b(digest_size=20)
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(8 << 20), b""):
                h.update(chunk)
        _checksums[memo_key] = h.hexdigest()
    return _checksums[memo_key]


def crds_identity(path: str | os.PathLike) -> str:
    """Cache-key identity of a file CRDS delivered: its name and size.

    CRDS never gives two different files the same name (a changed reference
    gets a new name and a new context; jwinteract's offline context names
    files by content), so hashing the bytes — ≈ 1 s for a full-frame
    Detector1's ≈ 400 MB of references — would add nothing. Files given as
    overrides are hashed (:func:`file_checksum`): their names mean nothing.
    """
    p = Path(path)
    return f"crds:{p.name}:{p.stat().st_size}"


def crds_mode_from_env() -> str:
    """``"user"`` when the environment configures CRDS, else ``"offline"``.

    A real ``CRDS_PATH`` or ``CRDS_SERVER_URL`` means the user has CRDS; the
    serverless URL jwinteract's own offline context sets does not.
    """
    from .offline import SERVERLESS_URL

    server = os.environ.get("CRDS_SERVER_URL")
    if os.environ.get("CRDS_PATH") or (server and server != SERVERLESS_URL):
        return "user"
    return "offline"


# crds keeps its configuration in process-wide state; switching it to the
# offline context must not race with another thread doing the same.
_ENV_LOCK = threading.RLock()


@contextlib.contextmanager
def _activated(offline):
    with _ENV_LOCK, offline.activate():
        yield


class References:
    """Resolves and opens reference files for one Session.

    Parameters
    ----------
    overrides : dict, optional
        reftype -> path, model or ``"N/A"``.
    crds : {"auto", "offline", "user"}, path or OfflineContext
        Where CRDS lookups go. ``"auto"`` (default) uses the user's CRDS
        configuration when the environment has one, else the offline context.
    """

    def __init__(self, overrides: dict[str, Any] | None = None, crds: Any = "auto"):
        self.overrides = dict(overrides or {})
        self._offline = None
        if crds == "auto":
            crds = crds_mode_from_env()
        if crds == "user":
            self.mode = "user"
        else:
            from .offline import OfflineContext

            self.mode = "offline"
            if isinstance(crds, OfflineContext):
                self._offline = crds
            else:
                self._offline = OfflineContext(None if crds == "offline" else crds)
        self._resolved: dict[tuple, RefInfo] = {}
        self._opened: OrderedDict[str, Any] = OrderedDict()

    @property
    def offline(self):
        """The offline context in use, or ``None`` in user mode."""
        return self._offline

    def environment(self) -> contextlib.AbstractContextManager:
        """Context manager setting the CRDS environment lookups use."""
        if self._offline is None:
            return contextlib.nullcontext()
        return _activated(self._offline)

    @property
    def context(self) -> str | None:
        """The CRDS context (``.pmap``) lookups use."""
        if self._offline is not None:
            return self._offline.context
        return os.environ.get("CRDS_CONTEXT") or None

    def resolve(
        self, model, reftypes, step_overrides: dict[str, Any] | None = None
    ) -> dict[str, RefInfo]:
        """Resolve every reftype in ``reftypes`` for the dataset ``model``.

        Raises
        ------
        ReferenceFileError
            When CRDS has no match (with what was asked and where), or an
            override path does not exist.
        """
        overrides = {**self.overrides, **(step_overrides or {})}
        out: dict[str, RefInfo] = {}
        missing = []
        for reftype in reftypes:
            if reftype in overrides:
                out[reftype] = self._from_override(reftype, overrides[reftype])
            else:
                missing.append(reftype)
        if missing:
            params = _crds_parameters(model)
            memo = (self.context, tuple(sorted(params.items())))
            todo = [r for r in missing if (memo, r) not in self._resolved]
            if todo:
                for reftype, info in self._lookup(params, todo).items():
                    self._resolved[(memo, reftype)] = info
            for reftype in missing:
                out[reftype] = self._resolved[(memo, reftype)]
        return out

    def _from_override(self, reftype: str, value: Any) -> RefInfo:
        if value is None or (isinstance(value, str) and value.upper() == _NA):
            return RefInfo(reftype, _NA, _NA, source="override")
        if isinstance(value, str | os.PathLike):
            path = Path(value).expanduser()
            if not path.exists():
                raise ReferenceFileError(
                    f"override_{reftype}: {path} does not exist; give the path of a "
                    f"{reftype} reference file, a model, or 'N/A'"
                )
            return RefInfo(reftype, path.name, file_checksum(path), path=path, source="override")
        # An in-memory model: its content is its identity.
        return RefInfo(
            reftype, "user-supplied model", model_fingerprint(value), model=value, source="override"
        )

    def _lookup(self, params: dict, reftypes: list[str]) -> dict[str, RefInfo]:
        import crds

        with self.environment(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found = crds.getreferences(
                    params, reftypes=reftypes, context=self.context, observatory="jwst"
                )
            except Exception as exc:  # noqa: BLE001 - crds raises many kinds
                where = (
                    f"jwinteract's offline context {self._offline.root}"
                    if self._offline
                    else f"CRDS (CRDS_PATH={os.environ.get('CRDS_PATH')!r}, "
                    f"CRDS_SERVER_URL={os.environ.get('CRDS_SERVER_URL')!r})"
                )
                raise ReferenceFileError(
                    f"no {', '.join(reftypes)} reference found in {where} for "
                    f"{params.get('META.INSTRUMENT.NAME')} {params.get('META.INSTRUMENT.DETECTOR')} "
                    f"{params.get('META.SUBARRAY.NAME')} ({exc}). Simulate an exposure of this "
                    "kind (jwinteract simulate), configure CRDS, or pass override_<reftype>."
                ) from exc
        out = {}
        for reftype in reftypes:
            value = str(found.get(reftype, "NOT FOUND n/a"))
            if value.upper().startswith("NOT FOUND"):
                if "n/a" in value.lower():
                    out[reftype] = RefInfo(reftype, _NA, _NA, source=self.mode)
                    continue
                raise ReferenceFileError(f"CRDS found no {reftype} reference: {value}")
            path = Path(value)
            out[reftype] = RefInfo(
                reftype, f"crds://{path.name}", crds_identity(path), path=path, source=self.mode
            )
        return out

    def open(self, info: RefInfo, instrument: str | None = None):
        """The opened reference model for ``info`` (``None`` for N/A).

        ``instrument`` picks the class jwst uses (e.g. DarkMIRIModel for MIRI).

        Opened models are kept (a few, by checksum): big references such as a
        full-frame dark are read once per Session, not once per run.
        """
        if info.not_applicable:
            return None
        if info.model is not None:
            return info.model
        if info.checksum in self._opened:
            self._opened.move_to_end(info.checksum)
            return self._opened[info.checksum]
        model_class = reference_model_class(info.reftype, instrument)
        model = None
        if model_class is not None and info.path.suffix.lower() == ".fits":
            try:
                model = open_reference(info.path, model_class)
            except Exception as exc:  # noqa: BLE001 - the full open below decides
                log.debug("fast open of %s failed (%s); opening it with stdatamodels",
                          info.path, exc)  # fmt: skip
        if model is None:
            try:
                model = open_model(info.path, model_class=model_class)
            except Exception as exc:  # noqa: BLE001
                raise ReferenceFileError(f"{info.reftype} reference {info.path}: {exc}") from exc
            _to_native_byte_order(model)
        self._opened[info.checksum] = model
        while len(self._opened) > 12:
            self._opened.popitem(last=False)
        return model


def _to_native_byte_order(model) -> None:
    """Convert the big-endian arrays FITS gives to native order, once.

    The model is this resolver's own opened copy, kept for the Session; a
    big-endian array would otherwise be converted again by every numpy
    operation of every step that uses it.
    """
    import numpy as np

    for name, value in list(model._instance.items()):
        if isinstance(value, np.ndarray) and not value.dtype.isnative:
            model._instance[name] = value.astype(value.dtype.newbyteorder("="))


def _crds_parameters(model) -> dict:
    """The dataset parameters CRDS matches on, as jwst's stpipe builds them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = model.get_crds_parameters()
    return {k: v for k, v in params.items() if isinstance(v, str | int | float | bool)}
