"""The Data page downloads a MovieLens release with a progress bar (bytes, speed, phase) and then
shows it, or says why it could not; against a zip served on 127.0.0.1 whose SHA-256 is pinned
here (never the internet)."""
from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.data import discovery, download
from recsys_core.data.download import Archive
from tests.data.test_data_download import make_zip

APP = str(Path(__file__).resolve().parents[2] / "app.py")
RATINGS = "userId,movieId,rating,timestamp\n" + "".join(
    f"{u},{i},{(u + i) % 5 + 1}.0,9640{u}{i}\n" for u in range(1, 7) for i in range(1, 5))
MOVIES = ("movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n2,Heat (1995),Action\n"
          "3,Casino (1995),Crime|Drama\n4,Babe (1995),Children\n")
ZIP = make_zip({"ml-latest-small/ratings.csv": RATINGS.encode(),
                "ml-latest-small/movies.csv": MOVIES.encode(),
                "ml-latest-small/README.txt": b"x" * 300_000})  # a few progress updates


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", str(len(ZIP)))
        self.end_headers()
        self.wfile.write(ZIP)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A loopback server for ml-latest-small; empty data folders; returns a pinning function."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    monkeypatch.setattr(discovery, "PROJECT_DATA_DIR", tmp_path / "project-data")
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path / "runs"))
    url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-latest-small.zip"

    def pin(sha256: str):
        monkeypatch.setitem(download.MOVIELENS_ARCHIVES, "ml-latest-small",
                            Archive(url, sha256, len(ZIP), "ml-latest-small"))

    yield pin
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def drawn(monkeypatch):
    """Every progress text the page's meter draws."""
    from ui import data

    texts = []
    original = data.DownloadMeter.text

    def text(self, *args):
        out = original(self, *args)
        texts.append(out)
        return out

    monkeypatch.setattr(data.DownloadMeter, "text", text)
    return texts


def _download(at: AppTest, name: str) -> AppTest:
    at.selectbox(key="download_choice").set_value(name).run()
    at.button(key=f"download_{name}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_download_shows_progress_then_the_new_dataset(mirror, drawn):
    mirror(hashlib.sha256(ZIP).hexdigest())
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/1_Data.py").run()
    _download(at, "ml-latest-small")
    # The bar went through the three phases up to the archive's size.
    mb = f"{len(ZIP) / 1e6:,.1f} of {len(ZIP) / 1e6:,.1f} MB"
    assert f"Downloading ml-latest-small: {mb}" in drawn
    assert f"Checking the checksum of ml-latest-small: {mb}" in drawn
    assert any(t.startswith("Unpacking ml-latest-small") for t in drawn)
    assert not at.error
    assert any("downloaded, verified and unpacked" in s.value for s in at.success)
    assert at.subheader[0].value == "MovieLens latest-small"
    assert at.query_params["data"] == "ml-latest-small"
    assert (discovery.PROJECT_DATA_DIR / "ml-latest-small" / "ratings.csv").is_file()


def test_checksum_mismatch_leaves_the_bar_and_says_why(mirror, drawn):
    mirror("0" * 64)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/1_Data.py").run()
    _download(at, "ml-latest-small")
    assert any("checksum mismatch" in e.value and "deleted" in e.value for e in at.error)
    assert at.get("progress")[0].proto.text.startswith("Checking the checksum of ml-latest-small")
    assert not any(t.startswith("Unpacking") for t in drawn)
    assert not (discovery.PROJECT_DATA_DIR / "ml-latest-small").exists()


def test_offline_download_says_so(mirror, monkeypatch):
    monkeypatch.setitem(download.MOVIELENS_ARCHIVES, "ml-latest-small",
                        Archive("http://127.0.0.1:9/ml-latest-small.zip", "0" * 64, None,
                                "ml-latest-small"))
    monkeypatch.setattr(download, "download_movielens",
                        _no_wait(download.download_movielens))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/1_Data.py").run()
    _download(at, "ml-latest-small")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "refused the connection" in errors[0], errors
    assert "Errno" not in errors[0]
    # Nothing arrived: no stale "Connecting for ml-latest-small…" bar above the error.
    assert not at.get("progress"), [p.proto.text for p in at.get("progress")]


def _no_wait(function):
    def call(*args, **kwargs):
        return function(*args, **{**kwargs, "backoff": 0, "retries": 1, "timeout": 2})
    return call
