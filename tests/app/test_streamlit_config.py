"""The server settings the app runs with (.streamlit/config.toml, read from the repo root).

Streamlit's default ``runner.postScriptGC = true`` forces a full garbage collection after every
script *and fragment* run. With this app's heap (~200k tracked objects: pandas, plotly, numba,
the cached datasets and models) it took 100-130 ms on a quiet machine and 300-500 ms on a busy
one, holding the GIL, so a knob's finished rerun on Recommend could not reach the browser until
it ended: it was most of the key press -> list latency (issue 9; benchmarks/bench_browser.py).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


OPTIONS = ("runner.postScriptGC", "server.fileWatcherType", "browser.gatherUsageStats")


@pytest.fixture(scope="module")
def options() -> dict[str, str]:
    """The values Streamlit reads for OPTIONS when started from the repo root, as the app, its
    browser tests and benchmarks are (a fresh process: config is read once per process)."""
    code = ("from streamlit import config\n"
            f"for name in {OPTIONS!r}: print(name, config.get_option(name))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=120)
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.startswith(OPTIONS))


def test_no_forced_garbage_collection_after_each_run(options):
    assert options["runner.postScriptGC"] == "False"


def test_quiet_server_settings_kept(options):
    assert options["server.fileWatcherType"] == "none"
    assert options["browser.gatherUsageStats"] == "False"
