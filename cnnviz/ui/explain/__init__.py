"""The Explain page's widgets, one module per part of the page: the network, the image and
the class (`pickers`), the Attributions tab (`attributions`), the Filters and Feature maps
tabs (`filters`), the Sanity check tab (`sanity`) and "What a channel wants to see"
(`feature_viz`); `common` holds the input's fingerprint, a layer's label and a slow
computation as a job. pages/explain.py uses them as `ui.<function>`."""

from cnnviz.ui.explain.attributions import (
    METHOD_NOTES,
    attributions,
    coarse_layer_note,
    method_settings,
    show_maps,
)
from cnnviz.ui.explain.common import fingerprint, layer_label
from cnnviz.ui.explain.feature_viz import feature_visualization
from cnnviz.ui.explain.filters import (
    filter_title,
    filter_view,
    first_filters,
    means_caption,
    top_maps,
)
from cnnviz.ui.explain.pickers import (
    image_picker,
    layers_of,
    model_picker,
    prediction,
    resized,
    target_picker,
)
from cnnviz.ui.explain.sanity import SANITY_GRID_NOTE, SANITY_TEXT, sanity_check, sanity_text

__all__ = [
    "METHOD_NOTES",
    "SANITY_GRID_NOTE",
    "SANITY_TEXT",
    "attributions",
    "coarse_layer_note",
    "feature_visualization",
    "filter_title",
    "filter_view",
    "fingerprint",
    "first_filters",
    "image_picker",
    "layer_label",
    "layers_of",
    "means_caption",
    "method_settings",
    "model_picker",
    "prediction",
    "resized",
    "sanity_check",
    "sanity_text",
    "show_maps",
    "target_picker",
    "top_maps",
]
