"""A binary cache of loaded datasets, so that the second load of unchanged files is a read of arrays.

One entry per dataset folder (and loader options) under :func:`default_cache_dir`: a folder of
``.npy`` arrays (the CSR matrix, timestamps, ids, genres, folds), Arrow IPC files for the item and
user tables and a ``meta.json`` holding everything else. Nothing is pickled (``np.load`` runs with
``allow_pickle=False``; string ids are stored as fixed-width Unicode arrays).

Keyed by the source files: each regular file of the folder contributes its name, size,
modification time (ns) and a content hash. The content hash is xxHash3-128 (blake2b when the
``xxhash`` package is missing) of the whole file up to 4 MiB, and beyond that of 64 blocks of
64 KiB spread evenly over the file plus its first and last MiB: about 8 MiB read for any file, a
few milliseconds, where hashing ml-25m's 650 MB in full would cost more than the warm load itself.
Size and mtime catch every ordinary edit; the sampled hash catches a file replaced by another of
the same size with its mtime preserved (a copy with ``cp -p``, an unpacked archive) unless the two
differ only between the sampled blocks.

Never trusted if damaged: every array and table file carries an xxHash3 (or blake2b) checksum in
``meta.json``, itself checksummed. A damaged or unreadable entry is rebuilt from the source files,
and the :class:`~recsys_core.data.dataset.LoadReport` says so. Entries are written into a
temporary folder and renamed into place, so a reader never sees half an entry. Failing to write
the cache (read-only disk, no space) never fails the load: the report notes it. Big entries are
written by a background thread after the load returns (see :data:`BACKGROUND_WRITE_BYTES`); a
failure that only shows while writing (the disk filling meanwhile) is then logged.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .dataset import Dataset, LoadReport

try:  # xxHash3 hashes at memory speed; blake2b (standard library) is the fallback
    import xxhash
except ImportError:  # pragma: no cover - xxhash is in requirements.txt
    xxhash = None

CACHE_DIR_ENV = "RECSYS_CACHE_DIR"
RUNS_DIR_ENV = "RECSYS_RUNS_DIR"
#: Bumped whenever what an entry holds changes: older entries are then rebuilt.
CACHE_FORMAT = 1
#: Sources smaller than this load faster from text than the cache would save (ml-100k: 2 MB).
MIN_CACHED_BYTES = 8 << 20
_WHOLE_FILE_HASH = 4 << 20
_SAMPLES, _SAMPLE_BYTES, _EDGE_BYTES = 64, 64 << 10, 1 << 20
HASH_NAME = "xxh3_128" if xxhash is not None else "blake2b-128"


def default_cache_dir() -> Path:
    """``$RECSYS_CACHE_DIR``; else ``cache/`` beside ``$RECSYS_RUNS_DIR`` (the run store); else
    the project's ``data/cache``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if os.environ.get(RUNS_DIR_ENV):
        return Path(os.environ[RUNS_DIR_ENV]).expanduser().resolve().parent / "cache"
    return Path(__file__).resolve().parents[2] / "data" / "cache"  # discovery.PROJECT_DATA_DIR


def _hasher():
    return xxhash.xxh3_128() if xxhash is not None else hashlib.blake2b(digest_size=16)


def _digest(buffer) -> str:
    h = _hasher()
    h.update(buffer)
    return h.hexdigest()


def _bytes_of(array: np.ndarray) -> np.ndarray:
    """The array's memory as uint8 (any dtype, including fixed-width Unicode), without a copy."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def file_signature(path: Path) -> dict:
    """Name, size, mtime (ns) and sampled content hash of one file (see the module docstring)."""
    stat = path.stat()
    h = _hasher()
    size = stat.st_size
    with open(path, "rb") as f:
        if size <= _WHOLE_FILE_HASH:
            h.update(f.read())
        else:
            h.update(f.read(_EDGE_BYTES))
            step = (size - 2 * _EDGE_BYTES) // _SAMPLES
            for k in range(_SAMPLES):
                f.seek(_EDGE_BYTES + k * step)
                h.update(f.read(_SAMPLE_BYTES))
            f.seek(size - _EDGE_BYTES)
            h.update(f.read(_EDGE_BYTES))
    return {"name": path.name, "size": size, "mtime_ns": stat.st_mtime_ns,
            "hash": f"{HASH_NAME}:{h.hexdigest()}"}


def source_signature(files: list[Path]) -> list[dict]:
    return [file_signature(f) for f in sorted(files, key=lambda p: p.name)]


def _entry_dir(cache_dir: Path, folder: Path, options: dict) -> Path:
    key = json.dumps({"folder": str(folder.resolve()), "options": options}, sort_keys=True)
    return cache_dir / ("ds-" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest())


class CacheDamaged(Exception):
    """An entry that cannot be trusted: unreadable, truncated, or a checksum that differs."""


def cached_load(folder: Path, files: list[Path], load: Callable[[], Dataset], *,
                cache_dir: Path | None = None, options: dict | None = None,
                min_bytes: int | None = None) -> Dataset:
    """``load()`` through the cache entry of ``folder``.

    Parameters
    ----------
    folder : the dataset folder (it names the entry).
    files : the source files whose signature keys the entry.
    load : builds the dataset from the text files (a miss).
    cache_dir : where entries live; :func:`default_cache_dir` when None.
    options : loader options that change the result (part of the entry's name).
    min_bytes : sources smaller than this are loaded without the cache (default
        :data:`MIN_CACHED_BYTES`, read at call time).

    The returned dataset's ``report.cache`` is "hit", "written" (a miss stored), "rebuilt" (the
    entry was damaged), "stale" (a source file changed; the entry was replaced) or "" (not
    cached), and its notes say why when it is not a hit. Big entries (from
    :data:`BACKGROUND_WRITE_BYTES`) are written by a thread after this returns; the next
    ``cached_load`` of the same entry in this process, and :func:`wait_for_writes`, wait for it.
    """
    signature = source_signature(files)
    if sum(s["size"] for s in signature) < (MIN_CACHED_BYTES if min_bytes is None else min_bytes):
        return load()
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    entry = _entry_dir(cache_dir, folder, options or {})
    _wait_for_writer(entry)  # this process is still writing it: read it when done
    state, why = "written", None
    if (entry / "meta.json").is_file():
        try:
            meta = _read_meta(entry)
            if meta["sources"] == signature and meta["format"] == CACHE_FORMAT:
                return _read_entry(entry, meta)
            state, why = "stale", "source files changed since the cache was written: rebuilt"
        except (CacheDamaged, OSError, ValueError, KeyError, TypeError) as exc:
            state, why = "rebuilt", f"the dataset cache was damaged ({exc}): rebuilt from the files"
    elif entry.exists():
        state, why = "rebuilt", "the dataset cache was incomplete: rebuilt from the files"
    dataset = load()
    notes = [why] if why else []
    try:
        size = _stored_bytes(dataset)
        prune(cache_dir)  # before a new entry takes room: drop those nobody can use
        if size >= BACKGROUND_WRITE_BYTES:
            _check_room(entry.parent, size)  # what can be known now is reported now
            _start_writer(entry, dataset, signature, folder.resolve())
        else:
            _write_entry(entry, dataset, signature, folder.resolve())
    except OSError as exc:
        state = ""
        notes.append(f"dataset cache not written ({exc.strerror or exc}): {cache_dir}")
    report = dataclasses.replace(dataset.report, cache=state,
                                 notes=tuple(dataset.report.notes) + tuple(notes))
    return dataclasses.replace(dataset, report=report)


# ------------------------------------------------------------------------- background writes
#: Entries holding at least this many bytes of arrays are written by a thread after the load
#: returns: the dataset is immutable, and the entry appears by one rename when complete, so a
#: reader sees it whole or not at all (ml-25m: ~420 MB, 0.1 s of CPU but 0.7-3 s of wall time
#: on a disk busy with other writers).
BACKGROUND_WRITE_BYTES = 64 << 20
_writers: dict[Path, threading.Thread] = {}
_writers_lock = threading.Lock()
_log = logging.getLogger(__name__)


def _stored_bytes(dataset: Dataset) -> int:
    arrays = (dataset.ratings.data, dataset.ratings.indices, dataset.ratings.indptr,
              dataset.timestamps, dataset.user_ids, dataset.item_ids, dataset.item_genres)
    return sum(a.nbytes for a in arrays if a is not None)


def _check_room(parent: Path, size: int):
    """OSError now, in the load's report, for a cache folder that cannot be created or a disk
    without room for the entry (a background write can only log its failure)."""
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise PermissionError(13, "Permission denied")
    if shutil.disk_usage(parent).free < 2 * size:
        raise OSError(28, "No space left on device")


def _start_writer(entry: Path, dataset: Dataset, signature: list[dict], folder: Path):
    def write():
        try:
            _write_entry(entry, dataset, signature, folder)
        except Exception as exc:  # noqa: BLE001 - a thread has no caller to raise to
            _log.warning("dataset cache not written to %s: %s", entry, exc)

    # Not a daemon: the interpreter waits for it at exit, so a short-lived process (the CLI)
    # still leaves a complete entry behind.
    thread = threading.Thread(target=write, name=f"dataset-cache-{entry.name}", daemon=False)
    with _writers_lock:
        _writers[entry] = thread
    thread.start()


def _wait_for_writer(entry: Path):
    with _writers_lock:
        thread = _writers.get(entry)
    if thread is not None:
        thread.join()
        with _writers_lock:
            if _writers.get(entry) is thread:
                del _writers[entry]


def wait_for_writes(timeout: float | None = None) -> bool:
    """Wait for the cache entries still being written in the background; True when none is."""
    with _writers_lock:
        threads = list(_writers.values())
    for thread in threads:
        thread.join(timeout)
    with _writers_lock:
        for entry, thread in list(_writers.items()):
            if not thread.is_alive():
                del _writers[entry]
        return not _writers


# ------------------------------------------------------------------------------------ writing
def _store_array(folder: Path, name: str, array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    if array.dtype == object:  # string ids: fixed-width Unicode, never pickled objects
        array = array.astype(str)
    np.save(folder / f"{name}.npy", array, allow_pickle=False)
    return {"dtype": array.dtype.str, "shape": list(array.shape),
            "hash": _digest(_bytes_of(array))}


def _store_table(folder: Path, name: str, frame: pd.DataFrame) -> dict:
    import pyarrow as pa

    # One thread: a background writer may run at interpreter exit, when no pool can start.
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False, nthreads=1)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = sink.getvalue()
    (folder / f"{name}.arrow").write_bytes(data)
    return {"hash": _digest(memoryview(data))}


def _write_entry(entry: Path, dataset: Dataset, signature: list[dict], folder: Path):
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        arrays = {"indptr": dataset.ratings.indptr, "indices": dataset.ratings.indices,
                  "data": dataset.ratings.data, "user_ids": dataset.user_ids,
                  "item_ids": dataset.item_ids, "item_genres": dataset.item_genres}
        if dataset.timestamps is not None:
            arrays["timestamps"] = dataset.timestamps
        for fold, mask in dataset.folds.items():
            arrays[f"fold-{fold}"] = mask
        stored = {name: _store_array(tmp, name, a) for name, a in arrays.items()}
        tables = {"items": _store_table(tmp, "items", dataset.items)}
        if dataset.users is not None:
            tables["users"] = _store_table(tmp, "users", dataset.users)
        report = dataset.report
        body = {"format": CACHE_FORMAT, "sources": signature, "arrays": stored, "tables": tables,
                "id_kinds": {"user": dataset.user_ids.dtype.kind, "item": dataset.item_ids.dtype.kind},
                "shape": list(dataset.shape), "folds": list(dataset.folds),
                "genre_names": list(dataset.genre_names),
                "rating_scale": None if dataset.rating_scale is None else list(dataset.rating_scale),
                "name": dataset.name, "source": dataset.source, "folder": str(folder),
                "report": {"rows_read": report.rows_read,
                           "duplicates_merged": report.duplicates_merged,
                           "dropped": dict(report.dropped), "notes": list(report.notes)}}
        text = json.dumps(body, sort_keys=True)
        meta = json.dumps({"checksum": _digest(text.encode()), "body": text})
        (tmp / "meta.json").write_text(meta, encoding="utf-8")  # last: marks the entry complete
        if entry.exists():  # replace: move the old entry aside first, then drop it
            old = entry.with_name(f".{entry.name}-old-{os.getpid()}")
            os.rename(entry, old)
            shutil.rmtree(old, ignore_errors=True)
        os.rename(tmp, entry)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


#: A temporary entry folder this old is left over by a process that died while writing it.
ABANDONED_SECONDS = 3600


def prune(cache_dir: Path) -> list[Path]:
    """Delete the entries of ``cache_dir`` nobody can use again; returns what was deleted.

    That is an entry whose dataset folder no longer exists (or holds none of the files it was
    built from), and a temporary or set-aside folder a writer left behind more than
    :data:`ABANDONED_SECONDS` ago. Entries written before they recorded their folder, entries
    being written by this process and damaged entries are left alone (a damaged one is rebuilt
    in place by its next load).
    """
    import time

    cache_dir = Path(cache_dir)
    removed = []
    try:
        children = list(cache_dir.iterdir())
    except OSError:
        return removed
    with _writers_lock:
        writing = set(_writers)
    for child in children:
        if not child.is_dir() or child in writing:
            continue
        try:
            if child.name.startswith("."):
                doomed = time.time() - child.stat().st_mtime > ABANDONED_SECONDS
            else:
                doomed = _orphaned(child)
        except OSError:
            continue
        if doomed:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def _orphaned(entry: Path) -> bool:
    try:
        meta = _read_meta(entry)
    except (CacheDamaged, OSError, ValueError, KeyError, TypeError):
        return False
    folder = meta.get("folder")
    if not folder:
        return False
    folder = Path(folder)
    names = [source.get("name") for source in meta.get("sources", ())]
    return not folder.is_dir() or not any((folder / name).exists() for name in names if name)


# ------------------------------------------------------------------------------------ reading
def _read_meta(entry: Path) -> dict:
    outer = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    text = outer["body"]
    if _digest(text.encode()) != outer["checksum"]:
        raise CacheDamaged("meta.json fails its checksum")
    return json.loads(text)


def _load_array(entry: Path, name: str, expected: dict) -> np.ndarray:
    try:
        array = np.load(entry / f"{name}.npy", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise CacheDamaged(f"{name}.npy unreadable: {exc}") from None
    if array.dtype.str != expected["dtype"] or list(array.shape) != expected["shape"]:
        raise CacheDamaged(f"{name}.npy has the wrong type or shape")
    if _digest(_bytes_of(array)) != expected["hash"]:
        raise CacheDamaged(f"{name}.npy fails its checksum")
    array.flags.writeable = False
    return array


def _load_table(entry: Path, name: str, expected: dict) -> pd.DataFrame:
    import pyarrow as pa

    data = (entry / f"{name}.arrow").read_bytes()
    if _digest(memoryview(data)) != expected["hash"]:
        raise CacheDamaged(f"{name}.arrow fails its checksum")
    try:
        return pa.ipc.open_file(pa.py_buffer(data)).read_all().to_pandas()
    except pa.ArrowException as exc:
        raise CacheDamaged(f"{name}.arrow unreadable: {exc}") from None


def _ids(array: np.ndarray, kind: str) -> np.ndarray:
    if kind == "O":  # stored as fixed-width Unicode; the dataset holds Python strings
        out = array.astype(object)
        out.flags.writeable = False
        return out
    return array


def _read_entry(entry: Path, meta: dict) -> Dataset:
    arrays = {name: _load_array(entry, name, spec) for name, spec in meta["arrays"].items()}
    items = _load_table(entry, "items", meta["tables"]["items"])
    users = (_load_table(entry, "users", meta["tables"]["users"]) if "users" in meta["tables"]
             else None)
    ratings = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                            shape=tuple(meta["shape"]), copy=False)
    ratings.has_sorted_indices = True
    report = meta["report"]
    report = LoadReport(rows_read=report["rows_read"], duplicates_merged=report["duplicates_merged"],
                        dropped=report["dropped"], notes=tuple(report["notes"]), cache="hit")
    return Dataset(ratings=ratings, timestamps=arrays.get("timestamps"),
                   user_ids=_ids(arrays["user_ids"], meta["id_kinds"]["user"]),
                   item_ids=_ids(arrays["item_ids"], meta["id_kinds"]["item"]), items=items,
                   item_genres=arrays["item_genres"], genre_names=tuple(meta["genre_names"]),
                   users=users,
                   rating_scale=None if meta["rating_scale"] is None else tuple(meta["rating_scale"]),
                   name=meta["name"], source=meta["source"], report=report,
                   folds={fold: arrays[f"fold-{fold}"] for fold in meta["folds"]})
