"""download_movielens against a local HTTP server on 127.0.0.1 (never the internet).

The server serves a zip built here; the archive table is monkeypatched to point at it with that
zip's SHA-256. It can honour or ignore Range requests and cut the first response half-way.
"""
from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recsys_core.data import download, load_movielens_100k
from recsys_core.data.download import Archive, download_movielens, sha256_file
from recsys_core.errors import DownloadError
from tests.data.test_data_malformed import ML100K_FILES


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


ZIP = make_zip({f"ml-100k/{name}": content for name, content in ML100K_FILES.items()})


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.requests.append({"path": self.path, "range": self.headers.get("Range")})
        if server.status != 200:
            self.send_error(server.status)
            return
        data = server.payload
        start = 0
        requested = self.headers.get("Range")
        if requested and server.honour_range:
            start = int(requested.split("=")[1].rstrip("-"))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cut_first and len(server.requests) == 1:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.payload = ZIP
    httpd.requests = []
    httpd.honour_range = True
    httpd.cut_first = False
    httpd.status = 200
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def archive_at(monkeypatch):
    """Point the "ml-100k" entry at a URL with the given payload's checksum."""

    def point(url: str, payload: bytes = ZIP, sha256: str | None = None, size=None):
        digest = sha256 or hashlib.sha256(payload).hexdigest()
        monkeypatch.setitem(download.MOVIELENS_ARCHIVES, "ml-100k",
                            Archive(url, digest, size, "ml-100k"))

    return point


def url_of(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/ml-100k.zip"


def test_published_checksums_are_pinned():
    table = download.MOVIELENS_ARCHIVES
    assert table["ml-100k"].sha256 == (
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229")
    assert table["ml-100k"].size == 4_924_029
    assert table["ml-latest-small"].sha256 == (
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436")
    assert all(a.url.startswith("https://files.grouplens.org/datasets/movielens/")
               for a in table.values())


def test_download_verifies_extracts_and_reports_progress(tmp_path, server, archive_at):
    archive_at(url_of(server), size=len(ZIP))
    calls = []
    folder = download_movielens("ml-100k", tmp_path,
                                lambda done, total, phase: calls.append((done, total, phase)))
    assert folder == tmp_path / "ml-100k"
    dataset = load_movielens_100k(folder)
    assert (dataset.n_users, dataset.n_items, dataset.n_ratings) == (2, 3, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k"]  # no temp files left
    done = [d for d, _, phase in calls if phase == "download"]
    assert done == sorted(done) and done[-1] == len(ZIP)
    assert {t for _, t, phase in calls if phase == "download"} == {len(ZIP)}
    assert server.requests == [{"path": "/ml-100k.zip", "range": None}]


def test_existing_folder_is_returned_without_downloading(tmp_path, server, archive_at):
    archive_at(url_of(server))
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "mine.txt").write_text("keep me")
    assert download_movielens("ml-100k", tmp_path) == tmp_path / "ml-100k"
    assert server.requests == []
    assert (tmp_path / "ml-100k" / "mine.txt").read_text() == "keep me"


def test_checksum_mismatch_deletes_the_partial_file(tmp_path, server, archive_at):
    archive_at(url_of(server), sha256="0" * 64)
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download_movielens("ml-100k", tmp_path)
    assert hashlib.sha256(ZIP).hexdigest() in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_partial_file_is_resumed_with_a_range_request(tmp_path, server, archive_at):
    archive_at(url_of(server), size=len(ZIP))
    half = len(ZIP) // 2
    (tmp_path / ".ml-100k.zip.part").write_bytes(ZIP[:half])
    calls = []
    download_movielens("ml-100k", tmp_path,
                       lambda done, total, phase: phase == "download" and calls.append(done))
    assert server.requests[0]["range"] == f"bytes={half}-"
    assert calls[0] == half and calls[-1] == len(ZIP)
    assert load_movielens_100k(tmp_path / "ml-100k").n_ratings == 4


def test_corrupt_partial_file_is_discarded_and_downloaded_again(tmp_path, server, archive_at):
    archive_at(url_of(server), size=len(ZIP))
    half = len(ZIP) // 2
    (tmp_path / ".ml-100k.zip.part").write_bytes(b"x" * half)  # not a prefix of the archive
    download_movielens("ml-100k", tmp_path)
    assert [r["range"] for r in server.requests] == [f"bytes={half}-", None]
    assert load_movielens_100k(tmp_path / "ml-100k").n_ratings == 4


def test_server_ignoring_range_restarts_cleanly(tmp_path, server, archive_at):
    server.honour_range = False
    archive_at(url_of(server))
    (tmp_path / ".ml-100k.zip.part").write_bytes(ZIP[:100])
    download_movielens("ml-100k", tmp_path)
    assert server.requests[0]["range"] == "bytes=100-"
    assert load_movielens_100k(tmp_path / "ml-100k").n_ratings == 4


def test_cut_connection_is_retried_from_where_it_stopped(tmp_path, server, archive_at):
    server.cut_first = True
    archive_at(url_of(server))
    download_movielens("ml-100k", tmp_path, retries=1, backoff=0)
    assert len(server.requests) == 2
    assert server.requests[0]["range"] is None
    assert server.requests[1]["range"] == f"bytes={len(ZIP) // 2}-"
    assert load_movielens_100k(tmp_path / "ml-100k").n_ratings == 4


def test_connection_refused_gives_a_clear_download_error(tmp_path, archive_at):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    archive_at(f"http://127.0.0.1:{port}/ml-100k.zip")
    with pytest.raises(DownloadError, match="could not download ml-100k: 127.0.0.1 refused the "
                                            "connection") as info:
        download_movielens("ml-100k", tmp_path, retries=1, backoff=0, timeout=5)
    assert "Errno" not in str(info.value) and "unzip it into" in str(info.value)
    assert not (tmp_path / "ml-100k").exists()


def test_http_error_is_not_retried(tmp_path, server, archive_at):
    server.status = 404
    archive_at(url_of(server))
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_movielens("ml-100k", tmp_path, retries=3, backoff=0)
    assert len(server.requests) == 1


def test_archive_that_is_not_a_zip_is_rejected(tmp_path, server, archive_at):
    server.payload = b"<html>captive portal</html>"
    archive_at(url_of(server), payload=server.payload)
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_movielens("ml-100k", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_archive_writing_outside_the_destination_is_rejected(tmp_path, server, archive_at):
    server.payload = make_zip({"ml-100k/u.data": b"1\t1\t5\t0\n", "../evil.txt": b"x"})
    archive_at(url_of(server), payload=server.payload)
    with pytest.raises(DownloadError, match="outside the destination"):
        download_movielens("ml-100k", tmp_path / "dest")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "dest" / "ml-100k").exists()


def test_unknown_name_is_refused(tmp_path):
    with pytest.raises(DownloadError, match="unknown dataset 'ml-1b'"):
        download_movielens("ml-1b", tmp_path)


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(ZIP)
    assert sha256_file(path) == hashlib.sha256(ZIP).hexdigest()


def test_default_destination_is_the_project_data_folder(tmp_path, server, archive_at,
                                                       monkeypatch):
    monkeypatch.setattr(download, "PROJECT_DATA_DIR", tmp_path / "project-data")
    archive_at(url_of(server))
    assert download_movielens("ml-100k") == tmp_path / "project-data" / "ml-100k"


def test_no_internet_is_said_in_words_without_an_errno(tmp_path, archive_at, monkeypatch):
    """A name that cannot be looked up (no DNS, no network) reads "no internet connection" and
    says where to put an archive fetched elsewhere, not "[Errno -2] Name or service not known"."""
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.chdir(tmp_path)
    archive_at("https://files.grouplens.org/datasets/movielens/ml-100k.zip")
    with pytest.raises(DownloadError) as info:
        download_movielens("ml-100k", tmp_path / "data", retries=0, backoff=0)
    message = str(info.value)
    assert message.startswith("could not download ml-100k: no internet connection (the address "
                              "of files.grouplens.org could not be looked up)"), message
    assert "Errno" not in message and "Name or service" not in message
    assert "unzip it into data/" in message and str(tmp_path) not in message
