"""``LSTM`` and ``LSTMCell``: drop-in replacements for ``torch.nn.LSTM``/``LSTMCell`` that
compute any variant of "LSTM: A Search Space Odyssey".

Parameters follow the layout of :mod:`lstm_odyssey.variants` (blocks ``i f o z``, one bias per
block); :meth:`LSTM.gate_weights` shows them in the paper's notation.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .. import kernels
from ..errors import UserError
from ..kernels.reference import cell_step
from ..variants import CellSpec

INITS = ("torch", "normal")


class InputError(UserError, ValueError):
    """Inputs that do not fit the module (wrong feature size, bad lengths, bad state shape)."""


def _check_sizes(**sizes: object) -> None:
    """Each of ``sizes`` (name → value) must be a positive integer; ``True`` is not one."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")


# -- parameters of one layer and direction -----------------------------------------------------

def _register_params(
    module: nn.Module, suffix: str, spec: CellSpec, m: int, n: int, bias: bool
) -> None:
    """Create W, R, b, p, Rg for one layer/direction, named like torch.nn.LSTM's parameters."""
    k = len(spec.blocks)
    module.register_parameter(f"weight_ih{suffix}", nn.Parameter(torch.empty(k * n, m)))
    module.register_parameter(f"weight_hh{suffix}", nn.Parameter(torch.empty(k * n, n)))
    if bias:
        module.register_parameter(f"bias{suffix}", nn.Parameter(torch.empty(k * n)))
    if spec.peephole_gates:
        module.register_parameter(
            f"peephole{suffix}", nn.Parameter(torch.empty(len(spec.peephole_gates) * n))
        )
    if spec.full_gate_recurrence:
        g = len(spec.gates) * n
        module.register_parameter(f"weight_gh{suffix}", nn.Parameter(torch.empty(g, g)))


def _params(module: nn.Module, suffix: str) -> tuple:
    """``(W, R, b, p, Rg)`` of one layer/direction; a missing bias is a zero vector."""
    W = getattr(module, f"weight_ih{suffix}")
    b = getattr(module, f"bias{suffix}", None)
    if b is None:
        b = W.new_zeros(W.shape[0])
    return (
        W,
        getattr(module, f"weight_hh{suffix}"),
        b,
        getattr(module, f"peephole{suffix}", None),
        getattr(module, f"weight_gh{suffix}", None),
    )


def _gate_views(spec: CellSpec, n: int, W: Tensor, R: Tensor, b: Tensor | None,
                p: Tensor | None, Rg: Tensor | None) -> dict[str, Tensor]:
    """The parameters in the paper's notation, as views: ``W_z`` is N×M, ``R_z`` N×N, ``b_z``
    and ``p_i`` length N, and with FGR ``R_fi`` (previous f into i) N×N."""
    views: dict[str, Tensor] = {}
    for k, blk in enumerate(spec.blocks):
        rows = slice(k * n, (k + 1) * n)
        views[f"W_{blk}"] = W[rows]
        views[f"R_{blk}"] = R[rows]
        if b is not None:
            views[f"b_{blk}"] = b[rows]
    for k, gate in enumerate(spec.peephole_gates):
        views[f"p_{gate}"] = p[k * n:(k + 1) * n]
    if Rg is not None:
        for dst_k, dst in enumerate(spec.gates):
            for src_k, src in enumerate(spec.gates):
                views[f"R_{src}{dst}"] = Rg[dst_k * n:(dst_k + 1) * n, src_k * n:(src_k + 1) * n]
    order = ["W_", "R_", "p_", "b_"]
    return dict(sorted(views.items(), key=lambda kv: (order.index(kv[0][:2]), len(kv[0]))))


def _load_gate_views(views: dict[str, Tensor], values: dict[str, Tensor]) -> None:
    unknown = sorted(set(values) - set(views))
    if unknown:
        raise InputError(
            f"unknown gate weight(s) {', '.join(unknown)} for this variant; "
            f"it has {', '.join(views)}"
        )
    with torch.no_grad():
        for key, value in values.items():
            value = torch.as_tensor(value)
            if value.shape != views[key].shape:
                raise InputError(
                    f"{key} must have shape {tuple(views[key].shape)}, got {tuple(value.shape)}"
                )
            views[key].copy_(value)


def _init_params(module: nn.Module, spec: CellSpec, n: int, init: str, init_std: float,
                 forget_bias: float, suffixes: Sequence[str]) -> None:
    """torch's default U(−1/√N, 1/√N) or the paper's N(0, init_std²); then b_f += forget_bias."""
    if init not in INITS:
        raise InputError(f"unknown init {init!r}; use one of {', '.join(INITS)}")
    with torch.no_grad():
        for param in module.parameters():
            if init == "torch":
                bound = 1.0 / math.sqrt(n)
                param.uniform_(-bound, bound)
            else:
                param.normal_(0.0, init_std)
        if forget_bias and spec.has_f_weights:
            for suffix in suffixes:
                b = getattr(module, f"bias{suffix}", None)
                if b is not None:
                    f = spec.blocks.index("f")
                    b[f * n:(f + 1) * n] += forget_bias


# -- the sequence module ------------------------------------------------------------------------

class LSTM(nn.Module):
    r"""A multi-layer LSTM of any Search-Space-Odyssey variant, with ``torch.nn.LSTM``'s interface.

    For each element of the input sequence each layer computes (vanilla variant)::

        z_t = g(W_z x_t + R_z y_{t-1} + b_z)
        i_t = σ(W_i x_t + R_i y_{t-1} + p_i ⊙ c_{t-1} + b_i)
        f_t = σ(W_f x_t + R_f y_{t-1} + p_f ⊙ c_{t-1} + b_f)
        c_t = z_t ⊙ i_t + c_{t-1} ⊙ f_t
        o_t = σ(W_o x_t + R_o y_{t-1} + p_o ⊙ c_t + b_o)
        y_t = h(c_t) ⊙ o_t

    with g = h = tanh; ``variant`` removes or changes parts (see :class:`CellSpec`).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional:
            as in ``torch.nn.LSTM`` (one bias vector per block instead of two).
        variant: a :class:`CellSpec` or a name such as ``"vanilla"``, ``"NP"``, ``"cifg+np"``.
        backend: ``"auto"`` (fastest available for the input's device) or a backend name from
            :data:`lstm_odyssey.kernels.BACKENDS`.
        init: ``"torch"`` (U(−1/√N, 1/√N), torch's default) or ``"normal"`` (N(0, init_std²),
            the paper's).
        forget_bias: added to the forget-gate bias after initialisation.

    Inputs: ``input, hx=None, lengths=None``
        ``input`` is ``(T, B, M)`` (``(B, T, M)`` with ``batch_first``), ``(T, M)`` unbatched, or
        a ``PackedSequence``. ``lengths`` (B,) marks the valid steps of a padded batch: outputs
        past a sequence's end are zero, the final state is the one at its last step and the
        backward direction reads each sequence from its own end. ``hx = (h_0, c_0)``, each
        ``(num_layers·directions, B, N)``, default zeros.

    Outputs: ``output, (h_n, c_n)`` exactly as ``torch.nn.LSTM``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        variant: str | CellSpec = "vanilla",
        backend: str = "auto",
        init: str = "torch",
        init_std: float = 0.1,
        forget_bias: float = 0.0,
    ) -> None:
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
                or not 0.0 <= dropout < 1.0):
            raise InputError(f"dropout must be a number in [0, 1), got {dropout!r}")
        kernels.check_backend_name(backend)  # whether it runs depends on the input's device
        self.spec = CellSpec.parse(variant)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        self.backend = backend
        self.num_directions = 2 if bidirectional else 1
        for layer in range(self.num_layers):
            m = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for direction in range(self.num_directions):
                _register_params(self, self._suffix(layer, direction), self.spec, m,
                                 self.hidden_size, bias)
        self.init, self.init_std, self.forget_bias = init, init_std, forget_bias
        self.reset_parameters()

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _suffixes(self) -> list[str]:
        return [self._suffix(layer, d) for layer in range(self.num_layers)
                for d in range(self.num_directions)]

    def reset_parameters(self) -> None:
        _init_params(self, self.spec, self.hidden_size, self.init, self.init_std,
                     self.forget_bias, self._suffixes())

    @property
    def variant(self) -> str:
        return self.spec.name

    def count_parameters(self) -> int:
        """Trainable parameters; equals :func:`lstm_odyssey.count_parameters` for this shape
        (which counts the biases: with ``bias=False`` this is ``K·N`` less per layer and
        direction)."""
        return sum(p.numel() for p in self.parameters())

    # -- paper-notation access ------------------------------------------------------------
    def gate_weights(self, layer: int = 0, direction: int = 0) -> dict[str, Tensor]:
        """Views of one layer/direction's parameters keyed ``W_z … R_oo`` (see :func:`_gate_views`);
        writing into a view (under ``torch.no_grad()``) changes the module."""
        self._check_layer(layer, direction)
        W, R, _, p, Rg = _params(self, self._suffix(layer, direction))
        b = getattr(self, f"bias{self._suffix(layer, direction)}", None)
        return _gate_views(self.spec, self.hidden_size, W, R, b, p, Rg)

    def load_gate_weights(self, values: dict[str, Tensor], layer: int = 0,
                          direction: int = 0) -> None:
        """Set parameters from a dict in the paper's notation (any subset of the keys)."""
        _load_gate_views(self.gate_weights(layer, direction), values)

    def direction_params(self, layer: int = 0, direction: int = 0) -> tuple:
        """``(W, R, b, p, Rg)`` of one layer/direction in the layout the kernels take
        (:mod:`lstm_odyssey.variants`); ``p``/``Rg`` None where the variant has none, ``b`` a
        zero vector without bias."""
        self._check_layer(layer, direction)
        return _params(self, self._suffix(layer, direction))

    def _check_layer(self, layer: int, direction: int) -> None:
        if not (0 <= layer < self.num_layers and 0 <= direction < self.num_directions):
            raise InputError(
                f"layer {layer}, direction {direction} does not exist: the module has "
                f"{self.num_layers} layer(s) and {self.num_directions} direction(s)"
            )

    # -- forward ----------------------------------------------------------------------------
    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | Sequence[int] | None = None,
    ):
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise InputError("pass lengths only with a padded tensor, not a PackedSequence")
            x, lengths = pad_packed_sequence(input)
            unbatched = False
        else:
            x = input
            unbatched = x.dim() == 2
            if unbatched:
                x = x.unsqueeze(1)
            elif x.dim() != 3:
                raise InputError(
                    f"LSTM expects input of shape (T, B, M) or (T, M), got {tuple(x.shape)}"
                )
            elif self.batch_first:
                x = x.transpose(0, 1)
        T, B, M = x.shape
        if M != self.input_size:
            raise InputError(f"LSTM expects {self.input_size} features per step, got {M}")
        lengths = self._check_lengths(lengths, T, B)
        h0, c0 = self._initial_state(hx, x, B, unbatched)

        layer_input, h_n, c_n = x, [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                idx = layer * self.num_directions + direction
                W, R, b, p, Rg = _params(self, self._suffix(layer, direction))
                seq = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
                y, h, c = kernels.lstm_sequence(self.spec, seq, W, R, b, p, Rg, h0[idx], c0[idx],
                                                lengths, backend=self.backend)
                outputs.append(y if direction == 0 else reverse_padded(y, lengths))
                h_n.append(h)
                c_n.append(c)
            layer_input = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        h_n, c_n = torch.stack(h_n), torch.stack(c_n)

        if packed:
            return _repack(layer_input, lengths, input), (h_n, c_n)
        if unbatched:
            return layer_input.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        return output, (h_n, c_n)

    @staticmethod
    def _check_lengths(lengths, T: int, B: int) -> Tensor | None:
        """``lengths`` as an int64 tensor of B entries in [1, T], None if every one is T (under
        torch.compile the range is checked as the graph runs, and the tensor is kept)."""
        if lengths is None:
            return None
        try:
            lengths = torch.as_tensor(lengths, device="cpu").reshape(-1)
        except (TypeError, ValueError, RuntimeError):
            raise InputError(f"lengths must be a sequence of B integers, got {lengths!r}") from None
        dtype = lengths.dtype
        if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
            raise InputError(f"lengths must be integers (the valid steps of each sequence), "
                             f"got {lengths.dtype}")
        lengths = lengths.to(torch.int64)
        if lengths.numel() != B:
            raise InputError(f"lengths has {lengths.numel()} entries for a batch of {B}")
        if torch.compiler.is_compiling():  # no data-dependent branch in a graph: checked as it runs
            torch._assert_async(((lengths >= 1) & (lengths <= T)).all(),
                                "lengths must lie in [1, T], T the padded length")
            return lengths
        if int(lengths.min()) < 1 or int(lengths.max()) > T:
            raise InputError(
                f"lengths must lie in [1, {T}] (the padded length), got min {int(lengths.min())} "
                f"and max {int(lengths.max())}"
            )
        return None if bool((lengths == T).all()) else lengths

    def _initial_state(self, hx, x: Tensor, B: int, unbatched: bool) -> tuple[Tensor, Tensor]:
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        if hx is None:
            zeros = x.new_zeros(shape)
            return zeros, zeros
        h0, c0 = hx
        if unbatched:
            h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        for name, s in (("h_0", h0), ("c_0", c0)):
            if tuple(s.shape) != shape:
                raise InputError(f"{name} must have shape {shape}, got {tuple(s.shape)}")
        return h0, c0

    # -- interoperability with torch.nn.LSTM ------------------------------------------------
    def to_torch_lstm(self) -> nn.LSTM:
        """A ``torch.nn.LSTM`` with the same function (NP variant only: the one vendors compute)."""
        if self.spec != CellSpec.parse("NP"):
            raise InputError(
                f"only the NP variant converts to torch.nn.LSTM, this module is {self.spec.name}"
            )
        lstm = nn.LSTM(self.input_size, self.hidden_size, self.num_layers, self.bias,
                       self.batch_first, self.dropout, self.bidirectional)
        lstm = lstm.to(self.weight_ih_l0.device, self.weight_ih_l0.dtype)
        rows = _swap_z_and_o(self.hidden_size)
        with torch.no_grad():
            for suffix in self._suffixes():
                W, R, b, _, _ = _params(self, suffix)
                getattr(lstm, f"weight_ih{suffix}").copy_(W[rows])
                getattr(lstm, f"weight_hh{suffix}").copy_(R[rows])
                if self.bias:
                    getattr(lstm, f"bias_ih{suffix}").copy_(b[rows])
                    getattr(lstm, f"bias_hh{suffix}").zero_()
        return lstm


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of a time-major batch within its own length; padding stays put."""
    if lengths is None:
        return x.flip(0)
    T = x.shape[0]
    t = torch.arange(T).unsqueeze(1)
    index = torch.where(t < lengths, lengths - 1 - t, t).to(x.device)
    return x.gather(0, index.unsqueeze(2).expand_as(x))


def _repack(output: Tensor, lengths: Tensor | None, like: PackedSequence) -> PackedSequence:
    """Pack ``output`` (T, B, ·) in the batch order of the PackedSequence ``like``."""
    T, B = output.shape[:2]
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.int64)
    order = like.sorted_indices
    if order is not None:
        output, lengths = output.index_select(1, order.to(output.device)), lengths[order.cpu()]
    data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def from_torch_lstm(lstm: nn.LSTM, backend: str = "auto") -> LSTM:
    """An NP-variant :class:`LSTM` computing the same function as ``lstm`` (biases summed)."""
    if getattr(lstm, "proj_size", 0):
        raise InputError("LSTMs with proj_size > 0 have no Search-Space-Odyssey equivalent")
    ours = LSTM(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bias, lstm.batch_first,
                lstm.dropout, lstm.bidirectional, variant="NP", backend=backend)
    ours = ours.to(lstm.weight_ih_l0.device, lstm.weight_ih_l0.dtype)
    n = lstm.hidden_size
    rows = _swap_z_and_o(n)
    with torch.no_grad():
        for suffix in ours._suffixes():
            W, R, b, _, _ = _params(ours, suffix)
            W.copy_(getattr(lstm, f"weight_ih{suffix}")[rows])
            R.copy_(getattr(lstm, f"weight_hh{suffix}")[rows])
            if lstm.bias:
                bias = getattr(lstm, f"bias_ih{suffix}") + getattr(lstm, f"bias_hh{suffix}")
                b.copy_(bias[rows])
    return ours


def _swap_z_and_o(n: int) -> Tensor:
    """Row index between torch's block order (i, f, g, o) and NP's (i, f, o, z = g).

    It swaps the last two blocks, so the same index converts in both directions."""
    return torch.cat([torch.arange(k * n, (k + 1) * n) for k in (0, 1, 3, 2)])


# -- the one-step module --------------------------------------------------------------------------

class LSTMCell(nn.Module):
    """One step of any variant, with ``torch.nn.LSTMCell``'s interface.

    ``forward(input, hx=None)`` takes ``input`` (B, M) or (M,) and ``hx = (h, c)``, and returns
    ``(h', c')``. With full gate recurrence the state also carries the previous step's gates:
    ``hx = (h, c, a)`` (``a`` defaults to zeros, as at t = 0) and the result is ``(h', c', a')``.
    The equations are those of :class:`LSTM`; the step is computed by the reference kernel.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 variant: str | CellSpec = "vanilla", init: str = "torch",
                 init_std: float = 0.1, forget_bias: float = 0.0) -> None:
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size)
        self.spec = CellSpec.parse(variant)
        # The bias vector itself is the parameter ``bias`` (absent with bias=False).
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        _register_params(self, "", self.spec, self.input_size, self.hidden_size, bias)
        self.init, self.init_std, self.forget_bias = init, init_std, forget_bias
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_params(self, self.spec, self.hidden_size, self.init, self.init_std,
                     self.forget_bias, [""])

    def gate_weights(self) -> dict[str, Tensor]:
        """Views of the parameters in the paper's notation (see :meth:`LSTM.gate_weights`)."""
        W, R, _, p, Rg = _params(self, "")
        return _gate_views(self.spec, self.hidden_size, W, R, getattr(self, "bias", None), p, Rg)

    def load_gate_weights(self, values: dict[str, Tensor]) -> None:
        _load_gate_views(self.gate_weights(), values)

    def forward(self, input: Tensor, hx: tuple[Tensor, ...] | None = None):
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise InputError(
                f"LSTMCell expects input of shape (B, {self.input_size}) or ({self.input_size},),"
                f" got {tuple(input.shape)}"
            )
        B, n = x.shape[0], self.hidden_size
        fgr = self.spec.full_gate_recurrence
        if hx is None:
            hx = (x.new_zeros(B, n), x.new_zeros(B, n))
        elif unbatched:
            hx = tuple(s.unsqueeze(0) for s in hx)
        a_width = len(self.spec.gates) * n
        shapes = [("h", (B, n)), ("c", (B, n))] + ([("a", (B, a_width))] if fgr else [])
        if not 2 <= len(hx) <= len(shapes):
            raise InputError(f"hx must be ({', '.join(k for k, _ in shapes)}), got {len(hx)} "
                             "tensor(s)")
        for (name, shape), s in zip(shapes, hx):
            if tuple(s.shape) != shape:
                raise InputError(f"{name} must have shape {shape}, got {tuple(s.shape)}")
        h, c = hx[0], hx[1]
        a = hx[2] if len(hx) > 2 else (x.new_zeros(B, a_width) if fgr else None)
        W, R, b, p, Rg = _params(self, "")
        y, c, a = cell_step(self.spec, x, h, c, a, W, R, b, p, Rg)
        out = (y, c, a) if fgr else (y, c)
        return tuple(s.squeeze(0) for s in out) if unbatched else out
