"""download_movielens' progress phases, catalogue argument and mirror, against a loopback server.

The archives are passed through the ``archives`` argument (the catalogue), with the SHA-256 of
zips built here pinned: nothing is monkeypatched and nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import zipfile

import pytest

from recsys_core.data import download
from recsys_core.data.download import Archive, download_movielens
from recsys_core.errors import DownloadError
from tests.data.test_data_download import ZIP, server, url_of  # noqa: F401


def _catalogue(url: str, payload: bytes = ZIP, size: int | None = None, **overrides):
    return {"ml-100k": Archive(url, overrides.get("sha256", hashlib.sha256(payload).hexdigest()),
                               size, "ml-100k", md5=overrides.get("md5"))}


def _unpacked_bytes(payload: bytes) -> int:
    import io

    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        return sum(m.file_size for m in zf.infolist())


def test_progress_reports_download_then_verify_then_extract(tmp_path, server):  # noqa: F811
    calls = []
    download_movielens("ml-100k", tmp_path, lambda *call: calls.append(call),
                       archives=_catalogue(url_of(server)))
    phases = [phase for _, _, phase in calls]
    # Each phase once, in this order, each counting up to its own total.
    assert list(dict.fromkeys(phases)) == ["download", "verify", "extract"]
    assert phases == sorted(phases, key=["download", "verify", "extract"].index)
    for phase, total in (("download", len(ZIP)), ("verify", len(ZIP)),
                         ("extract", _unpacked_bytes(ZIP))):
        done = [d for d, t, p in calls if p == phase]
        assert done == sorted(done) and done[-1] == total
        assert {t for _, t, p in calls if p == phase} == {total}
    assert (tmp_path / "ml-100k" / "u.data").is_file()


def test_interrupted_transfer_resumes_and_progress_never_goes_back(tmp_path, server):  # noqa: F811
    server.cut_first = True  # the first response stops half-way
    calls = []
    download_movielens("ml-100k", tmp_path, lambda *call: calls.append(call), backoff=0,
                       archives=_catalogue(url_of(server), size=len(ZIP)))
    assert server.requests[1]["range"] == f"bytes={len(ZIP) // 2}-"
    done = [d for d, _, p in calls if p == "download"]
    assert done == sorted(done) and done[-1] == len(ZIP)
    assert len(ZIP) // 2 in done  # the second request starts from the bytes kept


def test_checksum_mismatch_names_both_hashes_after_verifying(tmp_path, server):  # noqa: F811
    calls = []
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download_movielens("ml-100k", tmp_path, lambda *call: calls.append(call),
                           archives=_catalogue(url_of(server), sha256="0" * 64))
    assert "0" * 64 in str(info.value) and hashlib.sha256(ZIP).hexdigest() in str(info.value)
    assert "deleted" in str(info.value)
    assert calls[-1] == (len(ZIP), len(ZIP), "verify")  # the bar had reached the check
    assert list(tmp_path.iterdir()) == []


def test_damaged_member_is_found_while_extracting(tmp_path, server):  # noqa: F811
    import io

    buffer = io.BytesIO()
    content = b"1\t1\t5\t881250949\n" * 50
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("ml-100k/u.data", content)
    damaged = buffer.getvalue().replace(content[:20], b"9" + content[1:20], 1)
    server.payload = damaged
    with pytest.raises(DownloadError, match="u.data of the archive is damaged"):
        download_movielens("ml-100k", tmp_path, archives=_catalogue(url_of(server), damaged))
    assert list(tmp_path.iterdir()) == []  # neither the dataset, the partial file nor a temp dir


def test_mirror_serves_the_same_file_name_with_the_pinned_checksum(tmp_path, server,  # noqa: F811
                                                                   monkeypatch):
    port = server.server_address[1]
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{port}/mirror/")
    archives = _catalogue("https://files.grouplens.org/datasets/movielens/ml-100k.zip")
    assert download_movielens("ml-100k", tmp_path, archives=archives).is_dir()
    assert server.requests[0]["path"] == "/mirror/ml-100k.zip"


def test_the_catalogue_argument_bounds_the_names(tmp_path):
    with pytest.raises(DownloadError, match="unknown dataset 'ml-1m'; choose one of ml-100k"):
        download_movielens("ml-1m", tmp_path, archives=_catalogue("http://127.0.0.1:9/x.zip"))
