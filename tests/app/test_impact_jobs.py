"""The metric-impact jobs behind Recommend (ui.impact): one job per setting for every session,
an abandoned setting's queued job dropped only when nobody waits for it, and a push (not a
poll) to exactly the sessions still waiting when a job ends.

The single worker is held by a blocking job, so the jobs under test stay queued (a queued job
can be cancelled, a running one cannot) until the test lets it go.
"""
from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from recsys_core.serving.pipeline import RerankConfig
from ui import impact


@pytest.fixture
def held_worker():
    """Keep impact's one worker busy until the test ends (or calls the returned release)."""
    gate = threading.Event()
    blocker = impact._EXECUTOR.submit(gate.wait, 30)
    yield gate.set
    gate.set()
    blocker.result(timeout=30)


def _run(name: str):
    """A stand-in for a saved run: only its identity is read until a job runs (these never
    compute anything: they are cancelled, or fail harmlessly once the worker is released)."""
    return SimpleNamespace(info=SimpleNamespace(name=name, created="2026-01-01T00:00:00"),
                           model=None)


def _pair(run, config, k=10):
    return impact._job(run, None, RerankConfig(), k), impact._job(run, None, config, k)


def test_a_setting_is_one_job_for_every_session(held_worker):
    run = _run("impact-shared")
    a = _pair(run, RerankConfig(popularity_penalty=0.3))
    b = _pair(run, RerankConfig(popularity_penalty=0.3))
    assert a[0] is b[0] and a[1] is b[1]
    # Every re-ranking parameter and k are in the key.
    assert _pair(run, RerankConfig(popularity_penalty=0.3, diversity=0.9))[1] is not a[1]
    assert _pair(run, RerankConfig(popularity_penalty=0.3), k=20)[1] is not a[1]


def test_an_abandoned_setting_is_cancelled_only_when_nobody_waits_for_it(held_worker):
    run = _run("impact-cancel")
    shared = _pair(run, RerankConfig(popularity_penalty=0.5))
    impact._move_on("A", None, shared)
    impact._move_on("B", None, shared)
    pushed = []
    impact._notify(shared[1], ("A", "fragment"), lambda: pushed.append("A"))
    impact._notify(shared[1], ("B", "fragment"), lambda: pushed.append("B"))

    impact._move_on("A", shared[1], _pair(run, RerankConfig(popularity_penalty=0.55)))
    assert not shared[1].cancelled()  # B still waits for it
    impact._move_on("B", shared[1], _pair(run, RerankConfig(popularity_penalty=0.6)))
    assert shared[1].cancelled()  # nobody waits: it never runs
    # Both moved on before it ended: neither fragment reruns for it.
    assert pushed == []
    # Asked for again later, the setting gets a new job.
    assert impact._job(run, None, RerankConfig(popularity_penalty=0.5), 10) is not shared[1]


def test_a_finished_job_pushes_each_waiting_fragment_once():
    release = threading.Event()
    job = impact._EXECUTOR.submit(release.wait, 30)
    job.pushes = {}
    job.add_done_callback(impact._push_all)
    pushed = []
    for _ in range(3):  # the fragment ran three times while pending: one push, not three
        impact._notify(job, ("A", "fragment"), lambda: pushed.append("A"))
    impact._notify(job, ("B", "fragment"), lambda: pushed.append("B"))
    release.set()
    job.result(timeout=30)
    assert sorted(pushed) == ["A", "B"]
    impact._notify(job, ("C", "fragment"), lambda: pushed.append("C"))  # already done: at once
    assert pushed[-1] == "C"
