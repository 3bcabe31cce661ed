"""``Recurrent``: a multi-layer network of any cell family but the LSTM (GRU, minGRU, minLSTM,
sLSTM, a user's own cell), with ``torch.nn.GRU``'s interface; conversion to and from
``torch.nn.GRU`` for ``gru+lbr``.

The cell's step is the family's (:mod:`lstm_odyssey.families`); the sequence runs on the backend
that :data:`lstm_odyssey.kernels.BACKEND_TABLE` names for the family (the GRU: its fused C++
kernel on CPU tensors; the other families: the reference, the step under autograd).
:func:`recurrent` builds an :class:`~lstm_odyssey.nn.LSTM` for the LSTM family (its fused
kernels) and a :class:`Recurrent` for every other.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .. import kernels
from ..families import LSTM_FAMILY, Variant, check_step, parse_variant
from ..variants import CellSpec
from .lstm import INITS, LSTM, InputError, _check_sizes, _repack, reverse_padded

State = Tensor | tuple[Tensor, ...]


class Recurrent(nn.Module):
    r"""A multi-layer recurrent network of one cell family's variant.

    Each layer runs the cell's step (its equations are in its family's module, e.g.
    :mod:`lstm_odyssey.families.gru`) over the sequence; layers after the first read the
    previous layer's ``h`` (both directions concatenated).

    Args:
        input_size, hidden_size, num_layers, batch_first, dropout, bidirectional:
            as in ``torch.nn.GRU``; ``hidden_size`` is N, the width of the state ``h``.
        variant: a variant name of any family but the LSTM (``"gru"``, ``"gru+lbr"``,
            ``"mingru"``, ``"minlstm"``, ``"slstm"``, ``"slstm+expf"``, a loaded user cell's
            name) or a :class:`~lstm_odyssey.families.Variant`.
        backend: ``"auto"`` or a backend that computes the family.
        init: ``"torch"`` (every parameter U(−1/√N, 1/√N)) or ``"normal"`` (N(0, init_std²)).

    Inputs: ``input, hx=None, lengths=None`` as :class:`~lstm_odyssey.nn.LSTM`; ``hx`` is the
    initial state: a tensor ``(num_layers·directions, B, N)`` for a cell whose state is ``h``
    alone, else a tuple in the order of the cell's state (each ``(L·D, B, width·N)``).

    Outputs: ``output, h_n`` (one state) or ``output, (h_n, c_n, …)``: the state after each
    sequence's last step, in the same form.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, variant: str | Variant = "gru", backend: str = "auto", init: str = "torch",
                 init_std: float = 0.1) -> None:
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
                or not 0.0 <= dropout < 1.0):
            raise InputError(f"dropout must be a number in [0, 1), got {dropout!r}")
        if init not in INITS:
            raise InputError(f"unknown init {init!r}; use one of {', '.join(INITS)}")
        kernels.check_backend_name(backend)
        self.variant = parse_variant(variant)
        if self.variant.family is LSTM_FAMILY:
            raise InputError(f"{self.variant.name} is an LSTM variant: use lstm_odyssey.LSTM "
                             "(or nn.recurrent), which runs its fused kernels")
        self.cell = self.variant.cell
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.num_directions = int(num_layers), 2 if bidirectional else 1
        self.batch_first, self.dropout, self.bidirectional = batch_first, float(dropout), \
            bidirectional
        self.backend, self.init, self.init_std = backend, init, init_std
        self._checked = self.variant.family.origin is None  # a user's cell: probe it once
        for layer in range(self.num_layers):
            m = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for direction in range(self.num_directions):
                for p in self.cell.parameters:
                    shape = p.shape(m, self.hidden_size)
                    self.register_parameter(p.name + self._suffix(layer, direction),
                                            nn.Parameter(torch.empty(shape)))
        self.reset_parameters()

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for param in self.parameters():
                if self.init == "torch":
                    bound = 1.0 / math.sqrt(self.hidden_size)
                    param.uniform_(-bound, bound)
                else:
                    param.normal_(0.0, self.init_std)

    def count_parameters(self) -> int:
        """Trainable parameters; equals :func:`lstm_odyssey.count_parameters` for this shape."""
        return sum(p.numel() for p in self.parameters())

    def direction_params(self, layer: int = 0, direction: int = 0) -> dict[str, Tensor]:
        """One layer/direction's parameters keyed by the cell's parameter names."""
        if not (0 <= layer < self.num_layers and 0 <= direction < self.num_directions):
            raise InputError(f"layer {layer}, direction {direction} does not exist: the module "
                             f"has {self.num_layers} layer(s) and {self.num_directions} "
                             "direction(s)")
        suffix = self._suffix(layer, direction)
        return {p.name: getattr(self, p.name + suffix) for p in self.cell.parameters}

    def gate_weights(self, layer: int = 0, direction: int = 0) -> dict[str, Tensor]:
        """Views of one layer/direction's parameters in the paper's notation (``W_r``,
        ``R_n``, ``b_z`` …: one block of N rows each); writing into a view (under
        ``torch.no_grad()``) changes the module."""
        n, views = self.hidden_size, {}
        params = self.direction_params(layer, direction)
        for p in self.cell.parameters:
            for k, name in enumerate(p.paper_names()):
                views[name] = params[p.name][k * n:(k + 1) * n]
        return views

    # -- forward --------------------------------------------------------------------------
    def forward(self, input: Tensor | PackedSequence, hx: State | None = None,
                lengths: Tensor | Sequence[int] | None = None):
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise InputError("pass lengths only with a padded tensor, not a PackedSequence")
            x, lengths = pad_packed_sequence(input)
            unbatched = False
        else:
            x, unbatched = input, input.dim() == 2
            if unbatched:
                x = x.unsqueeze(1)
            elif x.dim() != 3:
                raise InputError(f"{self.variant.name} expects input of shape (T, B, M) or "
                                 f"(T, M), got {tuple(x.shape)}")
            elif self.batch_first:
                x = x.transpose(0, 1)
        T, B, M = x.shape
        if M != self.input_size:
            raise InputError(f"{self.variant.name} expects {self.input_size} features per step, "
                             f"got {M}")
        lengths = LSTM._check_lengths(lengths, T, B)
        state0 = self._initial_state(hx, x, B, unbatched)

        layer_input, finals = x, []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                idx = layer * self.num_directions + direction
                params = self.direction_params(layer, direction)
                s0 = tuple(s[idx] for s in state0)
                seq = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
                if not self._checked:
                    check_step(self.variant, self.cell.step(seq[0], s0, params), B,
                               self.hidden_size)
                    self._checked = True
                y, s_n = kernels.family_sequence(self.variant, seq, params, s0, lengths,
                                                 backend=self.backend)
                outputs.append(y if direction == 0 else reverse_padded(y, lengths))
                finals.append(s_n)
            layer_input = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        state_n = tuple(torch.stack(parts) for parts in zip(*finals))

        if packed:
            output = _repack(layer_input, lengths, input)
        elif unbatched:
            output, state_n = layer_input.squeeze(1), tuple(s.squeeze(1) for s in state_n)
        else:
            output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        return output, state_n[0] if len(state_n) == 1 else state_n

    def _initial_state(self, hx: State | None, x: Tensor, B: int,
                       unbatched: bool) -> tuple[Tensor, ...]:
        ld = self.num_layers * self.num_directions
        shapes = [(s.name, (ld, B, s.width * self.hidden_size)) for s in self.cell.state]
        if hx is None:
            return tuple(x.new_zeros(shape) for _, shape in shapes)
        states = (hx,) if isinstance(hx, Tensor) else tuple(hx)
        if len(states) != len(shapes):
            raise InputError(f"hx must be ({', '.join(n for n, _ in shapes)}), got "
                             f"{len(states)} tensor(s)")
        if unbatched:
            states = tuple(s.unsqueeze(1) for s in states)
        for (name, shape), s in zip(shapes, states):
            if tuple(s.shape) != shape:
                raise InputError(f"{name}_0 must have shape {shape}, got {tuple(s.shape)}")
        return states

    # -- interoperability with torch.nn.GRU -------------------------------------------------
    def to_torch_gru(self) -> nn.GRU:
        """A ``torch.nn.GRU`` with the same function (``gru+lbr`` only: the form cuDNN and
        torch compute)."""
        if self.variant.name != "gru+lbr":
            raise InputError(f"only gru+lbr converts to torch.nn.GRU, this module is "
                             f"{self.variant.name}")
        gru = nn.GRU(self.input_size, self.hidden_size, self.num_layers, True, self.batch_first,
                     self.dropout, self.bidirectional)
        gru = gru.to(self.weight_ih_l0.device, self.weight_ih_l0.dtype)
        n = self.hidden_size
        with torch.no_grad():
            for layer in range(self.num_layers):
                for direction in range(self.num_directions):
                    suffix = self._suffix(layer, direction)
                    p = self.direction_params(layer, direction)
                    getattr(gru, f"weight_ih{suffix}").copy_(p["weight_ih"])
                    getattr(gru, f"weight_hh{suffix}").copy_(p["weight_hh"])
                    getattr(gru, f"bias_ih{suffix}").copy_(p["bias"])
                    b_hh = getattr(gru, f"bias_hh{suffix}")
                    b_hh.zero_()
                    b_hh[2 * n:].copy_(p["bias_hn"])
        return gru


def from_torch_gru(gru: nn.GRU, backend: str = "auto") -> Recurrent:
    """A ``gru+lbr`` :class:`Recurrent` computing the same function as ``gru``: the biases of
    r and z summed (``bias_ih + bias_hh``), the recurrent bias of n kept apart (``bias_hn``),
    since the reset multiplies it; a GRU without bias gets zero biases."""
    ours = Recurrent(gru.input_size, gru.hidden_size, gru.num_layers, gru.batch_first,
                     gru.dropout, gru.bidirectional, variant="gru+lbr", backend=backend)
    ours = ours.to(gru.weight_ih_l0.device, gru.weight_ih_l0.dtype)
    n = gru.hidden_size
    with torch.no_grad():
        for layer in range(ours.num_layers):
            for direction in range(ours.num_directions):
                suffix = ours._suffix(layer, direction)
                p = ours.direction_params(layer, direction)
                p["weight_ih"].copy_(getattr(gru, f"weight_ih{suffix}"))
                p["weight_hh"].copy_(getattr(gru, f"weight_hh{suffix}"))
                if gru.bias:
                    b_ih, b_hh = getattr(gru, f"bias_ih{suffix}"), getattr(gru, f"bias_hh{suffix}")
                    p["bias"].copy_(b_ih)
                    p["bias"][:2 * n] += b_hh[:2 * n]
                    p["bias_hn"].copy_(b_hh[2 * n:])
                else:
                    p["bias"].zero_()
                    p["bias_hn"].zero_()
    return ours


def recurrent(input_size: int, hidden_size: int, variant: str | CellSpec | Variant = "vanilla",
              **kwargs) -> LSTM | Recurrent:
    """The module for ``variant``: an :class:`~lstm_odyssey.nn.LSTM` for the LSTM family,
    a :class:`Recurrent` for every other; ``kwargs`` are the modules' common keywords
    (``num_layers``, ``batch_first``, ``dropout``, ``bidirectional``, ``backend``, ``init``,
    ``init_std``)."""
    v = parse_variant(variant)
    if v.family is LSTM_FAMILY:
        return LSTM(input_size, hidden_size, variant=v.spec, **kwargs)
    return Recurrent(input_size, hidden_size, variant=v, **kwargs)
