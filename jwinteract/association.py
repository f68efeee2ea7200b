"""Read and write jwst association files (Level 2 and Level 3) without jwst.

An association is a JSON file that names the exposures a pipeline run takes
and the products it makes::

    {"asn_type": "image3", "asn_rule": "DMS_Level3_Base", "asn_id": "a3001", ...,
     "products": [{"name": "mosaic",
                   "members": [{"expname": "jw..._cal.fits", "exptype": "science"}]}]}

A Level 2 association has one product per science exposure (plus the
background or imprint exposures that go with it); a Level 3 association
usually has one product combining all its members. Member ``expname`` values
are read relative to the association's folder, as jwst does.

The files written here are what ``jwst.associations.asn_from_list`` writes:
the same keys in the same order, indented by 4. Keys jwinteract does not use
(``code_version``, ``target``, a member's ``group_id`` or ``tweakreg_catalog``
...) are kept in ``extra`` so that a file read and written back keeps them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._asn_naming import _DEFAULTS, _level_of, _product_root
from ._asn_naming import _KNOWN_SUFFIXES as _KNOWN_SUFFIXES  # re-exported: tested against jwst
from .errors import InputError

__all__ = [
    "Association",
    "Member",
    "Product",
    "association_from_files",
    "is_association",
    "read_association",
    "write_association",
]

PathLike = str | os.PathLike[str]

#: Top-level keys in the order jwst writes them; ``products`` always comes last.
_KEY_ORDER = ("asn_type", "asn_rule", "version_id", "code_version", "degraded_status",
              "program", "constraints", "asn_id", "target", "asn_pool")  # fmt: skip
_STRING_FIELDS = ("asn_type", "asn_rule", "asn_id", "asn_pool", "program")


# is_association reads the whole file; an association listing 100,000 members
# is well under this, so anything larger is some other JSON.
_MAX_ASSOCIATION_BYTES = 64 * 2**20


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Member:
    """One exposure of a product.

    Parameters
    ----------
    expname : str
        The exposure's file name, relative to the association's folder (or
        absolute).
    exptype : str
        Its role: ``"science"``, ``"background"``, ``"imprint"``, ``"psf"``,
        ``"selfcal"``... jwst compares it without regard to case.
    extra : Mapping
        Other keys of the member as read (``group_id``, ``tweakreg_catalog``,
        ``exposerr``...), written back unchanged.
    """

    expname: str
    exptype: str
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "extra", _frozen_mapping(self.extra))

    def to_dict(self) -> dict[str, Any]:
        """The member as jwst writes it: ``expname``, ``exptype``, then the extra keys."""
        return {"expname": self.expname, "exptype": self.exptype, **copy.deepcopy(dict(self.extra))}


@dataclass(frozen=True)
class Product:
    """A product of an association and the exposures it is made from.

    Parameters
    ----------
    name : str
        The product name: the root of the output file names.
    members : tuple of Member
        Its exposures (a list is accepted and stored as a tuple).
    extra : Mapping
        Other keys of the product as read, written back unchanged.
    """

    name: str
    members: tuple[Member, ...]
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "extra", _frozen_mapping(self.extra))

    def to_dict(self) -> dict[str, Any]:
        """The product as jwst writes it."""
        return {
            "name": self.name,
            "members": [m.to_dict() for m in self.members],
            **copy.deepcopy(dict(self.extra)),
        }


@dataclass(frozen=True)
class Association:
    """A jwst association: which exposures make which products.

    Parameters
    ----------
    asn_type : str
        The kind of association, e.g. ``"image2"``, ``"spec3"``.
    asn_rule : str
        The rule that made it, e.g. ``"DMSLevel2bBase"``, ``"Asn_Lv3Image"``.
    asn_id : str
        The association identifier, e.g. ``"a3001"``.
    asn_pool : str
        The pool it was made from (``"none"`` when made from a file list).
    program : str
        The observing program (``"noprogram"`` when made from a file list).
    version_id : str or None
        The version identifier.
    products : tuple of Product
        The products (a list is accepted and stored as a tuple).
    path : Path or None
        The file it was read from; relative ``expname`` values are read from
        its folder. ``None`` for an association not read from disk: its
        relative names are then taken from the current folder.
    extra : Mapping
        Other top-level keys as read (``code_version``, ``target``...),
        written back unchanged.

    Examples
    --------
    >>> from pathlib import Path
    >>> asn = Association(asn_type="image3", asn_rule="DMS_Level3_Base", asn_id="a3001",
    ...                   asn_pool="none", program="noprogram", version_id=None,
    ...                   products=[Product("mosaic", [Member("a_cal.fits", "science")])],
    ...                   path=Path("/data/mosaic_asn.json"))
    >>> asn.level, [p.as_posix() for p in asn.member_paths()]
    (3, ['/data/a_cal.fits'])
    """

    asn_type: str
    asn_rule: str
    asn_id: str
    asn_pool: str
    program: str
    version_id: str | None
    products: tuple[Product, ...]
    path: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "products", tuple(self.products))
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "extra", _frozen_mapping(self.extra))

    @property
    def level(self) -> int:
        """2 or 3, from ``asn_rule`` (``"DMSLevel2bBase"``, ``"Asn_Lv3Image"``...),
        else from ``asn_type`` (``"image2"``, ``"spec3"``...).

        Raises
        ------
        InputError
            If neither names a level.
        """
        level = _level_of(self.asn_rule, self.asn_type)
        if level is None:
            where = f"{self.path}: " if self.path else ""
            raise InputError(
                f"{where}cannot tell the association level from asn_rule={self.asn_rule!r} "
                f"or asn_type={self.asn_type!r}; set asn_rule to 'DMSLevel2bBase' (Level 2) "
                "or 'DMS_Level3_Base' (Level 3)"
            )
        return level

    def member_paths(self, exptype: str | None = "science") -> list[Path]:
        """The files of the members of one type, or of all members.

        Parameters
        ----------
        exptype : str or None
            Member type to select, compared without regard to case as jwst
            does; ``None`` selects every member.

        Returns
        -------
        list of Path
            One path per file, in the order first listed; relative names are
            joined to the association's folder.
        """
        base = self.path.parent if self.path is not None else Path()
        wanted = None if exptype is None else exptype.casefold()
        paths: dict[Path, None] = {}  # a dict keeps order and drops repeats
        for product in self.products:
            for member in product.members:
                if wanted is None or member.exptype.casefold() == wanted:
                    paths[base / member.expname] = None
        return list(paths)

    def to_dict(self) -> dict[str, Any]:
        """The association as jwst writes it, ready for :func:`json.dumps`.

        Keys come in jwst's order; extra keys jwst does not write come just
        before ``products``.
        """
        values = {
            "asn_type": self.asn_type,
            "asn_rule": self.asn_rule,
            "version_id": self.version_id,
            "program": self.program,
            "asn_id": self.asn_id,
            "asn_pool": self.asn_pool,
            **copy.deepcopy(dict(self.extra)),
        }
        out = {key: values.pop(key) for key in _KEY_ORDER if key in values}
        out.update(values)
        out["products"] = [p.to_dict() for p in self.products]
        return out


# --------------------------------------------------------------------------- reading


def _from_dict(data: Any, source: str) -> tuple[dict[str, Any], list[Product]]:
    """Check the structure of a parsed association; return its top-level fields and products.

    ``source`` names the file (or the object) in error messages.
    """
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: an association is a JSON object with a 'products' list, "
            f"not a {type(data).__name__}"
        )
    if "products" not in data:
        raise InputError(
            f"{source}: no 'products' key; an association lists its products, each with a "
            "'name' and 'members' (see jwst's asn_from_list)"
        )
    fields: dict[str, Any] = {}
    for key in _STRING_FIELDS:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise InputError(f"{source}: '{key}' must be a string, not {value!r}")
        fields[key] = value
    version_id = data.get("version_id")
    if version_id is not None and not isinstance(version_id, str):
        raise InputError(f"{source}: 'version_id' must be a string or null, not {version_id!r}")
    fields["version_id"] = version_id
    fields["extra"] = {k: v for k, v in data.items() if k not in fields and k != "products"}

    products_data = data["products"]
    if not isinstance(products_data, list):
        raise InputError(f"{source}: 'products' must be a list, not {products_data!r}")
    if not products_data:
        raise InputError(f"{source}: 'products' is empty; add at least one product with members")
    products = [_product(p, f"{source}: products[{i}]") for i, p in enumerate(products_data)]
    return fields, products


def _product(data: Any, where: str) -> Product:
    if not isinstance(data, dict):
        raise InputError(f"{where} must be an object with 'name' and 'members', not {data!r}")
    for key in ("name", "members"):
        if key not in data:
            raise InputError(
                f"{where} has no '{key}' key; every product needs 'name' and 'members'"
            )
    name, members_data = data["name"], data["members"]
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}.name must be a non-empty string, not {name!r}")
    if not isinstance(members_data, list):
        raise InputError(f"{where}.members must be a list, not {members_data!r}")
    if not members_data:
        raise InputError(f"{where} ({name!r}) has no members; list at least one exposure")
    members = []
    for j, m in enumerate(members_data):
        here = f"{where}.members[{j}]"
        if not isinstance(m, dict):
            raise InputError(f"{here} must be an object with 'expname' and 'exptype', not {m!r}")
        for key in ("expname", "exptype"):
            if key not in m:
                raise InputError(
                    f"{here} has no '{key}' key; every member needs 'expname' (the file name) "
                    "and 'exptype' (e.g. 'science')"
                )
            if not isinstance(m[key], str) or not m[key]:
                raise InputError(f"{here}.{key} must be a non-empty string, not {m[key]!r}")
        extra = {k: v for k, v in m.items() if k not in ("expname", "exptype")}
        members.append(Member(m["expname"], m["exptype"], extra))
    extra = {k: v for k, v in data.items() if k not in ("name", "members")}
    return Product(name, members, extra)


def read_association(path: PathLike, *, check_members: bool = True) -> Association:
    """Read a jwst association file (Level 2 or Level 3).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.json`` association file.
    check_members : bool
        Check that every member's file exists (default). Turn off to read an
        association whose exposures are not on disk yet.

    Returns
    -------
    Association
        With ``path`` set to the absolute path of the file.

    Raises
    ------
    InputError
        If the file is missing or is not JSON, a key is missing or of the
        wrong type, there are no products or a product has no members, or
        member files are missing (all of them are named).
    """
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"association file {path} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder; give the association's .json file") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path} is not a text (JSON) file: {err.reason}") from None
    except OSError as err:
        raise InputError(f"cannot read association file {path}: {err.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            "jwst reads associations as JSON only, so fix the file (a trailing comma is a "
            "common cause)"
        ) from None
    fields, products = _from_dict(data, str(path))
    asn = Association(products=products, path=path, **fields)
    if check_members:
        missing = [p for p in asn.member_paths(None) if not p.is_file()]
        if missing:
            shown = ", ".join(_relative_name(p, path.parent) for p in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise InputError(
                f"{path}: {len(missing)} member file(s) not found: {shown}{more}. Relative "
                f"'expname' values are read from {path.parent}; put the files there or fix "
                "their 'expname'"
            )
    return asn


def is_association(path: PathLike) -> bool:
    """Whether ``path`` is a ``.json`` file holding a JSON object with a ``products`` key.

    A quick test for choosing how to open an input; :func:`read_association`
    does the full check and says what is wrong. Never raises.

    Parameters
    ----------
    path : str or os.PathLike
        Any path.

    Returns
    -------
    bool
    """
    try:
        path = Path(path)
        if path.suffix.lower() != ".json" or not path.is_file():
            return False
        if path.stat().st_size > _MAX_ASSOCIATION_BYTES:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; TypeError is a non-path.
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(data, dict) and "products" in data


# --------------------------------------------------------------------------- writing


def _relative_name(file: Path, folder: Path) -> str:
    """``file`` relative to ``folder`` if inside it, else absolute; POSIX separators."""
    file, folder = Path(os.path.abspath(file)), Path(os.path.abspath(folder))
    try:
        return file.relative_to(folder).as_posix()
    except ValueError:
        return file.as_posix()


def _rebased(asn: Association, folder: Path) -> Association:
    """``asn`` with member names made relative to ``folder``, where it will be written.

    Names that already hold (absolute ones, and relative ones of an
    association read from ``folder``) come out as the basename when the file
    sits in ``folder``, as jwst expects. Relative names of an association not
    read from disk are left alone: they are relative to wherever it is written.
    """
    base = None if asn.path is None else asn.path.parent

    def rename(member: Member) -> Member:
        name = Path(member.expname)
        if not name.is_absolute() and base is None:
            return member
        resolved = name if name.is_absolute() else base / name
        return Member(_relative_name(resolved, folder), member.exptype, member.extra)

    products = [Product(p.name, [rename(m) for m in p.members], p.extra) for p in asn.products]
    return dataclasses.replace(asn, products=products, path=None)


def write_association(asn: Association, path: PathLike) -> Path:
    """Write an association as jwst does (JSON, indent 4), atomically.

    The file is written under a temporary name in the same folder and
    renamed, so a reader never sees half a file and a failed write leaves any
    earlier file in place. Member names are rewritten relative to the new
    file's folder (a basename for a file beside it, an absolute path for one
    outside it), so the written association points at the same files.

    Parameters
    ----------
    asn : Association
        What to write.
    path : str or os.PathLike
        The ``.json`` file to write; its folder is made if missing.

    Returns
    -------
    Path
        The absolute path written.

    Raises
    ------
    InputError
        If ``path`` does not end in ``.json`` or ``asn`` would not read back
        (no products, a product without members...).
    """
    path = Path(path).absolute()
    if path.suffix.lower() != ".json":
        raise InputError(
            f"{path}: association files must end in .json (jwst reads other names only "
            "with a deprecation warning); choose a name like 'mosaic_asn.json'"
        )
    data = _rebased(asn, path.parent).to_dict()
    _from_dict(data, f"association for {path}")  # refuse to write what would not read back
    text = json.dumps(data, indent=4, separators=(",", ": "))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its files are private (0600) and os.replace would
    # keep that; open(..., "x") gives the usual permissions and never clobbers.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def association_from_files(
    files: Iterable[PathLike],
    *,
    product_name: str | None = None,
    asn_type: str | None = None,
    asn_rule: str | None = None,
    exptype: str = "science",
    level: int = 3,
) -> Association:
    """Make an association from a list of exposure files, like jwst's ``asn_from_list``.

    Parameters
    ----------
    files : iterable of str or os.PathLike
        The exposure files (``_cal`` files for Level 3, ``_rate`` files for
        Level 2). Whether they exist is checked when the association is read.
    product_name : str, optional
        Level 3: the name of the one product (required). Level 2: not used;
        each product is named after its file.
    asn_type, asn_rule : str, optional
        Default to ``"image3"``, ``"DMS_Level3_Base"`` for Level 3 and
        ``"image2"``, ``"DMSLevel2bBase"`` for Level 2.
    exptype : str
        The type of every member. Level 2 accepts only ``"science"``.
    level : {3, 2}
        3: one product with all the files as members. 2: one product per
        file, named after it without folder, extension and pipeline suffix
        (``jw..._nrca1_rate.fits`` makes ``jw..._nrca1``), as jwst's
        ``DMSLevel2bBase`` rule does.

    Returns
    -------
    Association
        With member names the absolute paths of ``files`` and ``path=None``;
        :func:`write_association` makes them relative to where it writes.

    Raises
    ------
    InputError
        If ``files`` is empty or lists a file twice, ``level`` is not 2 or 3
        or contradicts ``asn_rule``, a Level 3 association has no
        ``product_name``, or two Level 2 files give the same product name.

    Examples
    --------
    >>> asn = association_from_files(["/data/jw01_nrca1_rate.fits", "/data/jw02_nrca1_rate.fits"],
    ...                              level=2)
    >>> [p.name for p in asn.products], asn.asn_rule
    (['jw01_nrca1', 'jw02_nrca1'], 'DMSLevel2bBase')
    """
    if level not in _DEFAULTS:
        raise InputError(f"association level must be 2 or 3, not {level!r}")
    asn_type = _DEFAULTS[level][0] if asn_type is None else asn_type
    asn_rule = _DEFAULTS[level][1] if asn_rule is None else asn_rule
    implied = _level_of(asn_rule, asn_type)
    if implied is not None and implied != level:
        raise InputError(
            f"asn_rule={asn_rule!r} (asn_type={asn_type!r}) is a Level {implied} rule but "
            f"level={level}; leave asn_rule out to get the default for the level"
        )
    if not isinstance(exptype, str) or not exptype:
        raise InputError(f"exptype must be a non-empty string such as 'science', not {exptype!r}")

    if isinstance(files, (str, os.PathLike)):
        files = [files]  # one file, not the characters of its name
    paths: dict[Path, None] = {}  # ordered, and finds repeats at once
    for f in files:
        if not isinstance(f, (str, os.PathLike)):
            raise InputError(f"files must be paths; got {f!r}")
        p = Path(os.path.abspath(f))
        if p in paths:
            raise InputError(f"{p} is listed twice in files; list each exposure once")
        paths[p] = None
    if not paths:
        raise InputError("files is empty; give at least one exposure file")

    if level == 3:
        if not isinstance(product_name, str) or not product_name:
            raise InputError(
                "a Level 3 association needs product_name, the root of its output file names "
                "(e.g. product_name='jw01234-o001_t001_nircam_clear-f200w')"
            )
        products = [Product(product_name, [Member(p.as_posix(), exptype) for p in paths])]
    else:
        if exptype.casefold() != "science":
            raise InputError(
                f"exptype={exptype!r}: a Level 2 association made from a file list has one "
                "product per science exposure, so exptype must be 'science'; to add background "
                "or imprint members, build the Association from Product and Member"
            )
        products = []
        for p in paths:
            name = _product_root(p.name)
            clash = next((q for q in products if q.name == name), None)
            if clash is not None:
                raise InputError(
                    f"{p} and {clash.members[0].expname} both give the Level 2 product name "
                    f"{name!r}, so their outputs would overwrite each other; rename one"
                )
            products.append(Product(name, [Member(p.as_posix(), exptype)]))

    return Association(
        asn_type=asn_type,
        asn_rule=asn_rule,
        asn_id="a3001",
        asn_pool="none",
        program="noprogram",
        version_id=None,
        products=products,
        path=None,
        extra={"target": "none"} if level == 3 else {},
    )
