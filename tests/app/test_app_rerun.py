"""ui.rerun reads Streamlit 1.67's runtime internals to push a fragment rerun from a job's
thread (ui.impact). Without one of them the push quietly degrades to polling, which saturated a
shared server before: a Streamlit upgrade that removes or renames one must fail here, not show
up later as a slow classroom. requirements.txt pins the minor version. The push itself is
exercised in a real server by tests/e2e/test_impact_push_browser.py.
"""
from __future__ import annotations

import dataclasses
import inspect

from streamlit.testing.v1 import AppTest


def test_streamlit_internals_the_push_relies_on_are_there():
    from streamlit import runtime
    from streamlit.runtime.app_session import AppSession, AppSessionState
    from streamlit.runtime.runtime import Runtime
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext

    assert callable(runtime.exists) and callable(runtime.get_instance)
    assert callable(Runtime.get_app_session)
    for name in ("_create_scriptrunner", "has_fragment"):
        assert callable(getattr(AppSession, name)), name
    init = inspect.getsource(AppSession.__init__)
    for attribute in ("self._event_loop", "self._scriptrunner", "self._state"):
        assert attribute in init, attribute
    assert AppSessionState.SHUTDOWN_REQUESTED
    assert "rerun_data" in inspect.signature(ScriptRunner.request_rerun).parameters
    assert {"query_string", "page_script_hash", "fragment_id_queue", "is_auto_rerun",
            "context_info", "widget_states"} <= {f.name for f in dataclasses.fields(RerunData)}
    assert RerunData().widget_states is None  # None: the rerun keeps the widget states
    assert {"session_id", "query_string", "context_info"} <= {
        f.name for f in dataclasses.fields(ScriptRunContext)}
    assert isinstance(ScriptRunContext.page_script_hash, property)


def _probe():
    import streamlit as st

    from ui import rerun

    @st.fragment
    def inside():
        st.write(f"fragment_id={rerun.current_fragment_id() is not None}")

    inside()
    st.write(f"outside={rerun.current_fragment_id()}")


def test_the_running_fragment_is_known_by_its_id():
    at = AppTest.from_function(_probe, default_timeout=30).run()
    assert [m.value for m in at.markdown] == ["fragment_id=True", "outside=None"]
