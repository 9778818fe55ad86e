"""Atomic, pickle-free storage of arrays plus JSON metadata in one ``.npz`` file."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import DamagedFileError, PersistenceError
from .version import __version__

FORMAT = "recsys-studio/1"
_META_KEY = "__metadata__"
#: Metadata key listing every array's shape and dtype as saved, checked on every load.
LAYOUT_KEY = "array_layout"


def atomic_write_bytes(path: str | Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    With ``overwrite=False`` an existing file raises :class:`PersistenceError` instead.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and path.exists():
        raise PersistenceError(f"{path} exists already; refusing to overwrite it")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if not overwrite:
            # link() fails if the target appeared meanwhile, so a concurrent writer never loses.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise PersistenceError(f"{path} exists already; refusing to overwrite it") from None
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_npz(path: str | Path, arrays: dict[str, np.ndarray], metadata: dict, *,
             overwrite: bool = True) -> Path:
    """Save arrays and a JSON-serialisable metadata dict atomically to one ``.npz`` file.

    The metadata gains ``format``, ``library_version`` and ``array_layout`` (every array's shape
    and dtype, which :func:`load_npz` checks) keys.
    """
    import io

    payload = {k: np.asarray(v) for k, v in arrays.items()}
    for key, arr in payload.items():
        if arr.dtype == object:
            raise PersistenceError(f"array {key!r} has dtype object; it cannot be stored without pickle")
    layout = {k: {"shape": list(a.shape), "dtype": a.dtype.str} for k, a in payload.items()}
    meta = {"format": FORMAT, "library_version": __version__, **metadata, LAYOUT_KEY: layout}
    try:
        meta_bytes = json_bytes(meta, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise PersistenceError(f"metadata is not JSON-serialisable: {exc}") from None
    payload[_META_KEY] = np.frombuffer(meta_bytes, dtype=np.uint8)
    buf = io.BytesIO()
    # np.savez_compressed's layout (one .npy entry per array) at deflate level 1 instead of 6:
    # a 25M-rating WALS run saves in 2.7 s instead of 8.8 s, 4% larger (105 vs 102 MB).
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, array in payload.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def load_npz(path: str | Path, *, expected_kind: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Load what :func:`save_npz` wrote, never unpickling anything.

    Raises :class:`PersistenceError` for a missing or foreign file, or when ``expected_kind`` is
    given and the metadata's ``kind`` differs; :class:`DamagedFileError` for a truncated or
    corrupted file, or one whose arrays differ in shape or dtype from the layout recorded when it
    was saved.
    """
    path = Path(path)
    _check_archive(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError) as exc:
        # numpy's own message may suggest an unsafe way to load the file: say it is damaged.
        raise DamagedFileError(f"{path}: the file is damaged and cannot be read "
                               f"({type(exc).__name__}); save it again") from None
    raw = arrays.pop(_META_KEY, None)
    meta = _parse_metadata(path, raw, expected_kind)
    _check_layout(path, meta, {k: (a.shape, a.dtype) for k, a in arrays.items()})
    return arrays, meta


def npz_layout(path: str | Path, *, expected_kind: str | None = None
               ) -> tuple[dict[str, tuple[tuple[int, ...], np.dtype]], dict]:
    """Shapes and dtypes of the arrays in a :func:`save_npz` file, and its metadata, read from
    the array headers only (no array data is decompressed): a cheap check of a file's structure.

    Returns ``({name: (shape, dtype)}, metadata)``; raises like :func:`load_npz`.
    """
    path = Path(path)
    _check_archive(path)
    shapes, raw = {}, None
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                if not member.endswith(".npy"):
                    continue
                name = member[: -len(".npy")]
                with zf.open(member) as fh:
                    if name == _META_KEY:
                        raw = np.lib.format.read_array(fh, allow_pickle=False)
                        continue
                    version = np.lib.format.read_magic(fh)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(fh)
                    if dtype.hasobject:
                        raise ValueError(f"array {name!r} holds Python objects")
                    shapes[name] = (tuple(shape), dtype)
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError) as exc:
        raise DamagedFileError(f"{path}: the file is damaged and cannot be read "
                               f"({type(exc).__name__}); save it again") from None
    meta = _parse_metadata(path, raw, expected_kind)
    _check_layout(path, meta, shapes)
    return shapes, meta


def _check_archive(path: Path) -> None:
    if not path.is_file():
        raise PersistenceError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DamagedFileError(f"{path}: the file is damaged (not an .npz archive); save it again")


def _parse_metadata(path: Path, raw, expected_kind: str | None) -> dict:
    if raw is None:
        raise PersistenceError(f"{path}: not a recsys-studio file (no metadata)")
    try:
        meta = json.loads(np.asarray(raw).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedFileError(f"{path}: corrupted metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PersistenceError(f"{path}: unsupported format {meta.get('format') if isinstance(meta, dict) else meta!r}")
    if expected_kind is not None and meta.get("kind") != expected_kind:
        raise PersistenceError(f"{path}: holds a {meta.get('kind')!r}, expected {expected_kind!r}")
    return meta


def _check_layout(path: Path, meta: dict, shapes: dict) -> None:
    """Every array as the metadata's ``array_layout`` recorded it (files saved before the layout
    was recorded have none and are checked by their readers only)."""
    layout = meta.get(LAYOUT_KEY)
    if layout is None:
        return
    if not isinstance(layout, dict):
        raise DamagedFileError(f"{path}: damaged metadata ({LAYOUT_KEY} is not a mapping)")
    missing = sorted(set(layout) - set(shapes))
    extra = sorted(set(shapes) - set(layout))
    if missing or extra:
        raise DamagedFileError(f"{path}: damaged: " + "; ".join(
            part for part in (f"missing arrays {', '.join(missing)}" if missing else "",
                              f"unexpected arrays {', '.join(extra)}" if extra else "") if part))
    for name, (shape, dtype) in shapes.items():
        want = layout[name]
        try:
            want_shape, want_dtype = tuple(int(n) for n in want["shape"]), np.dtype(want["dtype"])
        except (TypeError, KeyError, ValueError):
            raise DamagedFileError(f"{path}: damaged metadata for array {name!r}") from None
        if tuple(shape) != want_shape or np.dtype(dtype) != want_dtype:
            raise DamagedFileError(f"{path}: damaged: array {name!r} has shape {tuple(shape)} and "
                                   f"dtype {np.dtype(dtype)}, but was saved with shape "
                                   f"{want_shape} and dtype {want_dtype}")


def json_bytes(obj, **kwargs) -> bytes:
    """Strict JSON (NaN and infinities become null, which every JSON parser reads) as UTF-8."""
    return json.dumps(_finite(obj), allow_nan=False, default=_json_default, **kwargs).encode()


def _finite(obj):
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")
