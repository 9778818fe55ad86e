"""Uploaded CSVs (issue 10, "smaller, still wanted"): a NUL byte in a file's name is a clear
message; uploads are kept once per content hash, bounded in total size with the oldest dropped
first, and a session whose upload was dropped is told to upload it again."""
from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest


@pytest.fixture(autouse=True)
def uploads(tmp_path, monkeypatch):
    folder = tmp_path / "uploads"
    monkeypatch.setenv("RECSYS_UPLOADS_DIR", str(folder))
    st.cache_resource.clear()
    yield folder
    st.cache_resource.clear()


def _nul_name_script():
    import streamlit as st

    from ui import data, page

    class Upload:  # what st.file_uploader returns: a name and the bytes
        def __init__(self, name, content):
            self.name, self._content = name, content

        def getvalue(self):
            return self._content

    with page.user_errors():
        data.register_upload(Upload("rat\x00ings.csv", b"user,item,rating\n1,10,4\n"))
    st.markdown("not reached")


def test_a_nul_byte_in_an_upload_name_is_a_clear_message(uploads):
    at = AppTest.from_function(_nul_name_script, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and "NUL byte" in at.error[0].value and "rename the file" in at.error[0].value
    assert not any(uploads.glob("*/*"))


def _upload_many_script():
    import os

    import streamlit as st

    from recsys_core.errors import DataError
    from ui import data

    class Upload:
        def __init__(self, name, content):
            self.name, self._content = name, content

        def getvalue(self):
            return self._content

    def ratings(n_users):  # about 600 bytes, distinct content per call
        rows = "".join(f"{u},{i},{1 + (u + i) % 5}\n" for u in range(n_users) for i in range(6))
        return ("user,item,rating\n" + rows).encode()

    first = data.register_upload(Upload("first.csv", ratings(8)))
    again = data.register_upload(Upload("same content.csv", ratings(8)))
    st.markdown(f"same key={first == again}")
    os.environ["RECSYS_UPLOADS_MAX_MB"] = "0.0012"  # room for two of them
    second = data.register_upload(Upload("second.csv", ratings(9)))
    third = data.register_upload(Upload("third.csv", ratings(10)))
    st.markdown("kept=" + ",".join(sorted(p.name for p in data.uploads_folder().iterdir())))
    st.markdown("keys=" + ",".join(k.removeprefix("upload-") for k in (first, second, third)))
    try:
        data.load_source(first)
    except DataError as exc:
        st.error(str(exc))
    st.markdown(f"third ratings={data.load_source(third).n_ratings}")


def test_uploads_are_kept_by_content_and_the_oldest_dropped_first(uploads, monkeypatch):
    monkeypatch.setenv("RECSYS_UPLOADS_MAX_MB", "512")  # the script lowers it after two uploads
    at = AppTest.from_function(_upload_many_script, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    texts = {m.value.split("=")[0]: m.value.split("=", 1)[1] for m in at.markdown}
    assert texts["same key"] == "True"
    first, second, third = texts["keys"].split(",")
    assert texts["kept"] == ",".join(sorted([second, third]))  # the oldest went first
    assert at.error and "removed" in at.error[0].value and "upload the file again" in \
        at.error[0].value
    assert texts["third ratings"] == "60"
