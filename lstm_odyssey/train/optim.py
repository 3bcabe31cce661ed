"""The paper's optimiser: SGD with Nesterov-style momentum and a (1 − m)-rescaled learning rate.

The update of the authors' libraries (docs/paper.md §Training protocol), for momentum m and
learning rate α, with η = (1 − m)·α::

    v ← m·v
    θ ← θ + v              (look ahead along the velocity)
    g = ∇L(θ)              (the gradient at the look-ahead point)
    v ← v − η·g
    θ ← θ − η·g

The gradient is taken *between* the two halves, so :meth:`NesterovSGD.step` takes a closure
that computes the loss and its gradient, like ``torch.optim.LBFGS``. After a step the
parameters hold θ (not the look-ahead point), so evaluation between steps sees θ.

One flat buffer per parameter group: the parameters, their gradients and velocities are views
of three contiguous vectors, so an update is the vector operations above, whatever the
number of parameter tensors (at batch size 1 a per-tensor loop cost more than the arithmetic).
On the CPU (float32/float64) each half of the update is one pass over the buffers, in C++
(``kernels/csrc/optim_cpu.cpp``: at jsb's N = 200 the three buffers are 1 MB each, beyond L2,
and the four torch ops streamed them four times), so an optimiser on the CPU loads (builds
once, if needed) the C++ extension whatever the model's backend; on other devices, or without a
C++ compiler, the four torch ops. Both round like the per-tensor update: ``v·μ`` and ``θ + v``
once each, and ``v − η·g``, ``θ − η·g`` once each (one fused multiply-add, as ATen's vectorised
loop does; its scalar tail, the last few elements of a tensor, rounds twice), so the C++ halves
equal the torch ops bit for bit except in those tail elements, which differ by at most one
rounding.

Writing into a parameter in place (``load_state_dict``, ``load_gate_weights``, ``copy_`` under
``no_grad``) keeps it a view; if a parameter's storage is replaced (``p.data = …``,
``module.to(other dtype)``) or ``grad`` is set to another tensor (``module.zero_grad()`` sets it
to None), the next :meth:`zero_grad` or :meth:`step` notices and re-flattens from the current
values (gradients included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from ..errors import UserError
from ..kernels import build


class OptimizerError(UserError, ValueError):
    """A learning rate or momentum outside the range the update is defined for, or parameters
    that cannot share one buffer."""


def _extension():
    """The C++ extension with the update's halves, or None where it cannot be built."""
    try:
        return build.load()
    except build.KernelBuildError:
        return None


class _Flat:
    """One parameter group's parameters, gradients and velocities as views of three vectors."""

    def __init__(self, params: list[Tensor], velocities: list[Tensor | None]) -> None:
        first = params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in params):
            raise OptimizerError(
                "NesterovSGD keeps a parameter group in one buffer, so its parameters need one "
                "dtype and device; convert the module (e.g. .float()) or use one group per dtype"
            )
        with torch.no_grad():
            self.theta = torch.cat([p.detach().reshape(-1) for p in params])
            self.velocity = torch.cat([
                (v if v is not None else torch.zeros_like(p)).detach().reshape(-1).to(self.theta)
                for p, v in zip(params, velocities)])
            self.grad = torch.cat([  # a gradient computed before (re-)flattening is kept
                (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(self.theta)
                for p in params])
        self.params = params
        self.velocities, self.grads = [], []
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.theta[offset:offset + n].view_as(p)
            self.velocities.append(self.velocity[offset:offset + n].view_as(p))
            self.grads.append(self.grad[offset:offset + n].view_as(p))
            p.grad = self.grads[-1]
            offset += n
        self._ptrs = [p.data_ptr() for p in params]
        on_cpu = self.theta.device.type == "cpu" and self.theta.dtype in (torch.float32,
                                                                           torch.float64)
        self.in_cpp = on_cpu and _extension() is not None  # (a bool: the optimiser pickles)

    def lookahead(self, momentum: float) -> None:
        """v ← μ·v, θ ← θ + v."""
        if self.in_cpp:
            build.load().nesterov_lookahead(self.theta, self.velocity, momentum)
        else:
            self.velocity.mul_(momentum)
            self.theta.add_(self.velocity)

    def descend(self, eta: float) -> None:
        """v ← v − η·g, θ ← θ − η·g."""
        if self.in_cpp:
            build.load().nesterov_descent(self.theta, self.velocity, self.grad, eta)
        else:
            self.velocity.sub_(self.grad, alpha=eta)
            self.theta.sub_(self.grad, alpha=eta)

    def intact(self, params: list[Tensor]) -> bool:
        """Are ``params`` still these parameters, viewing the buffer, with our gradients?"""
        return (len(params) == len(self.params)
                and all(p is q and p.data_ptr() == ptr and p.grad is g
                        for p, q, ptr, g in zip(params, self.params, self._ptrs, self.grads)))


class NesterovSGD(torch.optim.Optimizer):
    """SGD with Nesterov-style momentum, learning rate rescaled by ``1 − momentum``.

    Args:
        params: the parameters to optimise (one dtype and device per parameter group).
        lr: the learning rate α ≥ 0 (the step is ``(1 − momentum)·α`` times the gradient).
        momentum: m in [0, 1).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float) -> None:
        if not lr >= 0.0:
            raise OptimizerError(f"learning rate must be ≥ 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise OptimizerError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum})
        self._flats: list[_Flat] = []
        self._flatten()

    def _flatten(self) -> None:
        """(Re)build the flat buffers from the parameters' and velocities' current values."""
        self._flats = []
        for group in self.param_groups:
            params = group["params"]
            old = [self.state[p].get("velocity") for p in params]
            flat = _Flat(params, old)
            for p, v in zip(params, flat.velocities):
                self.state[p]["velocity"] = v
            self._flats.append(flat)

    def _ensure_flat(self) -> list[_Flat]:
        if len(self._flats) != len(self.param_groups) or not all(
                f.intact(g["params"]) for f, g in zip(self._flats, self.param_groups)):
            self._flatten()
        return self._flats

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)  # replaces the velocity tensors: gather them again
        self._flatten()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients in place (always: they are views of the flat gradient buffer,
        which autograd then accumulates into)."""
        for flat in self._ensure_flat():
            flat.grad.zero_()

    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """One update. ``closure`` zeroes the gradients, computes the loss, calls
        ``backward()`` and returns the loss; it is called once, at the look-ahead point, with
        gradients enabled. (torch.optim wraps ``step`` with its hooks and profiler record.)"""
        with torch.enable_grad():
            return self.update(closure)

    def update(self, closure: Callable[[], Tensor]) -> Tensor:
        """:meth:`step` without torch.optim's step hooks and profiler record (about 20 µs per
        update, which the trainer saves at batch size 1), and with the closure run in the
        caller's grad mode. The buffers never require gradients, so the update itself is not
        recorded by autograd in any mode."""
        flats = self._ensure_flat()
        for group, flat in zip(self.param_groups, flats):
            flat.lookahead(group["momentum"])
        loss = closure()
        for group, flat in zip(self.param_groups, self._ensure_flat()):
            flat.descend((1.0 - group["momentum"]) * group["lr"])
        return loss
