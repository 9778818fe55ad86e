"""Saved runs for the pages: the store, cached loading, and the sidebar run picker.

Loaded runs are shared by every session through ``st.cache_resource``; pages only read from the
model (score, recommend, fold_in return new arrays), so one session never changes another's view.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.errors import RecsysError, RunNotFoundError
from recsys_core.evaluation.diagnostics import embeddings_collapsed
from recsys_core.evaluation.split import describe_split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import (IDS_FILE, INFO_FILE, MODEL_FILE, DamagedRun, Run, RunInfo,
                                    RunStore)

from . import page, state
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
def _scan(root: str, signature: tuple) -> tuple[list[RunInfo], list[DamagedRun]]:
    """The store's usable and damaged runs; ``signature`` (the modification times and sizes of
    every run's files) changes when a run is added, removed or one of its files replaced."""
    return RunStore(root).scan()


def _signature(root: Path) -> tuple | None:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return None
    out = [root.stat().st_mtime_ns]
    for entry in entries:
        if entry.name.startswith("."):
            continue
        for file in (INFO_FILE, MODEL_FILE, IDS_FILE):
            try:
                st_ = os.stat(os.path.join(entry.path, file))
                out.append((entry.name, file, st_.st_mtime_ns, st_.st_size))
            except OSError:
                out.append((entry.name, file, None, None))
    return tuple(out)


def _scanned() -> tuple[list[RunInfo], list[DamagedRun]]:
    s = store()
    signature = _signature(s.root)
    if signature is None:
        return [], []
    return _scan(str(s.root), signature)


def all_runs() -> list[RunInfo]:
    """Every usable run in the store, newest first (re-checked only when a file changes)."""
    return list(_scanned()[0])


def damaged_runs() -> list[DamagedRun]:
    """Run folders that cannot be used (damaged, foreign, or written by another version of the
    library), with the reason."""
    return list(_scanned()[1])


def unreadable_runs() -> list[tuple[str, str]]:
    """(folder name, reason) of every damaged run folder."""
    return [(d.name, d.reason) for d in damaged_runs()]


def warn_unreadable() -> None:
    """One warning naming every damaged run with the reason (they can be deleted on Train)."""
    damaged = damaged_runs()
    if damaged:
        st.warning("Damaged runs (cannot be used; pick one under *Inspect run* on the Train page "
                   "to delete it): " + "; ".join(
            f"**{d.name}**: {d.reason}" for d in damaged))


def runs_for(dataset: Dataset) -> list[RunInfo]:
    """Saved runs trained on this dataset (same fingerprint), newest first."""
    return [info for info in all_runs() if info.dataset.get("fingerprint") == dataset.fingerprint]


def damaged_for(dataset: Dataset) -> list[DamagedRun]:
    """Damaged runs that were trained on this dataset, or whose dataset cannot be told."""
    return [d for d in damaged_runs() if d.dataset_fingerprint in (None, dataset.fingerprint)]


def format_metric(value, spec: str = ".3f") -> str:
    """A metric as text; :data:`ui.page.UNDEFINED` when it is undefined (null or NaN, e.g.
    nothing was held out)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        return page.UNDEFINED
    return format(value, spec)


def label(info: RunInfo | DamagedRun) -> str:
    """How a run is named in lists: name, model (with its engine: :func:`kind_label`), nDCG and
    the split it was measured on (short), or a "damaged" mark; a sweep's trial says so,
    indented under the runs of its own."""
    if isinstance(info, DamagedRun):
        return f"{info.name} (damaged: cannot be used)"
    metric = next((f"{k}={format_metric(v)}" for k, v in info.metrics.items()
                   if k.startswith(("ndcg@", "val_ndcg@"))), "")
    if metric and info.split:
        metric += " on " + describe_split(info.split["params"], short=True)
    text = f"{info.name} ({kind_label(info)}{', ' + metric if metric else ''})"
    if sweep_trial(info):
        return f"↳ trial {info.sweep['trial']} of {info.sweep['name']}: {text}"
    return text


# ---------------------------------------------------------------------- which run by default
#: What the app says of a run whose embeddings regularization shrank to ~0.
COLLAPSED_NOTE = "all embeddings ~0: regularization too strong"


def sweep_trial(info: RunInfo | DamagedRun) -> bool:
    """Whether the run is one trial of a hyperparameter sweep (the sweep's refit of its best
    setting is a run of its own)."""
    sweep = getattr(info, "sweep", None)
    return isinstance(sweep, dict) and sweep.get("trial") is not None


@st.cache_resource(show_spinner=False, max_entries=1024)
def _collapsed(root: str, name: str, created: str) -> bool:
    return embeddings_collapsed(_load(root, name, created).model)


def collapsed(info: RunInfo) -> bool:
    """Whether the run's embeddings are all ~0 (:func:`embeddings_collapsed`): loads the run
    once, then remembered; False for a model without embeddings (nothing loaded)."""
    if not has_embeddings(info):
        return False
    return _collapsed(str(Path(info.path).parent), info.name, info.created)


def healthy(info: RunInfo) -> bool:
    """A run that can be loaded and whose embeddings have not collapsed."""
    try:
        return not collapsed(info)
    except RecsysError:  # damaged since the scan, or deleted meanwhile
        return False


def ordered(infos: list[RunInfo]) -> list[RunInfo]:
    """Runs trained on their own first (in the given order, newest first), then the trials of
    each sweep together, by trial number (the sweep with the newest trial first)."""
    own = [i for i in infos if not sweep_trial(i)]
    trials = [i for i in infos if sweep_trial(i)]
    sweeps: dict[str, int] = {}
    for info in trials:
        sweeps.setdefault(info.sweep["name"], len(sweeps))
    trials.sort(key=lambda i: (sweeps[i.sweep["name"]], i.sweep["trial"]))
    return own + trials


def preferred(infos: list[RunInfo], n: int = 1) -> list[RunInfo]:
    """The ``n`` runs a page opens on when none is asked for: the newest healthy runs trained
    on their own; then healthy sweep trials, then the others, to make up ``n`` (a page never
    defaults to a trial or a collapsed run while another run would do). Checks the health of
    only as many runs as it needs."""
    infos = ordered(infos)
    chosen: list[RunInfo] = []
    for group in ([i for i in infos if not sweep_trial(i)], [i for i in infos if sweep_trial(i)]):
        for info in group:
            if len(chosen) == n:
                return chosen
            if healthy(info):
                chosen.append(info)
    rest = [i for i in infos if i not in chosen]
    return chosen + rest[:n - len(chosen)]


def kind_label(info: RunInfo) -> str:
    """The run's model kind, with the engine it was trained on when not here ("wals on spark")."""
    engine = getattr(info, "engine", None)
    return f"{info.model_kind} on {engine['name']}" if engine else info.model_kind


def scores_are_ratings(model, *, folded_in: bool = False) -> bool:
    """Whether ``model``'s own scores for a user are rating estimates, so a page may call them
    "predicted rating" (else they are a "score": they rank items, on no rating scale). They are
    when the model says so (``predicts_ratings``), except for a folded-in user of a model with
    user biases: the fold-in gives the embedding only, so those scores lack the user's bias."""
    if not model.predicts_ratings:
        return False
    return not (folded_in and getattr(model, "user_bias_", None) is not None)


def show_damaged(run: DamagedRun) -> None:
    """Why a damaged run cannot be used."""
    st.error(f"Run **{run.name}** is damaged and cannot be used: {run.reason}")


def has_embeddings(info: RunInfo) -> bool:
    """Whether the run's model has user and item embeddings to map and compare (the model
    class's ``has_embeddings``: not item-kNN, which has none, nor the popularity baseline)."""
    cls = MODEL_REGISTRY.get(info.model_kind)
    return cls is None or cls.has_embeddings


def has_related_items(info: RunInfo) -> bool:
    """Whether the run's model names related items (its class's ``related_items_source``)."""
    cls = MODEL_REGISTRY.get(info.model_kind)
    return cls is None or cls.related_items_source is not None


def select_run(dataset: Dataset, key: str = "run", *, container=None, label_text: str = "Run",
               needs_embeddings: bool = True, or_related_items: bool = False) -> Run | None:
    """Sidebar picker of this dataset's runs; None (with a hint) when there is none yet.

    A page that draws embeddings (``needs_embeddings``) leaves out the runs without them, and
    says so when one is the run asked for; ``or_related_items`` keeps those that name related
    items all the same (the Similarity page shows item-kNN's). Without a run asked for, the
    page opens on :func:`preferred` (a healthy run of its own, not a sweep trial); trials are
    listed after the other runs, grouped by sweep, and a collapsed run is flagged. Damaged runs
    are listed too, marked as such; choosing one shows why (they are deleted on the Train page)
    and stops the page.
    """
    container = container or st.sidebar
    infos = runs_for(dataset)
    left_out = {i.name: i for i in infos if needs_embeddings and not has_embeddings(i)
                and not (or_related_items and has_related_items(i))}
    infos = ordered([i for i in infos if i.name not in left_out])
    asked = st.query_params.get(key) or state.value(key)
    if asked in left_out:
        st.info(f"Run **{asked}** ({kind_label(left_out[asked])}) has no embeddings to show on "
                "this page (its list is on the Recommend page).")
    damaged = damaged_for(dataset)
    if not infos and not damaged:
        what = "run with embeddings" if left_out else "run"
        st.info(f"No trained {what} for this dataset yet: train one on the Train page.")
        st.page_link("pages/2_Train.py", label="Go to Train")
        st.stop()
    by_name = {i.name: i for i in [*infos, *damaged]}
    default = preferred(infos)[0].name if infos else damaged[0].name
    name = state.selectbox(label_text, list(by_name), key, default,
                           format_func=lambda n: label(by_name[n]), container=container)
    chosen = by_name[name]
    if isinstance(chosen, DamagedRun):
        show_damaged(chosen)
        st.page_link("pages/2_Train.py", label="Delete it on the Train page")
        st.stop()
    run = load(chosen)
    if collapsed(chosen):
        st.warning(f"Run **{chosen.name}**: {COLLAPSED_NOTE} (its scores are numerical noise); "
                   "pick another run.")
    return run


# ---------------------------------------------------------------------- deleting
_DELETE_PENDING = "_runs_delete_pending"  # session key: the run name awaiting confirmation
_DELETE_NOTE = "_runs_delete_note"  # session key: (kind, text) of the last delete, shown once


def delete_controls(name: str, container=None) -> None:
    """Delete the run ``name``, and only that one: a button naming it, then a confirmation.

    The buttons' keys and callbacks carry the name, so a click on a stale page (the run was
    deleted by another session, and the list now shows another run) never acts on another run:
    it reports that ``name`` is gone and deletes nothing.
    """
    container = container or st
    if st.session_state.get(_DELETE_PENDING) != name:
        container.button(f"Delete run {name}…", key=f"delete_run_{name}",
                         on_click=_ask_delete, args=(name,))
        return
    container.warning(f"Delete run **{name}** for good? This cannot be undone.")
    yes, no = container.columns(2)
    yes.button(f"Yes, delete {name}", key=f"confirm_delete_{name}", type="primary",
               on_click=_confirm_delete, args=(name,))
    no.button("Cancel", key=f"cancel_delete_{name}", on_click=_cancel_delete)


def show_delete_note() -> None:
    """The outcome of the last delete request of this session (once)."""
    note = st.session_state.pop(_DELETE_NOTE, None)
    if note is not None:
        kind, text = note
        (st.success if kind == "success" else st.warning)(text)


def _gone(name: str) -> str:
    return (f"Run **{name}** no longer exists (deleted in another session?): nothing was "
            "deleted.")


def _ask_delete(name: str) -> None:
    if not (store().root / name).is_dir():
        st.session_state.pop(_DELETE_PENDING, None)
        st.session_state[_DELETE_NOTE] = ("warning", _gone(name))
        return
    st.session_state[_DELETE_PENDING] = name


def _confirm_delete(name: str) -> None:
    st.session_state.pop(_DELETE_PENDING, None)
    try:
        store().delete(name)
    except RunNotFoundError:
        st.session_state[_DELETE_NOTE] = ("warning", _gone(name))
    except RecsysError as exc:
        st.session_state[_DELETE_NOTE] = ("warning", f"Run **{name}** was not deleted: {exc}")
    else:
        st.session_state[_DELETE_NOTE] = ("success", f"Deleted run **{name}**.")


def _cancel_delete() -> None:
    st.session_state.pop(_DELETE_PENDING, None)
