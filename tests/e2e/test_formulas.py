"""Worked formulas in the browser: what the quiz writes is what the student reads.

Markdown once read the '*' of '11*11*3*96 + 96 = 34,944' as emphasis and showed '11113*96 + 96';
these tests read the rendered text, not the Markdown source.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

MAIN = '[data-testid="stMain"]'
REVEAL = f"{MAIN} button:has-text('Just show me')"


def reveal_first_answer(app, page: str) -> str:
    """Open `page`, press "Just show me" for its first layer, return the main area's text."""
    app.open(page)
    app.rerun_after(app.page.locator(REVEAL).first.click)
    return app.page.locator(MAIN).inner_text()


def test_alexnet_conv1_answer_renders_its_formulas(app):
    text = reveal_first_answer(app, "alexnet")
    assert "11*11*3*96 + 96 = 34,944" in text
    assert "55*55*96 * 11*11*3 = 105,415,200" in text  # the MACs: outputs * work per output
    assert "(227 - 11 + 2*0)/4 + 1 = 55" in text
    assert "11113" not in text and "555596" not in text  # the garbled renderings


def test_lenet_c1_answer_renders_its_formula(app):
    text = reveal_first_answer(app, "lenet")
    assert "5*5*1*6 + 6 = 156" in text
    assert "551*6" not in text


@pytest.mark.parametrize(("page", "topic"), [("alexnet", "AlexNet"), ("lenet", "LeNet-5")])
def test_key_facts_and_errata_render_literally(app, page, topic):
    """Every fact, recipe line and erratum of the topic appears in the page exactly as written
    (a fact's '11*11*3*96' must not lose its asterisks to Markdown)."""
    from cnnviz import facts

    app.open(page)
    text = app.page.locator(MAIN).inner_text()
    lines = [*facts.KEY_FACTS.get(topic, ()), *facts.RECIPES.get(topic, ())]
    lines += [part for e in facts.errata(topic) for part in (e.slide_says, e.computed, e.why)]
    missing = [line for line in lines if line not in text]
    assert not missing, missing
