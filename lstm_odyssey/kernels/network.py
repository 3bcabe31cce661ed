"""The loss and gradient of the paper's network on one sequence, in one C++ call
(``csrc/network_cpu.cpp``).

The network (docs/paper.md §Tasks): one LSTM layer (:func:`network_step`) or GRU layer
(:func:`gru_network_step`) of one or two directions (the second reads the sequence backwards), a
linear output layer at every step, and the loss of the sequence:
``bernoulli`` (Σ over steps and classes of the sigmoid cross-entropy), ``framewise_ce`` (Σ over
steps of the softmax cross-entropy) or ``ctc`` (the CTC loss of the log-softmax, blank 0).
Each computes forward pass, loss and every parameter's gradient with the same
operations autograd runs for the module path (``nn.LSTM`` or ``nn.Recurrent`` on the cpu backend,
``nn.Linear``, the loss), so it returns the same numbers; it is the training step at the paper's
batch size 1, where the Python modules and the autograd graph around the fused kernel cost more
than the kernel at small N.

Like :mod:`.ctc` it lives here because the build machinery does; it knows the three losses,
not the trainer (``lstm_odyssey.train`` decides when to use it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ..errors import UserError
from ..families.gru import GRUSpec
from ..variants import CellSpec
from . import build, cpu

LOSS_CODES = {"bernoulli": 0, "framewise_ce": 1, "ctc": 2}  # odyssey::LossCode in odyssey.h

# (W, R, b, p, Rg) of one direction, in the layout of lstm_odyssey.variants
DirectionParams = tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None]


class NetworkStepError(UserError, ValueError):
    """Arguments :func:`network_step` cannot take."""


def _grad(p: Tensor) -> Tensor:
    """``p.grad``, created (zeros) if it does not exist yet; the step overwrites it."""
    if p.grad is None:
        p.grad = torch.zeros_like(p)
    return p.grad


def _check(x: Tensor, directions: Sequence, loss: str, targets: Tensor) -> Tensor:
    """The arguments every network step checks; returns the targets as the C++ side takes
    them."""
    if loss not in LOSS_CODES:
        raise NetworkStepError(f"unknown loss {loss!r}; use one of {', '.join(LOSS_CODES)}")
    if len(directions) not in (1, 2):
        raise NetworkStepError(f"one or two directions, got {len(directions)}")
    if x.dim() != 2 or x.shape[0] == 0:
        raise NetworkStepError(f"x must be one sequence (T, M) with T ≥ 1, got {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise cpu.CpuInputError(f"network_step computes in float32 or float64, not {x.dtype}")
    return targets.to(x.dtype) if loss == "bernoulli" else targets


def _run(entry: str, x: Tensor, params: list[Tensor], grads: list[Tensor],
         output: tuple[Tensor, Tensor], loss: str, targets: Tensor,
         switches: list[int]) -> tuple[Tensor, Tensor, Tensor | None]:
    """Call the extension's step ``entry``; its one-line error for bad tensors."""
    Wo, bo = output
    try:
        value, logits, frames = getattr(build.load(), entry)(
            x.contiguous(), params, grads, Wo, bo, _grad(Wo), _grad(bo), LOSS_CODES[loss],
            targets, switches,
        )
    except RuntimeError as e:  # the C++ side checks devices, dtypes and shapes
        raise NetworkStepError(str(e).splitlines()[0]) from None
    return value, logits, (None if loss == "bernoulli" else frames)


def network_step(spec: CellSpec, x: Tensor, directions: Sequence[DirectionParams],
                 output: tuple[Tensor, Tensor], loss: str,
                 targets: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """Loss of one sequence and the gradient of every parameter, written into its ``.grad``
    (overwritten, not accumulated).

    Args:
        spec: the LSTM variant.
        x: the sequence (T, M), T ≥ 1, CPU, float32 or float64 like every parameter.
        directions: ``(W, R, b, p, Rg)`` of the forward and, if bidirectional, the backward
            direction (``p``/``Rg`` None where the variant has none).
        output: ``(Wo, bo)`` of the linear output layer, Wo (C, D·N).
        loss: ``bernoulli``, ``framewise_ce`` or ``ctc``.
        targets: (T, C) 0/1 floats (bernoulli), (T,) int64 classes (framewise_ce) or (L,) int64
            labels in [1, C) (ctc).

    Returns ``(loss, logits, frames)``: the summed loss (0-dim), the logits (T, C) and, except
    for bernoulli (None), the argmax class of every step (T,), as ``logits.argmax(-1)``.
    """
    targets = _check(x, directions, loss, targets)
    params: list[Tensor] = []
    grads: list[Tensor] = []
    fgr_grads = []
    for W, R, b, p, Rg in directions:
        params += [W, cpu.extended_recurrent(spec, R, Rg), b, cpu.empty_or(x, p)]
        drext = torch.empty_like(params[-3]) if spec.full_gate_recurrence else _grad(R)
        if spec.full_gate_recurrence:
            fgr_grads.append((drext, R, Rg))
        grads += [_grad(W), drext, _grad(b), _grad(p) if p is not None else x.new_empty(0)]
    step = _run("network_step", x, params, grads, output, loss, targets, cpu.switches(spec))
    for drext, R, Rg in fgr_grads:  # Rext = [R | Rg padded with zero rows for z]
        n = R.shape[1]
        _grad(R).copy_(drext[:, :n])
        _grad(Rg).copy_(drext[: Rg.shape[0], n:])
    return step


def gru_network_step(spec: GRUSpec, x: Tensor, directions: Sequence[Mapping[str, Tensor]],
                     output: tuple[Tensor, Tensor], loss: str,
                     targets: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """:func:`network_step` for a GRU layer (``csrc/gru_cpu.cpp``): ``spec`` the GRU variant's
    switch, ``directions`` the parameters of each direction keyed by the cell's names
    (``weight_ih``, ``weight_hh``, ``bias`` and, with lbr, ``bias_hn``: what
    ``Recurrent.direction_params`` returns); the rest and the result as there."""
    targets = _check(x, directions, loss, targets)
    params: list[Tensor] = []
    grads: list[Tensor] = []
    for p in directions:
        bias_hn = p.get("bias_hn")
        params += [p["weight_ih"], p["weight_hh"], p["bias"], cpu.empty_or(x, bias_hn)]
        grads += [_grad(p["weight_ih"]), _grad(p["weight_hh"]), _grad(p["bias"]),
                  _grad(bias_hn) if bias_hn is not None else x.new_empty(0)]
    return _run("gru_network_step", x, params, grads, output, loss, targets,
                [int(spec.linear_before_reset)])
