"""Which dataset the pages show: the demo catalogue, MovieLens found on disk, or an upload.

The choice is one synced value (``data`` in the URL): ``demo``, the name of a dataset found by
:func:`recsys_core.data.find_datasets` (e.g. ``ml-100k``) or ``upload-<hash>`` for a file sent in
this session. Datasets are loaded once per process with ``st.cache_resource`` and never mutated
(the Dataset object is frozen with read-only arrays).
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import streamlit as st

from recsys_core import data as data_io
from recsys_core.data.dataset import Dataset
from recsys_core.data.demo import make_demo_dataset
from recsys_core.data.stats import RatingCounts, RatingStats
from recsys_core.errors import DataError, DownloadError

from . import state

DEMO = "demo"
_UPLOADS = "uploaded_datasets"  # session key: {source key: (label, ratings path, items path)}
UPLOADS_DIR_ENV = "RECSYS_UPLOADS_DIR"  # where uploads are kept (default: the temp folder)
UPLOADS_MAX_MB_ENV = "RECSYS_UPLOADS_MAX_MB"  # their total size bound, in MB
UPLOADS_MAX_MB = 512.0


@st.cache_resource(show_spinner="Building the demo catalogue…", max_entries=4)
def demo_dataset(seed: int = 0) -> Dataset:
    return make_demo_dataset(seed=seed)


@st.cache_resource(show_spinner=False, max_entries=8)
def dataset_at(path: str, modified: float) -> Dataset:
    """The dataset stored at ``path`` (folder or CSV); ``modified`` keys the cache to the file.

    One object per process shared by every session (``cache_resource``: never copied; at the
    ml-25m shape its arrays hold about 0.4 GB)."""
    return data_io.load_dataset(path)


def _loading_text(key: str, path: str) -> str:
    """What the spinner says while a dataset on disk loads: its name and size."""
    where = Path(path)
    files = [where] if where.is_file() else [f for f in where.iterdir() if f.is_file()]
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    slow = (" (a large dataset: the first load reads the text files, later loads a binary "
            "cache)" if megabytes > 100 else "")
    return f"Loading {key}: {megabytes:,.0f} MB{slow}…"


@st.cache_resource(show_spinner="Reading the uploaded file…", max_entries=8)
def uploaded_dataset(ratings_path: str, items_path: str | None, name: str) -> Dataset:
    if not os.path.isfile(ratings_path) or (items_path is not None and not os.path.isfile(items_path)):
        raise DataError(f"the upload {name!r} was removed to keep the uploads under "
                        f"{_uploads_max_bytes() / 1e6:.0f} MB in total (oldest first): upload the "
                        "file again on the Data page")
    return data_io.load_ratings_csv(ratings_path, items_path, name=name)


def found_datasets() -> dict[str, str]:
    """Datasets on disk by name -> path (RECSYS_DATA_DIR first, then ./data)."""
    return {name: str(path) for name, path in data_io.find_datasets()}


def sources() -> dict[str, str]:
    """Every dataset the person can choose now: source key -> label (a name, never a folder:
    :func:`source_folder` says where one is read from)."""
    out = {DEMO: "Demo catalogue (generated, offline)"}
    for name in found_datasets():
        out[name] = name
    for key, (label, _, _) in st.session_state.get(_UPLOADS, {}).items():
        out[key] = f"{label} (uploaded)"
    return out


def source_folder(key: str) -> str | None:
    """Where a dataset found on disk is read from (shown on hover), None for the others."""
    return found_datasets().get(key) if key != DEMO else None


def source_caption(key: str) -> tuple[str, str | None]:
    """A dataset as a page footer names it, and the help shown on hover (its folder)."""
    label = sources().get(key, key)
    folder = source_folder(key)
    return f"Dataset: {label}", (f"Read from {folder}" if folder else None)


def _picker_help() -> str:
    """The dataset picker's help: what it does, and the folder of each dataset found on disk."""
    text = "Every page works on this dataset; the choice is kept in the URL."
    found = found_datasets()
    if found:
        text += "\n\nRead from:\n" + "\n".join(f"- {name}: `{path}`"
                                                for name, path in found.items())
    return text


def load_source(key: str) -> Dataset:
    """The Dataset of a source key; raises the engine's DataError for a bad file."""
    if key == DEMO:
        return demo_dataset()
    uploads = st.session_state.get(_UPLOADS, {})
    if key in uploads:
        label, ratings_path, items_path = uploads[key]
        return uploaded_dataset(ratings_path, items_path, label)
    path = found_datasets()[key]
    # Shown from the first half second of a load, with the time elapsed (a cache hit is silent).
    with st.spinner(_loading_text(key, path), show_time=True):
        return dataset_at(path, os.path.getmtime(path))


def _token(dataset: Dataset) -> tuple:
    """A cache key of a loaded dataset (the object is shared and immutable while cached)."""
    return (dataset.name, dataset.shape, dataset.n_ratings, id(dataset))


@st.cache_resource(show_spinner="Counting ratings per item, user, value and genre…",
                   max_entries=8)
def _rating_stats(token: tuple, _dataset: Dataset) -> RatingStats:
    return RatingStats(_dataset)


@st.cache_resource(show_spinner=False, max_entries=64)
def _filtered_counts(token: tuple, genres: tuple, occupations: tuple,
                     _dataset: Dataset) -> RatingCounts:
    item_mask = user_mask = None
    if genres:
        columns = [_dataset.genre_names.index(g) for g in genres]
        item_mask = _dataset.item_genres[:, columns].any(axis=1)
    if occupations:
        user_mask = _dataset.users["occupation"].astype(str).isin(occupations).to_numpy()
    return _rating_stats(token, _dataset).counts(item_mask, user_mask)


def rating_counts(dataset: Dataset, genres=(), occupations=()) -> RatingCounts:
    """The Data page's counts (per item, user, rating value, genre) of the ratings of items in
    any of ``genres`` by users in any of ``occupations`` (empty: no filter).

    Computed once per dataset and filter and shared by sessions (small arrays: two counts per
    item and per user), so that a chart never holds one point per rating."""
    return _filtered_counts(_token(dataset), tuple(genres), tuple(occupations), dataset)


def default_source(options) -> str:
    """The dataset shown when nobody chose one: the first found on disk (MovieLens in
    RECSYS_DATA_DIR or data/), else the demo catalogue."""
    return next((k for k in options if k != DEMO and not k.startswith("upload-")), DEMO)


def select_dataset() -> tuple[str, Dataset]:
    """Sidebar dataset picker shared by every page; returns (source key, Dataset)."""
    options = sources()
    key = state.selectbox("Dataset", list(options), "data", default_source(options),
                          format_func=options.get,
                          container=st.sidebar, help=_picker_help())
    return key, load_source(key)


def register_upload(ratings_file, items_file=None) -> str:
    """Store uploaded CSVs on disk by content hash and make them a choosable source.

    Uploads of every session share one folder (:func:`uploads_folder`), one sub-folder per
    content hash, so the same file uploaded twice is kept once. The folder is bounded in total
    size (``$RECSYS_UPLOADS_MAX_MB``, default 512 MB): after each upload the oldest others are
    dropped first. Returns the source key. A file name with a NUL byte raises
    :class:`DataError`; otherwise validation happens when the source is loaded, so the engine's
    DataError (file, line, column) can be shown next to the upload widgets.
    """
    for file in (ratings_file, items_file):
        if file is not None and "\0" in file.name:
            raise DataError(f"the file name {file.name!r} contains a NUL byte, which no file name "
                            "may hold: rename the file and upload it again")
    ratings_bytes = ratings_file.getvalue()
    items_bytes = items_file.getvalue() if items_file is not None else b""
    digest = hashlib.sha256(ratings_bytes + b"\0" + items_bytes).hexdigest()[:12]
    folder = uploads_folder() / digest
    folder.mkdir(parents=True, exist_ok=True)
    ratings_path = folder / _stored_name(ratings_file.name, "ratings.csv")
    _write_once(ratings_path, ratings_bytes)
    items_path = None
    if items_file is not None:
        items_path = folder / ("items-" + _stored_name(items_file.name, "items.csv"))
        _write_once(items_path, items_bytes)
        items_path = str(items_path)
    os.utime(folder)  # the newest upload: dropped last
    prune_uploads(keep=folder)
    key = f"upload-{digest}"
    uploads = dict(st.session_state.get(_UPLOADS, {}))
    uploads[key] = (Path(ratings_file.name).stem, str(ratings_path), items_path)
    st.session_state[_UPLOADS] = uploads
    return key


def uploads_folder() -> Path:
    """Where uploads are kept: ``$RECSYS_UPLOADS_DIR``, else ``<temp>/recsys-studio-uploads``."""
    return Path(os.environ.get(UPLOADS_DIR_ENV)
                or Path(tempfile.gettempdir()) / "recsys-studio-uploads")


def _uploads_max_bytes() -> float:
    try:
        return float(os.environ.get(UPLOADS_MAX_MB_ENV) or UPLOADS_MAX_MB) * 1e6
    except ValueError:
        return UPLOADS_MAX_MB * 1e6


def prune_uploads(keep: Path | None = None) -> list[str]:
    """Drop the oldest uploads until all of them fit the size bound; never ``keep``.

    Returns the content hashes dropped. Safe when several sessions prune at once.
    """
    root = uploads_folder()
    folders = []
    for entry in (root.iterdir() if root.is_dir() else ()):
        try:
            size = sum(f.stat().st_size for f in entry.iterdir() if f.is_file())
            folders.append((entry.stat().st_mtime, entry.name, size, entry))
        except (FileNotFoundError, NotADirectoryError):  # removed meanwhile, or a stray file
            continue
    total, budget, dropped = sum(f[2] for f in folders), _uploads_max_bytes(), []
    for _, name, size, entry in sorted(folders):
        if total <= budget:
            break
        if keep is not None and entry == keep:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        total -= size
        dropped.append(name)
    return dropped


def _stored_name(name: str, fallback: str) -> str:
    """The uploaded file's own name without any folder part (``fallback`` when that is empty)."""
    base = Path(str(name).replace("\\", "/")).name
    return base if base not in ("", ".", "..") else fallback


def _write_once(path: Path, content: bytes) -> None:
    """Write ``content`` unless the same content is there (the folder is keyed by it)."""
    if path.is_file() and path.stat().st_size == len(content):
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def upload_message(key: str, exc: Exception) -> str:
    """An engine error about an uploaded file, naming the file as the person knows it (not the
    temporary copy the loader read)."""
    message = str(exc)
    label, ratings_path, items_path = st.session_state.get(_UPLOADS, {}).get(key, ("", "", None))
    folder = str(Path(ratings_path).parent) + "/" if ratings_path else None
    if folder:
        message = message.replace(folder + "items-", "").replace(folder, "")
    return message


def forget_upload(key: str) -> None:
    uploads = dict(st.session_state.get(_UPLOADS, {}))
    uploads.pop(key, None)
    st.session_state[_UPLOADS] = uploads


def data_folder() -> Path:
    """Where downloads go: the project's data/ folder, where the dataset picker looks."""
    return data_io.discovery.PROJECT_DATA_DIR  # read at call time: tests point it elsewhere


#: What the person sees for each phase of :func:`recsys_core.data.download.download_movielens`.
_PHASE_VERBS = {"download": "Downloading", "verify": "Checking the checksum of",
                "extract": "Unpacking"}


class DownloadMeter:
    """The engine's ``progress(done, total, phase)`` calls as a progress bar's fraction and text:
    bytes done of total, speed and time left, per phase (download, verify, extract).

    Parameters
    ----------
    name : str
        Dataset name shown in the text.
    draw : callable(fraction in [0, 1], text)
        Updates the bar (``st.progress(...).progress``).
    every : float
        Seconds between redraws (each is a message to the browser); a new phase and the end of
        one are always drawn.
    clock : callable() -> seconds
    """

    def __init__(self, name: str, draw, every: float = 0.25, clock=time.monotonic):
        self.name, self.draw, self.every, self.clock = name, draw, every, clock
        self.phase = None
        self.started = self.drawn = 0.0
        self.start_done = 0
        self.texts: list[str] = []  # every text drawn, for tests and benchmarks

    def __call__(self, done: int, total: int | None, phase: str = "download") -> None:
        now = self.clock()
        new_phase = phase != self.phase
        if new_phase:
            # Bytes kept from an interrupted download count as done but not in the speed.
            self.phase, self.started, self.start_done = phase, now, done
        finished = total is not None and done >= total
        if not (new_phase or finished or now - self.drawn >= self.every):
            return
        self.drawn = now
        text = self.text(done, total, now - self.started, done - self.start_done)
        self.texts.append(text)
        self.draw(min(1.0, done / total) if total else 0.0, text)

    def text(self, done: int, total: int | None, elapsed: float, moved: int) -> str:
        verb = _PHASE_VERBS.get(self.phase, self.phase)
        amount = (f"{done / 1e6:,.1f} of {total / 1e6:,.1f} MB" if total
                  else f"{done / 1e6:,.1f} MB")
        out = f"{verb} {self.name}: {amount}"
        if elapsed > 0.5 and moved > 0:
            speed = moved / elapsed
            out += f" · {speed / 1e6:,.1f} MB/s"
            if total and done < total:
                out += f" · about {math.ceil((total - done) / speed)} s left"
        return out


def download(name: str) -> Path:
    """Download ``name`` into :func:`data_folder` with a progress bar under the button.

    Returns the dataset folder; raises the engine's DownloadError (offline, checksum mismatch,
    damaged archive) with the bar left showing how far it got (removed when nothing arrived)."""
    from recsys_core.data.download import download_movielens

    bar = st.progress(0.0, text=f"Connecting for {name}…")
    meter = DownloadMeter(name, lambda fraction, text: bar.progress(fraction, text=text))
    try:
        folder = download_movielens(name, data_folder(), progress=meter)
    except DownloadError:
        if not meter.texts:  # never connected: no "Connecting…" line left above the error
            bar.empty()
        raise
    bar.progress(1.0, text=f"{name} is ready")
    return folder


def release_label(name: str, on_disk: bool = False) -> str:
    """A MovieLens release as the download picker lists it: name, archive size, whether present."""
    from recsys_core.data.download import MOVIELENS_ARCHIVES

    size = MOVIELENS_ARCHIVES[name].size
    parts = [f"{size / 1e6:,.0f} MB" if size else None, "on disk" if on_disk else None]
    details = ", ".join(p for p in parts if p)
    return f"{name} ({details})" if details else name
