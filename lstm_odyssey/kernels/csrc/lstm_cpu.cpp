// Fused variant-LSTM for CPU: one forward and one backward call per sequence and direction.
//
// Layout (docs/kernels.md). K = number of pre-activation blocks (gates with weights, then z),
// G = K-1.
// The per-step record S[t] is [y | a (G·N) | z (N)] for every batch row; S[0] holds (h0, a0 = 0).
// The input projection X·Wᵀ + b is written straight into the gate/z region of S[1..T], so each
// step only adds the recurrent term in place and one pointwise pass turns the pre-activations
// into activations. With full gate recurrence the recurrent operand [y_{t-1} | a_{t-1}] is a
// contiguous prefix of S[t-1], and Rext = [R | Rg padded with zero rows for z] (the zero block is
// skipped, see RecurrentGemm). C[t] holds the cells (C[0] = c0). Saved for backward: S and C,
// (K+2)·(T+1)·B·N values. Inference (no autograd) keeps two records in a ring instead.
//
// Variant switches (input gate, forget gate own/none/coupled, output gate, peepholes) are
// template parameters of the pointwise passes; the activations (tanh or identity) and FGR are
// loop-invariant branches. The recurrent products run on raw buffers (register-blocked loop for
// small batches, the BLAS libtorch_cpu exports otherwise): no tensor inside the time loop.
//
// Variable lengths: at t ≥ length_b row b copies its state (y, a, c) and outputs zeros; in the
// backward pass such a step passes the state gradients through and has dPre = 0.
#include "odyssey.h"
#include "recurrent_product.h"

#include <torch/extension.h>

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/ops/addmm_cpu_dispatch.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace {

using at::vec::Vectorized;
using odyssey::sigmoid;
using odyssey::weight_gradient;
using odyssey::WeightProduct;

enum ForgetMode : int64_t { kForgetOwn = 0, kForgetNone = 1, kForgetCoupled = 2 };

// Which blocks exist and where they sit (block indices into the K·N pre-activation row; -1 if
// absent), from the switches of a CellSpec.
struct Layout {
  int64_t N, K, G;
  int64_t bi = -1, bf = -1, bo = -1, bz = -1;  // block of i, f, o, z
  int64_t pi = -1, pf = -1, po = -1;           // peephole vector of i, f, o
  int64_t P = 0;                               // peephole vectors
  bool ig, og, peep, gt, ht, fgr;
  int64_t fm;

  Layout(int64_t n, bool ig_, int64_t fm_, bool og_, bool peep_, bool gt_, bool ht_, bool fgr_)
      : N(n), ig(ig_), og(og_), peep(peep_), gt(gt_), ht(ht_), fgr(fgr_), fm(fm_) {
    int64_t k = 0, q = 0;
    if (ig) { bi = k++; if (peep) pi = q++; }
    if (fm == kForgetOwn) { bf = k++; if (peep) pf = q++; }
    if (og) { bo = k++; if (peep) po = q++; }
    bz = k++;
    K = k;
    G = K - 1;
    P = q;
  }
  int64_t record() const { return (1 + K) * N; }              // width of S rows
  int64_t state() const { return fgr ? (1 + G) * N : N; }     // recurrent operand width
};

// Forward pointwise pass for one batch row at one step:
//   pre (K·N, in place): pre-activations in, activations [i f o z] out;
//   c_t = z ⊙ i + c_{t-1} ⊙ f, o peeks at the new c_t, y = h(c_t) ⊙ o.
template <typename T, bool IG, int64_t FM, bool OG, bool PEEP>
void forward_row(const Layout& L, T* pre, const T* c_prev, T* c_out, T* y_state, T* y_out,
                 const T* p) {
  using V = Vectorized<T>;
  const int64_t N = L.N;
  T* gi = IG ? pre + L.bi * N : nullptr;
  T* gf = FM == kForgetOwn ? pre + L.bf * N : nullptr;
  T* go = OG ? pre + L.bo * N : nullptr;
  T* gz = pre + L.bz * N;
  const T* p_i = PEEP && IG ? p + L.pi * N : nullptr;
  const T* p_f = PEEP && FM == kForgetOwn ? p + L.pf * N : nullptr;
  const T* p_o = PEEP && OG ? p + L.po * N : nullptr;
  const V one(T(1));
  for (int64_t j = 0; j < N; j += V::size()) {
    const int n = static_cast<int>(std::min<int64_t>(V::size(), N - j));
    const V cp = V::loadu(c_prev + j, n);
    V z = V::loadu(gz + j, n);
    if (L.gt) z = z.tanh();
    V i = one;
    if constexpr (IG) {
      V a = V::loadu(gi + j, n);
      if constexpr (PEEP) a = a + V::loadu(p_i + j, n) * cp;
      i = sigmoid(a);
      i.store(gi + j, n);
    }
    V f = one;
    if constexpr (FM == kForgetOwn) {
      V a = V::loadu(gf + j, n);
      if constexpr (PEEP) a = a + V::loadu(p_f + j, n) * cp;
      f = sigmoid(a);
      f.store(gf + j, n);
    } else if constexpr (FM == kForgetCoupled) {
      f = one - i;
    }
    const V c = IG ? z * i + cp * f : z + cp * f;
    V o = one;
    if constexpr (OG) {
      V a = V::loadu(go + j, n);
      if constexpr (PEEP) a = a + V::loadu(p_o + j, n) * c;
      o = sigmoid(a);
      o.store(go + j, n);
    }
    const V hc = L.ht ? c.tanh() : c;
    const V y = OG ? hc * o : hc;
    z.store(gz + j, n);
    c.store(c_out + j, n);
    y.store(y_state + j, n);
    y.store(y_out + j, n);
  }
}

// Backward pointwise pass for one batch row at one step (docs/kernels.md, all switches):
//   dy = Δ_t + dS_y; do = dy ⊙ h(c_t) (+ da_o); dō = do ⊙ o(1−o)
//   dc = dc_next + dy ⊙ o ⊙ h'(c_t) + p_o ⊙ dō
//   di = dc ⊙ z (+ da_i) (− dc ⊙ c_{t−1} with CIFG); df = dc ⊙ c_{t−1} (+ da_f)
//   dz̄ = dc ⊙ i ⊙ g'(z); dī = di ⊙ i(1−i); df̄ = df ⊙ f(1−f)
//   dc_{t−1} = dc ⊙ f + p_i ⊙ dī + p_f ⊙ df̄
// dS ([dy | da], the gradient w.r.t. the state S_t) is read and zeroed, so that the following
// GEMM dS += dPre_t · Rext yields the gradient w.r.t. S_{t−1}. dc is updated in place.
template <typename T, bool IG, int64_t FM, bool OG, bool PEEP>
void backward_row(const Layout& L, const T* act, const T* c_t, const T* c_prev, const T* p,
                  const T* delta, T* dS, T* dc, T* dpre) {
  using V = Vectorized<T>;
  const int64_t N = L.N;
  const T* p_i = PEEP && IG ? p + L.pi * N : nullptr;
  const T* p_f = PEEP && FM == kForgetOwn ? p + L.pf * N : nullptr;
  const T* p_o = PEEP && OG ? p + L.po * N : nullptr;
  T* da = dS + N;  // gradient w.r.t. a_t, gate blocks in block order (FGR only)
  const V one(T(1));
  const V zero(T(0));
  for (int64_t j = 0; j < N; j += V::size()) {
    const int n = static_cast<int>(std::min<int64_t>(V::size(), N - j));
    const V dy = V::loadu(dS + j, n) + V::loadu(delta + j, n);
    zero.store(dS + j, n);
    const V c = V::loadu(c_t + j, n);
    const V cp = V::loadu(c_prev + j, n);
    const V z = V::loadu(act + L.bz * N + j, n);
    const V i = IG ? V::loadu(act + L.bi * N + j, n) : one;
    V f = one;
    if constexpr (FM == kForgetOwn) f = V::loadu(act + L.bf * N + j, n);
    if constexpr (FM == kForgetCoupled) f = one - i;
    const V o = OG ? V::loadu(act + L.bo * N + j, n) : one;
    const V hc = L.ht ? c.tanh() : c;
    V dcv = V::loadu(dc + j, n) + (L.ht ? dy * o * (one - hc * hc) : dy * o);
    if constexpr (OG) {
      V d_o = dy * hc;
      if (L.fgr) {
        d_o = d_o + V::loadu(da + L.bo * N + j, n);
        zero.store(da + L.bo * N + j, n);
      }
      const V dob = d_o * o * (one - o);
      dob.store(dpre + L.bo * N + j, n);
      if constexpr (PEEP) dcv = dcv + V::loadu(p_o + j, n) * dob;
    }
    V dcp = dcv * f;
    if constexpr (IG) {
      V di = dcv * z;
      if constexpr (FM == kForgetCoupled) di = di - dcv * cp;
      if (L.fgr) {
        di = di + V::loadu(da + L.bi * N + j, n);
        zero.store(da + L.bi * N + j, n);
      }
      const V dib = di * i * (one - i);
      dib.store(dpre + L.bi * N + j, n);
      if constexpr (PEEP) dcp = dcp + V::loadu(p_i + j, n) * dib;
    }
    if constexpr (FM == kForgetOwn) {
      V df = dcv * cp;
      if (L.fgr) {
        df = df + V::loadu(da + L.bf * N + j, n);
        zero.store(da + L.bf * N + j, n);
      }
      const V dfb = df * f * (one - f);
      dfb.store(dpre + L.bf * N + j, n);
      if constexpr (PEEP) dcp = dcp + V::loadu(p_f + j, n) * dfb;
    }
    const V dzi = IG ? dcv * i : dcv;
    const V dzb = L.gt ? dzi * (one - z * z) : dzi;
    dzb.store(dpre + L.bz * N + j, n);
    dcp.store(dc + j, n);
  }
}

// Calls fn(IG, FM, OG, PEEP) with the switches as std::integral_constant values.
template <typename Fn>
void dispatch_switches(const Layout& L, Fn&& fn) {
  auto with_peep = [&](auto ig, auto fm, auto og) {
    if (L.peep) fn(ig, fm, og, std::true_type{});
    else fn(ig, fm, og, std::false_type{});
  };
  auto with_og = [&](auto ig, auto fm) {
    if (L.og) with_peep(ig, fm, std::true_type{});
    else with_peep(ig, fm, std::false_type{});
  };
  auto with_fm = [&](auto ig) {
    if (L.fm == kForgetOwn) with_og(ig, std::integral_constant<int64_t, kForgetOwn>{});
    else if (L.fm == kForgetNone) with_og(ig, std::integral_constant<int64_t, kForgetNone>{});
    else with_og(ig, std::integral_constant<int64_t, kForgetCoupled>{});
  };
  if (L.ig) with_fm(std::true_type{});
  else with_fm(std::false_type{});
}

// Rows per parallel chunk: parallelise over the batch only when a step has enough work.
int64_t grain(const Layout& L) { return std::max<int64_t>(1, 32768 / (L.K * L.N)); }

// The recurrent products of one step, with Rext = [R | Rg'] (KN × SW). Forward:
// pre_t += S_{t-1}·Rextᵀ; backward: dS += dPre_t·Rext. With FGR the zero block of Rext (z rows ×
// gate columns) is skipped by splitting each product in two.
template <typename T>
class RecurrentGemm {
 public:
  RecurrentGemm(const Layout& L, const at::Tensor& rext, bool forward, int64_t B) {
    const int64_t N = L.N, KN = L.K * N, GN = L.G * N, SW = L.state();
    if (!L.fgr) {
      parts_.emplace_back(rext, forward, B, forward ? KN : SW, forward ? SW : KN, 0, 0);
    } else if (forward) {  // all blocks read y; the gate blocks also read a
      parts_.emplace_back(rext.narrow(1, 0, N), true, B, KN, N, 0, 0);
      parts_.emplace_back(rext.narrow(0, 0, GN).narrow(1, N, GN), true, B, GN, GN, N, 0);
    } else {  // gate rows reach [y | a]; z rows only y
      parts_.emplace_back(rext.narrow(0, 0, GN), false, B, SW, GN, 0, 0);
      parts_.emplace_back(rext.narrow(0, GN, N).narrow(1, 0, N), false, B, N, N, GN, 0);
    }
  }

  void operator()(const T* a, int64_t lda, T* c, int64_t ldc) const {
    for (const auto& part : parts_) part(a, lda, c, ldc);
  }

 private:
  std::vector<WeightProduct<T>> parts_;
};

template <typename T>
void forward_loop(const Layout& L, const at::Tensor& S, const at::Tensor& C, const at::Tensor& pre,
                  const at::Tensor& Rext, const at::Tensor& y, const at::Tensor& p,
                  const int64_t* len, bool save) {
  const int64_t T_ = y.size(0), B = y.size(1), N = L.N, KN = L.K * N, RW = L.record();
  const int64_t GN = L.G * N, SW = L.state();
  T* s = S.data_ptr<T>();
  T* c = C.data_ptr<T>();
  T* yo = y.data_ptr<T>();
  const T* pr = pre.data_ptr<T>();
  const T* pp = p.numel() ? p.data_ptr<T>() : nullptr;
  const RecurrentGemm<T> gemm(L, Rext, /*forward=*/true, B);
  dispatch_switches(L, [&](auto ig, auto fm, auto og, auto peep) {
    for (int64_t t = 0; t < T_; ++t) {
      const int64_t prev = save ? t : t % 2, cur = save ? t + 1 : (t + 1) % 2;
      T* out = s + cur * B * RW + N;
      if (!save) {  // the ring slot receives this step's input projection first
        for (int64_t b = 0; b < B; ++b) {
          std::memcpy(out + b * RW, pr + (t * B + b) * KN, sizeof(T) * KN);
        }
      }
      // pre_t (B×KN, row stride RW) += S_{t-1}[:, :SW] · Rextᵀ
      gemm(s + prev * B * RW, RW, out, RW);
      at::parallel_for(0, B, grain(L), [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          T* rec = s + (cur * B + b) * RW;
          const T* rec_prev = s + (prev * B + b) * RW;
          T* c_out = c + (cur * B + b) * N;
          const T* c_prev = c + (prev * B + b) * N;
          T* y_out = yo + (t * B + b) * N;
          if (len == nullptr || t < len[b]) {
            forward_row<T, decltype(ig)::value, decltype(fm)::value, decltype(og)::value,
                        decltype(peep)::value>(L, rec + N, c_prev, c_out, rec, y_out, pp);
          } else {
            std::memcpy(rec, rec_prev, sizeof(T) * (N + GN));
            std::memcpy(c_out, c_prev, sizeof(T) * N);
            std::memset(y_out, 0, sizeof(T) * N);
          }
        }
      });
    }
  });
}

// The peephole gradients dp_g = Σ_{t,b} dPre[t, b, block g] ⊙ cells, summed over the rows in
// order: i and f peek at c_{t−1} (C row r), o at the new c_t (C row r + B).
template <typename T>
void peephole_grads(const Layout& L, const T* d, const T* c, int64_t rows, int64_t B, T* dp) {
  const int64_t N = L.N, KN = L.K * N;
  const int64_t blocks[3] = {L.bi, L.bf, L.bo}, peeps[3] = {L.pi, L.pf, L.po};
  for (int g = 0; g < 3; ++g) {
    if (peeps[g] < 0) continue;
    T* out = dp + peeps[g] * N;
    std::fill(out, out + N, T(0));
    for (int64_t r = 0; r < rows; ++r) {
      const T* dr = d + r * KN + blocks[g] * N;
      const T* cr = c + (g == 2 ? r + B : r) * N;
      for (int64_t j = 0; j < N; ++j) out[j] += dr[j] * cr[j];
    }
  }
}

Layout make_layout(int64_t N, const std::vector<int64_t>& sw) {
  TORCH_CHECK(sw.size() == 7, "expected 7 switches (ig, fm, og, peep, gt, ht, fgr)");
  return Layout(N, sw[0], sw[1], sw[2], sw[3], sw[4], sw[5], sw[6]);
}

}  // namespace

namespace odyssey {

// Returns {y, h_n, c_n, S, C}; S and C are only meaningful with save=true.
std::vector<at::Tensor> lstm_forward(const at::Tensor& x, const at::Tensor& W,
                                     const at::Tensor& Rext, const at::Tensor& b,
                                     const at::Tensor& p, const at::Tensor& h0,
                                     const at::Tensor& c0, const at::Tensor& lengths,
                                     const std::vector<int64_t>& switches, bool save) {
  const at::AutoDispatchBelowADInplaceOrView below_autograd;  // no autograd, no view tracking
  const int64_t T_ = x.size(0), B = x.size(1), M = x.size(2), N = h0.size(1);
  const Layout L = make_layout(N, switches);
  const int64_t KN = L.K * N;
  TORCH_CHECK(W.size(0) == KN && Rext.size(0) == KN && Rext.size(1) == L.state(),
              "weight shapes do not match the variant");
  TORCH_CHECK(b.numel() == KN, "b must have ", KN, " entries (one per gate row)");
  TORCH_CHECK(p.numel() == (L.peep ? L.P * N : 0), "p must have ", L.peep ? L.P * N : 0,
              " entries (N per peephole of the variant)");
  check_sequence(x, W, {&h0, &c0}, N, lengths);
  const auto opts = x.options();
  const int64_t slots = save ? T_ + 1 : 2;
  at::Tensor S = at::empty({slots, B, L.record()}, opts);
  at::Tensor C = at::empty({slots, B, N}, opts);
  at::Tensor y = at::empty({T_, B, N}, opts);
  S.select(0, 0).zero_();
  S.select(0, 0).narrow(1, 0, N).copy_(h0);
  C.select(0, 0).copy_(c0);
  at::Tensor pre = save ? S.narrow(0, 1, T_).narrow(2, N, KN) : at::empty({T_, B, KN}, opts);
  if (T_ > 0) {
    at::Tensor pre2 = pre.view({T_ * B, KN});
    at::cpu::addmm_out(pre2, b, x.reshape({T_ * B, M}), W.t());
  }
  const int64_t* len = lengths.numel() ? lengths.data_ptr<int64_t>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_forward", [&] {
    forward_loop<scalar_t>(L, S, C, pre, Rext, y, p, len, save);
  });
  const int64_t last = save ? T_ : T_ % 2;
  at::Tensor h_n = S.select(0, last).narrow(1, 0, N).clone();
  at::Tensor c_n = C.select(0, last).clone();
  if (!save) return {y, h_n, c_n};
  return {y, h_n, c_n, S, C};
}

template <typename T>
void backward_loop(const Layout& L, const at::Tensor& S, const at::Tensor& C, const at::Tensor& D,
                   const at::Tensor& dS, const at::Tensor& dc, const at::Tensor& dy,
                   const at::Tensor& Rext, const at::Tensor& p, const int64_t* len) {
  const int64_t T_ = D.size(0), B = D.size(1), N = L.N, KN = L.K * N, RW = L.record();
  const T* s = S.data_ptr<T>();
  const T* c = C.data_ptr<T>();
  T* d = D.data_ptr<T>();
  T* ds = dS.data_ptr<T>();
  T* dcp = dc.data_ptr<T>();
  const T* dyp = dy.data_ptr<T>();
  const T* pp = p.numel() ? p.data_ptr<T>() : nullptr;
  const int64_t SW = L.state();
  const RecurrentGemm<T> gemm(L, Rext, /*forward=*/false, B);
  dispatch_switches(L, [&](auto ig, auto fm, auto og, auto peep) {
    for (int64_t t = T_ - 1; t >= 0; --t) {
      at::parallel_for(0, B, grain(L), [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          T* drow = d + (t * B + b) * KN;
          if (len == nullptr || t < len[b]) {
            backward_row<T, decltype(ig)::value, decltype(fm)::value, decltype(og)::value,
                         decltype(peep)::value>(
                L, s + ((t + 1) * B + b) * RW + N, c + ((t + 1) * B + b) * N,
                c + (t * B + b) * N, pp, dyp + (t * B + b) * N, ds + b * SW, dcp + b * N, drow);
          } else {
            std::memset(drow, 0, sizeof(T) * KN);
          }
        }
      });
      // dS (B×SW) += dPre_t (B×KN) · Rext (KN×SW)
      gemm(d + t * B * KN, KN, ds, SW);
    }
  });
}

std::vector<at::Tensor> lstm_backward_into(const at::Tensor& dy, const at::Tensor& dh_n,
                                           const at::Tensor& dc_n, const at::Tensor& x,
                                           const at::Tensor& W, const at::Tensor& Rext,
                                           const at::Tensor& p, const at::Tensor& S,
                                           const at::Tensor& C, const at::Tensor& lengths,
                                           const std::vector<int64_t>& switches, bool need_dx,
                                           at::Tensor& dW, at::Tensor& dRext, at::Tensor& db,
                                           at::Tensor& dp) {
  const at::AutoDispatchBelowADInplaceOrView below_autograd;  // no autograd, no view tracking
  const int64_t T_ = x.size(0), B = x.size(1), M = x.size(2), N = dh_n.size(1);
  const Layout L = make_layout(N, switches);
  const int64_t KN = L.K * N, SW = L.state();
  const auto opts = x.options();
  at::Tensor D = at::empty({T_, B, KN}, opts);
  at::Tensor dS = at::zeros({B, SW}, opts);
  dS.narrow(1, 0, N).copy_(dh_n);
  at::Tensor dc = dc_n.clone();
  const int64_t* len = lengths.numel() ? lengths.data_ptr<int64_t>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_backward", [&] {
    backward_loop<scalar_t>(L, S, C, D, dS, dc, dy, Rext, p, len);
  });
  at::Tensor Dm = D.view({T_ * B, KN});
  at::sum_out(db, Dm, 0);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "weight_gradient", [&] {
    weight_gradient<scalar_t>(Dm, x.reshape({T_ * B, M}), dW);
  });
  at::mm_out(dRext, Dm.t(), S.narrow(0, 0, T_).narrow(2, 0, SW).reshape({T_ * B, SW}));
  at::Tensor dx = need_dx ? at::mm(Dm, W).view({T_, B, M}) : at::Tensor();
  if (L.peep) {
    TORCH_CHECK(dp.is_contiguous() && dp.numel() == p.numel(), "dp must be contiguous like p");
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "peephole_grads", [&] {
      peephole_grads<scalar_t>(L, D.data_ptr<scalar_t>(), C.data_ptr<scalar_t>(), T_ * B, B,
                               dp.data_ptr<scalar_t>());
    });
  }
  return {dx, dS.narrow(1, 0, N).clone(), dc};
}

// Returns {dx (or undefined), dW, dRext, db, dp (or empty), dh0, dc0}.
std::vector<at::Tensor> lstm_backward(const at::Tensor& dy, const at::Tensor& dh_n,
                                      const at::Tensor& dc_n, const at::Tensor& x,
                                      const at::Tensor& W, const at::Tensor& Rext,
                                      const at::Tensor& p, const at::Tensor& S,
                                      const at::Tensor& C, const at::Tensor& lengths,
                                      std::vector<int64_t> switches, bool need_dx) {
  at::Tensor dW = at::empty_like(W), dRext = at::empty_like(Rext);
  at::Tensor db = at::empty({W.size(0)}, W.options()), dp = at::empty({p.numel()}, W.options());
  const auto rest = lstm_backward_into(dy, dh_n, dc_n, x, W, Rext, p, S, C, lengths, switches,
                                       need_dx, dW, dRext, db, dp);
  return {rest[0], dW, dRext, db, dp, rest[1], rest[2]};
}

}  // namespace odyssey

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Fused variant-LSTM and GRU forward and BPTT backward, the CTC loss, the training "
            "step of one sequence and the optimiser's update, for CPU (lstm_odyssey)";
  m.def("forward", &odyssey::lstm_forward, "fused LSTM forward over a sequence");
  m.def("backward", &odyssey::lstm_backward, "fused LSTM backward (BPTT) over a sequence");
  m.def("gru_forward", &odyssey::gru_forward, "fused GRU forward over a sequence");
  m.def("gru_backward", &odyssey::gru_backward, "fused GRU backward (BPTT) over a sequence");
  m.def("ctc_forward", &odyssey::ctc_forward,
        "CTC loss per sequence and its gradient (log-space)");
  m.def("network_step", &odyssey::network_step,
        "loss and gradients of (bi)LSTM + linear output + loss on one sequence");
  m.def("gru_network_step", &odyssey::gru_network_step,
        "loss and gradients of (bi)GRU + linear output + loss on one sequence");
  m.def("nesterov_lookahead", &odyssey::nesterov_lookahead,
        "NesterovSGD's first half in place: v *= momentum, theta += v");
  m.def("nesterov_descent", &odyssey::nesterov_descent,
        "NesterovSGD's second half in place: v -= step * g, theta -= step * g");
}
