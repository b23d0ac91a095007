"""Datasets, weights files and every file a student uploads for transfer learning
(cnnviz.data), and the session's folder on the server."""

from __future__ import annotations

from cnnviz.limits import Limit

# Classroom defaults; a teacher changes them through cnnviz.data.DatasetLimits.
DATASET_ARCHIVE_BYTES = Limit(
    "archive size in bytes",
    1,
    200_000_000,
    "Streamlit's own upload limit is 200 MB; a classroom dataset is a few MB to a few 100 MB.",
)

DATASET_FILES = Limit(
    "number of files",
    1,
    5_000,
    "A classroom dataset is hundreds to a few thousand images, each decoded on a shared server.",
)

DATASET_BYTES = Limit(
    "total uncompressed size in bytes",
    1,
    1_000_000_000,
    "Everything is unpacked on the server's disk first: 1 GB at most per upload.",
)

DATASET_IMAGE_PIXELS = Limit(
    "image size in pixels",
    1,
    40_000_000,
    "Larger images are skipped before they are decoded (40 megapixels are 120 MB as RGB).",
)

DATASET_PIXELS = Limit(
    "pixels decoded for a whole dataset",
    1,
    1_000_000_000,
    "Decoding and resizing run at 30-60 megapixels a second on one core (measured): a billion "
    "pixels are 15-35 s. JPEGs count at the reduced scale they are decoded at.",
)

DATASET_IMAGE_SIZE = Limit(
    "image side after resizing",
    8,
    224,
    "The dataset stays in memory as N x 3 x S x S bytes: 1,000 images at 224 are 150 MB.",
)

WEIGHTS_FILE_BYTES = Limit(
    "weights file size in bytes",
    1,
    600_000_000,
    "VGG-16's ImageNet weights (528 MB), the largest of the transfer-learning backbones, fit.",
)

# Every file a student uploads, in MB of 2**20 bytes: equal to .streamlit/config.toml's
# server.maxUploadSize (a test reads it), since Streamlit 1.67 refuses any file over it whatever
# a widget's max_upload_size says. Not VGG-16's 528 MB: Streamlit holds each upload in memory
# for the session and the weights page writes a copy torch.load reads back (about 3x the file
# per student); ResNet-18 (45 MB), EfficientNet-B0 and MobileNetV3 fit, VGG-16's and AlexNet's
# files go through the CLI (`finetune --weights FILE`, up to WEIGHTS_FILE_BYTES from disk).
UPLOAD_MB = Limit(
    "uploaded file size in MB",
    1,
    200,
    "The server's limit per file: it holds each upload in memory while the session lasts.",
)

# What one session's folder on the server (its Workspace) may hold when a file is stored there,
# in MB of 2**20 bytes: the weights file in use and a queued run's. The teacher sets it with the
# environment variable CNNVIZ_SESSION_DISK_MB (cnnviz.data.workspace). A dataset is unpacked
# there only while it is decoded, bounded per upload by DATASET_BYTES.
SESSION_DISK_MB = Limit(
    "session folder size in MB",
    1,
    512,
    "Two files of the largest upload (200 MB) fit: the one in use and a queued run's. A class "
    "of 40 keeps at most 20 GB on the server's disk.",
)
