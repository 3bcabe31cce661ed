// Fused GRU for CPU: one forward and one backward call per sequence and direction, for both
// variants of lstm_odyssey/families/gru.py. Blocks r z n of N rows each: W (3N × M), R (3N × N),
// b (3N), bR (N, lbr only); h' = h_{t−1} and x̄ = W x_t + b (one GEMM for all steps):
//
//   r = σ(x̄_r + R_r h'),  z = σ(x̄_z + R_z h')
//   gru:  e = r ⊙ h',          n = tanh(x̄_n + R_n e)      (the reset before the product)
//   lbr:  e = R_n h' + bR,     n = tanh(x̄_n + r ⊙ e)      (after it: cuDNN, torch.nn.GRU)
//   h = (1 − z) ⊙ n + z ⊙ h'
//
// BPTT. With dh = Δ_t + the gradient that reaches h_t from step t+1, per step:
//   dn̄ = dh ⊙ (1 − z) ⊙ (1 − n²)
//   dz̄ = dh ⊙ (h' − n) ⊙ z(1 − z)
//   gru:  de = R_nᵀ dn̄,  dr̄ = de ⊙ h' ⊙ r(1 − r),  dh' = dh ⊙ z + de ⊙ r + R_rᵀ dr̄ + R_zᵀ dz̄
//   lbr:  de = dn̄ ⊙ r,   dr̄ = dn̄ ⊙ e ⊙ r(1 − r),   dh' = dh ⊙ z + R_rᵀ dr̄ + R_zᵀ dz̄ + R_nᵀ de
// and after the loop, over all steps and batch rows, with dX̄ = [dr̄ dz̄ dn̄]:
//   dW = dX̄ᵀ X,  db = Σ dX̄,  dx = dX̄ W,  [dR_r; dR_z] = [dr̄ dz̄]ᵀ H'
//   gru:  dR_n = dn̄ᵀ E          lbr:  dR_n = deᵀ H',  dbR = Σ de
// (H', E: h' and e of every step as rows). No weight-gradient work inside the time loop.
//
// Layout. The per-step record S[t] is [h | r | z | n | e] for every batch row (5N values); S[0]
// holds h0 and zeros. The input projection is written straight into the r z n region of
// S[1..T], and each step adds the recurrent products in place:
//   gru:  [r z] += h'·R_rzᵀ; one pass: r, z, e = r ⊙ h'; n += e·R_nᵀ; one pass: n, h
//   lbr:  [r z] += h'·R_rzᵀ and e = bR + h'·R_nᵀ; one pass: r, z, n, h
// Saved for backward: S, 5·(T+1)·B·N values; the backward pass adds dX̄ (and de for lbr), 3 (4)
// ·T·B·N. Inference (no autograd) keeps two records in a ring. The products are
// odyssey::WeightProduct on raw buffers (recurrent_product.h): no tensor inside the time loop.
//
// Variable lengths: at t ≥ length_b row b keeps h (its record is [h' | 0 0 0 0]) and outputs
// zeros; in the backward pass such a step passes dh through and has dX̄ = 0.
#include "odyssey.h"
#include "recurrent_product.h"

#include <torch/extension.h>

#include <ATen/Parallel.h>
#include <ATen/ops/addmm_cpu_dispatch.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace {

using at::vec::Vectorized;
using odyssey::sigmoid;
using odyssey::WeightProduct;

// The vectors of a record row, at these multiples of N.
constexpr int64_t kH = 0, kR = 1, kZ = 2, kN = 3, kE = 4, kRecord = 5;

// Calls fn(b) for every batch row, in parallel only when a step has enough work.
template <typename Fn>
void for_rows(int64_t B, int64_t N, const Fn& fn) {
  const int64_t grain = std::max<int64_t>(1, 32768 / (kRecord * N));
  at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) fn(b);
  });
}

// gru, the first pass of one row: r, z from their pre-activations (in place), e = r ⊙ h'.
template <typename T>
void reset_row(int64_t N, const T* h_prev, T* rec) {
  using V = Vectorized<T>;
  for (int64_t j = 0; j < N; j += V::size()) {
    const int n = static_cast<int>(std::min<int64_t>(V::size(), N - j));
    const V r = sigmoid(V::loadu(rec + kR * N + j, n));
    const V z = sigmoid(V::loadu(rec + kZ * N + j, n));
    r.store(rec + kR * N + j, n);
    z.store(rec + kZ * N + j, n);
    (r * V::loadu(h_prev + j, n)).store(rec + kE * N + j, n);
  }
}

// The last pass of one row: n = tanh(n̄) with n̄ = x̄_n + R_n e (gru: summed in place, r and z
// already activated) or x̄_n + r ⊙ e (lbr: r and z activated here), h = (1 − z) ⊙ n + z ⊙ h'.
template <typename T, bool LBR>
void update_row(int64_t N, const T* h_prev, T* rec, T* y_out) {
  using V = Vectorized<T>;
  const V one(T(1));
  for (int64_t j = 0; j < N; j += V::size()) {
    const int n = static_cast<int>(std::min<int64_t>(V::size(), N - j));
    V nbar = V::loadu(rec + kN * N + j, n);
    V z = V::loadu(rec + kZ * N + j, n);
    if constexpr (LBR) {
      const V r = sigmoid(V::loadu(rec + kR * N + j, n));
      z = sigmoid(z);
      r.store(rec + kR * N + j, n);
      z.store(rec + kZ * N + j, n);
      nbar = nbar + r * V::loadu(rec + kE * N + j, n);
    }
    const V nv = nbar.tanh();
    const V h = (one - z) * nv + z * V::loadu(h_prev + j, n);
    nv.store(rec + kN * N + j, n);
    h.store(rec + kH * N + j, n);
    h.store(y_out + j, n);
  }
}

// A row past its length: h carried over, the rest of its record zero, output zero.
template <typename T>
void keep_row(int64_t N, const T* rec_prev, T* rec, T* y_out) {
  std::memcpy(rec + kH * N, rec_prev + kH * N, sizeof(T) * N);
  std::memset(rec + kR * N, 0, sizeof(T) * (kRecord - 1) * N);
  std::memset(y_out, 0, sizeof(T) * N);
}

// Backward of update_row for one row: dh = Δ_t + dH; dn̄ and dz̄ (lbr: also dr̄ and de) into the
// row's gradient record d = [dr̄ dz̄ dn̄ (de)]; dH = dh ⊙ z (the products add the rest of dh').
template <typename T, bool LBR>
void update_grad_row(int64_t N, const T* rec, const T* h_prev, const T* delta, T* dH, T* d) {
  using V = Vectorized<T>;
  const V one(T(1));
  for (int64_t j = 0; j < N; j += V::size()) {
    const int n = static_cast<int>(std::min<int64_t>(V::size(), N - j));
    const V dh = V::loadu(delta + j, n) + V::loadu(dH + j, n);
    const V z = V::loadu(rec + kZ * N + j, n);
    const V nv = V::loadu(rec + kN * N + j, n);
    const V dnb = dh * (one - z) * (one - nv * nv);
    const V dzb = dh * (V::loadu(h_prev + j, n) - nv) * z * (one - z);
    dnb.store(d + 2 * N + j, n);
    dzb.store(d + N + j, n);
    if constexpr (LBR) {
      const V r = V::loadu(rec + kR * N + j, n);
      (dnb * V::loadu(rec + kE * N + j, n) * r * (one - r)).store(d + j, n);
      (dnb * r).store(d + 3 * N + j, n);
    }
    (dh * z).store(dH + j, n);
  }
}

// gru, backward of reset_row for one row, once dE holds de = R_nᵀ dn̄: dr̄ = de ⊙ h' ⊙ r(1 − r)
// into d, dH += de ⊙ r; dE is zeroed for the next step's product.
template <typename T>
void reset_grad_row(int64_t N, const T* rec, const T* h_prev, T* dE, T* dH, T* d) {
  using V = Vectorized<T>;
  const V one(T(1));
  const V zero(T(0));
  for (int64_t j = 0; j < N; j += V::size()) {
    const int n = static_cast<int>(std::min<int64_t>(V::size(), N - j));
    const V de = V::loadu(dE + j, n);
    const V r = V::loadu(rec + kR * N + j, n);
    (de * V::loadu(h_prev + j, n) * r * (one - r)).store(d + j, n);
    (V::loadu(dH + j, n) + de * r).store(dH + j, n);
    zero.store(dE + j, n);
  }
}

template <typename T, bool LBR>
void forward_loop(const at::Tensor& S, const at::Tensor& pre, const at::Tensor& R,
                  const at::Tensor& bR, const at::Tensor& y, const int64_t* len, bool save) {
  const int64_t T_ = y.size(0), B = y.size(1), N = y.size(2), RS = kRecord * N;
  T* s = S.data_ptr<T>();
  T* yo = y.data_ptr<T>();
  const T* pr = pre.data_ptr<T>();
  const T* br = LBR ? bR.data_ptr<T>() : nullptr;
  // [r z] += h'·R_rzᵀ; gru: n += e·R_nᵀ, lbr: e += h'·R_nᵀ (offsets within a record row)
  const WeightProduct<T> rz(R.narrow(0, 0, 2 * N), true, B, 2 * N, N, kH * N, kR * N);
  const WeightProduct<T> rn(R.narrow(0, 2 * N, N), true, B, N, N, (LBR ? kH : kE) * N,
                            (LBR ? kE : kN) * N);
  const auto live = [&](int64_t t, int64_t b) { return len == nullptr || t < len[b]; };
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t prev = save ? t : t % 2, cur = save ? t + 1 : (t + 1) % 2;
    const T* sp = s + prev * B * RS;
    T* sc = s + cur * B * RS;
    for (int64_t b = 0; b < B; ++b) {
      if (!save) {  // the ring slot receives this step's input projection first
        std::memcpy(sc + b * RS + kR * N, pr + (t * B + b) * 3 * N, sizeof(T) * 3 * N);
      }
      if constexpr (LBR) std::memcpy(sc + b * RS + kE * N, br, sizeof(T) * N);
    }
    rz(sp, RS, sc, RS);
    if constexpr (LBR) {
      rn(sp, RS, sc, RS);
    } else {  // rows past their length are kept here, so that their e = 0 enters the product
      for_rows(B, N, [&](int64_t b) {
        if (live(t, b)) reset_row<T>(N, sp + b * RS, sc + b * RS);
        else keep_row<T>(N, sp + b * RS, sc + b * RS, yo + (t * B + b) * N);
      });
      rn(sc, RS, sc, RS);
    }
    for_rows(B, N, [&](int64_t b) {
      if (live(t, b)) update_row<T, LBR>(N, sp + b * RS, sc + b * RS, yo + (t * B + b) * N);
      else if (LBR) keep_row<T>(N, sp + b * RS, sc + b * RS, yo + (t * B + b) * N);
    });
  }
}

template <typename T, bool LBR>
void backward_loop(const at::Tensor& S, const at::Tensor& D, const at::Tensor& dH,
                   const at::Tensor& dE, const at::Tensor& dy, const at::Tensor& R,
                   const int64_t* len) {
  const int64_t T_ = D.size(0), B = D.size(1), KD = D.size(2), N = dH.size(1);
  const int64_t RS = kRecord * N;
  const T* s = S.data_ptr<T>();
  T* d = D.data_ptr<T>();
  T* dh = dH.data_ptr<T>();
  T* de = LBR ? nullptr : dE.data_ptr<T>();
  const T* dyp = dy.data_ptr<T>();
  // dH += [dr̄ dz̄]·R_rz; gru: dE += dn̄·R_n, lbr: dH += de·R_n (offsets within a row of D)
  const WeightProduct<T> rz(R.narrow(0, 0, 2 * N), false, B, N, 2 * N, 0, 0);
  const WeightProduct<T> rn(R.narrow(0, 2 * N, N), false, B, N, N, (LBR ? 3 : 2) * N, 0);
  const auto live = [&](int64_t t, int64_t b) { return len == nullptr || t < len[b]; };
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const T* rec = s + (t + 1) * B * RS;
    const T* sp = s + t * B * RS;  // h' at the start of each row
    T* dt = d + t * B * KD;
    for_rows(B, N, [&](int64_t b) {
      if (live(t, b)) {
        update_grad_row<T, LBR>(N, rec + b * RS, sp + b * RS, dyp + (t * B + b) * N, dh + b * N,
                                dt + b * KD);
      } else {
        std::memset(dt + b * KD, 0, sizeof(T) * KD);
      }
    });
    if constexpr (LBR) {
      rn(dt, KD, dh, N);
    } else {
      rn(dt, KD, de, N);
      for_rows(B, N, [&](int64_t b) {
        if (live(t, b)) {
          reset_grad_row<T>(N, rec + b * RS, sp + b * RS, de + b * N, dh + b * N, dt + b * KD);
        }
      });
    }
    rz(dt, KD, dh, N);
  }
}

void check_shapes(const at::Tensor& W, const at::Tensor& R, int64_t N, bool lbr,
                  const at::Tensor* b, const at::Tensor* bR) {
  TORCH_CHECK(W.size(0) == 3 * N && R.size(0) == 3 * N && R.size(1) == N &&
                  (b == nullptr || b->numel() == 3 * N) &&
                  (bR == nullptr || bR->numel() == (lbr ? N : 0)),
              "GRU parameter shapes do not match the hidden size ", N,
              " (W 3N × M, R 3N × N, b 3N, bias_hn N with lbr)");
}

}  // namespace

namespace odyssey {

std::vector<at::Tensor> gru_forward(const at::Tensor& x, const at::Tensor& W, const at::Tensor& R,
                                    const at::Tensor& b, const at::Tensor& bR,
                                    const at::Tensor& h0, const at::Tensor& lengths, bool lbr,
                                    bool save) {
  const at::AutoDispatchBelowADInplaceOrView below_autograd;  // no autograd, no view tracking
  const int64_t T_ = x.size(0), B = x.size(1), M = x.size(2), N = h0.size(1);
  check_shapes(W, R, N, lbr, &b, &bR);
  check_sequence(x, W, {&h0}, N, lengths);
  const auto opts = x.options();
  const int64_t slots = save ? T_ + 1 : 2;
  at::Tensor S = at::empty({slots, B, kRecord * N}, opts);
  at::Tensor y = at::empty({T_, B, N}, opts);
  S.select(0, 0).zero_();
  S.select(0, 0).narrow(1, 0, N).copy_(h0);
  at::Tensor pre = save ? S.narrow(0, 1, T_).narrow(2, kR * N, 3 * N)
                        : at::empty({T_, B, 3 * N}, opts);
  if (T_ > 0) {
    at::Tensor pre2 = pre.view({T_ * B, 3 * N});
    at::cpu::addmm_out(pre2, b, x.reshape({T_ * B, M}), W.t());
  }
  const int64_t* len = lengths.numel() ? lengths.data_ptr<int64_t>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_forward", [&] {
    if (lbr) forward_loop<scalar_t, true>(S, pre, R, bR, y, len, save);
    else forward_loop<scalar_t, false>(S, pre, R, bR, y, len, save);
  });
  at::Tensor h_n = S.select(0, save ? T_ : T_ % 2).narrow(1, 0, N).clone();
  if (!save) return {y, h_n};
  return {y, h_n, S};
}

std::vector<at::Tensor> gru_backward_into(const at::Tensor& dy, const at::Tensor& dh_n,
                                          const at::Tensor& x, const at::Tensor& W,
                                          const at::Tensor& R, const at::Tensor& S,
                                          const at::Tensor& lengths, bool lbr, bool need_dx,
                                          at::Tensor& dW, at::Tensor& dR, at::Tensor& db,
                                          at::Tensor& dbR) {
  const at::AutoDispatchBelowADInplaceOrView below_autograd;  // no autograd, no view tracking
  const int64_t T_ = x.size(0), B = x.size(1), M = x.size(2), N = dh_n.size(1);
  check_shapes(W, R, N, lbr, nullptr, nullptr);
  const auto opts = x.options();
  at::Tensor D = at::empty({T_, B, (lbr ? 4 : 3) * N}, opts);  // [dr̄ dz̄ dn̄ (de)] per step
  at::Tensor dH = dh_n.clone(at::MemoryFormat::Contiguous);
  at::Tensor dE = lbr ? at::Tensor() : at::zeros({B, N}, opts);
  const int64_t* len = lengths.numel() ? lengths.data_ptr<int64_t>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_backward", [&] {
    if (lbr) backward_loop<scalar_t, true>(S, D, dH, dE, dy, R, len);
    else backward_loop<scalar_t, false>(S, D, dH, dE, dy, R, len);
  });
  const at::Tensor Dm = D.view({T_ * B, D.size(2)});
  const at::Tensor dX = Dm.narrow(1, 0, 3 * N);
  at::sum_out(db, dX, 0);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "weight_gradient", [&] {
    odyssey::weight_gradient<scalar_t>(dX, x.reshape({T_ * B, M}), dW);
  });
  const at::Tensor H = S.narrow(0, 0, T_).narrow(2, kH * N, N).reshape({T_ * B, N});  // h'
  at::Tensor dRrz = dR.narrow(0, 0, 2 * N), dRn = dR.narrow(0, 2 * N, N);
  at::mm_out(dRrz, Dm.narrow(1, 0, 2 * N).t(), H);
  if (lbr) {
    at::mm_out(dRn, Dm.narrow(1, 3 * N, N).t(), H);
    at::sum_out(dbR, Dm.narrow(1, 3 * N, N), 0);
  } else {
    const at::Tensor E = S.narrow(0, 1, T_).narrow(2, kE * N, N).reshape({T_ * B, N});
    at::mm_out(dRn, Dm.narrow(1, 2 * N, N).t(), E);
  }
  at::Tensor dx = need_dx ? at::mm(dX, W).view({T_, B, M}) : at::Tensor();
  return {dx, dH};
}

std::vector<at::Tensor> gru_backward(const at::Tensor& dy, const at::Tensor& dh_n,
                                     const at::Tensor& x, const at::Tensor& W, const at::Tensor& R,
                                     const at::Tensor& S, const at::Tensor& lengths, bool lbr,
                                     bool need_dx) {
  const int64_t N = dh_n.size(1);
  at::Tensor dW = at::empty_like(W), dR = at::empty_like(R);
  at::Tensor db = at::empty({3 * N}, W.options()), dbR = at::empty({lbr ? N : 0}, W.options());
  const auto rest = gru_backward_into(dy, dh_n, x, W, R, S, lengths, lbr, need_dx, dW, dR, db,
                                      dbR);
  return {rest[0], dW, dR, db, dbR, rest[1]};
}

}  // namespace odyssey
