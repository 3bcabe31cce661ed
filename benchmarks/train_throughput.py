"""Training throughput: sequences per second of a training epoch, reference vs fused backend.

The paper's setting: ``jsb`` (demo size), hidden size 100, one sequence per update, vanilla
LSTM. Every available backend for the device trains the same sequences in the same process,
and the table shows each one's ratio to the reference backend.

    python benchmarks/train_throughput.py [--sequences N] [--hidden 100] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from lstm_odyssey import kernels
from lstm_odyssey.tasks import Split, load_task
from lstm_odyssey.train import NesterovSGD, SequenceModel, TrainConfig
from lstm_odyssey.train.data import SequenceSet
from lstm_odyssey.train.loop import train_epoch


def epoch_rate(task, config: TrainConfig, data: SequenceSet) -> float:
    """Sequences per second of one training epoch over ``data``."""
    torch.manual_seed(config.seed)
    model = SequenceModel.for_task(task, config.hidden_size, config.variant, config.backend,
                                   config.init_std).to(config.device)
    optimizer = NesterovSGD(model.parameters(), config.learning_rate, config.momentum)
    rng, noise = np.random.default_rng(0), torch.Generator().manual_seed(0)
    start = time.perf_counter()
    train_epoch(model, optimizer, data, config, rng, noise, deadline=math.inf)
    if config.device.startswith("cuda"):
        torch.cuda.synchronize()
    return len(data) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="jsb")
    parser.add_argument("--sequences", type=int, default=0,
                        help="training sequences per epoch (0 = the whole split)")
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--variant", default="V")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    task = load_task(args.task, size="demo")
    n = args.sequences or len(task.train)
    data = SequenceSet(Split(task.train.inputs[:n], task.train.targets[:n]), task.loss)
    backends = kernels.available_backends(torch.device(args.device).type)
    print(f"{args.task}: {n} sequences (mean length {data.lengths.mean():.0f}), "
          f"hidden {args.hidden}, variant {args.variant}, batch size 1, {args.device}, "
          f"{args.threads} thread(s)")
    rates = {}
    for backend in backends:
        config = TrainConfig(task=args.task, variant=args.variant, hidden_size=args.hidden,
                             learning_rate=1e-3, momentum=0.9, input_noise=0.0,
                             backend=backend, device=args.device)
        epoch_rate(task, config, SequenceSet(Split(task.train.inputs[:2],
                                                   task.train.targets[:2]), task.loss))  # warm-up
        rates[backend] = epoch_rate(task, config, data)
    print(f"{'backend':10s} {'seq/s':>8s} {'vs reference':>13s}")
    for backend, rate in rates.items():
        print(f"{backend:10s} {rate:8.1f} {rate / rates['reference']:12.2f}x")


if __name__ == "__main__":
    main()
