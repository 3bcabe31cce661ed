// The extension's entry points, shared between its translation units (lstm_cpu.cpp: the LSTM
// forward and backward; gru_cpu.cpp: the GRU's; ctc_cpu.cpp: the CTC loss; network_cpu.cpp:
// one training step; optim_cpu.cpp: the optimiser's update).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace odyssey {

// The operands every sequence op shares, checked before any pointer is read: x (T, B, M) and
// W's M columns, each initial state (B, N), lengths empty or B of them. A mismatch is an error
// naming it, never a read past a buffer.
inline void check_sequence(const at::Tensor& x, const at::Tensor& W,
                           std::initializer_list<const at::Tensor*> states, int64_t N,
                           const at::Tensor& lengths) {
  TORCH_CHECK(x.dim() == 3 && W.dim() == 2 && W.size(1) == x.size(2),
              "x must be (T, B, M) with M the columns of W");
  for (const at::Tensor* s : states) {
    TORCH_CHECK(s->dim() == 2 && s->size(0) == x.size(1) && s->size(1) == N,
                "each initial state must be (B, N) = (", x.size(1), ", ", N, ")");
  }
  TORCH_CHECK(lengths.numel() == 0 || (lengths.dim() == 1 && lengths.size(0) == x.size(1)),
              "lengths must hold one length per sequence of the batch (", x.size(1), ")");
}

// One direction of one layer over x (T, B, M). switches: (ig, forget mode, og, peepholes,
// g = tanh, h = tanh, fgr). Returns {y, h_n, c_n, S, C}; S and C (what the backward pass needs)
// only with save = true.
std::vector<at::Tensor> lstm_forward(const at::Tensor& x, const at::Tensor& W,
                                     const at::Tensor& Rext, const at::Tensor& b,
                                     const at::Tensor& p, const at::Tensor& h0,
                                     const at::Tensor& c0, const at::Tensor& lengths,
                                     const std::vector<int64_t>& switches, bool save);

// BPTT of lstm_forward: writes the weight gradients into dW, dRext, db and dp (p's size, may be
// empty) and returns {dx (undefined unless need_dx), dh0, dc0}.
std::vector<at::Tensor> lstm_backward_into(const at::Tensor& dy, const at::Tensor& dh_n,
                                           const at::Tensor& dc_n, const at::Tensor& x,
                                           const at::Tensor& W, const at::Tensor& Rext,
                                           const at::Tensor& p, const at::Tensor& S,
                                           const at::Tensor& C, const at::Tensor& lengths,
                                           const std::vector<int64_t>& switches, bool need_dx,
                                           at::Tensor& dW, at::Tensor& dRext, at::Tensor& db,
                                           at::Tensor& dp);

// lstm_backward_into with freshly allocated gradients: {dx, dW, dRext, db, dp, dh0, dc0}.
std::vector<at::Tensor> lstm_backward(const at::Tensor& dy, const at::Tensor& dh_n,
                                      const at::Tensor& dc_n, const at::Tensor& x,
                                      const at::Tensor& W, const at::Tensor& Rext,
                                      const at::Tensor& p, const at::Tensor& S,
                                      const at::Tensor& C, const at::Tensor& lengths,
                                      std::vector<int64_t> switches, bool need_dx);

// One direction of one GRU layer over x (T, B, M), gru_cpu.cpp: W (3N, M), R (3N, N), b (3N),
// bR (N with lbr = the reset after the recurrent product, else empty). Returns {y, h_n, S}; S
// (what the backward pass needs) only with save = true.
std::vector<at::Tensor> gru_forward(const at::Tensor& x, const at::Tensor& W, const at::Tensor& R,
                                    const at::Tensor& b, const at::Tensor& bR,
                                    const at::Tensor& h0, const at::Tensor& lengths, bool lbr,
                                    bool save);

// BPTT of gru_forward: writes the weight gradients into dW, dR, db and dbR (bR's size) and
// returns {dx (undefined unless need_dx), dh0}.
std::vector<at::Tensor> gru_backward_into(const at::Tensor& dy, const at::Tensor& dh_n,
                                          const at::Tensor& x, const at::Tensor& W,
                                          const at::Tensor& R, const at::Tensor& S,
                                          const at::Tensor& lengths, bool lbr, bool need_dx,
                                          at::Tensor& dW, at::Tensor& dR, at::Tensor& db,
                                          at::Tensor& dbR);

// gru_backward_into with freshly allocated gradients: {dx, dW, dR, db, dbR, dh0}.
std::vector<at::Tensor> gru_backward(const at::Tensor& dy, const at::Tensor& dh_n,
                                     const at::Tensor& x, const at::Tensor& W, const at::Tensor& R,
                                     const at::Tensor& S, const at::Tensor& lengths, bool lbr,
                                     bool need_dx);

// CTC losses of log_probs (T, B, C) and, if need_grad, their gradient with respect to
// log_probs: {nll (B,), grad (T, B, C) or empty}.
std::vector<at::Tensor> ctc_forward(const at::Tensor& log_probs, const at::Tensor& labels,
                                    const at::Tensor& offsets, const at::Tensor& input_lengths,
                                    const at::Tensor& target_lengths, int64_t blank,
                                    bool zero_infinity, bool need_grad);

// Loss kinds of network_step (the numbering lstm_odyssey/kernels/network.py uses).
enum LossCode : int64_t { kBernoulli = 0, kFramewiseCE = 1, kCTC = 2 };

// Loss, logits, argmax classes and gradients of the paper's network on one sequence: see
// network_cpu.cpp.
std::vector<at::Tensor> network_step(const at::Tensor& x, const std::vector<at::Tensor>& params,
                                     std::vector<at::Tensor> grads, const at::Tensor& Wo,
                                     const at::Tensor& bo, at::Tensor dWo, at::Tensor dbo,
                                     int64_t loss, const at::Tensor& targets,
                                     const std::vector<int64_t>& switches);

// The same for a GRU layer (params per direction W, R, b, bR; switches {lbr}).
std::vector<at::Tensor> gru_network_step(const at::Tensor& x,
                                         const std::vector<at::Tensor>& params,
                                         std::vector<at::Tensor> grads, const at::Tensor& Wo,
                                         const at::Tensor& bo, at::Tensor dWo, at::Tensor dbo,
                                         int64_t loss, const at::Tensor& targets,
                                         const std::vector<int64_t>& switches);

// The NesterovSGD update's halves on its flat buffers (1-d, contiguous, one dtype), in place:
// v ← μ·v, θ ← θ + v (lookahead) and v ← v − η·g, θ ← θ − η·g (descent). See optim_cpu.cpp.
void nesterov_lookahead(at::Tensor theta, at::Tensor velocity, double momentum);
void nesterov_descent(at::Tensor theta, at::Tensor velocity, const at::Tensor& grad,
                      double step);

}  // namespace odyssey
