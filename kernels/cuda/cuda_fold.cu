// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The CUDA fold (cuda_fold.hpp): two kernels over the shared fold code of math/fold.hpp.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_backend.hpp"
#include "cuda_fold.hpp"
#include "device_choice.hpp"
#include "device_memory.cuh"
#include "launch_policy.hpp"

namespace fluxpoints::cuda_backend {
namespace {

constexpr int kFoldBlock = LaunchPolicy::kFoldBlockThreads;

// Where each task's true-bin results start in the scratch array, and its true/reco bin counts.
struct TaskLayout {
  std::int64_t true_offset;
  std::int32_t n_true;
  std::int32_t n_reco;
};

// Task of flat index `i` over per-task counts: the last task whose first index is <= i.
__device__ std::int64_t find_task(const std::int64_t* first, std::int64_t n_tasks, std::int64_t i) {
  std::int64_t lo = 0, hi = n_tasks;  // first[lo] <= i < first[hi] (first[n_tasks] = total)
  while (hi - lo > 1) {
    const std::int64_t mid = (lo + hi) / 2;
    if (first[mid] <= i)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

__global__ void __launch_bounds__(kFoldBlock)
    fold_true_kernel(math::FoldArraysView arrays, const FoldTask* tasks, const TaskLayout* layout,
                     const std::int64_t* true_first, std::int64_t n_tasks, std::int64_t n_true_all,
                     double* npred_true) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_true_all) return;
  const std::int64_t t = find_task(true_first, n_tasks, i);
  const FoldTask task = tasks[t];
  const math::FoldDatasetView d = math::dataset_view(arrays, task.dataset);
  const int j = static_cast<int>(i - true_first[t]);
  npred_true[layout[t].true_offset + j] = math::fold_true_bin(task.model, d, j);
}

__global__ void __launch_bounds__(kFoldBlock)
    fold_reco_kernel(math::FoldArraysView arrays, const FoldTask* tasks, const TaskLayout* layout,
                     const std::int64_t* reco_first, std::int64_t n_tasks, std::int64_t n_reco_all,
                     const double* npred_true, double* npred) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_reco_all) return;
  const std::int64_t t = find_task(reco_first, n_tasks, i);
  const FoldTask task = tasks[t];
  const math::FoldDatasetView d = math::dataset_view(arrays, task.dataset);
  const double* rows = npred_true + layout[t].true_offset;
  // Each thread finds the task's non-finite rows itself: n_true is small (tens to hundreds) and
  // the rows are in cache after the first thread of the task read them.
  math::NonFiniteRows nonfinite;
  for (int j = 0; j < d.n_true; ++j) math::note_row(nonfinite, j, rows[j]);
  const int r = static_cast<int>(i - reco_first[t]);
  npred[task.npred_offset + r] = math::fold_reco_bin(d, rows, r, nonfinite);
}

// A device copy of one host array; the view's pointer is redirected to it.
template <class T>
void upload(DeviceArray<T>& buffer, const T*& pointer, std::int64_t n, cudaStream_t stream) {
  buffer = DeviceArray<T>(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
  if (n > 0)
    check(cudaMemcpyAsync(buffer.get(), pointer, static_cast<std::size_t>(n) * sizeof(T),
                          cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (fold arrays)");
  pointer = buffer.get();
}

}  // namespace

std::vector<double> fold(const math::FoldArraysView& arrays, const std::vector<FoldTask>& tasks) {
  // Check every task on the host, so that a kernel never reads outside the arrays.
  const std::int64_t n_out = checked_fold_size(arrays, tasks);
  const std::int64_t n_tasks = static_cast<std::int64_t>(tasks.size());
  std::vector<TaskLayout> layout(tasks.size());
  std::vector<std::int64_t> true_first(tasks.size() + 1, 0), reco_first(tasks.size() + 1, 0);
  for (std::int64_t t = 0; t < n_tasks; ++t) {
    const math::FoldDatasetView d = math::dataset_view(arrays, tasks[t].dataset);
    layout[t] = TaskLayout{true_first[t], d.n_true, d.n_reco};
    true_first[t + 1] = true_first[t] + d.n_true;
    reco_first[t + 1] = reco_first[t] + d.n_reco;
  }
  std::vector<double> npred(static_cast<std::size_t>(n_out), 0.0);
  if (n_tasks == 0) return npred;
  std::string why;
  if (device_count(&why) == 0) throw std::runtime_error("cuda_backend::fold: " + why);

  Stream stream;
  math::FoldArraysView dev = arrays;
  DeviceArray<math::FoldDatasetInfo> d_datasets;
  DeviceArray<math::LogLogGridInfo> d_grids;
  DeviceArray<math::EdispColumn> d_columns;
  DeviceArray<double> d_edges, d_exposure, d_values, d_nodes, d_log_ratio, d_ratio;
  upload(d_datasets, dev.datasets, arrays.n_datasets, stream.get());
  upload(d_grids, dev.grids, arrays.n_grids, stream.get());
  upload(d_edges, dev.edges, arrays.n_edges, stream.get());
  upload(d_exposure, dev.exposure, arrays.n_exposure, stream.get());
  upload(d_columns, dev.columns, arrays.n_columns, stream.get());
  upload(d_values, dev.values, arrays.n_values, stream.get());
  upload(d_nodes, dev.nodes, arrays.n_nodes, stream.get());
  upload(d_log_ratio, dev.log_ratio, arrays.n_pieces, stream.get());
  upload(d_ratio, dev.ratio, arrays.n_pieces, stream.get());

  const FoldTask* task_ptr = tasks.data();
  const TaskLayout* layout_ptr = layout.data();
  const std::int64_t* true_first_ptr = true_first.data();
  const std::int64_t* reco_first_ptr = reco_first.data();
  DeviceArray<FoldTask> d_tasks;
  DeviceArray<TaskLayout> d_layout;
  DeviceArray<std::int64_t> d_true_first, d_reco_first;
  upload(d_tasks, task_ptr, n_tasks, stream.get());
  upload(d_layout, layout_ptr, n_tasks, stream.get());
  upload(d_true_first, true_first_ptr, n_tasks + 1, stream.get());
  upload(d_reco_first, reco_first_ptr, n_tasks + 1, stream.get());

  const std::int64_t n_true_all = true_first.back(), n_reco_all = reco_first.back();
  DeviceArray<double> d_npred_true(static_cast<std::size_t>(std::max<std::int64_t>(n_true_all, 1)));
  DeviceArray<double> d_npred(static_cast<std::size_t>(std::max<std::int64_t>(n_out, 1)));
  // Reco bins that no task writes stay 0, as on the host side.
  check(cudaMemsetAsync(d_npred.get(), 0, static_cast<std::size_t>(n_out) * sizeof(double),
                        stream.get()),
        "cudaMemsetAsync (fold)");
  const auto blocks = [](std::int64_t n) {
    return static_cast<unsigned>((n + kFoldBlock - 1) / kFoldBlock);
  };
  if (n_true_all > 0) {
    fold_true_kernel<<<blocks(n_true_all), kFoldBlock, 0, stream.get()>>>(
        dev, d_tasks.get(), d_layout.get(), d_true_first.get(), n_tasks, n_true_all,
        d_npred_true.get());
    check(cudaGetLastError(), "fold_true_kernel launch");
  }
  if (n_reco_all > 0) {
    fold_reco_kernel<<<blocks(n_reco_all), kFoldBlock, 0, stream.get()>>>(
        dev, d_tasks.get(), d_layout.get(), d_reco_first.get(), n_tasks, n_reco_all,
        d_npred_true.get(), d_npred.get());
    check(cudaGetLastError(), "fold_reco_kernel launch");
  }
  check(
      cudaMemcpyAsync(npred.data(), d_npred.get(), static_cast<std::size_t>(n_out) * sizeof(double),
                      cudaMemcpyDeviceToHost, stream.get()),
      "cudaMemcpyAsync (fold results)");
  stream.synchronize();
  return npred;
}

namespace {

// Makes `device` the calling thread's GPU for its lifetime, then restores the previous one (the
// current device is per host thread, and batch folds on its own threads).
class OnDevice {
 public:
  explicit OnDevice(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (device != previous_)
      check(cudaSetDevice(device), "cudaSetDevice");
    else
      previous_ = -1;
  }
  ~OnDevice() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  OnDevice(const OnDevice&) = delete;
  OnDevice& operator=(const OnDevice&) = delete;

 private:
  int previous_ = -1;
};

class CudaFold final : public FoldBackend {
 public:
  explicit CudaFold(int device) : device_(device) {
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    name_ = "cuda (" + std::string(prop.name) + ", device " + std::to_string(device) + ")";
  }
  std::string name() const override { return name_; }
  std::vector<double> fold(const math::FoldArraysView& arrays,
                           const std::vector<FoldTask>& tasks) const override {
    const OnDevice on(device_);
    return cuda_backend::fold(arrays, tasks);
  }

 private:
  int device_;
  std::string name_;
};

}  // namespace

std::unique_ptr<FoldBackend> make_fold(const CudaConfig& config) {
  std::string why;
  const int count = device_count(&why);
  if (count == 0) throw std::runtime_error("fold on the device: " + why);
  why = device_index_problem(config.device, count, std::getenv("CUDA_VISIBLE_DEVICES"));
  if (!why.empty()) throw std::runtime_error("fold on the device: " + why);
  const OnDevice on(config.device);
  why = kernel_image_problem();
  if (!why.empty()) throw std::runtime_error("fold on the device: " + why);
  return std::make_unique<CudaFold>(config.device);
}

}  // namespace fluxpoints::cuda_backend
