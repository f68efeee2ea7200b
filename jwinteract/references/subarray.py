"""Cutting reference arrays to the science subarray (as jwst's reffile_utils does)."""

from __future__ import annotations

import numpy as np

from ..errors import ReferenceFileError

__all__ = ["subarray_box", "cut_to_science"]


def subarray_box(model) -> tuple[int, int, int, int]:
    """(xstart, ystart, xsize, ysize), 1-indexed like SUBSTRT1/2, SUBSIZE1/2.

    Missing keywords fall back to the array shape starting at (1, 1).
    """
    sub = model.meta.subarray
    ny, nx = np.shape(model.data)[-2:]
    xstart = sub.xstart or 1
    ystart = sub.ystart or 1
    xsize = sub.xsize or nx
    ysize = sub.ysize or ny
    return int(xstart), int(ystart), int(xsize), int(ysize)


def cut_to_science(array: np.ndarray, ref_model, sci_model, *, reftype: str) -> np.ndarray:
    """Return the part of a reference array that lies under the science pixels.

    ``array`` is one array of ``ref_model`` whose last two axes are (y, x).
    No copy is made when the reference already matches.

    Raises
    ------
    ReferenceFileError
        If the reference does not cover the science subarray.
    """
    rx, ry, rxs, rys = _box_for(ref_model, array)
    sx, sy, sxs, sys_ = subarray_box(sci_model)
    if (rx, ry, rxs, rys) == (sx, sy, sxs, sys_) and array.shape[-2:] == (sys_, sxs):
        return array
    x0, y0 = sx - rx, sy - ry
    if x0 < 0 or y0 < 0 or x0 + sxs > rxs or y0 + sys_ > rys or array.shape[-2:] != (rys, rxs):
        name = getattr(ref_model.meta, "filename", None) or "(in memory)"
        raise ReferenceFileError(
            f"{reftype} reference {name} covers x={rx}..{rx + rxs - 1}, y={ry}..{ry + rys - 1} "
            f"(shape {array.shape[-2:]}) but the science subarray "
            f"{sci_model.meta.subarray.name} needs x={sx}..{sx + sxs - 1}, y={sy}..{sy + sys_ - 1}; "
            f"give an override_{reftype} that matches the subarray"
        )
    return array[..., y0 : y0 + sys_, x0 : x0 + sxs]


def _box_for(ref_model, array) -> tuple[int, int, int, int]:
    sub = ref_model.meta.subarray
    ny, nx = array.shape[-2:]
    return (int(sub.xstart or 1), int(sub.ystart or 1), int(sub.xsize or nx), int(sub.ysize or ny))
