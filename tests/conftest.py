"""Shared fixtures: MovieLens 100K (from $RECSYS_DATA_DIR) and a small demo catalogue.

MovieLens is never copied into the project (licence): ``RECSYS_DATA_DIR`` names the folder that
holds ``ml-100k/`` (``.ci/run`` points it at ../shared/data). When it is missing, tests that need
it are skipped on a developer machine and FAIL in CI (``CI=true``), so a misconfigured CI cannot
pass by skipping.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from recsys_core.data import DATA_DIR_ENV, load_movielens_100k
from recsys_core.data.cache import CACHE_DIR_ENV
from recsys_core.data.demo import make_demo_dataset


@pytest.fixture(scope="session", autouse=True)
def _dataset_cache_in_a_temporary_folder(tmp_path_factory):
    """The binary dataset cache of every test (and of the app servers the browser tests start,
    which inherit the environment) goes to a temporary folder, not to the checkout's data/."""
    previous = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("dataset-cache"))
    yield
    if previous is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = previous


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _missing(reason: str):
    if _in_ci():
        pytest.fail(f"{reason} (required when CI=true)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder named by $RECSYS_DATA_DIR (holding ml-100k/); skip, or fail in CI, without it."""
    root = os.environ.get(DATA_DIR_ENV)
    if not root:
        _missing(f"{DATA_DIR_ENV} is not set: point it at the folder holding ml-100k/")
    path = Path(root).expanduser()
    if not path.is_dir():
        _missing(f"{DATA_DIR_ENV}={root} is not a folder")
    return path


@pytest.fixture(scope="session")
def ml100k(data_dir):
    """MovieLens 100K as a Dataset (943 users, 1682 items, 100,000 ratings, folds u1..u5)."""
    folder = data_dir / "ml-100k"
    if not (folder / "u.data").is_file():
        _missing(f"MovieLens 100K not found: {folder}/u.data is missing")
    return load_movielens_100k(folder)


@pytest.fixture(scope="session")
def demo():
    """A small demo catalogue: 400 users, 300 items, 8 planted taste clusters, seed 0."""
    return make_demo_dataset(seed=0, n_users=400, n_items=300)


def pytest_collection_modifyitems(config, items):
    """Browser test files first (order within them kept): the suite runs on two xdist workers,
    one file at a time each, and the long browser files started last left one worker running
    alone for minutes at the end."""
    items.sort(key=lambda item: "/e2e/" not in f"/{item.nodeid}")
