"""Benchmark: what `st.plotly_chart` does on every run with a figure the server has cached
(`cnnviz.ui.cache.figure`): `fig.to_dict()` (plotly.tools.return_figure_from_figure_or_data)
then `plotly.io.to_json(d, validate=False)`. Printed per figure, in milliseconds, with the two
parts apart: what the former FrozenFigure (its dictionary kept) and the `plotly.io.to_json`
swap (its JSON kept, cnnviz/ui/cache.py before issue 20) each saved a run. Asserts nothing.

    python bench/figure_send.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import plotly.io as pio  # noqa: E402
import plotly.tools  # noqa: E402

from cnnviz import facts  # noqa: E402
from cnnviz.analysis import analyze  # noqa: E402
from cnnviz.plots.architecture import architecture_figure, per_layer_figure  # noqa: E402
from cnnviz.plots.ilsvrc import ilsvrc_figure  # noqa: E402
from cnnviz.plots.receptive_field import unit_grid_figure  # noqa: E402
from cnnviz.receptive_field import receptive_fields_of  # noqa: E402


def figures() -> dict[str, object]:
    vgg = analyze("vgg16")
    fields = receptive_fields_of("vgg16", (3, 224, 224))
    first = next(iter(fields.values()))
    return {
        "home: ILSVRC winners": ilsvrc_figure(facts.ILSVRC_WINNERS, facts.HUMAN_TOP5_ERROR),
        "VGG-16 drawing": architecture_figure(vgg),
        "VGG-16 per layer": per_layer_figure(vgg),
        f"unit grid {first.name} (224x224 units)": unit_grid_figure(first, (0, 0)),
    }


def ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"{'figure':<40} {'to_dict':>9} {'to_json':>9} {'a run':>9}   (ms, median)")
    for name, fig in figures().items():
        d = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
        to_dict = ms(
            lambda f=fig: plotly.tools.return_figure_from_figure_or_data(f, True), args.repeats
        )
        to_json = ms(lambda d=d: pio.to_json(d, validate=False), args.repeats)
        print(f"{name:<40} {to_dict:9.2f} {to_json:9.2f} {to_dict + to_json:9.2f}")


if __name__ == "__main__":
    main()
