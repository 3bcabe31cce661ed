// CTC loss (Graves et al. 2006) for CPU: log-space alpha-beta, vectorised over the states.
//
// For one sequence with log-probabilities lp[t, c] (t < T frames) and labels l (length L), the
// extended labels are l' = (blank, l_1, blank, l_2, …, l_L, blank), S = 2L + 1 states, and
//   α_0(0) = lp[0, blank], α_0(1) = lp[0, l_1], α_0(s) = −∞ otherwise
//   α_t(s) = lp[t, l'_s] + lse(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2) if skip(s))
//   β_{T−1}(S−1) = lp[T−1, blank], β_{T−1}(S−2) = lp[T−1, l_L], β_{T−1}(s) = −∞ otherwise
//   β_t(s) = lp[t, l'_s] + lse(β_{t+1}(s), β_{t+1}(s+1), β_{t+1}(s+2) if skip(s+2))
// where skip(s) ⇔ l'_s ≠ blank and l'_s ≠ l'_{s−2} (a blank may be jumped over between two
// different labels), lse = log Σ exp. The loss is nll = −lse(α_{T−1}(S−1), α_{T−1}(S−2)) and its
// exact gradient with respect to the log-probabilities (both α and β contain lp[t, l'_s]) is
//   ∂nll/∂lp[t, c] = −Σ_{s : l'_s = c} exp(α_t(s) + β_t(s) − lp[t, c] + nll).
// (F.ctc_loss returns exp(lp) − that instead, which assumes lp is a log-softmax output; both
// give the same gradient through a log-softmax. This one is exact for any lp, so gradcheck
// applies.) Frames at or past a sequence's length get a zero gradient.
//
// The recursions run over whole rows of states with at::vec::Vectorized (SLEEF exp/log): the
// −∞ padding in front of (α) or behind (β) each row and a precomputed additive skip mask
// (0 or −∞) make every state's update the same branch-free expression. Sequences of a batch run
// in parallel (at::parallel_for).
#include "odyssey.h"

#include <torch/extension.h>

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace {

using at::vec::Vectorized;

// log(exp(a) + exp(b) + exp(c)), −∞ if all three are −∞.
template <typename T>
inline Vectorized<T> lse3(const Vectorized<T>& a, const Vectorized<T>& b, const Vectorized<T>& c) {
  using V = Vectorized<T>;
  const V ninf(-std::numeric_limits<T>::infinity());
  V m = at::vec::maximum(at::vec::maximum(a, b), c);
  m = V::blendv(m, V(T(0)), m == ninf);  // all −∞: exp(−∞ − 0) = 0, log 0 = −∞
  return m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).log();
}

// One sequence: returns nll; writes grad[t, c] (row stride ldg) for t < T if grad != nullptr.
// lp rows have stride ldp. alpha, beta: scratch of T·(S+2) values each.
template <typename T>
T ctc_sequence(const T* lp, int64_t ldp, int64_t T_, const int64_t* labels, int64_t L,
               int64_t blank, int64_t C, bool zero_infinity, T* grad, int64_t ldg,
               std::vector<T>& alpha, std::vector<T>& beta) {
  using V = Vectorized<T>;
  constexpr int64_t W = V::size();
  const T ninf = -std::numeric_limits<T>::infinity();
  const int64_t S = 2 * L + 1, row = S + 2;
  std::vector<int64_t> ext(S);
  for (int64_t s = 0; s < S; ++s) ext[s] = s % 2 ? labels[s / 2] : blank;
  // skip_a[s]: may α_t(s) come from α_{t−1}(s−2); skip_b[s]: may β_t(s) come from β_{t+1}(s+2).
  std::vector<T> skip_a(S, ninf), skip_b(S, ninf), e(S);
  for (int64_t s = 2; s < S; ++s) {
    if (ext[s] != blank && ext[s] != ext[s - 2]) skip_a[s] = skip_b[s - 2] = T(0);
  }
  alpha.assign(T_ * row, ninf);  // row t: [−∞, −∞, α_t(0 … S−1)]
  beta.assign(T_ * row, ninf);   // row t: [β_t(0 … S−1), −∞, −∞]
  auto emissions = [&](int64_t t) {
    const T* p = lp + t * ldp;
    for (int64_t s = 0; s < S; ++s) e[s] = p[ext[s]];
  };
  if (T_ == 0) return zero_infinity ? T(0) : -ninf;

  T* a0 = alpha.data() + 2;
  a0[0] = lp[blank];
  if (S > 1) a0[1] = lp[ext[1]];
  for (int64_t t = 1; t < T_; ++t) {
    emissions(t);
    const T* prev = alpha.data() + (t - 1) * row + 2;
    T* cur = alpha.data() + t * row + 2;
    for (int64_t s = 0; s < S; s += W) {
      const int n = static_cast<int>(std::min<int64_t>(W, S - s));
      const V a = lse3(V::loadu(prev + s, n), V::loadu(prev + s - 1, n),
                       V::loadu(prev + s - 2, n) + V::loadu(skip_a.data() + s, n));
      (a + V::loadu(e.data() + s, n)).store(cur + s, n);
    }
  }
  const T* last = alpha.data() + (T_ - 1) * row + 2;
  const T hi = last[S - 1], lo = S > 1 ? last[S - 2] : ninf;
  const T m = std::max(hi, lo);
  T nll = m == ninf ? -ninf : -(m + std::log(std::exp(hi - m) + std::exp(lo - m)));
  const bool infinite = !std::isfinite(nll);
  if (infinite && zero_infinity) nll = T(0);
  if (grad == nullptr) return nll;

  for (int64_t t = 0; t < T_; ++t) std::fill(grad + t * ldg, grad + t * ldg + C, T(0));
  if (infinite && zero_infinity) return nll;
  const V vnll(nll);
  std::vector<T> gamma(S);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    emissions(t);
    T* cur = beta.data() + t * row;
    if (t == T_ - 1) {
      cur[S - 1] = e[S - 1];
      if (S > 1) cur[S - 2] = e[S - 2];
    } else {
      const T* next = beta.data() + (t + 1) * row;
      for (int64_t s = 0; s < S; s += W) {
        const int n = static_cast<int>(std::min<int64_t>(W, S - s));
        const V b = lse3(V::loadu(next + s, n), V::loadu(next + s + 1, n),
                         V::loadu(next + s + 2, n) + V::loadu(skip_b.data() + s, n));
        (b + V::loadu(e.data() + s, n)).store(cur + s, n);
      }
    }
    // γ_t(s) = exp(α_t(s) + β_t(s) − lp[t, l'_s] + nll), summed per class
    const T* a = alpha.data() + t * row + 2;
    for (int64_t s = 0; s < S; s += W) {
      const int n = static_cast<int>(std::min<int64_t>(W, S - s));
      (V::loadu(a + s, n) + V::loadu(cur + s, n) - V::loadu(e.data() + s, n) + vnll)
          .exp()
          .store(gamma.data() + s, n);
    }
    T* g = grad + t * ldg;
    for (int64_t s = 0; s < S; ++s) g[ext[s]] -= gamma[s];
  }
  return nll;
}

}  // namespace

namespace odyssey {

// log_probs (T, B, C) contiguous; labels flat int64 with per-sequence offsets. Returns
// {nll (B,), grad (T, B, C) or an empty tensor}.
std::vector<at::Tensor> ctc_forward(const at::Tensor& log_probs, const at::Tensor& labels,
                                    const at::Tensor& offsets, const at::Tensor& input_lengths,
                                    const at::Tensor& target_lengths, int64_t blank,
                                    bool zero_infinity, bool need_grad) {
  const at::AutoDispatchBelowADInplaceOrView below_autograd;  // no autograd, no view tracking
  TORCH_CHECK(log_probs.dim() == 3 && log_probs.is_contiguous(), "log_probs must be (T, B, C)");
  const int64_t T_ = log_probs.size(0), B = log_probs.size(1), C = log_probs.size(2);
  at::Tensor nll = at::empty({B}, log_probs.options());
  at::Tensor grad = need_grad ? at::zeros_like(log_probs) : at::empty({0}, log_probs.options());
  const int64_t* lab = labels.data_ptr<int64_t>();
  const int64_t* off = offsets.data_ptr<int64_t>();
  const int64_t* il = input_lengths.data_ptr<int64_t>();
  const int64_t* tl = target_lengths.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t k = 0; k < tl[b]; ++k) {
      const int64_t c = lab[off[b] + k];
      TORCH_CHECK(c >= 0 && c < C && c != blank, "target label ", c, " of sequence ", b,
                  " is not a class in [0, ", C, ") other than the blank ", blank);
    }
  }
  AT_DISPATCH_FLOATING_TYPES(log_probs.scalar_type(), "ctc_forward", [&] {
    const scalar_t* lp = log_probs.data_ptr<scalar_t>();
    scalar_t* out = nll.data_ptr<scalar_t>();
    scalar_t* g = need_grad ? grad.data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<scalar_t> alpha, beta;
      for (int64_t b = b0; b < b1; ++b) {
        out[b] = ctc_sequence<scalar_t>(lp + b * C, B * C, std::min(il[b], T_), lab + off[b],
                                        tl[b], blank, C, zero_infinity,
                                        g ? g + b * C : nullptr, B * C, alpha, beta);
      }
    });
  });
  return {nll, grad};
}

}  // namespace odyssey
