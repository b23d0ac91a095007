"""Devices: CUDA by name when torch sees a GPU, else the CPU (torch itself is the oracle)."""

from __future__ import annotations

import pytest
import torch

from cnnviz.errors import UnknownDevice
from cnnviz.jobs import devices


def test_default_is_the_gpu_when_there_is_one_else_the_cpu() -> None:
    device = devices.default()
    if torch.cuda.is_available():
        assert device.key == "cuda:0"
        assert device.name == torch.cuda.get_device_name(0)
        assert devices.resolve("cuda") == device
    else:
        assert device == devices.CPU
        with pytest.raises(UnknownDevice, match="cpu"):
            devices.resolve("cuda")
    assert devices.available()[-1] == devices.CPU
    assert len(devices.available()) == torch.cuda.device_count() + 1


def test_resolve() -> None:
    assert devices.resolve(None) == devices.default()
    assert devices.resolve("cpu") == devices.CPU
    assert devices.resolve(devices.CPU) is devices.CPU
    with pytest.raises(UnknownDevice, match="tpu"):
        devices.resolve("tpu")


def test_cpu_threads_sets_torchs_count_and_puts_it_back_even_after_an_error() -> None:
    before = torch.get_num_threads()
    with devices.cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError), devices.cpu_threads(1):
        raise ValueError
    assert torch.get_num_threads() == before
