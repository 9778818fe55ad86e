"""The Train page in headless Chromium (issue 11): a softmax fit says what it costs before it
starts, and the progress bar names the job's stage from the first second of the training.

Uses the fixtures of conftest.py (server, browser, page); skipped without chromium/playwright
except under CI=true.
"""
from __future__ import annotations

import re
import time

import pytest

from browser_support import settle

pytestmark = pytest.mark.e2e


def test_cost_note_first_then_a_stage_bar_within_a_second(server, page):
    page.goto(server + "/Train?data=demo&model=softmax")
    settle(page)
    note = page.locator('[data-testid="stAlert"]').filter(has_text="Expected cost")
    assert note.count() == 1 and "per epoch" in note.inner_text()
    epochs = page.get_by_label("epochs", exact=True)
    epochs.fill("6")
    epochs.press("Enter")
    settle(page)

    page.get_by_role("button", name="Train", exact=True).click()
    clicked = time.monotonic()
    bar = page.locator('[data-testid="stProgress"]').first
    bar.wait_for(timeout=5000)
    seen_after = time.monotonic() - clicked
    text = bar.inner_text()
    assert re.search(r"step [1-4]/4 · .+ · \d+ s", text), text
    assert seen_after < 1.5, seen_after
    page.locator('[data-testid="stAlert"]').filter(has_text="Saved run").wait_for(timeout=120_000)
    settle(page)
    caption = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Averaged over")
    assert "all 3,000 test users" in caption.first.inner_text()
