"""The paper's networks (docs/paper.md §Tasks): one LSTM layer and a linear output layer per frame.

* music (``bernoulli``): a unidirectional LSTM; the output layer's logits go through a sigmoid
  per note (inside the loss);
* speech (``framewise_ce``) and handwriting (``ctc``): a bidirectional LSTM — a forward and a
  backward layer, both feeding one output layer — with a softmax over the classes (inside the
  loss).

Whether the LSTM is bidirectional comes from the task (``Task.bidirectional``). A task kind with
a final-state readout (``sequence_ce``) feeds the output layer once per sequence, from the last
step of a unidirectional LSTM or both directions' final states ``[h→_T ; h←_1]``.
All weights, the output layer's included, start from N(0, init_std²).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import kernels
from ..families import parse_variant
from ..kernels import network
from ..nn import LSTM, recurrent
from ..tasks import Task
from ..tasks.kinds import Readout
from ..variants import CellSpec

# The one-call training step of each family that has one (forward, loss and gradients in C++,
# lstm_odyssey.kernels.network): family name → the step, taking the variant's spec and the
# module's direction_params of each direction.
FUSED_STEPS = {"lstm": network.network_step, "gru": network.gru_network_step}


class SequenceModel(nn.Module):
    """LSTM (any variant and backend) or another cell family's network
    (:func:`lstm_odyssey.nn.recurrent`) + a linear layer applied at every step.

    ``forward(x, lengths)`` maps padded inputs (B, T, M) to logits (B, T, C) (the final-state
    readout: (B, 1, C)); ``lengths`` None means no sequence is padded.
    """

    def __init__(self, input_size: int, hidden_size: int, num_classes: int,
                 bidirectional: bool, variant: str | CellSpec = "vanilla",
                 backend: str = "auto", init_std: float = 0.1,
                 readout: Readout = Readout.STEP) -> None:
        super().__init__()
        self.readout = readout
        self.lstm = recurrent(input_size, hidden_size, variant, batch_first=True,
                              bidirectional=bidirectional, backend=backend, init="normal",
                              init_std=init_std)
        self.output = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)
        with torch.no_grad():
            for p in self.output.parameters():
                p.normal_(0.0, init_std)

    @classmethod
    def for_task(cls, task: Task, hidden_size: int, variant: str | CellSpec = "vanilla",
                 backend: str = "auto", init_std: float = 0.1) -> SequenceModel:
        """The paper's network for ``task``."""
        return cls(task.input_size, hidden_size, task.num_classes, task.bidirectional,
                   variant, backend, init_std, task.loss.spec.readout)

    def forward(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        y, state = self.lstm(x, lengths=lengths)
        h_n = state[0] if isinstance(state, tuple) else state  # every family's first state: h
        if self.readout is Readout.FINAL:  # (directions, B, N) -> (B, 1, directions · N)
            return self.output(h_n.transpose(0, 1).reshape(len(x), 1, -1))
        return self.output(y)

    def fused_step(self, x: Tensor, targets: Tensor,
                   loss: str) -> tuple[Tensor, Tensor, Tensor | None] | None:
        """Loss and gradients of one unpadded sequence ``x`` (1, T, M) in one C++ call (the
        family's step in :data:`FUSED_STEPS`: the numbers autograd computes for
        ``loss(self(x), targets)``), the gradients written into every parameter's ``.grad``.
        Returns ``(summed loss, logits (1, T, C), argmax classes (1, T) or None for
        bernoulli)``, or None where it does not apply (a family without one, another backend
        or device, a dtype the cpu backend does not take): then use autograd."""
        rnn = self.lstm
        variant = parse_variant(rnn.spec if isinstance(rnn, LSTM) else rnn.variant)
        step = FUSED_STEPS.get(variant.family.name)
        if (step is None or self.readout is not Readout.STEP or x.shape[0] != 1
                or x.dtype not in (torch.float32, torch.float64)
                or kernels.resolve_backend(rnn.backend, x.device.type, variant) != "cpu"
                or self.output.weight.dtype != x.dtype or rnn.weight_ih_l0.dtype != x.dtype):
            return None
        directions = [rnn.direction_params(0, d) for d in range(rnn.num_directions)]
        value, logits, frames = step(variant.spec, x[0], directions,
                                     (self.output.weight, self.output.bias), loss, targets[0])
        return value, logits.unsqueeze(0), None if frames is None else frames.unsqueeze(0)

    def count_parameters(self) -> int:
        """Trainable parameters of the whole network (LSTM and output layer)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
