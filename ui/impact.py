"""Metric impact of a re-ranking configuration, measured in the background.

Measuring a configuration re-ranks the lists of a fixed sample of test users (0.1-0.2 s on
MovieLens 100K), too slow for a knob that should answer within 100 ms. So the re-ranked list is
drawn at once and the impact is computed by a background thread: one job per (run,
configuration, k) for every session of the server (a classroom moving the same knobs computes
each setting once), kept for later. While a job is pending a note says so; when the
job finishes it reruns, once, the fragment that drew the note in each waiting session (a push,
ui.rerun) instead of every session polling, each poll a rerun on the one server process that a
whole class shares (benchmarks/bench_classroom.py).
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

from . import page, rerun, splits

#: Test users sampled for the live impact (a fixed sample, so settings compare fairly).
IMPACT_USERS = 200
#: Finished or pending jobs kept (one per run, configuration and list length).
MAX_JOBS = 256
#: Seconds between two looks at a pending job, only where a push is impossible (Streamlit's
#: internals missing, see ui.rerun). Every look is a rerun on the server.
POLL_SECONDS = 0.75
#: Shown while a job is pending (the browser benchmark waits for it to disappear).
PENDING_NOTE = "Measuring the knobs' cost on the test users…"

# One worker: jobs queue behind each other instead of competing for the two cores with the
# page's own runs; a job nobody waits for any more is cancelled before it starts.
_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rerank-impact")
_JOBS: OrderedDict[tuple, Future] = OrderedDict()
_LOCK = threading.RLock()  # guards _JOBS and every job's waiters and pushes
_SESSION_JOB = "_impact_job"  # session key: the job this session waits for
_SESSION_TOKEN = "_impact_session"  # session key: names this session among a job's waiters


def _metrics(config: RerankConfig, run: Run, split, k: int, group: str | None,
             share: float | None) -> dict:
    return evaluate_rerank(config, run.model, split, users=IMPACT_USERS, k=k, seed=0,
                           exposure_group=group, exposure_share=share)


def _push_all(job: Future) -> None:
    """Rerun the fragment of every session that asked to hear of ``job`` (finished or
    cancelled)."""
    with _LOCK:
        pushes, job.pushes = job.pushes, {}
    for push in pushes.values():
        push()


def _job(run: Run, split, config: RerankConfig, k: int, group: str | None = None,
         share: float | None = None) -> Future:
    """The (possibly finished) job measuring ``config`` on ``run``, with the exposure of
    ``group`` and the lists holding ``share`` of it in every prefix (default: the config's fair
    group and share, else long-tail); submitted when missing.

    Shared by every session: the key holds the run, every re-ranking parameter
    (``repr(config)``), ``k``, the exposure group and share; the user sample is fixed.
    """
    key = (run.info.name, run.info.created, repr(config), k, group, share)
    with _LOCK:
        job = _JOBS.get(key)
        if job is None or job.cancelled():
            job = _EXECUTOR.submit(_metrics, config, run, split, k, group, share)
            job.waiters = set()  # sessions whose latest setting this is
            job.pushes = {}  # (session, fragment) -> rerun it when the job is done
            job.add_done_callback(_push_all)
            _JOBS[key] = job
        _JOBS.move_to_end(key)
        while len(_JOBS) > MAX_JOBS:
            _JOBS.popitem(last=False)
    return job


def _notify(job: Future, key: tuple, push) -> None:
    """Call ``push()`` once when ``job`` is done (now, if it already is)."""
    with _LOCK:
        if not job.done():
            job.pushes[key] = push
            return
    push()


def wait_for_jobs(timeout: float = 120.0) -> None:
    """Block until every submitted job has finished (tests under AppTest, which has no server
    to push a rerun to)."""
    from concurrent.futures import wait

    with _LOCK:
        pending = [job for job in _JOBS.values() if not job.done()]
    wait(pending, timeout=timeout)


def _table(before: dict, after: dict, config: RerankConfig | None = None) -> pd.DataFrame:
    """Metric, model order, re-ranked, change; the fairness rows named for the group
    ("long-tail exposure share, position-discounted"), the others by their metric key."""
    names = [m for m in before if m in after]
    group = (config.fair_group if config is not None else None) or "long-tail"
    labels = {"group_exposure": f"{group} exposure share",
              "group_exposure_discounted": f"{group} exposure share, position-discounted",
              "group_target_met": f"lists with the {group} share in every prefix"}
    return pd.DataFrame({"metric": [labels.get(m, m) for m in names],
                         "model order": [before[m] for m in names],
                         "re-ranked": [after[m] for m in names],
                         "change": [after[m] - before[m] for m in names]})


def _session_token() -> str:
    import uuid

    return st.session_state.setdefault(_SESSION_TOKEN, uuid.uuid4().hex)


def impact_jobs(source: str, dataset, run: Run, config: RerankConfig, k: int):
    """A function returning (neutral job, configuration job) for ``run``, or None when the run
    has no test split. Call it again to look at the jobs: a job cancelled meanwhile is
    submitted again.

    The job this session waited for before is cancelled if it has not started and no other
    session waits for it: the person moved on to another setting (a newer request supersedes
    the older one still in the queue).
    """
    if not run.info.split:
        return None
    split = splits.cached_split(source, dataset, run.info.split["params"])
    neutral = RerankConfig()

    def jobs() -> tuple[Future, Future]:
        # The model order's exposure is measured for the same group as the knobs' (a genre's
        # exposure compared with long-tail's would mean nothing).
        return (_job(run, split, neutral, k, config.fair_group,
                     config.fair_share if config.fair_group else None),
                _job(run, split, config, k))

    first = jobs()
    _move_on(_session_token(), st.session_state.get(_SESSION_JOB), first)
    st.session_state[_SESSION_JOB] = first[1]
    return jobs


def _move_on(me: str, previous: Future | None, current: tuple[Future, Future]) -> None:
    """Session ``me`` now waits for ``current`` (neutral, configuration) instead of the
    configuration job ``previous``: it is no longer pushed when ``previous`` ends, and
    ``previous`` is cancelled when nobody else waits for it and it has not started."""
    abandoned = None
    with _LOCK:
        current[1].waiters.add(me)
        if previous is not None and all(previous is not job for job in current):
            previous.pushes = {key: push for key, push in getattr(previous, "pushes", {}).items()
                               if key[0] != me}
            waiters = getattr(previous, "waiters", set())
            waiters.discard(me)
            abandoned = None if waiters else previous
    if abandoned is not None:  # outside the lock: cancel() runs the job's done callbacks
        abandoned.cancel()  # only succeeds while it waits in the queue


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
    return _table(neutral.result(), wanted.result(), config)


def _draw(jobs: tuple[Future, Future], config: RerankConfig) -> None:
    try:
        table = _table(jobs[0].result(), jobs[1].result(), config)
    except RecsysError as exc:
        st.error(str(exc))
        return
    page.dataframe(table, hide_index=True, key="impact",
                   column_config={c: st.column_config.NumberColumn(format="%.4f")
                                  for c in ("model order", "re-ranked", "change")})


def _stop_polling() -> None:
    """Stop this fragment's automatic reruns (its job is done).

    Streamlit stops a nested fragment's timer when its parent reruns without it; until then a
    finished poller would keep rerunning. Streamlit has no public call for this, so the message
    its own cleanup sends is sent here; if that ever fails the poller simply keeps polling.
    (Also used by ui.live.)
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
    """The metric-impact table: drawn now when measured, else a note, and the job's completion
    reruns the fragment (or script) that called this, once (a push; polling only where
    Streamlit offers no way to push).

    The push reruns the caller's own fragment (on Recommend, the list's), not a fragment nested
    in it: with a nested one (the former poller, or a push to it) about one classroom round in
    three ended with a blank page, the browser's console saying "Bad delta path index 10
    (should be between [0, 3])" (the nested fragment's delta applied to a page holding fewer
    elements); none in six rounds since (benchmarks/bench_classroom.py). It costs one more run
    of the list per new setting.
    """
    jobs = impact_jobs(source, dataset, run, config, k)
    if jobs is None:
        st.info("This run has no test split, so its metric impact cannot be measured.")
        return
    if _done(jobs()):
        _draw(jobs(), config)
        return
    push = rerun.fragment_rerunner()
    fragment_id = rerun.current_fragment_id()
    if push is not None and fragment_id:
        st.caption(PENDING_NOTE)
        for job in jobs():
            if not (job.done() and not job.cancelled()):  # a cancelled one: at once
                _notify(job, (_session_token(), fragment_id), lambda: push(fragment_id))
        return

    @st.fragment(run_every=POLL_SECONDS)
    def pending():
        current = jobs()
        if not _done(current):
            st.caption(PENDING_NOTE)
            return
        _draw(current, config)
        _stop_polling()

    pending()
