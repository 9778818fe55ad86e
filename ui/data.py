"""Which dataset the pages show: the demo catalogue, MovieLens found on disk, or an upload.

The choice is one synced value (``data`` in the URL): ``demo``, the name of a dataset found by
:func:`recsys_core.data.find_datasets` (e.g. ``ml-100k``) or ``upload-<hash>`` for a file sent in
this session. Datasets are loaded once per process with ``st.cache_resource`` and never mutated
(the Dataset object is frozen with read-only arrays).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import streamlit as st

from recsys_core import data as data_io
from recsys_core.dataset import Dataset
from recsys_core.demo import make_demo_dataset

from . import state

DEMO = "demo"
_UPLOADS = "uploaded_datasets"  # session key: {source key: (label, ratings path, items path)}


@st.cache_resource(show_spinner="Building the demo catalogue…", max_entries=4)
def demo_dataset(seed: int = 0) -> Dataset:
    return make_demo_dataset(seed=seed)


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=8)
def dataset_at(path: str, modified: float) -> Dataset:
    """The dataset stored at ``path`` (folder or CSV); ``modified`` keys the cache to the file."""
    return data_io.load_dataset(path)


@st.cache_resource(show_spinner="Reading the uploaded file…", max_entries=8)
def uploaded_dataset(ratings_path: str, items_path: str | None, name: str) -> Dataset:
    return data_io.load_ratings_csv(ratings_path, items_path, name=name)


def found_datasets() -> dict[str, str]:
    """Datasets on disk by name -> path (RECSYS_DATA_DIR first, then ./data)."""
    return {name: str(path) for name, path in data_io.find_datasets()}


def sources() -> dict[str, str]:
    """Every dataset the person can choose now: source key -> label."""
    out = {DEMO: "Demo catalogue (generated, offline)"}
    for name, path in found_datasets().items():
        out[name] = f"{name} ({path})"
    for key, (label, _, _) in st.session_state.get(_UPLOADS, {}).items():
        out[key] = f"{label} (uploaded)"
    return out


def load_source(key: str) -> Dataset:
    """The Dataset of a source key; raises the engine's DataError for a bad file."""
    if key == DEMO:
        return demo_dataset()
    uploads = st.session_state.get(_UPLOADS, {})
    if key in uploads:
        label, ratings_path, items_path = uploads[key]
        return uploaded_dataset(ratings_path, items_path, label)
    path = found_datasets()[key]
    return dataset_at(path, os.path.getmtime(path))


def default_source(options) -> str:
    """The dataset shown when nobody chose one: the first found on disk (MovieLens in
    RECSYS_DATA_DIR or data/), else the demo catalogue."""
    return next((k for k in options if k != DEMO and not k.startswith("upload-")), DEMO)


def select_dataset() -> tuple[str, Dataset]:
    """Sidebar dataset picker shared by every page; returns (source key, Dataset)."""
    options = sources()
    key = state.selectbox("Dataset", list(options), "data", default_source(options),
                          format_func=options.get,
                          container=st.sidebar,
                          help="Every page works on this dataset; the choice is kept in the URL.")
    return key, load_source(key)


def register_upload(ratings_file, items_file=None) -> str:
    """Store uploaded CSVs on disk by content hash and make them a choosable source.

    Returns the source key. Validation happens when the source is loaded, so the engine's
    DataError (file, line, column) can be shown next to the upload widgets.
    """
    ratings_bytes = ratings_file.getvalue()
    items_bytes = items_file.getvalue() if items_file is not None else b""
    digest = hashlib.sha256(ratings_bytes + b"\0" + items_bytes).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "recsys-studio-uploads" / digest
    folder.mkdir(parents=True, exist_ok=True)
    ratings_path = folder / Path(ratings_file.name).name
    ratings_path.write_bytes(ratings_bytes)
    items_path = None
    if items_file is not None:
        items_path = folder / ("items-" + Path(items_file.name).name)
        items_path.write_bytes(items_bytes)
        items_path = str(items_path)
    key = f"upload-{digest}"
    uploads = dict(st.session_state.get(_UPLOADS, {}))
    uploads[key] = (Path(ratings_file.name).stem, str(ratings_path), items_path)
    st.session_state[_UPLOADS] = uploads
    return key


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
    """Where downloads go: ./data next to the app."""
    return Path(__file__).resolve().parent.parent / "data"
