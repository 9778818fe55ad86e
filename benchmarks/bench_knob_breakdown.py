"""Where a knob's key press -> list time goes on Recommend (ml-100k, WALS), server and browser.

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_knob_breakdown.py [--presses 20]

Starts the app twice, with Streamlit's forced garbage collection after each run on
(``--runner.postScriptGC true``, Streamlit's default) and off (this app's .streamlit/config.toml),
each time under a small hook that logs, on the epoch clock, every BackMsg the session receives,
the script runner's start and end events, every ForwardMsg it enqueues (type, bytes) and each
post-run ``gc.collect`` (ms). Chromium records the key press, the websocket frames it sends and
receives and the app root's ``data-test-script-state`` changes (the same end point as
benchmarks/bench_browser.py). Per press, the phases (medians over the presses, ms):

- key press -> rerun request sent (the slider's own delay in the browser)
- request -> script start; script run on the server (start -> ``script_finished`` enqueued)
- post-run gc.collect(2) (holds the GIL: nothing reaches the browser meanwhile)
- end of gc (or of the run) -> last frame in the browser; last frame -> "notRunning" (drawing)
- the CPU time (thread clock) of the script run and of the gc: less sensitive to a busy machine

The two columns come from the same machine minutes apart: compare them, not absolute values.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG_ENV = "BENCH_BREAKDOWN_LOG"

# In the browser: the key press, websocket frames out and in, script state changes.
RECORD = """
window.__ev = [];
const mark = (k, extra) => window.__ev.push(
  Object.assign({k, t: performance.timeOrigin + performance.now()}, extra || {}));
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', () => mark('in'));
  }
  send(data) { mark('out'); return super.send(data); }
};
document.addEventListener('keydown', () => mark('key'), {capture: true});
const hook = () => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) { setTimeout(hook, 50); return; }
  new MutationObserver(() => mark('state', {v: app.getAttribute('data-test-script-state')}))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
};
hook();
"""

PHASES = ("key press -> rerun request sent", "request -> script start",
          "script run on the server", "post-run gc.collect(2)",
          "run/gc end -> last frame in browser", "last frame -> notRunning (drawing)",
          "total (key press -> notRunning)")


def serve(argv: list[str]) -> None:
    """``streamlit run`` with the logging hook (this file run with --serve)."""
    import gc
    import threading
    import types

    import streamlit.runtime.scriptrunner.script_runner as script_runner
    from streamlit.runtime.app_session import AppSession
    from streamlit.web.cli import main as streamlit_main

    log = open(os.environ[LOG_ENV], "a", buffering=1)
    lock = threading.Lock()

    def write(**entry):
        with lock:
            log.write(json.dumps({"t": time.time(), **entry}) + "\n")

    enqueue, handle, on_event = (AppSession._enqueue_forward_msg, AppSession.handle_backmsg,
                                 AppSession._on_scriptrunner_event)

    def logged_enqueue(self, msg):
        write(kind="fwd", type=msg.WhichOneof("type"), bytes=msg.ByteSize())
        return enqueue(self, msg)

    def logged_handle(self, msg):
        write(kind="back", type=msg.WhichOneof("type"))
        return handle(self, msg)

    def logged_event(self, sender, event, **kwargs):
        # Sent from the script thread: its CPU clock tells the run's CPU time from its wall time.
        if "STARTED" in str(event):
            write(kind="started", cpu=time.thread_time() * 1000)
        elif "STOPPED" in str(event):
            write(kind="stopped", cpu=time.thread_time() * 1000)
        return on_event(self, sender, event, **kwargs)

    def timed_collect(*args):
        t0, c0 = time.perf_counter(), time.thread_time()
        n = gc.collect(*args)
        write(kind="gc", ms=(time.perf_counter() - t0) * 1000,
              cpu=(time.thread_time() - c0) * 1000)
        return n

    AppSession._enqueue_forward_msg = logged_enqueue
    AppSession.handle_backmsg = logged_handle
    AppSession._on_scriptrunner_event = logged_event
    script_runner.gc = types.SimpleNamespace(collect=timed_collect)
    sys.argv = ["streamlit", *argv]
    streamlit_main()


def _start(tmp: Path, data: Path, post_script_gc: bool, log: Path):
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from browser_support import free_port

    port = free_port()
    env = {**os.environ, "RECSYS_RUNS_DIR": str(tmp / "runs"), "PYTHONPATH": str(ROOT),
           "RECSYS_PRECOMPUTE_UMAP": "0", "RECSYS_DATA_DIR": str(data), LOG_ENV: str(log)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "run", str(ROOT / "app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--runner.postScriptGC", str(post_script_gc).lower()],
        cwd=ROOT, env=env, stdout=open(tmp / f"server-{post_script_gc}.log", "w"),
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(180):
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                return url, proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("streamlit did not start")


def _phases(events: list[dict], server: list[dict]) -> dict[str, float] | None:
    """One press's phases (ms) from the browser's events and the server log."""
    key = next(e["t"] for e in events if e["k"] == "key")
    done = next((e["t"] for e in events if e["k"] == "state" and e["v"] == "notRunning"), None)
    sent = next((e["t"] for e in events if e["k"] == "out"), None)
    if done is None or sent is None:
        return None
    mine = [s for s in server if sent / 1000 - 0.005 <= s["t"] <= done / 1000 + 0.005]
    start = next((s for s in mine if s["kind"] == "started"), None)
    stop = next((s for s in mine if s["kind"] == "stopped"), None)
    started = start["t"] * 1000 if start else None
    finished = next((s["t"] * 1000 for s in mine
                     if s["kind"] == "fwd" and s["type"] == "script_finished"), None)
    if started is None or finished is None:
        return None
    gc = next((s for s in mine if s["kind"] == "gc" and s["t"] * 1000 >= finished), None)
    end = gc["t"] * 1000 if gc else finished
    last = max(e["t"] for e in events if e["k"] == "in" and e["t"] <= done)
    deltas = [s for s in mine if s["kind"] == "fwd" and s["type"] == "delta"
              and started <= s["t"] * 1000 <= finished]
    return {**dict(zip(PHASES, (sent - key, started - sent, finished - started,
                                gc["ms"] if gc else 0.0, last - end, done - last, done - key))),
            "  CPU: script run (script thread)": (stop["cpu"] - start["cpu"]) if stop else 0.0,
            "  CPU: post-run gc.collect(2)": gc["cpu"] if gc else 0.0,
            "deltas per knob rerun": len(deltas),
            "delta bytes per knob rerun": sum(d["bytes"] for d in deltas)}


def measure(browser, tmp: Path, data: Path, post_script_gc: bool, presses: int) -> dict:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_browser import _quiet, _slider
    from browser_support import settle

    log = tmp / f"server-{post_script_gc}.jsonl"
    url, proc = _start(tmp, data, post_script_gc, log)
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 2400}).new_page()
        page.add_init_script(RECORD)
        page.goto(f"{url}/Recommend?data=ml-100k&run=bench-ml-100k")
        settle(page)
        _quiet(page)
        labels = ["Popularity penalty", "MMR λ", "Freshness half-life"]
        windows = []
        for n in range(presses):
            label = labels[n % len(labels)]
            thumb = _slider(page, label)
            thumb.focus()
            away = (n // len(labels)) % 2 == 0
            page.evaluate("window.__ev = []")
            thumb.press("ArrowRight" if away != label.startswith("MMR") else "ArrowLeft")
            _quiet(page)
            windows.append(page.evaluate("window.__ev"))
        page.context.close()
    finally:
        proc.terminate()
        proc.wait(10)
    server = [json.loads(line) for line in log.read_text().splitlines()]
    rows = [p for p in (_phases(w, server) for w in windows) if p is not None]
    out = {column: statistics.median(r[column] for r in rows) for column in rows[0]}
    out["presses timed"] = len(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=20)
    args = parser.parse_args()
    source = os.environ.get("RECSYS_DATA_DIR")
    if not source or not (Path(source) / "ml-100k" / "u.data").is_file():
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from playwright.sync_api import sync_playwright

    from browser_support import CHROMIUM, CHROMIUM_FLAGS
    from recsys_core.data import load_dataset
    from recsys_core.evaluation.split import holdout_split
    from recsys_core.models import MODEL_REGISTRY
    from recsys_core.runs.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        data.mkdir()
        (data / "ml-100k").symlink_to(Path(source) / "ml-100k", target_is_directory=True)
        dataset = load_dataset(data / "ml-100k")
        split = holdout_split(dataset, 0.2, seed=0)
        model = MODEL_REGISTRY["wals"](factors=32, iterations=8).fit(split.train)
        RunStore(tmp / "runs").save(model, dataset, name="bench-ml-100k", split=split,
                                    exact_name=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            results = {on: measure(browser, tmp, data, on, args.presses) for on in (True, False)}
            browser.close()
    print("\nml-100k, knob key press -> list: medians over the presses (ms)")
    print(f"| {'phase':<40} | {'postScriptGC on':>15} | {'off (the app)':>15} |")
    print(f"|{'-' * 42}|{'-' * 17}|{'-' * 17}|")
    for phase in results[False]:
        print(f"| {phase:<40} | {results[True][phase]:15.1f} | {results[False][phase]:15.1f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2:])
    else:
        main()
