"""Atomic, pickle-free storage of arrays plus JSON metadata in one ``.npz`` file."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import __version__
from .errors import PersistenceError

FORMAT = "recsys-studio/1"
_META_KEY = "__metadata__"


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

    The metadata gains ``format`` and ``library_version`` keys.
    """
    import io

    meta = {"format": FORMAT, "library_version": __version__, **metadata}
    try:
        meta_bytes = json_bytes(meta, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise PersistenceError(f"metadata is not JSON-serialisable: {exc}") from None
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    for key, arr in payload.items():
        if arr.dtype == object:
            raise PersistenceError(f"array {key!r} has dtype object; it cannot be stored without pickle")
    buf = io.BytesIO()
    np.savez_compressed(buf, **payload, **{_META_KEY: np.frombuffer(meta_bytes, dtype=np.uint8)})
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def load_npz(path: str | Path, *, expected_kind: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Load what :func:`save_npz` wrote, never unpickling anything.

    Raises :class:`PersistenceError` for a missing, truncated, corrupted or foreign file, or when
    ``expected_kind`` is given and the metadata's ``kind`` differs.
    """
    path = Path(path)
    if not path.is_file():
        raise PersistenceError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise PersistenceError(f"{path}: not a recsys-studio file or corrupted ({exc})") from None
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        raise PersistenceError(f"{path}: not a recsys-studio file (no metadata)")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PersistenceError(f"{path}: corrupted metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PersistenceError(f"{path}: unsupported format {meta.get('format') if isinstance(meta, dict) else meta!r}")
    if expected_kind is not None and meta.get("kind") != expected_kind:
        raise PersistenceError(f"{path}: holds a {meta.get('kind')!r}, expected {expected_kind!r}")
    return arrays, meta


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
