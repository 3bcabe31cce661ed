"""The paper's optimiser: SGD with Nesterov-style momentum and a (1 − m)-rescaled learning rate.

The update of the authors' libraries (PAPER.md §4), for momentum m and learning rate α, with
η = (1 − m)·α::

    v ← m·v
    θ ← θ + v              (look ahead along the velocity)
    g = ∇L(θ)              (the gradient at the look-ahead point)
    v ← v − η·g
    θ ← θ − η·g

The gradient is taken *between* the two halves, so :meth:`NesterovSGD.step` takes a closure
that computes the loss and its gradient, like ``torch.optim.LBFGS``. After a step the
parameters hold θ (not the look-ahead point), so evaluation between steps sees θ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from ..errors import UserError


class OptimizerError(UserError, ValueError):
    """A learning rate or momentum outside the range the update is defined for."""


class NesterovSGD(torch.optim.Optimizer):
    """SGD with Nesterov-style momentum, learning rate rescaled by ``1 − momentum``.

    Args:
        params: the parameters to optimise.
        lr: the learning rate α ≥ 0 (the step is ``(1 − momentum)·α`` times the gradient).
        momentum: m in [0, 1).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float) -> None:
        if not lr >= 0.0:
            raise OptimizerError(f"learning rate must be ≥ 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise OptimizerError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """One update. ``closure`` zeroes the gradients, computes the loss, calls
        ``backward()`` and returns the loss; it is called once, at the look-ahead point."""
        for group in self.param_groups:
            for p in group["params"]:
                v = self.state[p].setdefault("velocity", torch.zeros_like(p))
                v.mul_(group["momentum"])
                p.add_(v)
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            eta = (1.0 - group["momentum"]) * group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["velocity"].sub_(p.grad, alpha=eta)
                p.sub_(p.grad, alpha=eta)
        return loss
