// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// First CUDA backend: one thread per problem, running the shared solver (math/batch_solve.hpp).
#include <cuda_runtime.h>

#include <numeric>
#include <stdexcept>
#include <vector>

#include "cuda_backend.hpp"
#include "fluxpoints/backend_support.hpp"

namespace fluxpoints::cuda_backend {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

// Owns one device allocation.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n) : n_(n) {
    if (n_ > 0) check(cudaMalloc(&ptr_, n_ * sizeof(T)), "cudaMalloc");
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return ptr_; }
  void upload(const T* host) {
    if (n_) check(cudaMemcpy(ptr_, host, n_ * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  void download(T* host) const {
    if (n_) check(cudaMemcpy(host, ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "download");
  }

 private:
  T* ptr_ = nullptr;
  std::size_t n_;
};

__global__ void solve_thread_per_problem(math::BatchArrays in, std::int64_t n_problems,
                                         math::SolveSettings settings, const double* scan,
                                         int n_scan, math::ResultArrays out) {
  const std::int64_t p = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (p < n_problems) math::solve_and_store(in, p, settings, scan, n_scan, out);
}

class CudaBackend final : public Backend {
 public:
  std::string name() const override {
    cudaDeviceProp prop{};
    int dev = 0;
    cudaGetDevice(&dev);
    cudaGetDeviceProperties(&prop, dev);
    return std::string("cuda (") + prop.name + ")";
  }

  BatchResult solve(const LikelihoodBatch& batch, const SolveOptions& options) const override {
    BatchResult result;
    prepare_solve(batch, options, result);
    const std::int64_t np = batch.n_problems(), ns = batch.n_segments(), nb = batch.n_bins();
    const int n_scan = static_cast<int>(result.n_scan());
    DeviceBuffer<double> counts(nb), s(nb), o(nb), off(nb), alpha(nb);
    DeviceBuffer<std::int64_t> seg_bins(ns + 1), prob_segs(np + 1);
    DeviceBuffer<math::StatKind> seg_kind(ns);
    counts.upload(batch.counts.data());
    s.upload(batch.npred_ref.data());
    o.upload(batch.npred_other.data());
    off.upload(batch.counts_off.data());
    alpha.upload(batch.alpha.data());
    seg_bins.upload(batch.segment_bins.data());
    prob_segs.upload(batch.problem_segments.data());
    seg_kind.upload(batch.segment_kind.data());
    DeviceBuffer<double> scan(n_scan);
    scan.upload(result.norm_scan.data());

    DeviceBuffer<double> r_norm(np), r_err(np), r_ts(np), r_sqrt_ts(np), r_stat(np),
        r_stat_null(np), r_errn(np), r_errp(np), r_ul(np), r_scan(np * n_scan), r_npred(ns),
        r_excess(ns), r_counts(ns);
    DeviceBuffer<std::uint8_t> r_success(np);
    DeviceBuffer<math::SolveStatus> r_status(np);
    DeviceBuffer<std::uint32_t> r_notes(np);
    DeviceBuffer<int> r_evals(np);

    const math::BatchArrays in{counts.get(), s.get(),        o.get(),         off.get(),
                               alpha.get(),  seg_bins.get(), seg_kind.get(), prob_segs.get()};
    const math::ResultArrays out{r_norm.get(),   r_err.get(),       r_ts.get(),
                                 r_sqrt_ts.get(), r_stat.get(),     r_stat_null.get(),
                                 r_errn.get(),   r_errp.get(),      r_ul.get(),
                                 r_success.get(), r_status.get(),   r_notes.get(),
                                 r_scan.get(),   r_npred.get(),     r_excess.get(),
                                 r_counts.get(), r_evals.get()};
    const int threads = 128;
    const std::int64_t blocks = (np + threads - 1) / threads;
    if (np > 0) {
      solve_thread_per_problem<<<static_cast<unsigned>(blocks), threads>>>(
          in, np, options.settings(), scan.get(), n_scan, out);
      check(cudaGetLastError(), "solve kernel launch");
      check(cudaDeviceSynchronize(), "solve kernel");
    }
    std::vector<int> evaluations(np);
    r_norm.download(result.norm.data());
    r_err.download(result.norm_err.data());
    r_ts.download(result.ts.data());
    r_sqrt_ts.download(result.sqrt_ts.data());
    r_stat.download(result.stat.data());
    r_stat_null.download(result.stat_null.data());
    r_errn.download(result.norm_errn.data());
    r_errp.download(result.norm_errp.data());
    r_ul.download(result.norm_ul.data());
    r_success.download(result.success.data());
    r_status.download(result.status.data());
    r_notes.download(result.notes.data());
    r_scan.download(result.stat_scan.data());
    r_npred.download(result.npred.data());
    r_excess.download(result.npred_excess.data());
    r_counts.download(result.counts.data());
    r_evals.download(evaluations.data());
    result.evaluations = std::accumulate(evaluations.begin(), evaluations.end(), std::int64_t{0});
    return result;
  }
};

}  // namespace

int device_count(std::string* reason) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (reason) *reason = std::string("no usable CUDA device: ") + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  if (n == 0 && reason) *reason = "no CUDA device found";
  return n;
}

std::unique_ptr<Backend> make() {
  std::string why;
  if (device_count(&why) == 0) throw std::runtime_error("--backend cuda: " + why);
  return std::make_unique<CudaBackend>();
}

}  // namespace fluxpoints::cuda_backend
