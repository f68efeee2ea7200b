"""Products as stdatamodels models: opening, deriving, freezing, fingerprints.

stdatamodels models and files are the only product format (DESIGN principle 4).
This module is the one adapter between models and the array functions in
:mod:`jwinteract.algorithms`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from stdatamodels.jwst import datamodels
from stdatamodels.jwst.datamodels import dqflags

from .errors import InputError

__all__ = [
    "PIXEL",
    "GROUP",
    "open_model",
    "as_ramp",
    "require_ramp",
    "derive",
    "freeze",
    "model_nbytes",
    "model_fingerprint",
    "array_fingerprint",
    "copy_history",
    "dq_names",
    "history",
    "save_atomic",
]

#: Pixel DQ flag values by name (``DO_NOT_USE`` = 1, ``SATURATED`` = 2 ...).
PIXEL: dict[str, int] = dict(dqflags.pixel)
#: Group DQ flag values by name (bits 0-7).
GROUP: dict[str, int] = dict(dqflags.group)


def open_model(obj: Any, *, model_class: type | None = None):
    """Open ``obj`` (path, model) as a stdatamodels model with clear errors.

    Parameters
    ----------
    obj : str, os.PathLike or DataModel
        A JWST product file (FITS or ASDF) or an open model. A model is
        returned as it is (never copied, never modified).
    model_class : type, optional
        Open as this class (e.g. ``RampModel``) instead of the file's DATAMODL.

    Raises
    ------
    InputError
        If the file is missing, truncated, not a JWST product, or cannot be
        opened as ``model_class``.
    """
    if isinstance(obj, datamodels.JwstDataModel):
        if model_class is not None and not isinstance(obj, model_class):
            try:
                return model_class(obj)
            except Exception as exc:  # noqa: BLE001 - re-raised with context
                raise InputError(
                    f"cannot use a {type(obj).__name__} as a {model_class.__name__}: {exc}"
                ) from exc
        return obj
    if not isinstance(obj, str | os.PathLike):
        raise InputError(
            f"expected a file path or a jwst data model, got {type(obj).__name__}; "
            "pass the path of an _uncal/_rate/_cal file or an opened datamodel"
        )
    path = Path(obj)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() not in (".fits", ".fit", ".asdf", ".gz"):
        raise InputError(f"{path}: not a FITS or ASDF file (expected .fits or .asdf)")
    _check_fits_complete(path)
    with warnings.catch_warnings():
        # Real reference files often lack DATAMODL; stdatamodels warns and
        # opens them as a generic model, which is what we want.
        warnings.simplefilter("ignore")
        try:
            if model_class is not None:
                return model_class(str(path))
            return datamodels.open(str(path))
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise InputError(
                f"{path}: cannot be opened as a JWST data product "
                f"({type(exc).__name__}: {exc}). Is it a JWST pipeline product with "
                "TELESCOP='JWST' and an ASDF extension?"
            ) from exc


def _check_fits_complete(path: Path) -> None:
    """Raise InputError for a FITS file that is truncated or not JWST.

    Cheap: every data unit is memory-mapped unscaled, which fails when the file
    is shorter than its headers say, without reading the data.
    """
    if path.suffix.lower() not in (".fits", ".fit"):
        return
    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=True, do_not_scale_image_data=True) as hdul:
                hdul.verify("silentfix")
                telescop = hdul[0].header.get("TELESCOP")
                for hdu in hdul:
                    if hdu.header.get("NAXIS", 0):
                        _ = hdu.data  # maps (does not read) the data: fails if truncated
                        del _
    except Exception as exc:  # noqa: BLE001
        raise InputError(
            f"{path}: the FITS file is damaged or truncated ({exc}); download or write it again"
        ) from exc
    if telescop is not None and str(telescop).strip().upper() != "JWST":
        raise InputError(
            f"{path}: TELESCOP = {telescop!r} in the primary header; jwinteract calibrates "
            "JWST products only"
        )


def require_ramp(model, what: str) -> None:
    """Raise a clear InputError unless ``model`` holds a 4-D ramp in SCI.

    ``what`` names who needs it (a step name, "Detector1").
    """
    data = getattr(model, "data", None)
    if data is None or np.ndim(data) != 4:
        shape = None if data is None else np.shape(data)
        raise InputError(
            f"{what} needs a 4-D ramp (nints, ngroups, ny, nx); got "
            f"{type(model).__name__} with SCI shape {shape}"
        )


def as_ramp(model) -> datamodels.RampModel:
    """A RampModel view of raw data (Level1b uint16 becomes float32).

    Never modifies ``model``; returns ``model`` itself when it is a RampModel.
    """
    if isinstance(model, datamodels.RampModel):
        return model
    require_ramp(model, "Detector1")
    data = model.data
    ramp = datamodels.RampModel()
    ramp.update(model)
    ramp.data = np.asarray(data, dtype=np.float32)
    ramp.pixeldq = np.zeros(data.shape[-2:], dtype=np.uint32)
    ramp.groupdq = np.zeros(data.shape, dtype=np.uint8)
    for name in ("zeroframe", "group", "int_times"):
        if model.hasattr(name) if hasattr(model, "hasattr") else False:
            value = getattr(model, name)
            if name == "zeroframe":
                value = np.asarray(value, dtype=np.float32)
            setattr(ramp, name, value)
    return ramp


def derive(model, cls: type | None = None, /, **arrays: Any):
    """A new model with ``model``'s metadata and the given arrays.

    Arrays not given are shared with ``model`` (not copied): safe because
    cached models are frozen (:func:`freeze`), so no one writes into them.
    Metadata is deep-copied. With ``cls`` the new model is of that class
    (e.g. ``ImageModel`` for a rate made from a ramp) and only the metadata
    and the given arrays are carried over.
    """
    if cls is None or cls is type(model):
        # Share every array through the deepcopy memo, the ones about to be
        # replaced too: copying those would cost a full-cube copy per step
        # only to throw it away.
        memo = {id(v): v for v in model._instance.values() if isinstance(v, np.ndarray)}
        new = model.copy(memo=memo)
    else:
        new = cls()
        new.update(model)
    for name, value in arrays.items():
        setattr(new, name, value)
    return new


def freeze(model) -> Any:
    """Make every array of ``model`` read-only, so any attempt to modify it fails.

    Cached products are frozen: a step or a user that tries to change one in
    place gets ``ValueError: assignment destination is read-only`` instead of
    silently corrupting the cache. Returns ``model``.
    """
    for arr in _iter_arrays(model):
        arr.flags.writeable = False
    return model


def _iter_arrays(model):
    for value in model._instance.values():
        if isinstance(value, np.ndarray):
            yield value


def model_nbytes(model) -> int:
    """Bytes held by the model's arrays."""
    return int(sum(a.nbytes for a in _iter_arrays(model)))


def array_fingerprint(arr: np.ndarray, h=None) -> str:
    """blake2b of an array's class, dtype, shape and bytes (C order)."""
    own = h is None
    h = h or hashlib.blake2b(digest_size=20)
    arr = np.asarray(arr)
    h.update(f"{type(arr).__name__}|{arr.dtype.str}|{arr.shape}|".encode())
    if arr.dtype.hasobject:
        h.update(repr(arr.tolist()).encode())
    else:
        h.update(np.ascontiguousarray(arr).view(np.uint8).data)
    return h.hexdigest() if own else ""


def model_fingerprint(model) -> str:
    """A content hash of a model: its class, every array and all metadata.

    Two models with equal content have equal fingerprints whatever file they
    came from; the file name itself is left out.
    """
    h = hashlib.blake2b(digest_size=20)
    h.update(type(model).__name__.encode())
    flat = model.to_flat_dict(include_arrays=False)
    for key in sorted(flat):
        # Where and when the file was written is not content; nor is
        # stdatamodels' private hash of the FITS headers (it includes DATE).
        if key in ("meta.filename", "meta.date") or key.rsplit(".", 1)[-1].startswith("_"):
            continue
        h.update(f"{key}={flat[key]!r};".encode())
    for name in sorted(model._instance):
        value = model._instance[name]
        if isinstance(value, np.ndarray):
            h.update(name.encode())
            array_fingerprint(value, h)
    return h.hexdigest()


def history(model) -> list[str]:
    """The descriptions of a model's history entries, oldest first.

    jwinteract records each step it runs, with its parameters, here.
    """
    with warnings.catch_warnings():
        # stdatamodels warns on any use of the `history` attribute.
        warnings.simplefilter("ignore")
        entries = list(model.history or [])
    return [e["description"] if isinstance(e, Mapping) else str(e) for e in entries]


def copy_history(source, target) -> None:
    """Give ``target`` the history entries of ``source`` (for a new model class
    made from an old one, e.g. a rate from a ramp, so the step record carries on).
    """
    import copy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entries = source._instance.get("history")
        if entries:
            target._instance["history"] = copy.deepcopy(entries)


def dq_names(value: int, flags: Mapping[str, int] = PIXEL) -> list[str]:
    """The names of the DQ bits set in ``value``.

    >>> dq_names(5)
    ['DO_NOT_USE', 'JUMP_DET']
    """
    value = int(value)
    return [name for name, bit in flags.items() if bit and value & bit]


def save_atomic(model, path: str | os.PathLike) -> Path:
    """Save ``model`` to ``path`` through a temporary name and a rename.

    A reader never sees a half-written file, and an interrupted write leaves
    no file at ``path``. ``model`` itself is not touched: stdatamodels' save
    rewrites ``meta.filename`` and ``meta.date``, so a metadata copy that
    shares the arrays is saved instead.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file sits in its own folder under the final name, so the
    # FILENAME keyword written into it is the final one.
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tmp = tmpdir / path.name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            derive(model).save(str(tmp))
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path
