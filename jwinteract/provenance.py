"""What ran, recorded on the products: S_*, R_*, CRDS keywords and step parameters.

jwst records a step's status in ``meta.cal_step`` (the ``S_*`` keywords), the
reference files it used in ``meta.ref_file`` (``R_*``, with ``crds://`` names
for CRDS files) and the CRDS context in ``CRDS_CTX``. jwinteract does the
same, and adds a history entry per step with its parameters and version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["mark_skipped", "record_step", "product_rootname"]

# Product-type suffixes stripped from an input name to get the product root.
_SUFFIXES = ("_uncal", "_ramp", "_rateints", "_rate", "_calints", "_cal", "_dark")


def mark_skipped(model, cal_steps: Iterable[str]) -> None:
    """Set each ``meta.cal_step`` in ``cal_steps`` that is still unset to SKIPPED.

    Works in place on ``model``, which must be a new model the caller owns.
    """
    for cal in cal_steps:
        if getattr(model.meta.cal_step, cal, None) is None:
            setattr(model.meta.cal_step, cal, "SKIPPED")


def record_step(
    model,
    *,
    name: str,
    version: str,
    cal_step: str | None,
    status: str,
    params: Mapping[str, Any],
    refs: Mapping[str, Any],
    context: str | None,
    skipped_before: Iterable[str] = (),
) -> None:
    """Record one step on ``model`` (a new model the caller owns; works in place).

    Parameters
    ----------
    status : {"COMPLETE", "SKIPPED"}
        Goes into the step's ``S_*`` keyword.
    refs : mapping
        reftype -> :class:`~jwinteract.references.RefInfo`; names go into ``R_*``.
    skipped_before : iterable of str
        cal_step names of steps skipped earlier in the stage; recorded as
        SKIPPED on this product, as jwst records them.
    """
    import crds

    from . import __version__

    meta = model.meta
    mark_skipped(model, skipped_before)
    if cal_step:
        setattr(meta.cal_step, cal_step, status)
    for reftype, info in refs.items():
        try:
            getattr(meta.ref_file, reftype).name = info.name
        except (AttributeError, KeyError):
            pass  # a reftype the schema has no R_* keyword for (user steps)
    if context:
        meta.ref_file.crds.context_used = context
    meta.ref_file.crds.version = crds.__version__
    text = ", ".join(f"{k}={v!r}" for k, v in params.items())
    model.add_history_entry(f"jwinteract {__version__} {name} v{version}: {text}")


def product_rootname(name: str | Path) -> str:
    """The product root of a file name: without folder, extension and type suffix.

    >>> product_rootname("/data/jw01234001001_01101_00001_nrca1_uncal.fits")
    'jw01234001001_01101_00001_nrca1'
    """
    stem = Path(Path(name).stem).stem
    for suffix in _SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem
