"""The feature cache of the linear probe: a run with a key seen before reads the features
from the store and trains the same head as a fresh extraction; any part of the key changed
is a miss; the head's seed, epochs and learning rate are not part of it."""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from train_cases import Recorder, one_thread, tiny  # noqa: F401

from cnnviz import synthetic
from cnnviz.data import ImageDataset, normalize
from cnnviz.errors import BadWeightsFile
from cnnviz.store import Store, file_sha256
from cnnviz.train import FinetuneConfig, FinetuneResult, finetune
from cnnviz.train.backbones import build, spec, synthetic_state
from cnnviz.train.features import REUSED, features_key
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("one_thread")
MB = 2**20
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A student's weights file for mobilenet_v3_small (its own seeded values)."""
    torch.manual_seed(7)
    path = tmp_path_factory.mktemp("weights") / "mine.pt"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    return path


def _config(weights: str, **kw: object) -> FinetuneConfig:
    base = {
        "backbone": "mobilenet_v3_small", "weights": weights, "strategy": "linear",
        "image_size": 16, "batch_size": 4, "epochs": 3, "lr": 1e-2,
    }  # fmt: skip
    return FinetuneConfig(**{**base, **kw})  # type: ignore[arg-type]


def _run(
    data: ImageDataset, config: FinetuneConfig, store: Store
) -> tuple[FinetuneResult, Recorder]:
    report = Recorder()
    return finetune(data, config, report=report, store=store), report


def _same_run(a: FinetuneResult, b: FinetuneResult) -> None:
    assert a.history == b.history and a.val_predictions == b.val_predictions
    for key, value in a.state_dict.items():
        assert torch.equal(b.state_dict[key], value), key


def test_a_second_probe_reuses_the_features_and_trains_the_same_head(
    tmp_path: Path, weights_file: Path
) -> None:
    data = tiny(classes=3, n_per_class=5)
    config = _config(str(weights_file))
    store = Store(tmp_path / "shared", 64 * MB)
    first, _ = _run(data, config, store)
    assert "features" in first.timings and "features_from_store" not in first.timings
    (entry,) = store.entries()
    second, report = _run(tiny(classes=3, n_per_class=5), config, store)  # equal bytes
    assert "features_from_store" in second.timings and "features" not in second.timings
    messages = [c.get("message") for c in report.calls]
    assert REUSED in messages and "Extracting features" not in messages
    # Oracle: a fresh extraction in a store of its own trains the same head.
    fresh, _ = _run(data, config, Store(tmp_path / "empty", 64 * MB))
    _same_run(first, second)
    _same_run(fresh, second)
    # What the store holds: the body's outputs, the backbone run by hand without its head.
    payload = store.get(entry.key)
    assert payload is not None
    held = torch.load(io.BytesIO(payload), weights_only=True)
    model = build(spec("mobilenet_v3_small"), str(weights_file), 3).eval()
    model.classifier[3] = nn.Identity()
    with torch.no_grad():
        expected = model(normalize(data.images))
    torch.testing.assert_close(held, expected, rtol=1e-5, atol=1e-6)


def test_the_head_settings_share_the_features(tmp_path: Path, weights_file: Path) -> None:
    data = tiny(classes=3, n_per_class=5)
    store = Store(tmp_path, 64 * MB)
    _run(data, _config(str(weights_file)), store)
    other, _ = _run(data, _config(str(weights_file), seed=3, epochs=2, lr=3e-3), store)
    assert "features_from_store" in other.timings
    fresh, _ = _run(
        data, _config(str(weights_file), seed=3, epochs=2, lr=3e-3), Store(tmp_path / "x", MB)
    )
    _same_run(fresh, other)


def test_any_part_of_the_key_changed_is_a_miss(tmp_path: Path, weights_file: Path) -> None:
    data = tiny(classes=3, n_per_class=5)
    h = data.content_hash
    config = _config(str(weights_file))
    key = features_key(h, config, CPU)
    pixel = data.images.clone()
    pixel[0, 0, 0, 0] ^= 1
    other_data = dataclasses.replace(data, images=pixel)
    other_file = tmp_path / "copy.pt"
    other_file.write_bytes(weights_file.read_bytes())
    changed = {
        "dataset": features_key(other_data.content_hash, config, CPU),
        "backbone": features_key(h, _config("none", backbone="resnet18"), CPU),
        "weights: random": features_key(h, _config("none"), CPU),
        "image size": features_key(h, _config(str(weights_file), image_size=24), CPU),
        "device": features_key(h, _config(str(weights_file), amp=False), torch.device("cuda")),
        "precision": features_key(h, config, torch.device("cuda")),
    }
    assert key not in changed.values()
    assert len(set(changed.values())) == len(changed)  # (cuda + amp: a precision of its own)
    # The same bytes under another name: the same weights. The seed of random weights: others.
    assert features_key(h, _config(str(other_file)), CPU) == key
    assert features_key(h, _config("none", seed=1), CPU) != changed["weights: random"]
    assert features_key(h, _config(str(weights_file), seed=1, batch_size=8), CPU) == key
    # Every miss extracts: a run with another image size finds nothing to reuse.
    store = Store(tmp_path / "store", 64 * MB)
    _run(data, config, store)
    resized, _ = _run(data, _config(str(weights_file), image_size=24), store)
    other, _ = _run(other_data, config, store)
    assert "features" in resized.timings and "features" in other.timings
    assert len(store.entries()) == 3


def test_a_weights_file_changed_in_place_is_other_weights(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    torch.manual_seed(0)
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    before = file_sha256(path)
    key = features_key("0" * 64, _config(str(path)), CPU)
    torch.manual_seed(1)
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    os.utime(path, ns=(1, 1))  # even with a clock that did not move
    assert file_sha256(path) != before
    assert features_key("0" * 64, _config(str(path)), CPU) != key


def test_a_store_too_small_for_the_features_costs_only_their_reuse(
    tmp_path: Path, weights_file: Path
) -> None:
    data = tiny(classes=3, n_per_class=5)
    store = Store(tmp_path, 1000)  # 15 x 576 floats do not fit
    first, _ = _run(data, _config(str(weights_file)), store)
    again, _ = _run(data, _config(str(weights_file)), store)
    assert store.entries() == [] and "features" in again.timings
    _same_run(first, again)


def test_build_from_a_file_holds_its_values_and_a_head_of_the_seed(weights_file: Path) -> None:
    """build skips the random initialization that a file overwrites: oracle, the file's own
    tensors, and torch's nn.Linear drawn from the seed."""
    model = build(spec("mobilenet_v3_small"), str(weights_file), 3, seed=5)
    state = torch.load(weights_file, weights_only=True)
    for key, value in model.state_dict().items():
        if not key.startswith("classifier.3."):
            assert torch.equal(value, state[key]), key
    torch.manual_seed(5)
    head = nn.Linear(1024, 3)
    assert torch.equal(model.classifier[3].weight, head.weight)
    assert torch.equal(model.classifier[3].bias, head.bias)


def test_a_store_that_cannot_be_opened_costs_only_the_reuse(
    monkeypatch: pytest.MonkeyPatch, weights_file: Path, tmp_path: Path
) -> None:
    """Another user's folder at the default place (a shared lab machine, the CLI): the run
    extracts and trains as without a store."""
    from cnnviz.train import loop

    def refused() -> Store:
        raise PermissionError("not this user's folder")

    data = tiny(classes=3, n_per_class=5)
    with_store, _ = _run(data, _config(str(weights_file)), Store(tmp_path, MB))
    monkeypatch.setattr(loop, "default_store", refused)
    result = finetune(data, _config(str(weights_file)), report=Recorder())
    assert "features" in result.timings
    _same_run(with_store, result)


def test_two_runs_missing_the_same_features_at_once_extract_them_once(
    tmp_path: Path, weights_file: Path
) -> None:
    """A class clicking Train together: the second run waits for the first one's claim on the
    key (saying so) and reads its features, instead of a second extraction."""
    import threading

    from cnnviz.train.features import WAITING, features_key

    data = tiny(classes=3, n_per_class=5)
    config = _config(str(weights_file))
    store = Store(tmp_path / "shared", 64 * MB)
    key = features_key(data.content_hash, config, CPU)
    report = Recorder()
    results: list[FinetuneResult] = []

    def second() -> None:
        results.append(finetune(data, config, report=report, store=store))

    with store.claim(key):  # the first run, holding the key while it extracts
        waiter = threading.Thread(target=second)
        waiter.start()
        other = Store(tmp_path / "other", 64 * MB)
        first = finetune(data, config, report=Recorder(), store=other)  # the extraction
        deadline = time.monotonic() + 60
        while WAITING not in [c.get("message") for c in report.calls]:
            assert time.monotonic() < deadline, "the second run never waited"
            time.sleep(0.02)
        assert not results  # it waits for the key
        (entry,) = other.entries()
        store.put(key, other.get(entry.key))  # what the first run stores before it lets go
    waiter.join(60)
    (waited,) = results
    assert "features_from_store" in waited.timings and "features" not in waited.timings
    _same_run(first, waited)


def test_a_claim_is_one_holder_at_a_time_and_waiters_hear_about_it(tmp_path: Path) -> None:
    import threading

    store = Store(tmp_path / "s", MB)
    key = "a" * 64
    order: list[str] = []
    waited = threading.Event()
    with store.claim(key):
        t = threading.Thread(target=lambda: _hold(store, key, order, waited))
        t.start()
        assert waited.wait(10)  # the second caller is waiting, told so
        order.append("first done")
    t.join(10)
    assert order == ["first done", "second holds"]
    with pytest.raises(ValueError):
        store.claim("not a key").__enter__()


def _hold(store: Store, key: str, order: list[str], waited) -> None:
    with store.claim(key, waiting=waited.set):
        order.append("second holds")


@pytest.mark.skipif(
    not synthetic.available(), reason="assets/resnet18_synthetic.pt not built (make assets)"
)
def test_a_class_of_probes_holds_one_body_and_no_run_writes_it(tmp_path: Path) -> None:
    """A linear probe on the synthetic backbone holds the process's one copy of its body (a
    class's probes: one body, not one each); a run that trains the body gets its own copy;
    neither changes the shared tensors, nor does explaining the probe's model."""
    backbone = spec("resnet18")
    shared = synthetic_state(backbone)
    before = {k: v.clone() for k, v in shared.items()}
    data = tiny(classes=2, n_per_class=4, side=32)
    base = {"backbone": "resnet18", "weights": "synthetic", "image_size": 32, "batch_size": 4}
    probe, _ = _run(data, FinetuneConfig(**base, strategy="linear", epochs=2), Store(tmp_path, MB))
    full, _ = _run(data, FinetuneConfig(**base, strategy="full", epochs=1), Store(tmp_path, MB))
    body = [k for k in shared if not k.startswith("fc.")]
    # Oracle: the storage itself (data_ptr), and torch.equal against a copy made before.
    assert all(probe.state_dict[k].data_ptr() == shared[k].data_ptr() for k in body)
    assert not any(full.state_dict[k].data_ptr() == shared[k].data_ptr() for k in body)
    assert not torch.equal(full.state_dict["conv1.weight"], before["conv1.weight"])  # trained
    assert not torch.equal(probe.state_dict["fc.weight"], full.state_dict["fc.weight"])
    model = probe.trained().model
    x = normalize(data.images[:2]).requires_grad_(True)
    model(x).sum().backward()  # an attribution's pass: gradients, no weight written
    changed = [k for k in before if not torch.equal(shared[k], before[k])]
    assert changed == []


def _probe_and_full(tmp_path: Path) -> tuple[FinetuneResult, FinetuneResult]:
    data = tiny(classes=2, n_per_class=4, side=32)
    base = {"backbone": "resnet18", "weights": "synthetic", "image_size": 32, "batch_size": 4}
    probe, _ = _run(data, FinetuneConfig(**base, strategy="linear", epochs=1), Store(tmp_path, MB))
    full, _ = _run(data, FinetuneConfig(**base, strategy="full", epochs=1), Store(tmp_path, MB))
    return probe, full


@pytest.mark.skipif(
    not synthetic.available(), reason="assets/resnet18_synthetic.pt not built (make assets)"
)
def test_a_pickled_probe_carries_its_head_and_finds_its_body_where_it_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ray job's result crosses to the server pickled: a probe's body stays behind (the
    server holds the same file), a full fine-tune's travels; what arrives equals what left."""
    probe, full = _probe_and_full(tmp_path)
    blob, full_blob = pickle.dumps(probe), pickle.dumps(full)
    assert len(blob) < MB and len(full_blob) > 40 * MB  # resnet18's body: 43 MB of float32
    back = pickle.loads(blob)
    assert list(back.state_dict) == list(probe.state_dict)
    for key, value in probe.state_dict.items():
        assert torch.equal(back.state_dict[key], value), key
    shared = synthetic_state(spec("resnet18"))
    assert (
        back.state_dict["layer4.1.conv2.weight"].data_ptr()
        == shared["layer4.1.conv2.weight"].data_ptr()
    )
    assert back.history == probe.history and back.val_predictions == probe.val_predictions
    whole = pickle.loads(full_blob)
    assert all(torch.equal(whole.state_dict[k], v) for k, v in full.state_dict.items())
    # A server whose synthetic backbone is another file: the sentence, not another body.
    monkeypatch.setattr("cnnviz.train.backbones.weights_identity", lambda *a, **k: "sha256:another")
    with pytest.raises(BadWeightsFile, match="another synthetic backbone"):
        pickle.loads(blob)


@pytest.mark.e2e  # a process of its own
@pytest.mark.skipif(
    not synthetic.available(), reason="assets/resnet18_synthetic.pt not built (make assets)"
)
def test_a_pickled_probe_is_whole_in_a_fresh_process(tmp_path: Path) -> None:
    """Oracle: the asset read there by torch.load (synthetic.load_state), and the head's
    values as they left."""
    probe, _ = _probe_and_full(tmp_path)
    path = tmp_path / "probe.pickle"
    path.write_bytes(pickle.dumps(probe))
    code = (
        "import pickle, sys, torch; from cnnviz import synthetic\n"
        "r = pickle.loads(open(sys.argv[1], 'rb').read()); s = synthetic.load_state()\n"
        "print(all(torch.equal(r.state_dict[k], v) for k, v in s.items()), len(r.state_dict))\n"
        "torch.save(r.state_dict['fc.weight'], sys.argv[1] + '.fc')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
        check=True, timeout=300,
    ).stdout.split()  # fmt: skip
    assert out == ["True", str(len(probe.state_dict))]
    head = torch.load(str(path) + ".fc", weights_only=True)
    assert torch.equal(head, probe.state_dict["fc.weight"])
