// One training step of the paper's network (docs/paper.md §Tasks) on one sequence, in one call.
//
// With D = 1 or 2 directions of one LSTM or GRU layer, hidden size N, C classes:
//   Y = [RNN_1(x) | rev(RNN_2(rev(x)))]                   (T × D·N; rev reverses time)
//   A = Y·Woᵀ + bo                                         (T × C logits)
//   the loss of the sequence and G = ∂loss/∂A:
//     bernoulli     loss = Σ_t Σ_c [softplus(A_tc) − y_tc·A_tc]     G = σ(A) − y
//     framewise_ce  loss = −Σ_t log softmax(A_t)[k_t]               G = softmax(A) − onehot(k)
//     ctc           loss = CTC(lp = log softmax(A), l)              G = g − softmax(A) ⊙ Σ_c g
//                   with g = ∂loss/∂lp (ctc_forward)
//   dWo = Gᵀ·Y, dbo = Σ_t G_t, dY = G·Wo, then BPTT of each direction on its half of dY.
// The gradients are written into the given tensors (views of the optimiser's flat gradient).
//
// Every step is the operation autograd runs for the module path (SequenceModel + the loss kinds
// of lstm_odyssey/train/kinds.py), on operands of the same layout (the class-major view of the
// logits that cross_entropy sees, the transposed G it hands back, the addmm of nn.Linear), so
// the loss and the gradients are the same numbers; what this saves per sequence is the Python
// modules, the autograd graph and its engine, and the dispatcher round trips from Python.
#include "odyssey.h"

#include <torch/extension.h>

#include <cmath>
#include <functional>
#include <utility>

namespace odyssey {
namespace {

constexpr int64_t kIgnoreIndex = -100;  // cross_entropy's default; no label of a sequence

// The summed loss (0-dim) of logits A (T, C) and G = ∂loss/∂A.
std::pair<at::Tensor, at::Tensor> loss_and_grad(const at::Tensor& A, int64_t loss,
                                                const at::Tensor& targets) {
  const int64_t T = A.size(0), C = A.size(1);
  if (loss == kBernoulli) {
    TORCH_CHECK(targets.sizes() == A.sizes() && targets.scalar_type() == A.scalar_type(),
                "bernoulli targets must be (T, C) in the logits' dtype");
    at::Tensor value = at::binary_cross_entropy_with_logits(A, targets, {}, {},
                                                            at::Reduction::None);
    return {value.sum(-1).sum(), at::sigmoid(A).sub_(targets)};
  }
  if (loss == kFramewiseCE) {
    TORCH_CHECK(targets.dim() == 1 && targets.size(0) == T &&
                    targets.scalar_type() == at::kLong,
                "framewise_ce targets must be (T,) int64");
    // F.cross_entropy's operands: the class-major (1, C, T) view of the logits (nll_loss_nd
    // and scatter_ check that every target is a class)
    const at::Tensor ls = at::log_softmax(A.t().unsqueeze(0), 1);
    at::Tensor value = at::nll_loss_nd(ls, targets.view({1, T}), {}, at::Reduction::Sum,
                                       kIgnoreIndex);
    const at::Tensor g = at::zeros_like(ls).scatter_(1, targets.view({1, 1, T}), -1.0);
    return {value, at::_log_softmax_backward_data(g, ls, 1, ls.scalar_type()).squeeze(0).t()};
  }
  TORCH_CHECK(loss == kCTC, "unknown loss code ", loss);
  TORCH_CHECK(targets.dim() == 1 && targets.scalar_type() == at::kLong,
              "ctc targets must be (L,) int64 labels");
  const at::Tensor ls = at::log_softmax(A, 1);
  const int64_t L = targets.size(0);
  const auto lengths = [](int64_t n) { return at::full({1}, n, at::dtype(at::kLong)); };
  const auto ctc = ctc_forward(ls.view({T, 1, C}), targets, at::zeros({1}, at::kLong),
                               lengths(T), lengths(L), /*blank=*/0, /*zero_infinity=*/false,
                               /*need_grad=*/true);
  return {ctc[0].sum(),
          at::_log_softmax_backward_data(ctc[1].view({T, C}), ls, 1, ls.scalar_type())};
}

// argmax_c A[t, c] per row of a contiguous A (T, C), as torch.argmax: the first of equal maxima,
// a NaN above everything.
at::Tensor row_argmax(const at::Tensor& A) {
  const int64_t T = A.size(0), C = A.size(1);
  at::Tensor out = at::empty({T}, at::dtype(at::kLong));
  int64_t* o = out.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(A.scalar_type(), "row_argmax", [&] {
    const scalar_t* a = A.data_ptr<scalar_t>();
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* row = a + t * C;
      int64_t best = 0;
      for (int64_t c = 1; c < C; ++c) {
        if (!std::isnan(row[best]) && (row[c] > row[best] || std::isnan(row[c]))) best = c;
      }
      o[t] = best;
    }
  });
  return out;
}

// One direction d of the recurrent layer: its forward pass over x (T, 1, M) from the zero state
// (1, N), keeping what its BPTT needs (element 0: y), and its BPTT from dy, writing its
// gradients.
using DirectionForward = std::function<std::vector<at::Tensor>(
    int64_t d, const at::Tensor& x, const at::Tensor& zeros)>;
using DirectionBackward = std::function<void(int64_t d, const at::Tensor& dy, const at::Tensor& x,
                                             const at::Tensor& zeros,
                                             const std::vector<at::Tensor>& saved)>;

// The step of any recurrent layer of D directions with 4 parameter tensors each (and their
// gradients): the checks, the output layer, the loss and the gradients around the layer.
std::vector<at::Tensor> layer_step(const at::Tensor& x, const std::vector<at::Tensor>& params,
                                   const std::vector<at::Tensor>& grads, const at::Tensor& Wo,
                                   const at::Tensor& bo, at::Tensor& dWo, at::Tensor& dbo,
                                   int64_t loss, const at::Tensor& targets,
                                   const DirectionForward& forward,
                                   const DirectionBackward& backward) {
  const int64_t D = static_cast<int64_t>(params.size()) / 4;
  TORCH_CHECK((D == 1 || D == 2) && params.size() == static_cast<size_t>(4 * D) &&
                  grads.size() == params.size(),
              "network_step takes 4 parameters per direction (LSTM: W, Rext, b, p; GRU: W, R, b, "
              "bR) and their gradients for 1 or 2 directions");
  TORCH_CHECK(x.dim() == 2 && x.size(0) > 0 && x.is_contiguous(),
              "network_step takes one contiguous sequence x (T, M), T > 0");
  const int64_t T = x.size(0), M = x.size(1), N = Wo.size(1) / D;
  const auto check = [&](const at::Tensor& t) {
    TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == x.scalar_type(),
                "network_step needs every tensor on the CPU in x's dtype ", x.scalar_type(),
                ", got ", t.scalar_type(), " on ", t.device());
  };
  for (const at::Tensor& t : params) check(t);
  for (const at::Tensor& t : grads) check(t);
  for (const at::Tensor& t : {Wo, bo, dWo, dbo}) check(t);
  const at::Tensor zeros = at::zeros({1, N}, x.options());
  const at::Tensor x3 = x.view({T, 1, M});
  std::vector<at::Tensor> inputs{x3};
  if (D == 2) inputs.push_back(at::flip(x3, {0}));
  std::vector<std::vector<at::Tensor>> saved;
  for (int64_t d = 0; d < D; ++d) saved.push_back(forward(d, inputs[d], zeros));
  const at::Tensor Y = D == 1 ? saved[0][0].view({T, N})
                              : at::cat({saved[0][0], at::flip(saved[1][0], {0})}, 2)
                                    .view({T, 2 * N});
  const at::Tensor logits = at::addmm(bo, Y, Wo.t());
  auto [value, G] = loss_and_grad(logits, loss, targets);
  at::mm_out(dWo, G.t(), Y);
  at::sum_out(dbo, G, 0);
  const at::Tensor dY = at::mm(G, Wo).view({T, 1, D * N});
  for (int64_t d = 0; d < D; ++d) {
    const at::Tensor half = dY.narrow(2, d * N, N);
    backward(d, d == 0 ? half.contiguous() : at::flip(half, {0}).contiguous(), inputs[d], zeros,
             saved[d]);
  }
  const at::Tensor frames = loss == kBernoulli ? at::empty({0}, at::dtype(at::kLong))
                                               : row_argmax(logits);
  return {value, logits, frames};
}

}  // namespace

// x (T, M); params per direction W, Rext, b, p (empty without peepholes); grads the same
// shapes, written. Returns {loss (0-dim), logits (T, C), the argmax class of every step (T,)
// int64, or an empty tensor for bernoulli}.
std::vector<at::Tensor> network_step(const at::Tensor& x, const std::vector<at::Tensor>& params,
                                     std::vector<at::Tensor> grads, const at::Tensor& Wo,
                                     const at::Tensor& bo, at::Tensor dWo, at::Tensor dbo,
                                     int64_t loss, const at::Tensor& targets,
                                     const std::vector<int64_t>& switches) {
  const at::AutoDispatchBelowADInplaceOrView below_autograd;  // no autograd, no view tracking
  const at::Tensor no_lengths = at::empty({0}, x.options().dtype(at::kLong));
  const auto forward = [&](int64_t d, const at::Tensor& xd, const at::Tensor& zeros) {
    return lstm_forward(xd, params[4 * d], params[4 * d + 1], params[4 * d + 2],
                        params[4 * d + 3], zeros, zeros, no_lengths, switches, true);
  };
  const auto backward = [&](int64_t d, const at::Tensor& dy, const at::Tensor& xd,
                            const at::Tensor& zeros, const std::vector<at::Tensor>& saved) {
    lstm_backward_into(dy, zeros, zeros, xd, params[4 * d], params[4 * d + 1], params[4 * d + 3],
                       saved[3], saved[4], no_lengths, switches, /*need_dx=*/false, grads[4 * d],
                       grads[4 * d + 1], grads[4 * d + 2], grads[4 * d + 3]);
  };
  return layer_step(x, params, grads, Wo, bo, dWo, dbo, loss, targets, forward, backward);
}

// x (T, M); params per direction W, R, b, bR (empty without lbr); grads the same shapes,
// written; switches {lbr}. Returns what network_step returns.
std::vector<at::Tensor> gru_network_step(const at::Tensor& x,
                                         const std::vector<at::Tensor>& params,
                                         std::vector<at::Tensor> grads, const at::Tensor& Wo,
                                         const at::Tensor& bo, at::Tensor dWo, at::Tensor dbo,
                                         int64_t loss, const at::Tensor& targets,
                                         const std::vector<int64_t>& switches) {
  const at::AutoDispatchBelowADInplaceOrView below_autograd;  // no autograd, no view tracking
  TORCH_CHECK(switches.size() == 1, "expected 1 switch (lbr)");
  const bool lbr = switches[0] != 0;
  const at::Tensor no_lengths = at::empty({0}, x.options().dtype(at::kLong));
  const auto forward = [&](int64_t d, const at::Tensor& xd, const at::Tensor& zeros) {
    return gru_forward(xd, params[4 * d], params[4 * d + 1], params[4 * d + 2],
                       params[4 * d + 3], zeros, no_lengths, lbr, true);
  };
  const auto backward = [&](int64_t d, const at::Tensor& dy, const at::Tensor& xd,
                            const at::Tensor& zeros, const std::vector<at::Tensor>& saved) {
    gru_backward_into(dy, zeros, xd, params[4 * d], params[4 * d + 1], saved[2], no_lengths, lbr,
                      /*need_dx=*/false, grads[4 * d], grads[4 * d + 1], grads[4 * d + 2],
                      grads[4 * d + 3]);
  };
  return layer_step(x, params, grads, Wo, bo, dWo, dbo, loss, targets, forward, backward);
}

}  // namespace odyssey
