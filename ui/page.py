"""Page header and error display shared by every page."""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from recsys_core.errors import RecsysError

from . import state


def page_header(title: str, intro: str) -> None:
    """Configure the page and open it with its title and a short lesson in the course's terms."""
    st.set_page_config(page_title=f"{title} · recsys-studio", layout="wide")
    state.note_page_run()
    st.title(title)
    st.markdown(intro)


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
