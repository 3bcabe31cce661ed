// The cpu kernel's time loop at batch 1 taken apart (benchmarks/time_loop_parts.py): per step,
// the forward recurrent product alone, the backward recurrent product alone, and the forward
// product followed by the pointwise pass (what the forward loop does), on the kernel's own code
// (this file includes lstm_cpu.cpp, so it measures exactly what the extension runs).
#include "lstm_cpu.cpp"

#include <torch/library.h>

#include <ctime>

namespace {

double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Microseconds per step {forward product, backward product, forward product + pointwise} of
// variant V at hidden size N over T steps, the fastest of `reps` passes each.
std::vector<double> time_loop_parts(int64_t N, int64_t T, int64_t reps) {
  const Layout L(N, true, kForgetOwn, true, true, true, true, false);
  const int64_t KN = L.K * N, RW = L.record();
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor R = at::randn({KN, N}, opts) * 0.1, p = at::randn({3 * N}, opts) * 0.1;
  at::Tensor S = at::empty({T + 1, 1, RW}, opts), C = at::zeros({T + 1, 1, N}, opts);
  at::Tensor y = at::empty({T, 1, N}, opts), dS = at::zeros({N}, opts);
  const at::Tensor D = at::randn({T, KN}, opts) * 0.1;
  const RecurrentGemm<float> forward(L, R, /*forward=*/true, 1), backward(L, R, false, 1);
  float* s = S.data_ptr<float>();
  float* c = C.data_ptr<float>();
  std::vector<double> best(3, 1e30);
  for (int64_t r = 0; r < reps; ++r) {
    S.uniform_(-0.3, 0.3);
    double t0 = thread_seconds();
    for (int64_t t = 0; t < T; ++t) forward(s + t * RW, RW, s + (t + 1) * RW + N, RW);
    best[0] = std::min(best[0], thread_seconds() - t0);
    t0 = thread_seconds();
    for (int64_t t = T - 1; t >= 0; --t) backward(D.data_ptr<float>() + t * KN, KN, dS.data_ptr<float>(), N);
    best[1] = std::min(best[1], thread_seconds() - t0);
    S.uniform_(-0.3, 0.3);
    t0 = thread_seconds();
    for (int64_t t = 0; t < T; ++t) {
      float* pre = s + (t + 1) * RW + N;
      forward(s + t * RW, RW, pre, RW);
      forward_row<float, true, kForgetOwn, true, true>(L, pre, c + t * N, c + (t + 1) * N,
                                                       s + (t + 1) * RW, y.data_ptr<float>() + t * N,
                                                       p.data_ptr<float>());
    }
    best[2] = std::min(best[2], thread_seconds() - t0);
  }
  for (double& b : best) b *= 1e6 / static_cast<double>(T);
  return best;
}

}  // namespace

TORCH_LIBRARY(lstm_odyssey_time_loop_parts, m) {
  m.def("time_loop_parts(int N, int T, int reps) -> float[]", &time_loop_parts);
}
