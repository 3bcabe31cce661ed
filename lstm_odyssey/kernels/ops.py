"""The fused C++ sequence ops as PyTorch custom operators (``torch.library``), so that
``torch.compile(..., fullgraph=True)`` and ``torch.export`` see each as one node of the graph,
forward and backward.

A fused op is declared once, as a :class:`FusedOp`: its forward and backward implementations
(type-annotated wrappers around the extension's entry points; the operator schemas are inferred
from the annotations), a fake kernel for each (the shapes and dtypes of the results, for
tracing), how many of the forward's results are outputs (the rest are the activations the
backward reads) and which inputs the backward reads. :func:`register` turns it into two
operators, ``lstm_odyssey::<name>`` and ``lstm_odyssey::<name>_backward``, connected by an
autograd formula, and returns a :class:`RegisteredOp` to call.

Conventions:

- The forward's positional arguments are tensors (None for an absent optional one), the
  leading ones differentiable; its keyword-only arguments are static (e.g. the variant's
  switches) and end with ``save``: keep every step's activations for the backward (without
  them the activations it returns are empty tensors).
- The backward takes, positionally, the gradients of the outputs, the saved inputs and the
  activations; then the same static keywords (without ``save``) and ``need_dx``, whether the
  first input needs a gradient. It returns the gradients of the leading positional inputs of
  the forward, an empty tensor where there is none.

Called eagerly — not while compiling or exporting, and with no dispatch mode active (fake
tensors, ``make_fx``) — a :class:`RegisteredOp` skips the dispatcher and runs the same two
implementations and the same autograd formula through one :class:`torch.autograd.Function`:
the dispatcher's Python layers around a custom operator cost 0.25–0.45 ms per forward and
backward, 13–50 % of the fused op's time at batch size 1 and N = 100.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

NAMESPACE = "lstm_odyssey"


@dataclass(frozen=True)
class FusedOp:
    """The declaration of one fused op (see the module docstring for the conventions).

    ``outputs``: how many of the forward's results are the op's outputs; ``saves``: the names of
    the forward's arguments the backward takes (in the backward's order, before the
    activations)."""

    name: str
    forward: Callable[..., tuple[Tensor, ...]]
    forward_fake: Callable[..., tuple[Tensor, ...]]
    backward: Callable[..., tuple[Tensor, ...]]
    backward_fake: Callable[..., tuple[Tensor, ...]]
    outputs: int
    saves: tuple[str, ...]


class RegisteredOp:
    """A :class:`FusedOp` registered as two custom operators; call it like its forward without
    ``save`` (which it decides): it returns the outputs only."""

    def __init__(self, op: FusedOp) -> None:
        positional = [name for name, arg in inspect.signature(op.forward).parameters.items()
                      if arg.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        self.op = op
        self._saved = [positional.index(name) for name in op.saves]
        self.forward_op = torch.library.custom_op(f"{NAMESPACE}::{op.name}", op.forward,
                                                  mutates_args=())
        self.backward_op = torch.library.custom_op(f"{NAMESPACE}::{op.name}_backward",
                                                   op.backward, mutates_args=())
        self.forward_op.register_fake(op.forward_fake)
        self.backward_op.register_fake(op.backward_fake)
        self.forward_op.register_autograd(self._op_backward, setup_context=self._setup_context)

    def __call__(self, *inputs: Tensor | None, **static: object) -> tuple[Tensor, ...]:
        save = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs)
        # a trace, and any dispatch mode (fake tensors, make_fx, FLOP counters), sees the operator
        if torch.compiler.is_compiling() or torch._C._len_torch_dispatch_stack():
            return self.forward_op(*inputs, **static, save=save)[: self.op.outputs]
        if save:
            return _Eager.apply(self, static, *inputs)
        return self.op.forward(*inputs, **static, save=False)[: self.op.outputs]

    def keep_for_backward(self, ctx, inputs: Sequence[Tensor | None], static: dict,
                          output: Sequence[Tensor]) -> None:
        """Keep on ``ctx`` what :meth:`gradients` needs: the saved inputs, the activations and
        the static arguments."""
        ctx.static = static
        ctx.save_for_backward(*(inputs[i] for i in self._saved), *output[self.op.outputs:])

    def _setup_context(self, ctx, inputs: Sequence[Tensor | None], keyword_only_inputs: dict,
                       output: Sequence[Tensor]) -> None:
        static = dict(keyword_only_inputs)
        ctx.saved_activations = static.pop("save")
        self.keep_for_backward(ctx, inputs, static, output)
        # the activations are outputs of the operator too: no zeros for their gradients, zeros
        # made in gradients() for the outputs' missing ones instead
        ctx.set_materialize_grads(False)
        ctx.output_shapes = [o.shape for o in output[: self.op.outputs]]

    def _op_backward(self, ctx, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        if not ctx.saved_activations:
            raise ValueError(f"{self.forward_op._qualname} called with save=False kept no "
                             "activations for the backward; call it with save=True")
        return self.gradients(ctx, grads, ctx.needs_input_grad, self.backward_op)

    def gradients(self, ctx, grads: Sequence[Tensor | None], needs: Sequence[bool],
                  backward: Callable[..., tuple[Tensor, ...]]) -> tuple[Tensor | None, ...]:
        """The gradients of the forward's inputs (None where ``needs`` is false) from those of
        its outputs (None for zeros: the operator's) by ``backward``, the backward operator or
        its implementation."""
        saved = ctx.saved_tensors
        grads = grads[: self.op.outputs]
        if any(g is None for g in grads):
            grads = [saved[-1].new_zeros(shape) if g is None else g
                     for g, shape in zip(grads, ctx.output_shapes)]
        result = backward(*grads, *saved, **ctx.static, need_dx=needs[0])
        return (tuple(g if need else None for g, need in zip(result, needs))
                + (None,) * (len(needs) - len(result)))


class _Eager(torch.autograd.Function):
    """:class:`RegisteredOp`'s eager path: its forward implementation, setup and gradients."""

    @staticmethod
    def forward(ctx, op: RegisteredOp, static: dict, *inputs: Tensor | None):
        output = op.op.forward(*inputs, **static, save=True)
        op.keep_for_backward(ctx, inputs, static, output)
        ctx.op = op
        return output[: op.op.outputs]

    @staticmethod
    def backward(ctx, *grads: Tensor | None):
        op: RegisteredOp = ctx.op
        return None, None, *op.gradients(ctx, grads, ctx.needs_input_grad[2:], op.op.backward)


def register(op: FusedOp) -> RegisteredOp:
    """Register ``op`` as the custom operators ``lstm_odyssey::<name>`` and
    ``lstm_odyssey::<name>_backward`` (once per process) and return it, ready to call."""
    return RegisteredOp(op)
