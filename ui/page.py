"""Page header and error display shared by every page."""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from recsys_core.errors import RecsysError

from . import state


#: The app's pages as (script, label, what it is for), in sidebar order. The app stays a
#: folder-based multipage app (``st.navigation`` with a ``pages/`` folder breaks AppTest); its
#: built-in sidebar list is hidden (``client.showSidebarNavigation = false`` in
#: .streamlit/config.toml) because it would name the home page "app".
PAGES = (
    ("app.py", "Home", "what the tool is, the chosen dataset at a glance, the lessons."),
    ("pages/1_Data.py", "Data",
     "choose, download or upload ratings; the long tail of ratings per user and per item."),
    ("pages/2_Train.py", "Train",
     "fit matrix factorization (SGD or WALS), SVD, content-based, softmax, two-tower or "
     "popularity models; watch the loss; evaluate; every model is saved as a run."),
    ("pages/3_Embeddings.py", "Embeddings",
     "item and user embeddings of a run in 2D (UMAP, t-SNE, PCA) and the norm vs popularity "
     "diagnostic."),
    ("pages/4_Similarity.py", "Similarity",
     "the same query under dot, cosine, Euclidean and tempered similarity, side by side."),
    ("pages/5_Recommend.py", "Recommend",
     "recommendations for a user or for you (fold-in, no retraining), with live re-ranking knobs."),
    ("pages/6_Compare_runs.py", "Compare runs",
     "saved runs' hyperparameters and metrics; recommendations of several runs side by side."),
    ("pages/7_Tune.py", "Tune",
     "search 1-3 hyperparameters (grid, random or TPE) on a validation split; every trial is a "
     "run; open the best."),
)


def page_header(title: str, intro: str) -> None:
    """Configure the page and open it with its title and a short lesson in the course's terms;
    the sidebar lists the pages, "Home" first."""
    st.set_page_config(page_title=f"{title} · recsys-studio", layout="wide")
    state.note_page_run()
    for path, label, _ in PAGES:
        st.sidebar.page_link(path, label=label)
    st.sidebar.divider()
    st.title(title)
    st.markdown(intro)


# Streamlit dims every element of a rerunning script or fragment: from the run's start each one
# gets an opacity transition (1 s, after 0.5 s), and a slider's min/max labels fade (0.3 s) on
# focus. On a page whose fragment reruns at each key press that is ~45 composited transitions per
# press, started and cancelled within 0.1 s: 30-40 ms of the browser's CPU per press, and a
# quarter of a loaded classroom's throughput on a 2-core server (benchmarks/bench_classroom.py).
# The attribute and test id are Streamlit 1.67's (requirements.txt pins the minor version;
# tests/e2e/test_knob_fast_path_browser.py checks they still match).
_STEADY_RERUNS_CSS = """<style>
[data-testid="stElementContainer"][data-stale="true"] {opacity: 1 !important; transition: none !important;}
[data-testid="stSliderTickBar"] {transition: none !important;}
</style>"""


def steady_reruns() -> None:
    """Keep this page's elements fully drawn while it reruns, without transitions.

    For pages whose answer to a key press arrives in a tenth of a second (the re-ranking knobs):
    a fade would only flicker there, and it costs every session's browser CPU on each press. The
    header's running indicator still shows a run in progress.
    """
    st.html(_STEADY_RERUNS_CSS)


#: How the app writes a value that does not exist (an undefined metric, a row past the end).
UNDEFINED = "—"


def dataframe(data, *, container=None, **kwargs) -> None:
    """``st.dataframe`` (in ``container``, by default the page) with undefined cells written as
    :data:`UNDEFINED`: the browser's data grid draws its own text for a null cell ("None") and
    ignores a Styler's ``na_rep`` there."""
    (container or st).dataframe(data, placeholder=UNDEFINED, **kwargs)


def metric_grid(metrics: list[tuple], per_row: int = 3) -> None:
    """``st.metric`` tiles, ``per_row`` to a row so that numbers like 100,000 are not cut
    (at 800 px six tiles in a row show "1,…"). Each entry: (label, value) or (label, value,
    help)."""
    for start in range(0, len(metrics), per_row):
        cols = st.columns(per_row)
        for col, (label, value, *help_text) in zip(cols, metrics[start:start + per_row]):
            col.metric(label, value, help=help_text[0] if help_text else None)


@contextmanager
def user_errors(stop: bool = True):
    """Show an engine error a person caused (bad file, unknown id, bad value) as a message.

    With ``stop`` the rest of the page is skipped, since it would depend on the failed step.
    Programming errors are not caught: they are bugs, not something a user can fix.
    """
    try:
        yield
    except RecsysError as exc:
        st.error(str(exc))
        if stop:
            st.stop()
