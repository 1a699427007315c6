"""pick_device: cuda > mps > cpu, chosen in one place; a missing GPU means the CPU, silently.
The GPUs are mocked: this machine has none."""

from __future__ import annotations

import pytest
import torch

from hitl_widgets.core.device import DEVICES, pick_device


@pytest.fixture
def gpus(monkeypatch):
    """Set which accelerators torch reports: gpus(cuda=True, mps=False)."""

    def set_available(cuda: bool = False, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return set_available


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu"),
])
def test_best_available_device_is_chosen(gpus, cuda, mps, expected):
    gpus(cuda=cuda, mps=mps)
    assert pick_device() == torch.device(expected)


def test_a_named_device_overrides_the_best_one(gpus):
    gpus(cuda=True, mps=True)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("mps") == torch.device("mps")
    assert pick_device("cuda:1") == torch.device("cuda:1")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    assert pick_device(" CUDA ") == torch.device("cuda")


def test_an_absent_gpu_falls_back_to_the_cpu_silently(gpus, recwarn):
    gpus(cuda=False, mps=False)
    assert pick_device("cuda") == torch.device("cpu")
    assert pick_device("mps") == torch.device("cpu")
    assert not recwarn.list


def test_a_broken_driver_counts_as_no_gpu(monkeypatch, gpus):
    gpus(mps=False)

    def broken():
        raise RuntimeError("CUDA driver initialization failed")

    monkeypatch.setattr(torch.cuda, "is_available", broken)
    assert pick_device() == torch.device("cpu")


@pytest.mark.parametrize("bad", ["tpu", "gpu", "", 3])
def test_an_unknown_device_name_lists_the_choices(bad):
    with pytest.raises(ValueError) as info:
        pick_device(bad)
    assert all(name in str(info.value) for name in DEVICES)


def test_the_torch_classifier_trains_where_pick_device_says(gpus):
    from hitl_widgets.core.active import TorchClassifier

    gpus(cuda=False, mps=False)
    clf = TorchClassifier(max_epochs=1).fit([[0.0], [1.0]], [0, 1])
    assert clf.device_ == torch.device("cpu")
    assert next(clf.module_.parameters()).device.type == "cpu"
