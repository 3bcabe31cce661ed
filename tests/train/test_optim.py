"""NesterovSGD against the update of docs/paper.md §Training protocol."""

import copy

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


def test_update_is_step_without_the_torch_optim_wrapper():
    """What the trainer calls: the same numbers as ``step``, without torch.optim's hooks."""
    A = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -1.0], dtype=torch.float64)
    results, hooks = {}, []
    for method in ("step", "update"):
        theta = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
        opt = NesterovSGD([theta], lr=0.3, momentum=0.9)
        opt.register_step_pre_hook(lambda *args, name=method: hooks.append(name))

        def closure(opt=opt, theta=theta):
            opt.zero_grad()
            loss = 0.5 * theta @ A @ theta - b @ theta
            loss.backward()
            return loss

        for _ in range(5):
            getattr(opt, method)(closure)
        results[method] = theta.detach().clone()
    assert torch.equal(results["update"], results["step"])
    assert hooks == ["step"] * 5


def test_matches_formula_on_random_quadratic():
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((5, 5))
    A, b, theta0 = Q @ Q.T + np.eye(5), rng.standard_normal(5), rng.standard_normal(5)
    lr, m = 0.05, 0.9
    theta, v, expected = theta0.copy(), np.zeros(5), []
    for _ in range(20):  # the update exactly as written in docs/paper.md §Training protocol
        v = m * v
        theta = theta + v
        g = A @ theta - b
        v = v - (1 - m) * lr * g
        theta = theta - (1 - m) * lr * g
        expected.append(theta.copy())
    got = _quadratic_steps(theta0, A, b, lr, m, steps=20)
    np.testing.assert_allclose(np.stack(got), np.stack(expected), rtol=1e-12, atol=1e-12)


def test_matches_formula_with_many_tensors():
    """Tensors of several sizes in one flat buffer: each element follows the formula."""
    rng = np.random.default_rng(1)
    sizes = [5, 3, 17, 1]
    Q = rng.standard_normal((26, 26))
    A, b, theta0 = Q @ Q.T / 26 + np.eye(26), rng.standard_normal(26), rng.standard_normal(26)
    lr, m = 0.1, 0.8
    theta, v = theta0.copy(), np.zeros(26)
    for _ in range(15):
        v = m * v
        theta = theta + v
        g = A @ theta - b
        v = v - (1 - m) * lr * g
        theta = theta - (1 - m) * lr * g
    parts = [torch.tensor(t, requires_grad=True) for t in np.split(theta0, np.cumsum(sizes)[:-1])]
    opt = NesterovSGD(parts, lr=lr, momentum=m)
    At, bt = torch.tensor(A), torch.tensor(b)

    def closure():
        opt.zero_grad()
        x = torch.cat(parts)
        loss = 0.5 * x @ At @ x - bt @ x
        loss.backward()
        return loss

    for _ in range(15):
        opt.step(closure)
    np.testing.assert_allclose(torch.cat(parts).detach().numpy(), theta, rtol=1e-12, atol=1e-12)


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


# -- one flat buffer: views survive the module's API, and re-flattening keeps the update exact --

class PerTensorNesterov(torch.optim.Optimizer):
    """The update written per parameter tensor, as the optimiser once computed it."""

    def __init__(self, params, lr, momentum):
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure):
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
                if p.grad is not None:
                    self.state[p]["velocity"].sub_(p.grad, alpha=eta)
                    p.sub_(p.grad, alpha=eta)
        return loss

    update = step  # what the trainer calls


def _model(seed=0):
    from lstm_odyssey.train import SequenceModel

    torch.manual_seed(seed)
    return SequenceModel(3, 5, 4, bidirectional=True, variant="V", backend="reference")


def _train(model, opt, steps=4, zero=None):
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(1, 7, 3, generator=g)

        def closure(x=x):
            (zero or opt.zero_grad)()
            loss = model(x, torch.tensor([7])).pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
    return [p.detach().clone() for p in model.parameters()]


def _is_view_of_buffer(opt, p):
    flat = opt._flats[0].theta
    start = flat.data_ptr()
    return start <= p.data_ptr() < start + flat.numel() * flat.element_size()


# ATen's vectorised loop fuses θ − η·g into one rounding, its scalar tail rounds twice, and
# the flat buffer moves where tensors end: elements may differ from the per-tensor update by
# about one float32 rounding per step.
def _assert_same(got, expected):
    for u, v in zip(got, expected, strict=True):
        torch.testing.assert_close(u, v, rtol=1e-6, atol=1e-8)


def test_flat_update_equals_the_per_tensor_update():
    a, b = _model(), _model()
    got = _train(a, NesterovSGD(a.parameters(), lr=0.3, momentum=0.9))
    expected = _train(b, PerTensorNesterov(b.parameters(), lr=0.3, momentum=0.9))
    _assert_same(got, expected)
    assert not torch.equal(got[0], _model().lstm.weight_ih_l0)  # the weights did move


def test_parameters_stay_views_through_state_dict_and_gate_weights():
    model = _model()
    opt = NesterovSGD(model.parameters(), lr=0.3, momentum=0.9)
    _train(model, opt, steps=1)
    model.load_state_dict(_model(seed=5).state_dict())
    model.lstm.load_gate_weights({"W_z": torch.full((5, 3), 0.5)})
    assert all(_is_view_of_buffer(opt, p) for p in model.parameters())
    assert torch.equal(model.lstm.gate_weights()["W_z"], torch.full((5, 3), 0.5))
    before = model.lstm.gate_weights()["W_z"].clone()
    _train(model, opt, steps=1)
    assert not torch.equal(model.lstm.gate_weights()["W_z"], before)  # the step reached it


def test_replaced_storage_is_reflattened_and_the_update_stays_exact():
    a, b = _model(), _model()
    opt_a = NesterovSGD(a.parameters(), lr=0.3, momentum=0.9)
    opt_b = PerTensorNesterov(b.parameters(), lr=0.3, momentum=0.9)
    _train(a, opt_a, steps=2), _train(b, opt_b, steps=2)
    for m in (a, b):  # replace one parameter's storage, as .to(dtype) or user code would
        m.output.weight.data = m.output.weight.data.clone() * 0.5
    # module.zero_grad() sets .grad to None: the flat optimiser must still see the gradients
    got = _train(a, opt_a, steps=2, zero=a.zero_grad)
    expected = _train(b, opt_b, steps=2, zero=b.zero_grad)
    _assert_same(got, expected)
    assert all(_is_view_of_buffer(opt_a, p) for p in a.parameters())


def test_optimizer_state_dict_round_trip_keeps_the_velocity():
    a = _model()
    opt = NesterovSGD(a.parameters(), lr=0.3, momentum=0.9)
    _train(a, opt, steps=2)
    b = _model()
    b.load_state_dict(a.state_dict())
    opt_b = NesterovSGD(b.parameters(), lr=0.3, momentum=0.9)
    opt_b.load_state_dict(opt.state_dict())
    assert torch.equal(opt_b._flats[0].velocity, opt._flats[0].velocity)
    _assert_same(_train(a, opt), _train(b, opt_b))


def test_mixed_dtypes_in_one_group_are_a_user_error():
    params = [torch.zeros(2, requires_grad=True), torch.zeros(2, dtype=torch.float64,
                                                               requires_grad=True)]
    with pytest.raises(UserError, match="one dtype and device"):
        NesterovSGD(params, lr=0.1, momentum=0.5)


# -- the update's halves in C++ (kernels/csrc/optim_cpu.cpp) against the torch ops -------------

def _buffers(n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g, dtype=dtype) for _ in range(3)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_halves_round_like_the_torch_ops(dtype):
    """v·μ and θ + v rounded once each (no contraction into an FMA): the same bits as the torch
    ops everywhere; v − η·g and θ − η·g as one FMA each, as ATen's vectorised loop computes
    them: the same bits over the vectorised part (here the first 4096 elements, a multiple of
    every vector width), at most one rounding apart in ATen's scalar tail. (Bits are compared
    where the extension targets AVX2/AVX-512, whose fmadd is one instruction.)"""
    from lstm_odyssey.kernels import build

    ext = build.load()
    n, vector_part = 4096 + 7, 4096
    theta, v, grad = _buffers(n, dtype)
    old_theta, old_v = theta.clone(), v.clone()
    ext.nesterov_lookahead(theta, v, 0.9)
    old_v.mul_(0.9)
    old_theta.add_(old_v)
    assert torch.equal(v, old_v) and torch.equal(theta, old_theta)
    eta = (1 - 0.9) * 0.37
    ext.nesterov_descent(theta, v, grad, eta)
    old_v.sub_(grad, alpha=eta)
    old_theta.sub_(grad, alpha=eta)
    fused = build.plan().capability in ("AVX2", "AVX512")
    for new, old in ((v, old_v), (theta, old_theta)):
        assert torch.equal(new[:vector_part], old[:vector_part]) or not fused
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(new, old, rtol=eps, atol=eps * grad.abs().max().item())


def test_cpu_halves_check_their_buffers():
    from lstm_odyssey.kernels import build

    ext = build.load()
    theta, v, grad = _buffers(8, torch.float32)
    with pytest.raises(RuntimeError, match="one size, dtype"):
        ext.nesterov_descent(theta, v, grad[:4], 0.1)
    with pytest.raises(RuntimeError, match="contiguous 1-d"):
        ext.nesterov_lookahead(theta.view(2, 4), v.view(2, 4), 0.5)


def test_update_uses_the_cpu_halves_and_equals_the_torch_ops(monkeypatch):
    """The trainer's optimiser on the CPU runs the C++ halves; without the extension (another
    device, no compiler) the torch ops, within one float32 rounding per step of it."""
    from lstm_odyssey.train import optim

    a = _model()
    opt_a = NesterovSGD(a.parameters(), lr=0.3, momentum=0.9)
    assert opt_a._flats[0].in_cpp
    monkeypatch.setattr(optim, "_extension", lambda: None)
    b = _model()
    opt_b = NesterovSGD(b.parameters(), lr=0.3, momentum=0.9)
    assert not opt_b._flats[0].in_cpp
    _assert_same(_train(a, opt_a), _train(b, opt_b))
    copy.deepcopy(opt_a)  # no extension module in the optimiser's state: it still copies
