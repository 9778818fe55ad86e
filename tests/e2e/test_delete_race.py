"""Two browser sessions deleting runs on the Train page: a stale "Delete run X" click never deletes
another run, and two confirmations of the same delete remove exactly that run (issue 10, item 1).

Runs dd-1, dd-2, dd-3 (dd-3 newest) are saved on the demo catalogue before the server starts.
Sessions A and B open ``/Train?data=demo&run=dd-1``; A deletes dd-1, then B clicks its stale
button: before the fix the button's key never changed and a missing run fell back to the newest,
so B's click deleted dd-3.
"""
from __future__ import annotations

import re

import pytest

from browser_support import settle, start_server, stop_server

pytestmark = pytest.mark.e2e

RUNS = ("dd-1", "dd-2", "dd-3")


@pytest.fixture(scope="module")
def store_and_server(tmp_path_factory):
    from recsys_core.data.demo import make_demo_dataset
    from recsys_core.models import Popularity
    from recsys_core.runs.store import RunStore

    root = tmp_path_factory.mktemp("e2e-delete-runs")
    store = RunStore(root)
    data = make_demo_dataset(seed=0)  # the app's demo catalogue (ui.data.demo_dataset)
    for name in RUNS:  # saved in order, so dd-3 is the newest
        store.save(Popularity().fit(data), data, name=name)
    log = tmp_path_factory.mktemp("e2e-delete-log") / "streamlit.log"
    try:
        url, proc = start_server(root, log)
    except RuntimeError as e:
        pytest.fail(str(e))
    yield store, url
    stop_server(proc)


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 1800})
    page = context.new_page()
    page.goto(url)
    settle(page)
    return context, page


def _click_delete(page, name: str, confirm: bool = True):
    """Press "Delete run <name>", then its confirmation when the page asks for one."""
    page.get_by_role("button", name=re.compile(rf"^Delete run {re.escape(name)}\b")).click()
    settle(page)
    yes = page.get_by_role("button", name=f"Yes, delete {name}", exact=True)
    if confirm and yes.count():
        yes.click()
        settle(page)


def _on_disk(store) -> set[str]:
    return {p.name for p in store.root.iterdir() if not p.name.startswith(".")}


def test_a_stale_delete_click_never_deletes_another_run(store_and_server, browser):
    store, url = store_and_server
    (ctx_a, a), (ctx_b, b) = (_open(browser, f"{url}/Train?data=demo&run=dd-1") for _ in "ab")
    try:
        _click_delete(a, "dd-1")
        assert _on_disk(store) == {"dd-2", "dd-3"}

        # B still shows dd-1: its click must not delete the newest run instead.
        _click_delete(b, "dd-1")
        assert _on_disk(store) == {"dd-2", "dd-3"}, "a stale click deleted another run"
        assert "Deleted run dd-1" in a.locator('[data-testid="stMain"]').inner_text()
        text = b.locator('[data-testid="stMain"]').inner_text()
        assert "dd-1 no longer exists" in text and "nothing was deleted" in text

        # Both sessions confirm deleting dd-2 at the same moment: dd-2 goes, dd-3 stays.
        for page in (a, b):
            page.goto(f"{url}/Train?data=demo&run=dd-2")
            settle(page)
            _click_delete(page, "dd-2", confirm=False)
        assert _on_disk(store) == {"dd-2", "dd-3"}, "a single click deleted without confirmation"
        a.get_by_role("button", name="Yes, delete dd-2", exact=True).click()
        b.get_by_role("button", name="Yes, delete dd-2", exact=True).click()
        settle(a)
        settle(b)
        assert _on_disk(store) == {"dd-3"}
        notes = a.locator('[data-testid="stMain"]').inner_text() + \
            b.locator('[data-testid="stMain"]').inner_text()
        assert "Deleted run dd-2" in notes and "dd-2 no longer exists" in notes
    finally:
        ctx_a.close()
        ctx_b.close()
