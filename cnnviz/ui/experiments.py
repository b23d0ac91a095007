"""The live experiments on the pages: a quick toggle, a seed and a Run button per experiment,
the job's live curves while it trains (cnnviz.jobs), and its result charts once it is done.

    augmentation_experiments()   # bottom of pages/augmentation.py: rotation, noise, augment
    degradation_experiment()     # bottom of pages/resnet.py
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from cnnviz.errors import CnnvizError
from cnnviz.experiments import EXPERIMENTS, limits, noise
from cnnviz.experiments.rotation import onset
from cnnviz.jobs import JobHandle, JobState, Progress, default_runner
from cnnviz.plots import experiments as plots
from cnnviz.ui.errors import show_error
from cnnviz.ui.inputs import bounded
from cnnviz.ui.jobs import current_job, job_panel, owner_key, remember_job

Sizes = tuple[str, str]  # the size the quick toggle picks when on, and when off
CLASS_SIZES: Sizes = ("quick", "full")


@dataclass(frozen=True)
class Section:
    name: str  # the experiment, a key of cnnviz.experiments.EXPERIMENTS
    prefix: str  # widget keys and query parameter: the page's file name first
    live: str  # the metric the live curves show
    intro: str
    results: Callable[[dict[str, Any], str], None]


def _rotation_results(doc: dict[str, Any], prefix: str) -> None:
    runs = doc["runs"]
    st.markdown(_rotation_words(doc))
    left, right = st.columns(2)
    left.plotly_chart(
        plots.six_nine_figure(doc["spread"], seeds=len(doc["seeds"])), key=f"{prefix}_six_nine"
    )
    labels = [f"up to {r['max_degrees']} degrees" for r in runs]
    with right:
        shown = st.selectbox(
            "Confusion matrix of", labels, index=len(labels) - 1, key=f"{prefix}_confusion_of"
        )
        run = runs[labels.index(shown)]
        st.plotly_chart(
            plots.confusion_figure(run["confusion"], title=f"Trained with rotations {shown}"),
            key=f"{prefix}_confusion",
        )
    st.plotly_chart(plots.per_class_figure(runs), key=f"{prefix}_per_class")


def _rotation_words(doc: dict[str, Any]) -> str:
    spread = doc["spread"]
    n = len(doc["seeds"])
    shares = ", ".join(
        f"{s['six_nine_mean']:.0%} at {d}°"
        + (
            f" ({s['six_nine_min']:.0%} to {s['six_nine_max']:.0%})"
            if n > 1 and s["six_nine_max"] > s["six_nine_min"]
            else ""
        )
        for d, s in spread.items()
    )
    start = onset(doc)
    seeds = f" (mean of {n} seeds)" if n > 1 else ""
    where = (
        f"The confusion starts at **{start}°**: below it the network keeps 6 and 9 apart."
        if start is not None
        else "No range confuses them yet."
    )
    return (
        f"Validation 6s and 9s taken for the other one{seeds}: **{shares}**. {where} Rotating "
        "a 6 by half a turn makes a 9: training with that invariance teaches the network that "
        "they are the same digit."
    )


def _noise_results(doc: dict[str, Any], prefix: str) -> None:
    st.plotly_chart(plots.noise_figure(doc["runs"], doc.get("spread")), key=f"{prefix}_magnitude")
    n = len(doc["seeds"])
    if n > 1:
        st.caption(
            f"Mean over seeds {doc['seeds'][0]} to {doc['seeds'][-1]}; the bars span the "
            f"{n} seeds' lowest to highest accuracy."
        )
    st.markdown(" ".join(noise.conclusion(doc)))


def _augment_results(doc: dict[str, Any], prefix: str) -> None:
    runs = doc["runs"]
    st.plotly_chart(plots.augment_figure(runs), key=f"{prefix}_curves")
    last = {r["augment"]: r["history"][-1]["val_accuracy"] for r in runs}
    st.markdown(
        f"After the last epoch: **{last[True]:.1%}** with augmentation, "
        f"**{last[False]:.1%}** without, on the same few training digits."
    )


def _degradation_results(doc: dict[str, Any], prefix: str) -> None:
    runs = doc["runs"]
    st.plotly_chart(plots.degradation_figure(runs), key=f"{prefix}_curves")
    final = {(r["kind"], r["depth"]): r["history"][-1]["train_loss"] for r in runs}
    parts = [
        f"{kind} {depth} layers **{loss:.3f}**" if loss is not None else f"{kind} {depth}: diverged"
        for (kind, depth), loss in final.items()
    ]
    st.markdown(
        "Final training loss: " + ", ".join(parts) + ". It is the *training* loss: the deeper "
        "plain network does not overfit, it is harder to optimize."
    )


ROTATION = Section(
    "rotation",
    "augmentation_rotation",
    "val_accuracy",
    "LeNet-5 trained on digits rotated at random by up to 0, 45, 90, 120, 150, 165 and 180 "
    "degrees, then tested on upright digits. Encourage only the invariance you want.",
    _rotation_results,
)
NOISE = Section(
    "noise",
    "augmentation_noise",
    "val_accuracy",
    "LeNet-5 on only 200 training digits, with Gaussian noise on the inputs, on the hidden "
    "units, or dropout (multiplicative noise on hidden units), at several magnitudes, each "
    "trained from several seeds: an effect counts only if it stands out of their spread.",
    _noise_results,
)
AUGMENT = Section(
    "augment",
    "augmentation_augment",
    "val_accuracy",
    "The same LeNet-5 from the same start on a few training digits (100 in the quick "
    "setting, 200 in the full one), with and without small random rotations, shifts and "
    "scalings.",
    _augment_results,
)
DEGRADATION = Section(
    "degradation",
    "resnet_degradation",
    "train_loss",
    "Plain and residual networks of the same narrow design (16 filters, BatchNorm, He init, "
    "SGD) at two depths, trained the same way on the digits, as in He et al. 2015, Fig. 1.",
    _degradation_results,
)


def augmentation_experiments(sizes: Sizes = CLASS_SIZES) -> None:
    """The three augmentation experiments, one tab each (bottom of the augmentation page)."""
    st.header("Live experiments")
    st.caption(
        "Each trains real networks on this server's CPU. Expected time of the quick setting "
        "(the job's estimate: its batch steps times the time of one): "
        + ", ".join(
            f"{short} {_duration(name, sizes[0])}"
            for name, short in (
                ("rotation", "rotation"),
                ("noise", "noise"),
                ("augment", "augmentation vs none"),
            )
        )
        + "; longer while the class runs experiments at once (the job panel shows the queue)."
    )
    sections = (ROTATION, NOISE, AUGMENT)
    tabs = st.tabs([EXPERIMENTS[s.name].title for s in sections])
    for tab, section in zip(tabs, sections, strict=True):
        with tab:
            experiment_section(section, sizes)


def _duration(name: str, size: str) -> str:
    """The job's own estimate of one size in words: "about 40 s", "about 2 min"."""
    return seconds_words(EXPERIMENTS[name].estimate[size])


def seconds_words(seconds: float) -> str:
    """ "about 40 s" (to 5 s) under a minute and a half, else "about 3 min"."""
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} s"
    return f"about {round(seconds / 60):.0f} min"


def degradation_experiment(sizes: Sizes = CLASS_SIZES) -> None:
    """The degradation experiment (bottom of the ResNet page)."""
    st.header("Live experiment: " + EXPERIMENTS["degradation"].title)
    experiment_section(DEGRADATION, sizes)


def experiment_section(section: Section, sizes: Sizes = CLASS_SIZES) -> None:
    """Settings, Run, the live panel, then the results (kept while the page is open)."""
    experiment = EXPERIMENTS[section.name]
    p = section.prefix
    st.markdown(section.intro)
    cols = st.columns([1, 1, 1], vertical_alignment="bottom")
    quick = cols[0].toggle(
        "Quick (for class)",
        value=True,
        key=f"{p}_quick",
        help=(
            f"Fewer epochs, settings and seeds: {_duration(section.name, sizes[0])} instead "
            f"of {_duration(section.name, sizes[1])}."
        ),
    )
    seed = bounded(cols[1], "Seed", limits.EXPERIMENT_SEED, 0, f"{p}_seed")
    size = sizes[0] if quick else sizes[1]
    runner = default_runner()
    handle = current_job(runner, f"{p}_job")
    if cols[2].button("Run", key=f"{p}_run", icon=":material/play_arrow:", type="primary"):
        try:
            job = runner.submit(
                experiment.run,
                experiment.configure(size, seed),
                session=owner_key(),
                device="cpu",
                estimate=experiment.estimate[size],
            )
        except CnnvizError as err:
            show_error(err)
        else:
            handle = remember_job(job, f"{p}_job")
            st.session_state.pop(f"{p}_result", None)
    if handle is not None:
        progress = job_panel(handle, key=f"{p}_panel", draw=_live(section))
        _keep_result(handle, progress, f"{p}_result")
    doc = st.session_state.get(f"{p}_result")
    if doc is not None:
        section.results(doc, p)


def _live(section: Section) -> Callable[[Progress], None]:
    def draw(progress: Progress) -> None:
        if progress.state is JobState.DONE:
            return  # the result charts below say it all
        if any("epoch" in row for row in progress.metrics):
            st.plotly_chart(
                plots.curves_figure(progress.metrics, section.live), key=f"{section.prefix}_live"
            )

    return draw


def _keep_result(handle: JobHandle, progress: Progress, key: str) -> None:
    """A finished job's document in the session: it stays on the page after the runner frees
    the job, and after other widgets change."""
    if progress.state is JobState.DONE and key not in st.session_state:
        st.session_state[key] = handle.result(timeout=0)
