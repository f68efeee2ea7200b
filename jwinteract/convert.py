"""Products as astropy objects, for tools that do not read jwst datamodels in memory.

jdaviz (and most of the astropy ecosystem) accepts :class:`~astropy.nddata.NDData`
but not an in-memory jwst datamodel; :func:`to_nddata` is the one adapter. It
imports nothing beyond astropy, so it is usable (and tested) without jdaviz.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from astropy import units as u
from astropy.nddata import NDData, StdDevUncertainty

from .errors import InputError
from .models import PIXEL

__all__ = ["to_nddata", "dq_mask", "model_unit"]


def dq_mask(dq: np.ndarray, flags: Iterable[str] | int = ("DO_NOT_USE",)) -> np.ndarray:
    """A boolean mask: True where ``dq`` has any of ``flags`` set.

    Parameters
    ----------
    dq : numpy.ndarray
        A pixel DQ array.
    flags : iterable of str or int
        Flag names of :data:`jwinteract.models.PIXEL` (``"DO_NOT_USE"``,
        ``"SATURATED"`` ...) or a bit mask.

    Examples
    --------
    >>> dq_mask(np.array([0, 1, 4, 5]), ["DO_NOT_USE"]).tolist()
    [False, True, False, True]
    """
    if isinstance(flags, int | np.integer):
        bits = int(flags)
    else:
        bits = 0
        for name in flags:
            if name not in PIXEL:
                raise InputError(
                    f"unknown DQ flag {name!r}; pixel DQ flags are: {', '.join(PIXEL)}"
                )
            bits |= PIXEL[name]
    return (np.asarray(dq).astype(np.uint32, copy=False) & np.uint32(bits)) != 0


def model_unit(model, attr: str = "bunit_data") -> u.UnitBase | None:
    """The unit in ``model.meta.<attr>`` (``BUNIT`` of SCI, or of ERR), or None."""
    text = getattr(model.meta, attr, None)
    if not text:
        return None
    # An unknown unit string still labels the data; astropy keeps it as an
    # UnrecognizedUnit instead of failing.
    return u.Unit(text, parse_strict="silent")


def _meta(model) -> dict[str, Any]:
    flat = model.to_flat_dict(include_arrays=False)
    meta: dict[str, Any] = {"model_type": type(model).__name__}
    for key, value in flat.items():
        if not key.startswith("meta.") or key == "meta.wcs":
            continue
        if isinstance(value, str | int | float | bool | np.number | np.bool_):
            meta[key.removeprefix("meta.")] = value
    return meta


def to_nddata(
    model,
    *,
    mask_flags: Iterable[str] | int = ("DO_NOT_USE",),
    plane: int | None = None,
) -> NDData:
    """Convert a jwst product (rate, cal, i2d, rateints, s3d...) to ``NDData``.

    Parameters
    ----------
    model : DataModel
        Any product with a ``data`` array; ``err`` and ``dq`` are used when
        present. The model is not modified; the arrays are shared, not copied.
    mask_flags : iterable of str or int
        The DQ flags that make the mask (default: ``DO_NOT_USE``, the pixels
        the pipeline itself ignores).
    plane : int, optional
        For a 3-D product (``rateints``, a cube), take this plane only.

    Returns
    -------
    astropy.nddata.NDData
        ``data``; ``uncertainty`` = ``StdDevUncertainty(err)``; ``mask`` from
        DQ; ``unit`` from ``meta.bunit_data``; ``wcs`` = ``meta.wcs`` (a gwcs,
        once assign_wcs has run) or None; ``meta`` with the model's scalar
        metadata (``instrument.name``, ``exposure.type`` ...) and its
        ``model_type``. The raw DQ array is in ``meta["dq"]``; a WCS with
        fewer axes than the data (the sky WCS of a ``rateints``) is in
        ``meta["spatial_wcs"]`` instead of ``wcs``.

    Raises
    ------
    InputError
        If ``model`` has no data array (spectra such as ``_x1d`` become
        ``specutils`` objects, not ``NDData``).
    """
    data = getattr(model, "data", None)
    if data is None or not hasattr(model, "meta"):
        raise InputError(
            f"{type(model).__name__} has no image data; to_nddata converts image and cube "
            "products (rate, cal, i2d, rateints, s3d)"
        )
    data = np.asarray(data)
    err = getattr(model, "err", None)
    dq = getattr(model, "dq", None)
    if dq is None:
        dq = getattr(model, "pixeldq", None)
    if plane is not None:
        if data.ndim != 3:
            raise InputError(f"plane={plane} needs a 3-D product; {type(model).__name__} "
                             f"data has shape {data.shape}")  # fmt: skip
        data = data[plane]
        err = None if err is None else np.asarray(err)[plane]
        if dq is not None and np.ndim(dq) == 3:
            dq = np.asarray(dq)[plane]
    unit = model_unit(model)
    uncertainty = None
    if err is not None:
        err_unit = model_unit(model, "bunit_err")
        uncertainty = StdDevUncertainty(
            np.asarray(err), unit=err_unit if err_unit not in (None, unit) else None
        )
    mask = None
    meta = _meta(model)
    if dq is not None:
        mask = np.broadcast_to(dq_mask(dq, mask_flags), data.shape)
        meta["dq"] = np.asarray(dq)
    wcs = model.meta.wcs
    if wcs is not None and getattr(wcs, "pixel_n_dim", data.ndim) != data.ndim:
        # e.g. the 2-D sky WCS of a rateints cube: NDData needs one WCS axis per data axis.
        meta["spatial_wcs"] = wcs
        wcs = None
    return NDData(data, uncertainty=uncertainty, mask=mask, wcs=wcs, unit=unit, meta=meta)
