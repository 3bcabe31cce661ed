// The two halves of the NesterovSGD update (lstm_odyssey/train/optim.py) on the
// optimiser's flat buffers, each in one pass over memory (torch ops take two passes per half):
//
//   look-ahead:  v ← μ·v,       θ ← θ + v           (two roundings, as v.mul_(μ); θ.add_(v))
//   descent:     v ← v − η·g,   θ ← θ − η·g         (one rounding each: fma(−η, g, ·))
//
// The roundings are those of the torch ops the update used before: ATen's vectorised loop for
// sub_(g, alpha=η) is one fmadd per element (only its scalar tail, the last n mod 2·(vector
// width) elements of a chunk, rounds twice), and v·μ is stored before it is added, so GCC cannot
// contract it into an FMA (a product with a use that is not an addition is never contracted).
// μ and η are rounded to the buffers' dtype first, as ATen rounds its scalars.
#include "odyssey.h"

#include <ATen/cpu/vec/vec.h>

#include <cmath>

namespace odyssey {
namespace {

using at::vec::Vectorized;

void check_buffers(const at::Tensor& theta, const at::Tensor& v, const at::Tensor* g) {
  TORCH_CHECK(theta.device().is_cpu() && theta.is_contiguous() && theta.dim() == 1 &&
                  (theta.scalar_type() == at::kFloat || theta.scalar_type() == at::kDouble),
              "nesterov_* take contiguous 1-d float32/float64 CPU buffers");
  for (const at::Tensor* t : {&v, g}) {
    if (t == nullptr) continue;
    TORCH_CHECK(t->is_contiguous() && t->sizes() == theta.sizes() &&
                    t->scalar_type() == theta.scalar_type() && t->device() == theta.device(),
                "nesterov_* take buffers of one size, dtype and device");
  }
}

}  // namespace

void nesterov_lookahead(at::Tensor theta, at::Tensor velocity, double momentum) {
  check_buffers(theta, velocity, nullptr);
  AT_DISPATCH_FLOATING_TYPES(theta.scalar_type(), "nesterov_lookahead", [&] {
    using V = Vectorized<scalar_t>;
    const scalar_t mu = static_cast<scalar_t>(momentum);
    scalar_t* th = theta.data_ptr<scalar_t>();
    scalar_t* v = velocity.data_ptr<scalar_t>();
    const int64_t n = theta.numel();
    const V vmu(mu);
    int64_t i = 0;
    for (; i + V::size() <= n; i += V::size()) {
      const V vi = V::loadu(v + i) * vmu;
      vi.store(v + i);
      (V::loadu(th + i) + vi).store(th + i);
    }
    for (; i < n; ++i) {
      v[i] = v[i] * mu;
      th[i] = th[i] + v[i];
    }
  });
}

void nesterov_descent(at::Tensor theta, at::Tensor velocity, const at::Tensor& grad,
                      double step) {
  check_buffers(theta, velocity, &grad);
  AT_DISPATCH_FLOATING_TYPES(theta.scalar_type(), "nesterov_descent", [&] {
    using V = Vectorized<scalar_t>;
    const scalar_t eta = -static_cast<scalar_t>(step);
    scalar_t* th = theta.data_ptr<scalar_t>();
    scalar_t* v = velocity.data_ptr<scalar_t>();
    const scalar_t* g = grad.data_ptr<scalar_t>();
    const int64_t n = theta.numel();
    const V veta(eta);
    int64_t i = 0;
    for (; i + V::size() <= n; i += V::size()) {
      const V gi = V::loadu(g + i);
      at::vec::fmadd(gi, veta, V::loadu(v + i)).store(v + i);
      at::vec::fmadd(gi, veta, V::loadu(th + i)).store(th + i);
    }
    for (; i < n; ++i) {
      v[i] = std::fma(g[i], eta, v[i]);
      th[i] = std::fma(g[i], eta, th[i]);
    }
  });
}

}  // namespace odyssey
