"""The Explain page's new figures: one overlay per method (its title its own), and the sanity
grid (a row per method, a column per step, each map's rho under it, no theme placeholder
color in its scale)."""

from __future__ import annotations

import re

import numpy as np

from cnnviz.plots import explain as plots


def test_overlay_is_one_method_with_its_title():
    image = np.zeros((32, 32, 3), np.uint8)
    heat = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    fig = plots.overlay_figure(image, heat, "Integrated Gradients", 300)
    assert fig.layout.title.text == "Integrated Gradients" and fig.layout.height == 300
    assert [t.type for t in fig.data] == ["image", "heatmap"]
    assert np.array_equal(fig.data[1].z, heat)


def test_sanity_grid_has_a_map_per_method_and_step_with_its_rho_under_it():
    steps = ["original", "fc", "layer4.1", "conv1"]
    rhos = {"Saliency": [1.0, 0.61, 0.4, 0.31], "Grad-CAM": [1.0, -0.2, 0.05, None]}
    pictures = {m: [np.full((8, 8), i / 4) for i in range(4)] for m in rhos}
    fig = plots.sanity_grid_figure(steps, pictures, rhos)
    assert len(fig.data) == 8
    assert np.array_equal(fig.data[5].z, pictures["Grad-CAM"][1])  # row 2, column 2
    titles = [fig.layout[f"xaxis{'' if n == 1 else n}"].title.text for n in range(1, 9)]
    assert titles == ["rho 1.00", "rho 0.61", "rho 0.40", "rho 0.31",
                      "rho 1.00", "rho -0.20", "rho 0.05", "blank map"]  # fmt: skip
    heads = [a.text for a in fig.layout.annotations]
    assert heads == ["original", "+ fc", "+ layer4.1", "+ conv1"]
    assert fig.layout.yaxis.title.text == "Saliency" and fig.layout.yaxis5.title.text == "Grad-CAM"
    # Streamlit's theme swaps the colors #000001 to #00000f for its own: none in the scale.
    colors = [c for _, c in fig.data[0].colorscale]
    assert not any(re.fullmatch(r"#00000[0-9a-f]", c, re.I) for c in colors)
    assert colors[0] == "rgb(0, 0, 4)" and colors[-1] == "rgb(252, 255, 164)"
