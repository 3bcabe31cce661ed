// Building blocks shared by the recurrent kernels (lstm_cpu.cpp, gru_cpu.cpp): the vectorised
// sigmoid, the per-step product with a fixed weight block on raw buffers (WeightProduct: a
// register-blocked loop on weights packed into column panels for small batches, the BLAS that
// libtorch_cpu exports otherwise) and the input weights' gradient after the loop
// (weight_gradient).
#pragma once

#include <ATen/ATen.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

extern "C" {
void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc);
void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b,
            const int* ldb, const double* beta, double* c, const int* ldc);
// MKL's packed GEMM (weak: absent from torch builds without MKL, then plain sgemm_ is used).
size_t cblas_sgemm_pack_get_size(int identifier, int m, int n, int k) __attribute__((weak));
void cblas_sgemm_pack(int layout, int identifier, int trans, int m, int n, int k, float alpha,
                      const float* src, int ld, float* dest) __attribute__((weak));
void cblas_sgemm_compute(int layout, int transa, int transb, int m, int n, int k, const float* a,
                         int lda, const float* b, int ldb, float beta, float* c,
                         int ldc) __attribute__((weak));
}

namespace odyssey {

using at::vec::Vectorized;

// σ(x) = 1 / (1 + exp(−x)), with ATen's vectorised exp.
template <typename T>
inline Vectorized<T> sigmoid(const Vectorized<T>& x) {
  const Vectorized<T> one(T(1));
  return one / (one + (Vectorized<T>(T(0)) - x).exp());
}

// Panels of op(w) for the small-batch product: op(w) (k×n) cut into column panels of at most
// kPanel vectors, each stored row-major and contiguous (k rows of its width rounded up to whole
// vectors, zero padded), so that a panel streams through the cache in order.
constexpr int kPanel = 8;

// Accumulator sets per panel width U (in vectors): the k rows are split into S interleaved
// partial sums so that U·S independent FMA chains hide the FMA latency (narrow panels, as in the
// backward product dS += dPre·Rext with n = N, would otherwise wait on one chain per vector).
constexpr int splits(int U) { return U <= 1 ? 8 : U <= 2 ? 4 : U <= 5 ? 2 : 1; }

// c[0:width] += Σ_i a[i] · panel[i, 0:width] for a panel of U vectors (row stride U·W), with the
// rows i ≡ s (mod S) summed into accumulator set s, the sets added at the end. Rows about 2 KiB
// ahead are prefetched: at N ≥ 63 the weights do not fit in L1 and stream from L2 every step,
// and the hardware prefetchers alone leave ~12 % of that bandwidth unused.
template <typename T, int U>
inline void gemv_panel(int64_t k, const T* a, const T* panel, T* c, int64_t width) {
  using V = Vectorized<T>;
  constexpr int64_t W = V::size();
  constexpr int S = splits(U);
  constexpr int64_t ld = U * W;
  constexpr int64_t ahead = std::max<int64_t>(4, 2048 / static_cast<int64_t>(sizeof(T) * ld)) * ld;
  // one prefetch per vector of the row (a 64-byte line with AVX-512; with AVX2 two per line)
  const auto prefetch = [](const T* row) {
    for (int u = 0; u < U; ++u) __builtin_prefetch(row + ahead + u * W, 0, 3);
  };
  V acc[S][U];
  for (int u = 0; u < U; ++u) {
    const int64_t cnt = std::min<int64_t>(W, width - u * W);
    acc[0][u] = cnt == W ? V::loadu(c + u * W) : V::loadu(c + u * W, static_cast<int>(cnt));
    for (int q = 1; q < S; ++q) acc[q][u] = V(T(0));
  }
  int64_t i = 0;
  for (; i + S <= k; i += S) {
    for (int q = 0; q < S; ++q) {
      const V ai(a[i + q]);
      const T* row = panel + (i + q) * ld;
      prefetch(row);
      for (int u = 0; u < U; ++u) acc[q][u] = at::vec::fmadd(ai, V::loadu(row + u * W), acc[q][u]);
    }
  }
  for (; i < k; ++i) {
    const V ai(a[i]);
    const T* row = panel + i * ld;
    for (int u = 0; u < U; ++u) acc[0][u] = at::vec::fmadd(ai, V::loadu(row + u * W), acc[0][u]);
  }
  for (int u = 0; u < U; ++u) {
    for (int q = 1; q < S; ++q) acc[0][u] = acc[0][u] + acc[q][u];
    const int64_t cnt = std::min<int64_t>(W, width - u * W);
    if (cnt == W) acc[0][u].store(c + u * W);
    else acc[0][u].store(c + u * W, static_cast<int>(cnt));
  }
}

// c[0:n] += a[0:k] · op(w), op(w) stored as panels (see kPanel).
template <typename T>
void gemv_panels(int64_t n, int64_t k, const T* a, const T* panels, T* c) {
  constexpr int64_t W = Vectorized<T>::size();
  for (int64_t j = 0; j < n; j += kPanel * W) {
    const int64_t width = std::min<int64_t>(kPanel * W, n - j);
    const T* panel = panels + j * k;  // the panels before this one are k × kPanel·W each
    switch ((width + W - 1) / W) {
      case 8: gemv_panel<T, 8>(k, a, panel, c + j, width); break;
      case 7: gemv_panel<T, 7>(k, a, panel, c + j, width); break;
      case 6: gemv_panel<T, 6>(k, a, panel, c + j, width); break;
      case 5: gemv_panel<T, 5>(k, a, panel, c + j, width); break;
      case 4: gemv_panel<T, 4>(k, a, panel, c + j, width); break;
      case 3: gemv_panel<T, 3>(k, a, panel, c + j, width); break;
      case 2: gemv_panel<T, 2>(k, a, panel, c + j, width); break;
      case 1: gemv_panel<T, 1>(k, a, panel, c + j, width); break;
      default: break;
    }
  }
}

// Packs op(w) (k×n; op(w)[i, j] = trans ? w[j, i] : w[i, j], w with row stride ld) into panels.
template <typename T>
void pack_panels(const T* w, int64_t ld, bool trans, int64_t n, int64_t k, T* out) {
  constexpr int64_t W = Vectorized<T>::size();
  for (int64_t j0 = 0; j0 < n; j0 += kPanel * W) {
    const int64_t width = std::min<int64_t>(kPanel * W, n - j0);
    const int64_t pw = (width + W - 1) / W * W;
    T* panel = out + j0 * k;
    if (!trans) {
      for (int64_t i = 0; i < k; ++i) {
        std::memcpy(panel + i * pw, w + i * ld + j0, sizeof(T) * width);
        std::fill(panel + i * pw + width, panel + (i + 1) * pw, T(0));
      }
      continue;
    }
    constexpr int64_t kTile = 16;  // transpose in tiles that stay in L1
    for (int64_t i0 = 0; i0 < k; i0 += kTile) {
      const int64_t i1 = std::min(k, i0 + kTile);
      for (int64_t j = 0; j < pw; ++j) {
        const T* src = w + (j0 + j) * ld;
        for (int64_t i = i0; i < i1; ++i) panel[i * pw + j] = j < width ? src[i] : T(0);
      }
    }
  }
}

// One product C[:, c_off:c_off+n] += A[:, a_off:a_off+k] · op(w) for a whole sequence, where w
// is a (strided) block of Rext that stays fixed, on raw buffers: no tensor, view or dispatcher
// call inside the time loop. Small batches (the paper's batch size 1) use the register-blocked
// loop above on op(w) packed into panels once per sequence; larger ones the BLAS that
// libtorch_cpu exports, with w packed once per sequence when that BLAS is MKL (float32).
template <typename T>
class WeightProduct {
 public:
  static constexpr int64_t kSmallBatch = 4;

  WeightProduct(const at::Tensor& w, bool trans, int64_t m, int64_t n, int64_t k, int64_t a_off,
                int64_t c_off)
      : ld_(static_cast<int>(w.stride(0))), trans_(trans), m_(static_cast<int>(m)),
        n_(static_cast<int>(n)), k_(static_cast<int>(k)), a_off_(a_off), c_off_(c_off) {
    if (m < kSmallBatch) {
      constexpr int64_t W = Vectorized<T>::size();
      weights_ = at::empty({k * ((n + W - 1) / W * W)}, w.options());
      pack_panels<T>(w.data_ptr<T>(), w.stride(0), trans, n, k, weights_.data_ptr<T>());
      return;
    }
    weights_ = w;
    if constexpr (std::is_same_v<T, float>) {
      if (cblas_sgemm_pack_get_size && cblas_sgemm_pack && cblas_sgemm_compute) {
        const auto bytes = cblas_sgemm_pack_get_size(kBMatrix, m_, n_, k_);
        packed_ = at::empty({static_cast<int64_t>(bytes)}, at::kByte);
        cblas_sgemm_pack(kRowMajor, kBMatrix, trans ? kTrans : kNoTrans, m_, n_, k_, 1.0f,
                         w.data_ptr<float>(), ld_, reinterpret_cast<float*>(packed_.data_ptr()));
      }
    }
  }

  void operator()(const T* a, int64_t lda, T* c, int64_t ldc) const {
    a += a_off_;
    c += c_off_;
    const T* w = weights_.data_ptr<T>();
    if (m_ < kSmallBatch) {
      for (int64_t r = 0; r < m_; ++r) gemv_panels<T>(n_, k_, a + r * lda, w, c + r * ldc);
      return;
    }
    const int la = static_cast<int>(lda), lc = static_cast<int>(ldc);
    const T one(1);
    if constexpr (std::is_same_v<T, float>) {
      if (packed_.defined()) {
        cblas_sgemm_compute(kRowMajor, kNoTrans, kPacked, m_, n_, k_, a, la,
                            reinterpret_cast<const float*>(packed_.data_ptr()), ld_, 1.0f, c, lc);
        return;
      }
    }
    // Column-major BLAS sees the row-major C as Cᵀ = op(w)ᵀ · Aᵀ.
    const char ta = trans_ ? 'T' : 'N', tb = 'N';
    if constexpr (std::is_same_v<T, float>) {
      sgemm_(&ta, &tb, &n_, &m_, &k_, &one, w, &ld_, a, &la, &one, c, &lc);
    } else {
      dgemm_(&ta, &tb, &n_, &m_, &k_, &one, w, &ld_, a, &la, &one, c, &lc);
    }
  }

 private:
  static constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112, kPacked = 151;
  static constexpr int kBMatrix = 162;
  int ld_;
  bool trans_;
  int m_, n_, k_;
  int64_t a_off_, c_off_;
  at::Tensor weights_, packed_;
};

// out (n × k, row-major, contiguous) = dᵀ · x for d (rows × n, row stride ldd) and x (rows × k,
// row stride ldx), k = MC ≤ 8: the input weights' gradient dW = dPreᵀ·X for inputs of a few
// features (handwriting's 4), where BLAS took ~10× longer than this one pass over d (its
// blocking does not pay for 4 columns). Each vector of n keeps its MC column accumulators in
// registers while the rows stream by; every output element is one FMA chain over the rows in
// order (deterministic, like the GEMM it replaces, though not in the same order).
template <typename T, int MC>
void narrow_weight_gradient(int64_t rows, int64_t n, const T* d, int64_t ldd, const T* x,
                            int64_t ldx, T* out) {
  using V = Vectorized<T>;
  constexpr int64_t W = V::size();
  T tile[MC][W];
  for (int64_t j = 0; j < n; j += W) {
    const int64_t cnt = std::min(W, n - j);
    V acc[MC];
    for (int c = 0; c < MC; ++c) acc[c] = V(T(0));
    for (int64_t r = 0; r < rows; ++r) {
      const T* dr = d + r * ldd + j;
      const V dv = cnt == W ? V::loadu(dr) : V::loadu(dr, static_cast<int>(cnt));
      const T* xr = x + r * ldx;
      for (int c = 0; c < MC; ++c) acc[c] = at::vec::fmadd(dv, V(xr[c]), acc[c]);
    }
    for (int c = 0; c < MC; ++c) acc[c].store(tile[c]);
    for (int64_t i = 0; i < cnt; ++i) {
      for (int c = 0; c < MC; ++c) out[(j + i) * MC + c] = tile[c][i];
    }
  }
}

// out = dᵀ · x (see narrow_weight_gradient) for 2-d d and x with unit column stride and out
// contiguous: the loop above for k ≤ 8 columns, BLAS (at::mm_out) otherwise.
template <typename T>
void weight_gradient(const at::Tensor& d, const at::Tensor& x, at::Tensor& out) {
  const int64_t rows = d.size(0), n = d.size(1), k = x.size(1);
  if (k > 8 || !out.is_contiguous() || d.stride(1) != 1 || x.stride(1) != 1) {
    at::mm_out(out, d.t(), x);
    return;
  }
  const T* dp = d.data_ptr<T>();
  const T* xp = x.data_ptr<T>();
  T* o = out.data_ptr<T>();
  const int64_t ldd = d.stride(0), ldx = x.stride(0);
  switch (k) {
    case 8: narrow_weight_gradient<T, 8>(rows, n, dp, ldd, xp, ldx, o); break;
    case 7: narrow_weight_gradient<T, 7>(rows, n, dp, ldd, xp, ldx, o); break;
    case 6: narrow_weight_gradient<T, 6>(rows, n, dp, ldd, xp, ldx, o); break;
    case 5: narrow_weight_gradient<T, 5>(rows, n, dp, ldd, xp, ldx, o); break;
    case 4: narrow_weight_gradient<T, 4>(rows, n, dp, ldd, xp, ldx, o); break;
    case 3: narrow_weight_gradient<T, 3>(rows, n, dp, ldd, xp, ldx, o); break;
    case 2: narrow_weight_gradient<T, 2>(rows, n, dp, ldd, xp, ldx, o); break;
    case 1: narrow_weight_gradient<T, 1>(rows, n, dp, ldd, xp, ldx, o); break;
    default: at::mm_out(out, d.t(), x); break;  // k = 0: an empty product
  }
}

}  // namespace odyssey
