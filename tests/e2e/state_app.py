"""A tiny app for tests/e2e/test_state_browser.py: synced widgets (ui.state) that a mode hides
behind st.stop() or an error, the way pages hide widgets until a title is rated or a value is
fixed."""
import streamlit as st

from ui import state

state.note_page_run()
st.title("State")
mode = state.radio("Mode", ["show", "stop", "error"], "mode", "show", horizontal=True)
if mode == "stop":
    st.info("Nothing to show yet.")
    st.stop()
if mode == "error":
    st.error("Something the person must fix first.")
    st.stop()
pen = state.slider("Penalty", "pen", 0.0, min_value=0.0, max_value=1.0, step=0.05)
group = state.selectbox("Group", ["off", "a", "b"], "grp", "off")
flag = state.checkbox("Flag", "flag", False)
genres = state.multiselect("Genres", ["x", "y", "z"], "gen", ["x"])
st.write("in use:", pen, group, flag, genres)
