"""Order statistics along the first axis, for :mod:`jwinteract.algorithms.jump`.

Each pixel's values are a column of an ``(n, npix)`` array. :class:`_SortedLanes` puts them
in ascending order (NaN last) with a sorting network of element-wise minimum/maximum over
whole rows, or ``np.sort`` beyond ``_NETWORK_MAX_LANES`` values; :func:`_nanmedian` and
:func:`_clipped_abs_median` read the medians stcal uses from it.
"""

from __future__ import annotations

import functools

import numpy as np

# Up to this many differences per pixel, medians use a sorting network of
# element-wise minimum/maximum over whole rows, much faster than np.sort along
# a short axis; beyond it np.sort is used.
_NETWORK_MAX_LANES = 24


@functools.lru_cache(maxsize=64)
def _network(n: int) -> tuple[tuple[int, int], ...]:
    """Comparators of Batcher's odd-even merge sort for ``n`` lanes."""
    pairs = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple(pairs)


class _SortedLanes:
    """The values of each pixel (column of an (n, npix) array) in ascending order.

    NaN values sort last. Up to ``_NETWORK_MAX_LANES`` values a sorting network
    permutes whole rows (kept where they lie in a buffer whose row stride is
    padded off a power of two, which otherwise costs 2-3x in cache conflicts);
    beyond it each pixel's values are sorted with ``np.sort``. Only order
    statistics are read back, with :meth:`take`.
    """

    def __init__(self, values: np.ndarray):
        n, npix = values.shape
        isnan = np.isnan(values)
        self.n, self.npix = n, npix
        #: Non-NaN values per pixel.
        self.count = n - np.count_nonzero(isnan, axis=0)
        if n > _NETWORK_MAX_LANES or n == 0:
            by_pixel = values.T.copy()  # a copy even when values is one column
            by_pixel.sort(axis=1)
            self._flat = by_pixel.reshape(-1)
            self._offset, self._step = np.arange(n), n
            return
        stride = npix + 16
        buf = np.empty((n + 1, stride), values.dtype)
        lanes = [buf[k, :npix] for k in range(n + 1)]
        for k in range(n):
            np.copyto(lanes[k], values[k])
            np.copyto(lanes[k], np.inf, where=isnan[k])
        row = list(range(n + 1))  # buffer row holding each rank; last is spare
        for i, j in _network(n):
            lo, hi, spare = lanes[row[i]], lanes[row[j]], lanes[row[n]]
            np.minimum(lo, hi, out=spare)
            np.maximum(lo, hi, out=hi)
            row[i], row[n] = row[n], row[i]
        self._flat = buf.reshape(-1)
        self._offset, self._step = np.array(row[:n]) * stride, 1
        self._lanes = [lanes[r] for r in row[:n]]

    def take(self, index: np.ndarray) -> np.ndarray:
        """The ``index[p]``-th smallest value of each pixel ``p`` (index clipped at 0).

        May return a view.
        """
        if self.n == 0:
            return np.full(self.npix, np.nan)
        index = np.maximum(index, 0)
        if self.npix and index.min() == index.max():  # the usual case: no NaN, no ties
            k = int(index[0])
            if self._step == 1:
                return self._lanes[k]
            return self._flat[k :: self.n]
        flat = self._offset[index]
        flat += np.arange(self.npix) * self._step
        return self._flat[flat]

    def count_below(self, value: np.ndarray, where: np.ndarray) -> np.ndarray:
        """Per pixel of ``where``: how many of its values are below ``value[where]``."""
        cols = np.flatnonzero(where)
        below = np.zeros(cols.size, np.intp)
        for k in range(self.n):
            below += self._flat[self._offset[k] + cols * self._step] < value[cols]
        return below


def _nanmedian(lanes: _SortedLanes, count=None) -> np.ndarray:
    """numpy's nanmedian (float64) of the ``count`` smallest values of each pixel."""
    if count is None:
        count = lanes.count
    lo = lanes.take((count - 1) // 2).astype(np.float64)
    hi = lanes.take(count // 2).astype(np.float64)
    median = (lo + hi) * 0.5
    median[count == 0] = np.nan
    return median


def _clipped_abs_median(lanes: _SortedLanes) -> np.ndarray:
    """stcal's ``calc_med_first_diffs`` (float64).

    4+ values: median after dropping every copy of the largest; 3: median;
    2: the smaller; fewer: NaN.
    """
    count = lanes.count
    top = lanes.take(count - 1)
    # Values below the largest: count - 1 unless the largest is tied.
    keep = count.copy()
    many = count >= 4
    keep[many] -= 1
    tied = many & (lanes.take(count - 2) == top)
    if tied.any():
        keep[tied] = lanes.count_below(top, tied)
    median = _nanmedian(lanes, keep)
    two = count == 2
    median[two] = lanes.take(np.zeros_like(count))[two]
    median[count < 2] = np.nan
    return median
