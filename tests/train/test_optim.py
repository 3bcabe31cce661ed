"""NesterovSGD against the update of PAPER.md §4."""

import numpy as np
import pytest
import torch

from lstm_odyssey.errors import UserError
from lstm_odyssey.train import NesterovSGD


def _quadratic_steps(theta0, A, b, lr, m, steps, optimizer_cls=NesterovSGD):
    """Run the optimiser on L(θ) = ½ θᵀAθ − bᵀθ; returns θ after every step."""
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    A, b = torch.tensor(A, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    opt = optimizer_cls([theta], lr=lr, momentum=m)
    seen = []

    def closure():
        opt.zero_grad()
        loss = 0.5 * theta @ A @ theta - b @ theta
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
        seen.append(theta.detach().numpy().copy())
    return seen


def test_scalar_hand_computed():
    # L = θ²/2, θ0 = 1, lr = 1, m = 0.5, so η = (1 − m)·lr = 0.5:
    # step 1: v=0, θ=1, g=1, v=−.5, θ=.5
    # step 2: v=−.25, θ=.25, g=.25, v=−.375, θ=.125
    # step 3: v=−.1875, θ=−.0625, g=−.0625, v=−.15625, θ=−.03125
    seen = _quadratic_steps([1.0], [[1.0]], [0.0], lr=1.0, m=0.5, steps=3)
    np.testing.assert_allclose(np.concatenate(seen), [0.5, 0.125, -0.03125])


def test_matches_formula_on_random_quadratic():
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((5, 5))
    A, b, theta0 = Q @ Q.T + np.eye(5), rng.standard_normal(5), rng.standard_normal(5)
    lr, m = 0.05, 0.9
    theta, v, expected = theta0.copy(), np.zeros(5), []
    for _ in range(20):  # the update exactly as written in PAPER.md §4
        v = m * v
        theta = theta + v
        g = A @ theta - b
        v = v - (1 - m) * lr * g
        theta = theta - (1 - m) * lr * g
        expected.append(theta.copy())
    got = _quadratic_steps(theta0, A, b, lr, m, steps=20)
    np.testing.assert_allclose(np.stack(got), np.stack(expected), rtol=1e-12, atol=1e-12)


def test_differs_from_plain_momentum():
    """The gradient is taken at the look-ahead point: classical momentum gives other values."""

    class Classical(torch.optim.SGD):
        def __init__(self, params, lr, momentum):
            super().__init__(params, lr=lr * (1 - momentum), momentum=momentum)

    args = ([1.0, -1.0], [[2.0, 0.3], [0.3, 1.0]], [0.0, 0.0], 0.5, 0.9, 5)
    ours = _quadratic_steps(*args)
    classical = _quadratic_steps(*args, optimizer_cls=Classical)
    assert not np.allclose(ours[-1], classical[-1])


@pytest.mark.parametrize("lr, m", [(-1e-3, 0.9), (1e-3, 1.0), (1e-3, -0.1), (float("nan"), 0.5)])
def test_rejects_bad_hyperparameters(lr, m):
    with pytest.raises(UserError, match="learning rate|momentum"):
        NesterovSGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=m)
