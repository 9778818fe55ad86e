"""Big cache entries are written by a background thread after the load returns: the next load of
the same folder in the process waits for it and hits; a write that fails in the thread is logged
and leaves no entry; what can be known at load time (no room on the disk) is in the report."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from recsys_core.data import cache, load_dataset
from tests.data.test_data_releases import LATEST_FILES, write


@pytest.fixture
def big(tmp_path, monkeypatch):
    """A latest-format folder whose (tiny) entry counts as big: written in the background."""
    monkeypatch.setattr(cache, "MIN_CACHED_BYTES", 0)
    monkeypatch.setattr(cache, "BACKGROUND_WRITE_BYTES", 0)
    yield write(tmp_path / "data" / "ml-latest", LATEST_FILES), tmp_path / "cache"
    assert cache.wait_for_writes(timeout=30)


def test_background_entry_is_complete_when_the_next_load_reads_it(big):
    folder, cache_dir = big
    first = load_dataset(folder, cache=cache_dir)
    assert first.report.cache == "written"
    second = load_dataset(folder, cache=cache_dir)  # waits for the writer, then reads the entry
    assert second.report.cache == "hit"
    assert (first.ratings != second.ratings).nnz == 0
    assert second.timestamps.tolist() == first.timestamps.tolist()
    assert second.items.equals(first.items)
    assert cache.wait_for_writes(timeout=0)
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_failed_background_write_is_logged_and_leaves_no_entry(big, monkeypatch, caplog):
    folder, cache_dir = big

    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "_store_array", no_space)
    with caplog.at_level(logging.WARNING, logger=cache.__name__):
        first = load_dataset(folder, cache=cache_dir)
        assert cache.wait_for_writes(timeout=30)
    assert first.n_ratings == 4
    assert "dataset cache not written" in caplog.text
    assert not any(cache_dir.iterdir())  # the temporary folder was removed, nothing to trust
    monkeypatch.undo()
    monkeypatch.setattr(cache, "MIN_CACHED_BYTES", 0)
    assert load_dataset(folder, cache=cache_dir).report.cache == "written"


def test_no_room_for_the_entry_is_reported_with_the_load(big, monkeypatch):
    folder, cache_dir = big

    class Usage:
        free = 10

    monkeypatch.setattr(cache.shutil, "disk_usage", lambda path: Usage)
    loaded = load_dataset(folder, cache=cache_dir)
    assert loaded.report.cache == ""
    assert any("dataset cache not written (No space left on device)" in n
               for n in loaded.report.notes)
    assert np.isclose(loaded.ratings.sum(), 13.0)
