"""Training throughput at batch size 1: this project's trainer vs the plain PyTorch loop.

For every task and hidden size N, the contestants train on the same sequences, one epoch
each, in this process (one thread, float32, no input noise), interleaved in chunks of
``--chunk`` sequences (each contestant trains on chunk 1, then each on chunk 2, …, the order
rotating), so that a machine whose load drifts slows all of them alike:

* two variants of the family (``--family lstm``: ``V`` and ``NP``; ``gru``: ``gru+lbr`` and
  ``gru``) in this project's trainer (``train_epoch``: SequenceModel on the cpu backend,
  NesterovSGD, the training metric on the fly), exactly as ``lstm-odyssey train`` runs it;
* with ``--reference``, the first of them in the same trainer on the reference backend (the
  module path under autograd, the step in Python);
* ``plain``: the loop a user would write: ``torch.nn.LSTM`` (oneDNN; it computes NP) or
  ``torch.nn.GRU`` (it computes gru+lbr) + ``nn.Linear``, ``torch.optim.SGD(nesterov=True)``,
  the same loss, one sequence per update.

The clock is the thread's CPU time (``time.thread_time``), so time spent descheduled on a
loaded machine is not counted. The table shows sequences/second, each trainer's epoch time as a
ratio to the plain loop's (the goal for the LSTM: V ≤ 1/3 at N = 63, ≤ 1/2 at N = 20 and 200),
and the share of the first variant's epoch spent inside its fused kernel (its forward and
backward calls for every direction, timed alone on the same sequences with the trained weights:
the trainer makes these calls inside its one C++ step per sequence, where they cannot be timed
from Python).

    python benchmarks/train_throughput.py [--family lstm|gru] [--reference]
        [--tasks jsb,timit-synth,handwriting-synth] [--sizes 20,63,200] [--epochs 1]
        [--sequences 0] [--json]
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
FAMILIES = {"lstm": (("V", "NP"), nn.LSTM), "gru": (("gru+lbr", "gru"), nn.GRU)}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--family", choices=FAMILIES, default="lstm")
parser.add_argument("--reference", action="store_true",
                    help="also the first variant's trainer on the reference backend")
parser.add_argument("--tasks", default=",".join(SIZES))
parser.add_argument("--sizes", default="20,63,200", help="hidden sizes N")
parser.add_argument("--epochs", type=int, default=1, help="interleaved epochs per contestant")
parser.add_argument("--sequences", type=int, default=0,
                    help="training sequences per epoch (0 = the whole split)")
parser.add_argument("--chunk", type=int, default=10, help="sequences per interleaved turn")
parser.add_argument("--json", action="store_true", help="print one JSON object instead")
args = parser.parse_args()
torch.set_num_threads(1)
VARIANTS, PLAIN_RNN = FAMILIES[args.family]

# -- the fused kernel's own time: its forward and backward calls on the same sequences -----------
ext = build.load()
NO_LENGTHS = torch.empty(0, dtype=torch.int64)


def lstm_calls(rnn, d: int, x: torch.Tensor, zeros: torch.Tensor) -> None:
    """The LSTM kernel's forward and backward calls for direction ``d`` over ``x`` (T, 1, M)."""
    sw = cpu.switches(rnn.spec)
    W, R, b, p, Rg = rnn.direction_params(0, d)
    rext, pc = cpu.extended_recurrent(rnn.spec, R, Rg), cpu.empty_or(x, p)
    y, h, c, S, C = ext.forward(x, W, rext, b, pc, zeros, zeros, NO_LENGTHS, sw, True)
    ext.backward(y, h, c, x, W, rext, pc, S, C, NO_LENGTHS, sw, False)


def gru_calls(rnn, d: int, x: torch.Tensor, zeros: torch.Tensor) -> None:
    """The GRU kernel's forward and backward calls for direction ``d`` over ``x`` (T, 1, M)."""
    lbr = rnn.variant.spec.linear_before_reset
    p = rnn.direction_params(0, d)
    W, R = p["weight_ih"], p["weight_hh"]
    y, h, S = ext.gru_forward(x, W, R, p["bias"], cpu.empty_or(x, p.get("bias_hn")), zeros,
                              NO_LENGTHS, lbr, True)
    ext.gru_backward(y, h, x, W, R, S, NO_LENGTHS, lbr, False)


def kernel_seconds(model: SequenceModel, data: SequenceSet) -> float:
    """Thread CPU time of the fused kernel's forward and backward calls (every direction) for
    one epoch of ``model`` over ``data``: the calls the fused training step makes, timed
    alone."""
    rnn = model.lstm
    calls = lstm_calls if args.family == "lstm" else gru_calls
    zeros = torch.zeros(1, rnn.hidden_size)
    total = 0.0
    with torch.no_grad():
        for x in data.inputs:
            x = x.unsqueeze(1)
            for d in range(rnn.num_directions):
                xd = x if d == 0 else x.flip(0)
                t0 = time.thread_time()
                calls(rnn, d, xd, zeros)
                total += time.thread_time() - t0
    return total


# -- the contestants: each returns a function that trains one epoch over `data` ----------------
def project_trainer(task, variant: str, hidden: int, backend: str = "cpu"):
    config = TrainConfig(task=task.name, variant=variant, hidden_size=hidden, learning_rate=LR,
                         momentum=MOMENTUM, input_noise=0.0, backend=backend)
    torch.manual_seed(0)
    model = SequenceModel.for_task(task, hidden, variant, backend)
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
    rnn = PLAIN_RNN(task.input_size, hidden, bidirectional=task.bidirectional)
    output = nn.Linear(hidden * (2 if task.bidirectional else 1), task.num_classes)
    params = [*rnn.parameters(), *output.parameters()]
    optimizer = torch.optim.SGD(params, lr=LR * (1 - MOMENTUM), momentum=MOMENTUM, nesterov=True)
    rng = np.random.default_rng(0)

    def epoch(data: SequenceSet) -> None:
        total = 0.0
        for i in rng.permutation(len(data)):
            x, y = data.inputs[i], data.targets[i]
            optimizer.zero_grad()
            h, _ = rnn(x.unsqueeze(1))
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
        trainers = {v: project_trainer(task, v, hidden) for v in VARIANTS}
        if args.reference:
            trainers[f"{VARIANTS[0]} ref"] = project_trainer(task, VARIANTS[0], hidden,
                                                             "reference")
        contestants = {"plain": plain_trainer(task, hidden)}
        contestants.update({who: epoch for who, (epoch, _) in trainers.items()})
        seconds = dict.fromkeys(contestants, 0.0)
        for epoch in contestants.values():
            epoch(warm)
        order = list(contestants)
        for turn, chunk in enumerate(chunks * args.epochs):
            k = turn % len(order)
            for who in order[k:] + order[:k]:
                t0 = time.thread_time()
                contestants[who](chunk)
                seconds[who] += time.thread_time() - t0
        kernel = {v: args.epochs * kernel_seconds(trainers[v][1], data) for v in VARIANTS}
        rate = {who: args.epochs * n / s for who, s in seconds.items()}
        rows.append({
            "task": name, "hidden": hidden, "sequences": n,
            "mean_length": float(data.lengths.mean()),
            "seq_per_s": rate,
            **{f"{who}_over_plain": seconds[who] / seconds["plain"] for who in trainers},
            **{f"kernel_share_{v}": kernel[v] / seconds[v] for v in VARIANTS},
        })
        if not args.json:
            r = rows[-1]
            if len(rows) == 1:
                print(f"{args.epochs} epoch(s) per contestant, batch 1, 1 thread, float32, "
                      "thread CPU time; ratios = epoch time ÷ the plain loop's "
                      f"(torch.nn.{PLAIN_RNN.__name__})")
                print(f"{'task':18s} {'N':>4s} {'seqs':>5s} {'plain seq/s':>11s} "
                      + "".join(f" {who + ' seq/s':>17s} {who + '/plain':>17s}"
                                for who in trainers)
                      + f" {'kernel % ' + VARIANTS[0]:>15s}")
            print(f"{name:18s} {hidden:4d} {n:5d} {rate['plain']:11.1f} "
                  + "".join(f" {rate[who]:17.1f} {r[who + '_over_plain']:17.2f}"
                            for who in trainers)
                  + f" {100 * r['kernel_share_' + VARIANTS[0]]:14.0f}%", flush=True)

if args.json:
    print(json.dumps({"family": args.family, "threads": 1, "epochs": args.epochs,
                      "clock": "thread_time", "rows": rows}, indent=1))
