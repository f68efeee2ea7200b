"""Open a jwinteract result in jdaviz (an optional extra, imported only when used).

jdaviz does not accept jwst datamodels in memory, so the product is converted
with :func:`jwinteract.convert.to_nddata` (data, ``StdDevUncertainty(err)``,
DQ mask, unit, gwcs) first. jdaviz is a large install (~1 GB, 7-13 s to
import), so nothing imports it until this function is called.
"""

from __future__ import annotations

from typing import Any

from jwinteract.convert import to_nddata

__all__ = ["open_in_jdaviz"]

_INSTALL = 'pip install "jwinteract[jdaviz]"'


def _import_jdaviz():
    try:
        import jdaviz
    except ImportError as exc:
        raise ImportError(
            f"open_in_jdaviz needs jdaviz, an optional extra of jwinteract: {_INSTALL} "
            "(about 1 GB of dependencies; on Binder add it to binder/requirements.txt)"
        ) from exc
    return jdaviz


def _as_nddata(result: Any, plane: int | None):
    from astropy.nddata import NDData

    if isinstance(result, NDData):
        return result
    if hasattr(result, "products") and hasattr(result, "stages"):  # a Session
        stage = next((s for s in reversed(result.stages) if _has_result(result, s)), None)
        if stage is None:
            raise ValueError("the Session has no result yet: run a stage first")
        result = result.products(stage).primary
    elif hasattr(result, "a") and hasattr(result, "difference"):  # a Comparison
        raise TypeError("open a Comparison's products one at a time: open_in_jdaviz(c.a), "
                        "open_in_jdaviz(c.b)")  # fmt: skip
    return to_nddata(result, plane=plane)


def _has_result(session, stage: str) -> bool:
    try:
        session.products(stage)
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return True


def open_in_jdaviz(result: Any, *, label: str | None = None, plane: int | None = None,
                   show: bool = True, **kw: Any):  # fmt: skip
    """Load a product into jdaviz and show it.

    Parameters
    ----------
    result : DataModel, NDData or Session
        An image product (rate, cal, i2d; a cube or rateints with ``plane``),
        an ``NDData`` already converted, or a Session (its latest product).
    label : str, optional
        The data label in jdaviz (default: the product's file name or type).
    plane : int, optional
        For a 3-D product, load this plane as an image.
    show : bool
        Display the jdaviz application in the notebook.
    **kw
        Passed to ``jdaviz.load`` (jdaviz >= 5) or ``Imviz.load_data`` (jdaviz 4).

    Returns
    -------
    object
        The jdaviz application (jdaviz >= 5) or the Imviz helper (jdaviz 4).

    Raises
    ------
    ImportError
        If jdaviz is not installed; the message says how to install it.
    """
    jdaviz = _import_jdaviz()
    nd = _as_nddata(result, plane)
    if label is None:
        label = nd.meta.get("filename") or nd.meta.get("model_type") or "jwinteract"
    if hasattr(jdaviz, "load"):  # jdaviz 5: one application, a format per dataset
        kw.setdefault("format", "Image")
        out = jdaviz.load(nd, data_label=label, **kw)
        if show:
            jdaviz.show()
        return jdaviz.gca() if hasattr(jdaviz, "gca") else out
    imviz = jdaviz.Imviz()
    imviz.load_data(nd, data_label=label, **kw)
    if show:
        imviz.show()
    return imviz
