"""The shared ml100k fixture fails, not skips, in CI when MovieLens is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def probe_suite(tmp_path):
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_probe.py").write_text("def test_needs_movielens(ml100k):\n"
                                            "    assert ml100k.n_users == 943\n")
    return tmp_path


def run_probe(folder: Path, **env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "RECSYS_DATA_DIR")}
    env.update(env_changes)
    env["PYTHONPATH"] = str(TESTS.parent)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-rs", str(folder)], capture_output=True, text=True, env=env,
                          cwd=folder, timeout=300)


@pytest.mark.parametrize("env, outcome", [
    ({"CI": "true", "RECSYS_DATA_DIR": "/nonexistent/folder"}, "1 error"),
    ({}, "1 skipped"),
])
def test_missing_movielens_fails_in_ci_and_skips_elsewhere(probe_suite, env, outcome):
    result = run_probe(probe_suite, **env)
    assert outcome in result.stdout, result.stdout + result.stderr
    if env.get("CI"):
        assert result.returncode != 0
        assert "required when CI=true" in result.stdout
    else:
        assert result.returncode == 0
