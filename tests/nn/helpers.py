"""Shared test helpers: backends to test and an independent one-step implementation."""

import torch

from lstm_odyssey.kernels import available_backends

# Backends every module-level test runs through: each one that runs here, and "auto" (what users
# get by default).
BACKENDS = ["auto", *available_backends("cpu")]


def paper_step(spec, g, x, y_prev, c_prev, a_prev=None):
    """One step written directly from docs/paper.md (§The LSTM block, §Variants) with the
    paper-notation weight dict ``g``
    (single sample, explicit per-gate formulas; independent of the kernels' block layout)."""
    sig, one = torch.sigmoid, torch.ones_like(c_prev)
    act = {"tanh": torch.tanh, "identity": lambda v: v}

    def pre(k):
        s = g[f"W_{k}"] @ x + g[f"R_{k}"] @ y_prev + g[f"b_{k}"]
        if spec.full_gate_recurrence and k != "z":
            for src in spec.gates:
                s = s + g[f"R_{src}{k}"] @ a_prev[src]
        return s

    z = act[spec.input_activation](pre("z"))
    i = sig(pre("i") + g.get("p_i", 0) * c_prev) if spec.input_gate else one
    if spec.coupled_input_forget:
        f = 1 - i
    else:
        f = sig(pre("f") + g.get("p_f", 0) * c_prev) if spec.forget_gate else one
    c = z * i + c_prev * f
    o = sig(pre("o") + g.get("p_o", 0) * c) if spec.output_gate else one
    y = act[spec.output_activation](c) * o
    return y, c, {"i": i, "f": f, "o": o}
