"""Metric impact of a re-ranking configuration, measured in the background.

Measuring a configuration re-ranks the lists of a fixed sample of test users (a few hundred
milliseconds), too slow for a knob that should answer within 100 ms. So the re-ranked list is
drawn at once and the impact is computed by a background thread, one job per (run,
configuration, k), kept for later; a small fragment polls for it and draws the table when it is
done, then stops polling.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
import streamlit as st

from recsys_core.errors import RecsysError
from recsys_core.runs.store import Run
from recsys_core.serving.pipeline import RerankConfig, evaluate_rerank

from . import splits

#: Test users sampled for the live impact (a fixed sample, so settings compare fairly).
IMPACT_USERS = 200
#: Finished or pending jobs kept (one per run, configuration and list length).
MAX_JOBS = 256
#: Seconds between two looks at a pending job. Every look is a rerun on the server: at 0.25 s a
#: classroom of four sessions spent its two cores on pollers (benchmarks/bench_classroom.py).
POLL_SECONDS = 0.75
#: Shown while a job is pending (the browser benchmark waits for it to disappear).
PENDING_NOTE = "Measuring the knobs' cost on the test users…"

# One worker: jobs queue behind each other instead of competing for the two cores with the
# page's own runs; a job no longer wanted is cancelled before it starts.
_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rerank-impact")
_JOBS: OrderedDict[tuple, Future] = OrderedDict()
_LOCK = threading.Lock()
_SESSION_JOB = "_impact_job"  # session key: the job this session waits for


def _metrics(config: RerankConfig, run: Run, split, k: int) -> dict:
    return evaluate_rerank(config, run.model, split, users=IMPACT_USERS, k=k, seed=0)


def _job(run: Run, split, config: RerankConfig, k: int) -> Future:
    """The (possibly finished) job measuring ``config`` on ``run``; submitted when missing."""
    key = (run.info.name, run.info.created, repr(config), k)
    with _LOCK:
        job = _JOBS.get(key)
        if job is None or job.cancelled():
            job = _EXECUTOR.submit(_metrics, config, run, split, k)
            _JOBS[key] = job
        _JOBS.move_to_end(key)
        while len(_JOBS) > MAX_JOBS:
            _JOBS.popitem(last=False)
    return job


def wait_for_jobs(timeout: float = 120.0) -> None:
    """Block until every submitted job has finished (tests under AppTest, which does not run
    the poller's timer)."""
    from concurrent.futures import wait

    with _LOCK:
        pending = [job for job in _JOBS.values() if not job.done()]
    wait(pending, timeout=timeout)


def _table(before: dict, after: dict) -> pd.DataFrame:
    names = [m for m in before if m in after]
    return pd.DataFrame({"metric": names, "model order": [before[m] for m in names],
                         "re-ranked": [after[m] for m in names],
                         "change": [after[m] - before[m] for m in names]})


def impact_jobs(source: str, dataset, run: Run, config: RerankConfig, k: int):
    """A function returning (neutral job, configuration job) for ``run``, or None when the run
    has no test split. Call it again to look at the jobs: a job cancelled meanwhile is
    submitted again.

    The job this session waited for before, if it has not started, is cancelled: the person
    moved on to another setting.
    """
    if not run.info.split:
        return None
    split = splits.cached_split(source, dataset, run.info.split["params"])
    neutral = RerankConfig()

    def jobs() -> tuple[Future, Future]:
        return _job(run, split, neutral, k), _job(run, split, config, k)

    first = jobs()
    previous = st.session_state.get(_SESSION_JOB)
    if previous is not None and all(previous is not job for job in first):
        previous.cancel()  # only succeeds while it waits in the queue
    st.session_state[_SESSION_JOB] = first[1]
    return jobs


def _done(jobs: tuple[Future, Future]) -> bool:
    return all(job.done() and not job.cancelled() for job in jobs)


def impact_table(source: str, dataset, run: Run, config: RerankConfig, k: int
                 ) -> pd.DataFrame | None:
    """Metrics with neutral knobs, with ``config``, and the change (waits for the jobs); None
    without a split."""
    jobs = impact_jobs(source, dataset, run, config, k)
    if jobs is None:
        return None
    neutral, wanted = jobs()
    return _table(neutral.result(), wanted.result())


def _draw(jobs: tuple[Future, Future]) -> None:
    try:
        table = _table(jobs[0].result(), jobs[1].result())
    except RecsysError as exc:
        st.error(str(exc))
        return
    st.dataframe(table, hide_index=True, key="impact",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in ("model order", "re-ranked", "change")})


def _stop_polling() -> None:
    """Stop this fragment's automatic reruns (its job is done).

    Streamlit stops a nested fragment's timer when its parent reruns without it; until then a
    finished poller would keep rerunning. Streamlit has no public call for this, so the message
    its own cleanup sends is sent here; if that ever fails the poller simply keeps polling.
    """
    try:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from streamlit.runtime.scriptrunner_utils.script_run_context import (ThreadState,
                                                                             get_script_run_ctx)

        fragment_id = ThreadState.get().fragment_id
        ctx = get_script_run_ctx()
        if fragment_id and ctx is not None:
            msg = ForwardMsg()
            msg.stop_auto_rerun.fragment_ids.append(fragment_id)
            ctx.enqueue(msg)
    except Exception:  # noqa: BLE001 - an optimisation only
        pass


def show_impact(source: str, dataset, run: Run, config: RerankConfig, k: int) -> None:
    """The metric-impact table: drawn now when measured, else by a poller once it is."""
    jobs = impact_jobs(source, dataset, run, config, k)
    if jobs is None:
        st.info("This run has no test split, so its metric impact cannot be measured.")
        return
    if _done(jobs()):
        _draw(jobs())
        return

    @st.fragment(run_every=POLL_SECONDS)
    def poll():
        current = jobs()
        if not _done(current):
            st.caption(PENDING_NOTE)
            return
        _draw(current)
        _stop_polling()

    poll()
