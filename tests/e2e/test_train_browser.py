"""The Train page in headless Chromium: hyperparameters and the run name are the person's until
they change them, across switching model and switching page (issue 9, "Broken today" 3).

Uses the fixtures of conftest.py (server, browser, page); skipped without chromium/playwright
except under CI=true.
"""
from __future__ import annotations

import pytest

from browser_support import settle

pytestmark = pytest.mark.e2e


def _number(pg, label: str) -> str:
    return pg.get_by_label(label, exact=True).input_value()


def _type(pg, label: str, value: str) -> None:
    box = pg.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    settle(pg)


def _choose_model(pg, kind: str) -> None:
    pg.locator('[data-testid="stSelectbox"]').filter(has_text="Model").click()
    pg.locator('[role="option"]').filter(has_text=f"{kind} —").first.click()
    settle(pg)


def _sidebar_link(pg, label: str) -> None:
    pg.locator('[data-testid="stSidebar"] a').filter(has_text=label).first.click()
    settle(pg)


def test_hyperparameters_and_run_name_survive_model_and_page_switches(server, page):
    page.goto(server + "/Train?data=demo&model=wals")
    settle(page)
    _type(page, "factors", "12")
    _type(page, "regularization", "7")
    _type(page, "Run name (optional)", "my-lesson-run")

    # Another model and back: WALS keeps its settings, MF keeps its own.
    _choose_model(page, "mf")
    _type(page, "epochs", "3")
    _choose_model(page, "wals")
    assert _number(page, "factors") == "12"
    assert float(_number(page, "regularization")) == 7
    assert _number(page, "Run name (optional)") == "my-lesson-run"

    # Another page (through the sidebar, in the same session) and back.
    _sidebar_link(page, "Data")
    assert "Data" in page.locator('[data-testid="stMain"] h1').first.inner_text()
    _sidebar_link(page, "Train")
    assert "model=wals" in page.url
    assert _number(page, "factors") == "12"
    assert float(_number(page, "regularization")) == 7
    assert _number(page, "Run name (optional)") == "my-lesson-run"
    _choose_model(page, "mf")
    assert _number(page, "epochs") == "3"


def test_home_first_in_the_sidebar_and_the_wals_vs_sgd_lesson_at_800_px(server, browser):
    """The sidebar's own list (the built-in one is hidden by .streamlit/config.toml) starts with
    "Home"; the "WALS vs SGD" lesson trains the missing runs on request, with a progress bar
    within a second, and picks them."""
    context = browser.new_context(viewport={"width": 800, "height": 2000})
    page = context.new_page()
    try:
        page.goto(server + "/?data=demo")
        settle(page)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        links = page.locator('[data-testid="stSidebar"] a').all_inner_texts()
        assert links[0].strip() == "Home" and "app" not in [t.strip() for t in links]

        page.locator('[data-testid="stMain"] a').filter(has_text="WALS vs SGD").click()
        settle(page)
        assert "Compare runs" in page.locator('[data-testid="stMain"] h1').first.inner_text()
        page.get_by_role("button", name="Train WALS with its defaults and MF with its defaults "
                                        "(the lesson's settings)").click()
        # The lesson's training says what it does within a second (issue 20.2).
        page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first.wait_for(
            state="visible", timeout=1000)
        settle(page, timeout=180)
        picked = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Runs to compare")
        chips = picked.locator('[data-tag] span[title]').all_inner_texts()
        assert len(chips) == 2 and chips[0].startswith("wals") and chips[1].startswith("mf")
        assert "lesson=" not in page.url
    finally:
        context.close()
