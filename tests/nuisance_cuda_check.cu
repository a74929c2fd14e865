// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// math::solve_and_store_nuisance in a CUDA kernel, one thread per problem: a compile check of the
// nuisance math for the device (no exceptions, no allocation, fixed-size working set) and, where
// a GPU is present, the device side of the CPU/CUDA comparison in test_nuisance_solver.cpp.
#include <cuda_runtime.h>

#include <vector>

#include "nuisance_cuda_check.hpp"

namespace fluxpoints::testing {
namespace {

__global__ void solve_nuisance_per_thread(math::BatchArrays in, math::NuisanceArrays nu,
                                          std::int64_t n_problems, math::SolveSettings settings,
                                          const double* scan, int n_scan, math::ResultArrays out,
                                          double* phi) {
  const std::int64_t p = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (p < n_problems) math::solve_and_store_nuisance(in, nu, p, settings, scan, n_scan, out, phi);
}

// Device buffers freed on scope exit; the first failing CUDA call is remembered.
class DeviceArena {
 public:
  ~DeviceArena() {
    for (void* p : blocks_) cudaFree(p);
  }
  template <class T>
  T* upload(const std::vector<T>& v) {
    T* d = alloc<T>(v.size());
    if (d != nullptr && !v.empty())
      check(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
  }
  template <class T>
  T* alloc(std::size_t n) {
    void* p = nullptr;
    if (!check(cudaMalloc(&p, (n > 0 ? n : 1) * sizeof(T)))) return nullptr;
    blocks_.push_back(p);
    return static_cast<T*>(p);
  }
  template <class T>
  void download(std::vector<T>& v, const T* d, std::size_t n) {
    v.resize(n);
    if (n > 0 && d != nullptr)
      check(cudaMemcpy(v.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  }
  bool check(cudaError_t e) {
    if (e != cudaSuccess && error_.empty()) error_ = cudaGetErrorString(e);
    return e == cudaSuccess;
  }
  const std::string& error() const { return error_; }

 private:
  std::vector<void*> blocks_;
  std::string error_;
};

}  // namespace

bool solve_nuisance_on_cuda(const NuisanceDeviceInput& in, NuisanceDeviceOutput& out,
                            std::string* reason) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    if (reason) *reason = "no CUDA device";
    return false;
  }
  // The solver's working set lives on each thread's stack.
  cudaDeviceSetLimit(cudaLimitStackSize, 32 * 1024);
  DeviceArena a;
  const std::int64_t n_problems = static_cast<std::int64_t>(in.problem_segments.size()) - 1;
  const std::int64_t n_segments = static_cast<std::int64_t>(in.segment_bins.size()) - 1;
  const std::size_t n_scan = in.scan.size();
  const math::BatchArrays bin{a.upload(in.counts),       a.upload(in.npred_ref),
                              a.upload(in.npred_other),  a.upload(in.counts_off),
                              a.upload(in.alpha),        a.upload(in.segment_bins),
                              a.upload(in.segment_kind), a.upload(in.problem_segments)};
  const math::NuisanceArrays nu{a.upload(in.problem_nuisances),
                                a.upload(in.template_offset),
                                a.upload(in.template_values),
                                a.upload(in.start),
                                a.upload(in.min),
                                a.upload(in.max)};
  const double* scan = a.upload(in.scan);
  const std::size_t P = static_cast<std::size_t>(n_problems),
                    S = static_cast<std::size_t>(n_segments);
  const math::ResultArrays res{a.alloc<double>(P),
                               a.alloc<double>(P),
                               a.alloc<double>(P),
                               a.alloc<double>(P),
                               a.alloc<double>(P),
                               a.alloc<double>(P),
                               a.alloc<double>(P),
                               a.alloc<double>(P),
                               a.alloc<double>(P),
                               a.alloc<std::uint8_t>(P),
                               a.alloc<math::SolveStatus>(P),
                               a.alloc<std::uint32_t>(P),
                               a.alloc<double>(P * n_scan),
                               a.alloc<double>(S),
                               a.alloc<double>(S),
                               a.alloc<double>(S),
                               a.alloc<int>(P)};
  double* phi = a.alloc<double>(in.start.size());
  if (!a.error().empty()) {
    if (reason) *reason = a.error();
    return false;
  }
  constexpr int kThreads = 64;
  const int blocks = static_cast<int>((n_problems + kThreads - 1) / kThreads);
  solve_nuisance_per_thread<<<blocks, kThreads>>>(bin, nu, n_problems, in.settings, scan,
                                                  static_cast<int>(n_scan), res, phi);
  a.check(cudaGetLastError());
  a.check(cudaDeviceSynchronize());
  a.download(out.norm, res.norm, P);
  a.download(out.norm_err, res.norm_err, P);
  a.download(out.ts, res.ts, P);
  a.download(out.sqrt_ts, res.sqrt_ts, P);
  a.download(out.stat, res.stat, P);
  a.download(out.stat_null, res.stat_null, P);
  a.download(out.norm_errn, res.norm_errn, P);
  a.download(out.norm_errp, res.norm_errp, P);
  a.download(out.norm_ul, res.norm_ul, P);
  a.download(out.success, res.success, P);
  a.download(out.status, res.status, P);
  a.download(out.notes, res.notes, P);
  a.download(out.stat_scan, res.stat_scan, P * n_scan);
  a.download(out.npred, res.npred, S);
  a.download(out.npred_excess, res.npred_excess, S);
  a.download(out.counts, res.counts, S);
  a.download(out.evaluations, res.evaluations, P);
  a.download(out.phi, phi, in.start.size());
  if (!a.error().empty()) {
    if (reason) *reason = a.error();
    return false;
  }
  return true;
}

}  // namespace fluxpoints::testing
