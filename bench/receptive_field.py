"""Benchmark: receptive fields of every layer of ResNet-152, and one effective receptive field.

  engine:  `receptive_fields(model, (3, 224, 224))` on an already built meta-device ResNet-152
           (the trace alone; warm, median of --repeats runs);
  cold:    what `receptive_fields_of("resnet152")` costs on a cache miss: the meta build plus
           the trace (median of --repeats runs after a warm-up);
  erf:     `effective_receptive_field` of one ResNet-18 unit (layer4, unit (3, 3)) at 224x224 on
           the CPU, untrained seeded weights, warm (median; includes the model copy it makes).
Prints figures; asserts nothing.

    python bench/receptive_field.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from cnnviz import registry
from cnnviz.receptive_field import receptive_fields
from cnnviz.receptive_field.effective import effective_receptive_field
from cnnviz.weights import untrained


def median_ms(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls, in milliseconds (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def meta_build(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return registry.build(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")

    model = meta_build("resnet152")
    fields = receptive_fields(model, (3, 224, 224))
    engine = median_ms(lambda: receptive_fields(model, (3, 224, 224)), args.repeats)
    cold = median_ms(lambda: receptive_fields(meta_build("resnet152"), (3, 224, 224)), args.repeats)
    print(f"ResNet-152, {len(fields)} layers at 224x224 (receptive_fields, meta device):")
    print(f"  trace only (built model)  {engine:8.1f} ms  median of {args.repeats}")
    print(f"  build + trace (cold path) {cold:8.1f} ms  median of {args.repeats}")

    resnet18 = untrained("resnet18")
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    erf = median_ms(
        lambda: effective_receptive_field(resnet18, "layer4", (3, 3), image), args.repeats
    )
    print("ResNet-18, one unit of layer4 at 224x224 (effective_receptive_field, CPU):")
    print(f"  copy + forward to layer4 + backward  {erf:8.1f} ms  median of {args.repeats}")


if __name__ == "__main__":
    main()
