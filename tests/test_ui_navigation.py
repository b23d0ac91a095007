"""The home chart's click: which page a selection state opens."""

from __future__ import annotations

from cnnviz import facts
from cnnviz.ui.navigation import clicked_page, page_for


def state(*customdata: object) -> dict:
    return {"selection": {"points": [{"customdata": c} for c in customdata]}}


def test_a_click_on_a_winner_with_a_page_opens_it() -> None:
    winner = next(w for w in facts.ILSVRC_WINNERS if w.page)
    assert clicked_page(state(winner.page)) == winner.page
    assert page_for(clicked_page(state("", winner.page))).title == winner.page


def test_no_click_or_a_winner_without_a_page_opens_nothing() -> None:
    assert clicked_page(None) is None
    assert clicked_page(state()) is None
    assert clicked_page(state("")) is None  # a winner without a page of its own
    assert clicked_page(state(None, 3)) is None
