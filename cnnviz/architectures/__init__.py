"""Builders of every architecture the lecture shows; importing this package registers them."""

from cnnviz.architectures import alexnet, blocks, lenet, zoo

__all__ = ["alexnet", "blocks", "lenet", "zoo"]
