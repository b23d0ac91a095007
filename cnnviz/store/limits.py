"""The bound on the content-addressed store (cnnviz.store): its size on disk."""

from __future__ import annotations

from cnnviz.limits import Limit

# In MB of 2**20 bytes; the operator sets it with CNNVIZ_STORE_MB (cnnviz.store.disk).
STORE_MB = Limit(
    "store size in MB",
    16,
    1_048_576,
    "The store keeps extracted features (digits' with resnet18: 4 MB) and the datasets of "
    "queued runs (up to 150 MB each); least recently used entries leave first.",
)
DEFAULT_STORE_MB = 2048
