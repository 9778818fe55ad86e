"""Rerun one fragment of a session from any thread: a push when background work finishes.

A fragment that waits for a background job could poll (``st.fragment(run_every=...)``), but
every look is a rerun on the one server process: a classroom of eight sessions spent its two
cores on pollers (benchmarks/bench_classroom.py). Instead the job's completion asks Streamlit to
rerun just that fragment of just that session, once, keeping the session's widget states.

Streamlit has no public call for this (``st.rerun`` works only inside the session's own script
thread), so :func:`fragment_rerunner` reads Streamlit 1.67's runtime internals, and nothing else
in the app does: it builds the same ``RerunData`` that ``st.rerun(scope=...)`` builds and hands it
to the session's ScriptRunner on the server's event loop, as the session does for a browser's
rerun request. ``tests/app/test_app_rerun.py`` fails if an upgrade removes one of them; here a
missing internal only returns None, and the caller falls back to polling.
"""
from __future__ import annotations

from typing import Callable

from streamlit.runtime.scriptrunner import get_script_run_ctx


def fragment_rerunner() -> Callable[[str], None] | None:
    """A function any thread may call with a fragment id of *this* session (the session whose
    script is running now) to rerun that fragment once, widget states unchanged.

    The rerun waits for a run in progress (it does not interrupt a person's rerun), is merged
    with other requests for the same fragment, and is dropped when the session has closed or no
    longer holds the fragment (the person went to another page, or its parent redrew without
    it). Returns None without a running server (AppTest, bare mode) or when the internals are
    missing.
    """
    try:
        from streamlit import runtime
        from streamlit.runtime.app_session import AppSessionState
        from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

        ctx = get_script_run_ctx()
        if ctx is None or not runtime.exists():
            return None
        rt = runtime.get_instance()
        session_id = ctx.session_id
        session = rt.get_app_session(session_id)
        if session is None:
            return None
        loop = session._event_loop
        for name in ("_scriptrunner", "_create_scriptrunner", "has_fragment", "_state"):
            getattr(session, name)
    except Exception:  # noqa: BLE001 - another Streamlit: the caller polls instead
        return None

    def rerun_on_event_loop(fragment_id: str) -> None:
        # On the server's event loop, like a browser's rerun request (AppSession.request_rerun).
        session = rt.get_app_session(session_id)
        if (session is None or session._state == AppSessionState.SHUTDOWN_REQUESTED
                or not session.has_fragment(fragment_id)):
            return
        # ctx is the session's run context when the fragment was drawn; its query string and
        # page are those of the latest run of that ScriptRunner.
        data = RerunData(query_string=ctx.query_string, page_script_hash=ctx.page_script_hash,
                         fragment_id_queue=[fragment_id], is_auto_rerun=True,
                         context_info=ctx.context_info)
        runner = session._scriptrunner
        if runner is not None and runner.request_rerun(data):
            return
        session._create_scriptrunner(data)  # no script running now: start one for the fragment

    def rerun(fragment_id: str) -> None:
        try:
            loop.call_soon_threadsafe(rerun_on_event_loop, fragment_id)
        except RuntimeError:  # the event loop is closed: the server is stopping
            pass

    return rerun


def current_fragment_id() -> str | None:
    """The id of the fragment whose code is running now (None in a full script run)."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

        return ThreadState.get().fragment_id or None
    except (ImportError, AttributeError):
        return None
