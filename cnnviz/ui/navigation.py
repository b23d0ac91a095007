"""The app's pages, grouped like the lecture (app.py builds st.navigation from this list)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PageEntry:
    path: str
    title: str
    icon: str
    section: str
    default: bool = False


PAGES: tuple[PageEntry, ...] = (
    PageEntry("pages/home.py", "Home", ":material/school:", "Lecture", default=True),
    PageEntry(
        "pages/augmentation.py", "Data augmentation", ":material/auto_awesome:", "Data augmentation"
    ),
    PageEntry(
        "pages/transfer_learning.py",
        "Transfer learning",
        ":material/model_training:",
        "Transfer learning",
    ),
    PageEntry("pages/lenet.py", "LeNet-5", ":material/looks_one:", "Architectures"),
    PageEntry("pages/alexnet.py", "AlexNet", ":material/looks_two:", "Architectures"),
    PageEntry("pages/vgg.py", "VGG", ":material/looks_3:", "Architectures"),
    PageEntry("pages/googlenet.py", "GoogLeNet", ":material/looks_4:", "Architectures"),
    PageEntry("pages/resnet.py", "ResNet", ":material/looks_5:", "Architectures"),
    PageEntry("pages/layer_calculator.py", "Layer calculator", ":material/calculate:", "Tools"),
    PageEntry("pages/inception_ops.py", "Inception ops", ":material/call_split:", "Tools"),
    PageEntry("pages/vgg_stacking.py", "3x3 stacking", ":material/layers:", "Tools"),
    PageEntry(
        "pages/receptive_field.py", "Receptive fields", ":material/center_focus_strong:", "Tools"
    ),
    PageEntry("pages/explain.py", "Explain", ":material/visibility:", "Explain"),
)


def page_for(title: str) -> PageEntry:
    """The page entry with this title (used for links between pages)."""
    return next(p for p in PAGES if p.title == title)


def clicked_page(selection: Any) -> str | None:
    """The page title a click on a chart point carries in its customdata (the home chart's
    winners), from the chart's selection state; None without a click on such a point."""
    points = selection["selection"]["points"] if selection else []
    titles = (p.get("customdata") for p in points)
    return next((t for t in titles if isinstance(t, str) and t), None)
