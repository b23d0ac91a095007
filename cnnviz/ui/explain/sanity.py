"""The Explain page's Sanity check tab (Adebayo et al. 2018): the cascading randomization as a job,
and its verdict in words from this run's numbers."""

from __future__ import annotations

from cnnviz.explain import jobs as explain_jobs
from cnnviz.explain import sanity
from cnnviz.explain.attribution import METHODS
from cnnviz.ui.explain.common import job


def sanity_check(model, x, xid, target, methods, params) -> sanity.SanityResult | None:
    """The cascading randomization of the chosen methods, as a job."""
    signature = f"{model.key}|{xid}|{target}|{methods}|{params}"
    return job(
        explain_jobs.check_sanity, lambda: (model.spec(), x, methods, params, target),
        signature, "explain_sanity_job", "Run the sanity check",
    )  # fmt: skip


SANITY_TEXT = (
    "**Sanity check** (Adebayo et al. 2018): re-initialize the weights block by block from the "
    "output back to the input, and redraw each method's map after every step. Under each map: "
    "its Spearman rank correlation (rho) with the trained model's map (1: the same ranking of "
    "pixels, 0: unrelated). A map that explains the *model* must change once the model is "
    "destroyed."
)


SANITY_GRID_NOTE = (
    "A row per method; the first column is the trained model, each next column randomizes one "
    "more block (+ its name), down to the input. Each map is scaled to its own top 1%."
)


def sanity_text(result: sanity.SanityResult) -> str:
    return sanity.verdict_text(result, METHODS)
