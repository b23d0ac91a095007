"""The experiments on a page (AppTest): Run submits the job, the panel follows it, and when it
is done its result charts stay on the page, through a widget change and a refresh."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cnnviz.jobs import JobState, default_runner
from cnnviz.ui.jobs import _OWNER_STATE

WAIT = 120.0


def augmentation(sizes: tuple[str, str]) -> None:
    from cnnviz.ui.experiments import augmentation_experiments

    augmentation_experiments(sizes)


def resnet(sizes: tuple[str, str]) -> None:
    from cnnviz.ui.experiments import degradation_experiment

    degradation_experiment(sizes)


def run_to_done(at: AppTest, prefix: str) -> None:
    at.button(key=f"{prefix}_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    handle = default_runner().latest(at.session_state[_OWNER_STATE], f"{prefix}_job")
    assert handle is not None
    assert handle.done(WAIT)
    assert handle.state is JobState.DONE, handle.error
    at.run()  # the panel's fragment notices the end and reruns the page with the results
    assert not at.exception, [e.value for e in at.exception]


def charts(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def test_rotation_runs_to_done_and_its_results_stay() -> None:
    at = AppTest.from_function(augmentation, args=(("tiny", "tiny"),), default_timeout=WAIT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.tabs) == 3 and not at.get("plotly_chart")
    run_to_done(at, "augmentation_rotation")
    assert any("Validation 6s and 9s taken for the other one" in m.value for m in at.markdown)
    # the 6 <-> 9 confusion per range, the confusion matrix, per-class accuracy
    assert len(at.get("plotly_chart")) == 3
    assert at.selectbox(key="augmentation_rotation_confusion_of").value == "up to 180 degrees"

    # Another widget changes: the results stay, nothing is rerun.
    at.number_input(key="augmentation_noise_seed").set_value(5).run()
    assert len(at.get("plotly_chart")) == 3

    # A refresh (a new session with the same URL) finds the finished job again.
    refreshed = AppTest.from_function(augmentation, args=(("tiny", "tiny"),), default_timeout=WAIT)
    refreshed.query_params.update(at.query_params)
    refreshed.session_state[_OWNER_STATE] = at.session_state[_OWNER_STATE]  # the same browser
    refreshed.run()
    assert not refreshed.exception, [e.value for e in refreshed.exception]
    assert any("6s and 9s" in m.value for m in refreshed.markdown)


def test_degradation_runs_to_done_on_the_resnet_section() -> None:
    at = AppTest.from_function(resnet, args=(("tiny", "tiny"),), default_timeout=WAIT)
    at.run()
    run_to_done(at, "resnet_degradation")
    assert len(at.get("plotly_chart")) == 1
    assert any(m.value.startswith("Final training loss: plain 4 layers") for m in at.markdown)


def test_the_page_states_the_jobs_own_estimate() -> None:
    from cnnviz.experiments import EXPERIMENTS
    from cnnviz.ui.experiments import seconds_words

    at = AppTest.from_function(augmentation, args=(("quick", "full"),), default_timeout=WAIT)
    at.run()
    caption = next(c.value for c in at.caption if "Expected time" in c.value)
    assert f"noise {seconds_words(EXPERIMENTS['noise'].estimate['quick'])}," in caption
    assert "takes seconds" not in caption
    assert (seconds_words(42), seconds_words(2), seconds_words(200)) == (
        "about 40 s",
        "about 5 s",
        "about 3 min",
    )


def test_seed_is_bounded() -> None:
    at = AppTest.from_function(resnet, args=(("tiny", "tiny"),), default_timeout=WAIT)
    at.run()
    seed = at.number_input(key="resnet_degradation_seed")
    assert (seed.min, seed.max) == (0, 9_999)


def test_noise_and_augment_results_are_shown() -> None:
    at = AppTest.from_function(augmentation, args=(("tiny", "tiny"),), default_timeout=WAIT)
    at.run()
    run_to_done(at, "augmentation_noise")
    # The tiny size runs 2 seeds: the conclusion words the spread, the caption says so.
    assert any(
        m.value.startswith("Without noise ") and "over 2 seeds" in m.value for m in at.markdown
    )
    assert any("the 2 seeds' lowest to highest" in c.value for c in at.caption)
    run_to_done(at, "augmentation_augment")
    assert any(m.value.startswith("After the last epoch: ") for m in at.markdown)
    assert len(at.get("plotly_chart")) == 2  # accuracy vs magnitude, the validation curves
