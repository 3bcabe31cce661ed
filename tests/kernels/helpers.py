"""Random parameters in the shared layout and a side-by-side runner for kernel tests."""

from __future__ import annotations

import torch
from torch import Tensor

from lstm_odyssey.variants import PRESETS, CellSpec

# Every preset plus two combinations (the Cho-style coupled LSTM, and FGR without an input
# gate and with identity output activation, which exercises FGR's gate bookkeeping).
SPECS = {**PRESETS, "CIFG+NP": CellSpec.parse("cifg+np"),
         "NIG+NOAF+FGR": CellSpec.parse("nig+noaf+fgr")}


def make_inputs(
    spec: CellSpec, T: int, B: int, M: int, N: int, dtype: torch.dtype = torch.float64,
    seed: int = 0, scale: float = 0.5,
) -> list[Tensor | None]:
    """``[x, W, R, b, p, Rg, h0, c0]`` with random values, all requiring grad."""
    g = torch.Generator().manual_seed(seed)
    K, G = len(spec.blocks), len(spec.gates)

    def rand(*shape: int) -> Tensor:
        return (torch.randn(*shape, generator=g, dtype=dtype) * scale).requires_grad_()

    p = rand(len(spec.peephole_gates) * N) if spec.peephole_gates else None
    Rg = rand(G * N, G * N) if spec.full_gate_recurrence else None
    x = (torch.randn(T, B, M, generator=g, dtype=dtype)).requires_grad_()
    return [x, rand(K * N, M), rand(K * N, N), rand(K * N), p, Rg, rand(B, N), rand(B, N)]


def outputs_and_grads(
    fn, spec: CellSpec, inputs: list[Tensor | None], lengths: Tensor | None, seed: int = 1,
) -> tuple[list[Tensor], list[Tensor]]:
    """Run ``fn`` and backpropagate fixed random weights of all three outputs; returns the
    outputs and the gradients of every input that is not None."""
    outs = fn(spec, *inputs, lengths)
    g = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    present = [t for t in inputs if t is not None]
    return [o.detach() for o in outs], list(torch.autograd.grad(loss, present))


def rel_err(a: Tensor, b: Tensor) -> float:
    """Normwise relative error ‖a − b‖ / ‖b‖ (absolute when b is zero)."""
    den = b.norm().item()
    return (a - b).norm().item() / (den if den > 0 else 1.0)
