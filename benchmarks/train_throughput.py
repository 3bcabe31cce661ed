"""Training throughput at batch size 1: this project's trainer vs the plain PyTorch loop.

For every task and hidden size N, three contestants train on the same sequences, one epoch
each, in this process (one thread, float32, no input noise), interleaved in chunks of
``--chunk`` sequences (each contestant trains on chunk 1, then each on chunk 2, …, the order
rotating), so that a machine whose load drifts slows all three alike:

* ``V`` and ``NP``: this project's trainer (``train_epoch``: SequenceModel on the cpu backend,
  NesterovSGD, the training metric on the fly), exactly as ``lstm-odyssey train`` runs it;
* ``plain``: the loop a user would write: ``torch.nn.LSTM`` (oneDNN; it computes NP) +
  ``nn.Linear``, ``torch.optim.SGD(nesterov=True)``, the same loss, one sequence per update.

The clock is the thread's CPU time (``time.thread_time``), so time spent descheduled on a
loaded machine is not counted. The table shows sequences/second, each trainer's epoch time as a
ratio to the plain loop's (the goal: V ≤ 1/3 at N = 63, ≤ 1/2 at N = 20 and 200), and the
share of V's epoch spent inside the fused LSTM kernel (its forward and backward calls for every
direction, timed alone on the same sequences with the trained weights: the trainer makes these
calls inside its one C++ step per sequence, where they cannot be timed from Python).

    python benchmarks/train_throughput.py [--tasks jsb,timit-synth,handwriting-synth]
        [--sizes 20,63,200] [--epochs 1] [--sequences 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lstm_odyssey.kernels import build, cpu
from lstm_odyssey.tasks import Split, load_task
from lstm_odyssey.train import NesterovSGD, SequenceModel, TrainConfig
from lstm_odyssey.train.data import SequenceSet
from lstm_odyssey.train.loop import train_epoch

SIZES = {"jsb": "full", "timit-synth": "demo", "handwriting-synth": "demo"}
LR, MOMENTUM = 1e-3, 0.9

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--tasks", default=",".join(SIZES))
parser.add_argument("--sizes", default="20,63,200", help="hidden sizes N")
parser.add_argument("--epochs", type=int, default=1, help="interleaved epochs per contestant")
parser.add_argument("--sequences", type=int, default=0,
                    help="training sequences per epoch (0 = the whole split)")
parser.add_argument("--chunk", type=int, default=10, help="sequences per interleaved turn")
parser.add_argument("--json", action="store_true", help="print one JSON object instead")
args = parser.parse_args()
torch.set_num_threads(1)

# -- the fused kernel's own time: its forward and backward calls on the same sequences -----------
ext = build.load()


def kernel_seconds(model: SequenceModel, data: SequenceSet) -> float:
    """Thread CPU time of the LSTM kernel's forward and backward calls (every direction) for one
    epoch of ``model`` over ``data``: the calls the fused training step makes, timed alone."""
    lstm = model.lstm
    sw = cpu.switches(lstm.spec)
    zeros = torch.zeros(1, lstm.hidden_size)
    none = torch.empty(0, dtype=torch.int64)
    total = 0.0
    with torch.no_grad():
        for x in data.inputs:
            x = x.unsqueeze(1)
            for d in range(lstm.num_directions):
                W, R, b, p, Rg = lstm.direction_params(0, d)
                rext, pc = cpu.extended_recurrent(lstm.spec, R, Rg), cpu.empty_or(x, p)
                xd = x if d == 0 else x.flip(0)
                t0 = time.thread_time()
                y, h, c, S, C = ext.forward(xd, W, rext, b, pc, zeros, zeros, none, sw, True)
                ext.backward(y, h, c, xd, W, rext, pc, S, C, none, sw, False)
                total += time.thread_time() - t0
    return total


# -- the contestants: each returns a function that trains one epoch over `data` ----------------
def project_trainer(task, variant: str, hidden: int):
    config = TrainConfig(task=task.name, variant=variant, hidden_size=hidden, learning_rate=LR,
                         momentum=MOMENTUM, input_noise=0.0, backend="cpu")
    torch.manual_seed(0)
    model = SequenceModel.for_task(task, hidden, variant, "cpu")
    optimizer = NesterovSGD(model.parameters(), LR, MOMENTUM)
    rng, noise = np.random.default_rng(0), torch.Generator().manual_seed(0)

    def epoch(data: SequenceSet) -> None:
        train_epoch(model, optimizer, data, config, rng, noise, math.inf)
    return epoch, model


def plain_loss(kind: str, logits, y):
    """The task's loss of one sequence, written the way a user would."""
    if kind == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, y, reduction="sum")
    if kind == "framewise_ce":
        return F.cross_entropy(logits, y, reduction="sum")
    log_probs = F.log_softmax(logits, -1).unsqueeze(1)
    return F.ctc_loss(log_probs, y.unsqueeze(0), [len(logits)], [len(y)], reduction="sum")


def plain_trainer(task, hidden: int):
    torch.manual_seed(0)
    lstm = nn.LSTM(task.input_size, hidden, bidirectional=task.bidirectional)
    output = nn.Linear(hidden * (2 if task.bidirectional else 1), task.num_classes)
    params = [*lstm.parameters(), *output.parameters()]
    optimizer = torch.optim.SGD(params, lr=LR * (1 - MOMENTUM), momentum=MOMENTUM, nesterov=True)
    rng = np.random.default_rng(0)

    def epoch(data: SequenceSet) -> None:
        total = 0.0
        for i in rng.permutation(len(data)):
            x, y = data.inputs[i], data.targets[i]
            optimizer.zero_grad()
            h, _ = lstm(x.unsqueeze(1))
            loss = plain_loss(data.loss, output(h.squeeze(1)), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
    return epoch


# -- measure: per task and N, each contestant's epochs in interleaved chunks -----------------
def subset(task, start: int, stop: int) -> SequenceSet:
    split = task.train
    return SequenceSet(Split(split.inputs[start:stop], split.targets[start:stop]), task.loss)


rows = []
for name in args.tasks.split(","):
    task = load_task(name, size=SIZES.get(name, "demo"))
    n = args.sequences or len(task.train)
    data = subset(task, 0, n)
    chunks = [subset(task, i, min(i + args.chunk, n)) for i in range(0, n, args.chunk)]
    warm = subset(task, 0, 2)
    for hidden in (int(s) for s in args.sizes.split(",")):
        (v_epoch, v_model), (np_epoch, np_model) = (project_trainer(task, v, hidden)
                                                    for v in ("V", "NP"))
        contestants = {"plain": plain_trainer(task, hidden), "V": v_epoch, "NP": np_epoch}
        seconds = dict.fromkeys(contestants, 0.0)
        for epoch in contestants.values():
            epoch(warm)
        order = list(contestants)
        for turn, chunk in enumerate(chunks * args.epochs):
            for who in order[turn % 3:] + order[:turn % 3]:
                t0 = time.thread_time()
                contestants[who](chunk)
                seconds[who] += time.thread_time() - t0
        kernel = {who: args.epochs * kernel_seconds(model, data)
                  for who, model in (("V", v_model), ("NP", np_model))}
        rate = {who: args.epochs * n / s for who, s in seconds.items()}
        rows.append({
            "task": name, "hidden": hidden, "sequences": n,
            "mean_length": float(data.lengths.mean()),
            "seq_per_s": rate,
            "V_over_plain": seconds["V"] / seconds["plain"],
            "NP_over_plain": seconds["NP"] / seconds["plain"],
            "kernel_share_V": kernel["V"] / seconds["V"],
            "kernel_share_NP": kernel["NP"] / seconds["NP"],
        })
        if not args.json:
            r = rows[-1]
            if len(rows) == 1:
                print(f"{args.epochs} epoch(s) per contestant, batch 1, 1 thread, float32, "
                      "thread CPU time; ratios = epoch time ÷ the plain loop's")
                print(f"{'task':18s} {'N':>4s} {'seqs':>5s} {'plain seq/s':>11s} "
                      f"{'V seq/s':>8s} {'NP seq/s':>8s} {'V/plain':>8s} {'NP/plain':>8s} "
                      f"{'kernel % V':>10s}")
            print(f"{name:18s} {hidden:4d} {n:5d} {rate['plain']:11.1f} {rate['V']:8.1f} "
                  f"{rate['NP']:8.1f} {r['V_over_plain']:8.2f} {r['NP_over_plain']:8.2f} "
                  f"{100 * r['kernel_share_V']:9.0f}%", flush=True)

if args.json:
    print(json.dumps({"threads": 1, "epochs": args.epochs, "clock": "thread_time",
                      "rows": rows}, indent=1))
