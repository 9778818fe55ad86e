"""``python -m recsys_core info`` and ``download``: output, exit codes, one-line errors."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsys_core.cli import main
from recsys_core.data import download
from recsys_core.data.download import Archive
from tests.data.test_data_malformed import LATEST_FILES

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def field(out: str, name: str) -> str:
    for line in out.splitlines():
        if line.startswith(name + " "):
            return line[len(name):].strip()
    raise AssertionError(f"no line {name!r} in:\n{out}")


def test_info_on_ml100k_prints_the_known_counts(capsys, data_dir):
    code, out, err = run(capsys, "info", "--data", str(data_dir / "ml-100k"))
    assert code == 0 and err == ""
    assert field(out, "users") == "943"
    assert field(out, "items") == "1682"
    assert field(out, "ratings") == "100000"
    assert field(out, "genres") == "19"
    assert field(out, "rating scale") == "1-5"
    assert field(out, "density") == "6.3047%"
    assert "100000 interaction rows read" in out


def test_info_on_latest_format_data(capsys, tmp_path):
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    for name, content in LATEST_FILES.items():
        (folder / name).write_bytes(content)
    code, out, _ = run(capsys, "info", "--data", str(folder))
    assert code == 0
    assert (field(out, "users"), field(out, "items"), field(out, "ratings")) == ("2", "3", "3")
    assert field(out, "rating scale") == "0.5-5"
    assert field(out, "genres") == "3"
    assert field(out, "dataset") == "MovieLens latest-small"


def test_info_on_a_ratings_csv_with_items(capsys, tmp_path):
    (tmp_path / "r.csv").write_text("user,item,rating\n1,10,4\n1,10,5\n2,11,3\n")
    (tmp_path / "items.csv").write_text("item,title,genres\n10,Ten,Drama\n11,Eleven,Comedy\n")
    code, out, _ = run(capsys, "info", "--data", str(tmp_path / "r.csv"), "--items",
                       str(tmp_path / "items.csv"))
    assert code == 0
    assert (field(out, "users"), field(out, "items"), field(out, "ratings")) == ("2", "2", "2")
    assert "1 duplicated (user, item) rows merged, latest kept" in out


@pytest.mark.parametrize("content, says", [
    (b"user,item,rating\n1,10,4\n2,11,abc\n", "r.csv:3, column 'rating': non-numeric rating"),
    (b"", "r.csv: the file is empty"),
    (b"1 10 4\n", "r.csv:1: found no field separator"),
])
def test_info_on_bad_data_exits_2_with_one_line(capsys, tmp_path, content, says):
    (tmp_path / "r.csv").write_bytes(content)
    code, out, err = run(capsys, "info", "--data", str(tmp_path / "r.csv"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and says in err


def test_info_on_a_missing_path_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "info", "--data", str(tmp_path / "nope"))
    assert code == 2 and "no such file or folder" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["download", "ml-1b"], ["info", "--bogus"], ["download"]])
def test_bad_arguments_exit_2_with_one_line(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err


@pytest.mark.parametrize("argv", [["info", "--help"], ["download", "--help"]])
def test_help(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_download_prints_progress_and_result(capsys, tmp_path, monkeypatch):
    from tests.data.test_data_download import ZIP, _Handler  # the local-server machinery
    from http.server import ThreadingHTTPServer
    import threading

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.payload, httpd.requests, httpd.honour_range = ZIP, [], True
    httpd.cut_first, httpd.status = False, 200
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-100k.zip"
        monkeypatch.setitem(download.MOVIELENS_ARCHIVES, "ml-100k",
                            Archive(url, hashlib.sha256(ZIP).hexdigest(), len(ZIP), "ml-100k"))
        code, out, err = run(capsys, "download", "ml-100k", "--dest", str(tmp_path))
        assert code == 0
        assert out.strip() == f"ml-100k ready in {tmp_path / 'ml-100k'}"
        assert "(100%)" in err
        code, out, _ = run(capsys, "download", "ml-100k", "--dest", str(tmp_path))
        assert code == 0 and "already present" in out
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_without_network_exits_2_with_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(download.MOVIELENS_ARCHIVES, "ml-100k",
                        Archive("http://127.0.0.1:9/ml-100k.zip", "0" * 64, None, "ml-100k"))
    monkeypatch.setattr(download.time, "sleep", lambda seconds: None)
    code, out, err = run(capsys, "download", "ml-100k", "--dest", str(tmp_path))
    assert code == 2 and out == ""
    assert err.startswith("error: could not download") and err.count("\n") == 1


def test_module_entry_point_runs_info(data_dir):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "recsys_core", "info", "--data",
                             str(data_dir / "ml-100k")], capture_output=True, text=True,
                            cwd=REPO, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "943" in result.stdout and "1682" in result.stdout and "100000" in result.stdout


def test_info_without_data_uses_the_default_dataset(capsys, tmp_path, monkeypatch):
    from recsys_core.data import discovery as data

    monkeypatch.setattr(data, "PROJECT_DATA_DIR", tmp_path)
    monkeypatch.delenv("RECSYS_DATA_DIR", raising=False)
    code, out, _ = run(capsys, "info")
    assert code == 0
    assert field(out, "dataset") == "demo catalogue"
    assert (field(out, "users"), field(out, "items")) == ("3000", "1500")
    assert "using the generated demo catalogue" in out


def test_info_on_latest_format_data_written_from_the_demo(capsys, tmp_path, demo):
    from tests.data.test_data_loaders import write_latest_format

    folder = write_latest_format(demo, tmp_path / "ml-latest-small")
    code, out, _ = run(capsys, "info", "--data", str(folder))
    assert code == 0
    assert field(out, "users") == str(demo.n_users)
    assert field(out, "items") == str(demo.n_items)
    assert field(out, "ratings") == str(demo.n_ratings)
    assert field(out, "genres") == str(int(demo.item_genres.any(axis=0).sum()))
