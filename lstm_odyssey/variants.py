"""The LSTM variants of "LSTM: A Search Space Odyssey" as independent switches.

A :class:`CellSpec` says which parts of the LSTM block exist. The vanilla block
(docs/paper.md §The LSTM block):

    z_t = g(W_z x_t + R_z y_{t-1} + b_z)                       block input
    i_t = σ(W_i x_t + R_i y_{t-1} + p_i ⊙ c_{t-1} + b_i)       input gate
    f_t = σ(W_f x_t + R_f y_{t-1} + p_f ⊙ c_{t-1} + b_f)       forget gate
    c_t = z_t ⊙ i_t + c_{t-1} ⊙ f_t                           cell
    o_t = σ(W_o x_t + R_o y_{t-1} + p_o ⊙ c_t + b_o)           output gate (peeks at the NEW cell)
    y_t = h(c_t) ⊙ o_t                                         block output

Each preset changes exactly one thing (docs/paper.md §Variants); the switches combine freely
(``CellSpec.parse("cifg+np")``) as long as they do not contradict each other.

Parameter layout shared by every backend (per layer and direction):

* ``spec.blocks``: the pre-activation blocks that have weights, in the order ``i f o z``
  (missing and coupled gates dropped). ``W`` is ``(len(blocks)·N, M)``, ``R`` is
  ``(len(blocks)·N, N)``, ``b`` is ``(len(blocks)·N,)``.
* ``spec.peephole_gates``: the gates with a peephole, in the order ``i f o``; ``p`` is
  ``(len(peephole_gates)·N,)``.
* ``spec.gates``: the gates with weights (``blocks`` without ``z``). With full gate recurrence
  ``Rg`` is ``(len(gates)·N, len(gates)·N)``: row block = receiving gate, column block = the
  previous step's gate it reads (paper: ``R_{fi}`` is column block f, row block i).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import UserError

ACTIVATIONS = ("tanh", "identity")
# The kernel backends that run a cell: :mod:`lstm_odyssey.kernels` implements them; their names
# live here, below torch, so that a configuration is checked without loading torch.
BACKENDS = ("auto", "reference", "cpu", "triton")


class SpecError(UserError, ValueError):
    """A variant name or switch combination that does not describe a valid LSTM cell."""


@dataclass(frozen=True)
class CellSpec:
    """Which parts of the LSTM block exist. The default is the vanilla (peephole) LSTM."""

    input_gate: bool = True
    forget_gate: bool = True
    output_gate: bool = True
    peepholes: bool = True
    coupled_input_forget: bool = False
    full_gate_recurrence: bool = False
    input_activation: str = "tanh"
    output_activation: str = "tanh"

    def __post_init__(self) -> None:
        for f in ("input_activation", "output_activation"):
            if getattr(self, f) not in ACTIVATIONS:
                raise SpecError(f"{f}={getattr(self, f)!r} is not supported; use one of "
                                f"{', '.join(ACTIVATIONS)}")
        if self.coupled_input_forget and not self.input_gate:
            raise SpecError(
                "CIFG couples the forget gate to the input gate (f = 1 - i), "
                "so it cannot be combined with NIG (no input gate)"
            )
        if self.coupled_input_forget and not self.forget_gate:
            raise SpecError(
                "CIFG replaces the forget gate by 1 - i, so it cannot be combined with "
                "NFG (no forget gate)"
            )
        if self.full_gate_recurrence and not self.gates:
            raise SpecError(
                "FGR feeds the previous gates back into the gates, so it needs at least one gate; "
                "drop FGR or keep a gate"
            )

    # -- structure ---------------------------------------------------------------------------
    @property
    def has_f_weights(self) -> bool:
        """The forget gate has its own weights (it exists and is not coupled to i)."""
        return self.forget_gate and not self.coupled_input_forget

    @property
    def gates(self) -> tuple[str, ...]:
        """Gates that have weights, in the order i, f, o."""
        present = {"i": self.input_gate, "f": self.has_f_weights, "o": self.output_gate}
        return tuple(g for g in "ifo" if present[g])

    @property
    def blocks(self) -> tuple[str, ...]:
        """Pre-activation blocks with weights, in the order i, f, o, z."""
        return self.gates + ("z",)

    @property
    def peephole_gates(self) -> tuple[str, ...]:
        """Gates with a peephole weight vector, in the order i, f, o."""
        return self.gates if self.peepholes else ()

    # -- names ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Canonical name: 'V' or the changes from vanilla joined by '+', e.g. 'CIFG+NP'."""
        changes = [n for n, delta in _CHANGES.items() if _applies(self, delta)]
        return "+".join(changes) if changes else "V"

    @classmethod
    def parse(cls, text: str | CellSpec) -> CellSpec:
        """Parse a preset name or a '+'-joined combination, case insensitive ('cifg+np')."""
        if isinstance(text, CellSpec):
            return text
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"variant {text!r} is empty; use one of {', '.join(PRESET_NAMES)}")
        changes: dict[str, object] = {}
        for token in text.replace(" ", "").split("+"):
            key = token.upper()
            if key in ("V", "VANILLA"):
                continue
            if key not in _CHANGES:
                raise SpecError(
                    f"unknown variant {token!r} in {text!r}; valid names: "
                    f"{', '.join(PRESET_NAMES)} (combine them with '+', e.g. 'cifg+np')"
                )
            changes.update(_CHANGES[key])
        return replace(cls(), **changes)

    def __str__(self) -> str:
        return self.name


# One change from vanilla per preset (docs/paper.md §Variants), in the order canonical names use.
_CHANGES: dict[str, dict[str, object]] = {
    "NIG": {"input_gate": False},
    "NFG": {"forget_gate": False},
    "NOG": {"output_gate": False},
    "NIAF": {"input_activation": "identity"},
    "NOAF": {"output_activation": "identity"},
    "NP": {"peepholes": False},
    "CIFG": {"coupled_input_forget": True},
    "FGR": {"full_gate_recurrence": True},
}


def _applies(spec: CellSpec, delta: dict[str, object]) -> bool:
    return all(getattr(spec, k) == v for k, v in delta.items())


PRESETS: dict[str, CellSpec] = {"V": CellSpec()}
PRESETS.update({name: CellSpec.parse(name) for name in _CHANGES})
PRESET_NAMES = tuple(PRESETS)  # V NIG NFG NOG NIAF NOAF NP CIFG FGR


def count_parameters(
    spec: CellSpec | str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> int:
    """Number of trainable parameters of an :class:`~lstm_odyssey.LSTM` with this variant.

    Per layer and direction with K = len(spec.blocks) weight blocks and G = len(spec.gates):
    ``K·N·(M + N + 1)`` (input weights, recurrent weights, one bias per block)
    ``+ len(peephole_gates)·N`` ``+ (G·N)²`` with full gate recurrence.
    Layers after the first see ``M = N·directions``.
    """
    spec = CellSpec.parse(spec)
    dirs = 2 if bidirectional else 1
    n = hidden_size
    total = 0
    for layer in range(num_layers):
        m = input_size if layer == 0 else n * dirs
        per = len(spec.blocks) * n * (m + n + 1) + len(spec.peephole_gates) * n
        if spec.full_gate_recurrence:
            per += (len(spec.gates) * n) ** 2
        total += dirs * per
    return total
