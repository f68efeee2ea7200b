"""Open a reference file as its jwst model class without a full stdatamodels load.

``stdatamodels`` opening a reference walks and validates its whole schema
against every header card and reads (and, for FITS' big-endian data, converts)
every array: ≈ 0.2–0.4 s per file, ≈ 2 s for the seven references of a
full-frame Detector1, most of it for arrays or keywords no step reads.

:func:`open_reference` builds the same model class empty and fills it from the
FITS file directly:

* header keywords the class's schema maps (``fits_keyword`` / ``fits_hdu``),
  typed as astropy reads them;
* arrays the schema maps to an extension (``fits_hdu``): 2-D and smaller ones
  read and converted to native byte order now; larger ones (a dark's frames,
  linearity coefficients) memory-mapped, so a step reads only the planes it
  uses; tables (``DQ_DEF``) as numpy record arrays;
* what the class's constructor adds: a default ``dq`` (``DefaultDQMixin``)
  translated through ``DQ_DEF`` exactly as :func:`stdatamodels.dynamicdq.dynamic_mask`
  does (with a one-pass shortcut when every definition is the standard bit),
  and a default ``err`` (``DefaultErrMixin``).

No validation: reference files come from CRDS (or the simulator), and a file
this reader cannot map raises, so :meth:`References.open` falls back to the
ordinary stdatamodels open. ``tests/test_references.py`` checks that both
give equal arrays and metadata for every simulated and real reference file.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

__all__ = ["open_reference", "MEMMAP_MIN_NDIM"]

#: Arrays with at least this many dimensions stay memory-mapped (big-endian).
MEMMAP_MIN_NDIM = 3


@functools.cache
def _schema_maps(model_class) -> tuple[dict, dict]:
    """(keywords, arrays) of ``model_class``'s schema.

    keywords: dotted meta path -> (HDU name, keyword);
    arrays: attribute -> (HDU name, subschema) for top-level arrays and tables.
    """
    from stdatamodels import schema as mschema

    schema = model_class()._schema
    keywords: dict[str, tuple[str, str]] = {}
    arrays: dict[str, tuple[str, dict]] = {}

    def visit(sub, path, combiner, ctx, recurse):
        if not isinstance(sub, dict) or not path:
            return
        dotted = ".".join(str(p) for p in path)
        if "fits_keyword" in sub:
            keywords[dotted] = (sub.get("fits_hdu", "PRIMARY"), sub["fits_keyword"])
        elif "fits_hdu" in sub and len(path) == 1:
            arrays[dotted] = (sub["fits_hdu"], sub)

    mschema.walk_schema(schema, visit)
    return keywords, arrays


def open_reference(path: str | Path, model_class):
    """``model_class`` filled from the FITS reference file at ``path``.

    The returned model keeps the file open (memory-mapped arrays) until it is
    closed or garbage-collected.
    """
    from astropy.io import fits

    path = Path(path)
    keywords, arrays = _schema_maps(model_class)
    hdul = fits.open(path, lazy_load_hdus=False)  # memory-maps where it can
    try:
        model = model_class()
        names = {(hdu.name or "PRIMARY").upper(): hdu for hdu in hdul}
        names.setdefault("PRIMARY", hdul[0])
        instance = model._instance
        for dotted, (hdu_name, keyword) in keywords.items():
            hdu = names.get(hdu_name.upper())
            if hdu is None or keyword not in hdu.header:
                continue
            value = hdu.header[keyword]
            if isinstance(value, fits.card.Undefined):
                continue
            node = instance
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        for attr, (hdu_name, sub) in arrays.items():
            hdu = names.get(hdu_name.upper())
            if hdu is None or hdu.data is None:
                continue
            instance[attr] = _array(hdu, sub)
        instance.setdefault("meta", {})["filename"] = path.name
        _apply_class_defaults(model)
        model._jwi_hdul = hdul  # keeps the memory maps valid
        return model
    except BaseException:
        hdul.close()
        raise


def _array(hdu, sub):
    from astropy.io import fits

    data = hdu.data
    if isinstance(hdu, fits.BinTableHDU):
        return _table(data, sub.get("datatype"))
    dtype = _declared_dtype(sub)
    if data.ndim >= MEMMAP_MIN_NDIM and (dtype is None or data.dtype.kind == dtype.kind):
        return data  # memory-mapped; readers slice first
    out = data.astype(data.dtype.newbyteorder("=")) if not data.dtype.isnative else data
    if dtype is not None and out.dtype != dtype:
        out = out.astype(dtype)
    return out


def _table(data, declared) -> np.ndarray:
    """A FITS table as the schema declares it (column names and types), as
    stdatamodels converts it; columns are matched by name without case."""
    # Column by column: FITS_rec applies TZERO (uint32 VALUE) on field access.
    by_name = {name.upper(): name for name in data.names}
    if isinstance(declared, list) and all(isinstance(c, dict) and "name" in c for c in declared):
        names, columns = [], []
        for col in declared:
            source = by_name.get(str(col["name"]).upper())
            if source is None:
                raise KeyError(f"table column {col['name']} is missing")
            dt = col.get("datatype")
            if isinstance(dt, list) and dt and dt[0] in ("ascii", "ucs4"):
                dtype = np.dtype(f"{'S' if dt[0] == 'ascii' else 'U'}{dt[1]}")
            else:
                dtype = np.dtype(dt)
            names.append(str(col["name"]))
            columns.append(np.asarray(data[source]).astype(dtype))
    else:
        names = list(data.names)
        columns = [np.asarray(data[name]) for name in names]
        columns = [c.astype(c.dtype.newbyteorder("=")) for c in columns]
    # A FITS_rec as stdatamodels holds it (string fields read back as str).
    from astropy.io import fits

    return fits.BinTableHDU.from_columns(np.rec.fromarrays(columns, names=names)).data


def _declared_dtype(sub) -> np.dtype | None:
    datatype = sub.get("datatype")
    if isinstance(datatype, str):
        try:
            return np.dtype(datatype)
        except TypeError:
            return None
    return None


def _apply_class_defaults(model) -> None:
    """What the jwst model constructors add: a default dq translated by DQ_DEF, err."""
    from stdatamodels.jwst.datamodels.dqflags import pixel
    from stdatamodels.jwst.datamodels.model_base import DefaultDQMixin, DefaultErrMixin

    if isinstance(model, DefaultDQMixin):
        if model._instance.get("dq") is None:
            model.dq = model.get_default("dq")
        dq_def = model._instance.get("dq_def")
        if dq_def is not None and len(dq_def):
            model._instance["dq"] = _decompress_dq(model._instance["dq"], dq_def, pixel)
    if isinstance(model, DefaultErrMixin) and model._instance.get("err") is None:
        model.err = model.get_default("err")


def _decompress_dq(dq: np.ndarray, dq_def, mnemonics) -> np.ndarray:
    """stdatamodels' ``dynamic_mask(model, pixel)``, in one pass when it is a bit filter."""
    from stdatamodels.dynamicdq import dynamic_mask

    pairs = []
    for record in dq_def:
        name = str(record["NAME"]).strip()
        if name in mnemonics:
            pairs.append((int(record["VALUE"]), int(mnemonics[name])))
    if all(v == s and v > 0 and v & (v - 1) == 0 for v, s in pairs):
        keep = 0
        for v, _ in pairs:
            keep |= v
        return dq & np.asarray(keep, dtype=dq.dtype)

    class _View:  # what dynamic_mask reads
        pass

    view = _View()
    view.dq, view.dq_def = dq, dq_def
    return dynamic_mask(view, mnemonics)
