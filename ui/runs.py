"""Saved runs for the pages: the store, cached loading, and the sidebar run picker.

Loaded runs are shared by every session through ``st.cache_resource``; pages only read from the
model (score, recommend, fold_in return new arrays), so one session never changes another's view.
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from recsys_core.dataset import Dataset
from recsys_core.errors import RecsysError
from recsys_core.runs import Run, RunInfo, RunStore

from . import state
from .data import data_folder

RUNS_DIR_ENV = "RECSYS_RUNS_DIR"


def store() -> RunStore:
    """The run store: ``$RECSYS_RUNS_DIR`` when set (tests use a temporary one), else data/runs."""
    return RunStore(os.environ.get(RUNS_DIR_ENV) or data_folder() / "runs")


@st.cache_resource(show_spinner="Loading the run…", max_entries=16)
def _load(root: str, name: str, created: str) -> Run:
    """A run by name; ``created`` keys the cache so a deleted-and-recreated name reloads."""
    return RunStore(root).load(name)


def load(info: RunInfo) -> Run:
    """The loaded run of ``info`` (PersistenceError for a corrupted or old-format run)."""
    return _load(str(Path(info.path).parent), info.name, info.created)


@st.cache_resource(show_spinner=False, max_entries=8)
def _listing(root: str, modified_ns: int) -> list[RunInfo]:
    """The store's runs; ``modified_ns`` (the folder's mtime) changes when a run is added or
    removed, since saves and deletes rename run folders inside it."""
    return RunStore(root).list()


def all_runs() -> list[RunInfo]:
    """Every readable run in the store, newest first (re-read only when the folder changes)."""
    s = store()
    try:
        modified = s.root.stat().st_mtime_ns
    except FileNotFoundError:
        return []
    return list(_listing(str(s.root), modified))


@st.cache_resource(show_spinner=False, max_entries=8)
def _unreadable(root: str, modified_ns: int) -> list[tuple[str, str]]:
    store_ = RunStore(root)
    readable = {info.name for info in store_.list()}
    out = []
    for entry in sorted(Path(root).iterdir()):
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in readable:
            try:
                store_.info(entry.name)
            except RecsysError as exc:
                out.append((entry.name, str(exc)))
    return out


def unreadable_runs() -> list[tuple[str, str]]:
    """(folder name, reason) of run folders the store skips: corrupted, foreign, or written by
    another version of the library."""
    s = store()
    try:
        modified = s.root.stat().st_mtime_ns
    except FileNotFoundError:
        return []
    return list(_unreadable(str(s.root), modified))


def warn_unreadable() -> None:
    """One warning per run folder that cannot be read, with the reason."""
    for name, reason in unreadable_runs():
        st.warning(f"Run **{name}** cannot be loaded: {reason}")


def runs_for(dataset: Dataset) -> list[RunInfo]:
    """Saved runs trained on this dataset (same fingerprint), newest first."""
    return [info for info in all_runs() if info.dataset.get("fingerprint") == dataset.fingerprint]


def label(info: RunInfo) -> str:
    metric = next((f"{k}={v:.3f}" for k, v in info.metrics.items() if k.startswith("ndcg@")), "")
    return f"{info.name} ({info.model_kind}{', ' + metric if metric else ''})"


def select_run(dataset: Dataset, key: str = "run", *, container=None, label_text: str = "Run",
               needs_embeddings: bool = True) -> Run | None:
    """Sidebar picker of this dataset's runs; None (with a hint) when there is none yet."""
    container = container or st.sidebar
    infos = runs_for(dataset)
    if needs_embeddings:
        infos = [i for i in infos if i.model_kind != "popularity"]
    if not infos:
        st.info("No trained run for this dataset yet: train one on the Train page.")
        st.page_link("pages/2_Train.py", label="Go to Train")
        st.stop()
    by_name = {i.name: i for i in infos}
    name = state.selectbox(label_text, list(by_name), key, infos[0].name,
                           format_func=lambda n: label(by_name[n]), container=container)
    return load(by_name[name])
