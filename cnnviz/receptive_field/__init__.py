"""Receptive fields: the theoretical field of every layer (traced through the real forward pass),
the tracer that carries it, and the effective (gradient) field of one unit."""

from cnnviz.receptive_field.theoretical import (
    GROWTH_NOTE,
    ReceptiveField,
    UnknownLayer,
    caveat,
    field_calls,
    field_calls_of,
    growth_roles,
    headline,
    layer_field,
    receptive_fields,
    receptive_fields_of,
    telling_layer,
)
from cnnviz.receptive_field.tracer import UnsupportedLayer

__all__ = [
    "GROWTH_NOTE",
    "ReceptiveField",
    "UnknownLayer",
    "UnsupportedLayer",
    "caveat",
    "field_calls",
    "field_calls_of",
    "growth_roles",
    "headline",
    "layer_field",
    "receptive_fields",
    "receptive_fields_of",
    "telling_layer",
]
