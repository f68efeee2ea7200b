"""The state passed from step to step: named products, the first one primary."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Products"]


class Products(Mapping[str, Any]):
    """An immutable, ordered mapping of product name to data model.

    Most of the time there is one product (``"ramp"``, ``"rate"``, ``"cal"``);
    ramp_fit returns two (``"rate"`` and ``"rateints"``) and later steps act
    on each of them. The first entry is the *primary* product, the one a
    next step takes by default.

    Examples
    --------
    >>> from stdatamodels.jwst.datamodels import ImageModel, CubeModel
    >>> p = Products({"rate": ImageModel((4, 4)), "rateints": CubeModel((2, 4, 4))})
    >>> p.primary_name, list(p)
    ('rate', ['rate', 'rateints'])
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any]):
        if not items:
            raise ValueError("Products needs at least one product")
        self._items = dict(items)

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def primary_name(self) -> str:
        return next(iter(self._items))

    @property
    def primary(self) -> Any:
        return self._items[self.primary_name]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={type(v).__name__}" for k, v in self._items.items())
        return f"Products({inner})"
