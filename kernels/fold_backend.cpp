// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The fold backends (fluxpoints/fold_backend.hpp): the CPU one here, over math::fold_dataset
// (the code datasets::FoldArrays::npred runs), and the CUDA one in kernels/cuda/cuda_fold.
#include "fluxpoints/fold_backend.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/config.hpp"
#include "fluxpoints/thread_pool.hpp"
#if FLUXPOINTS_WITH_CUDA
#include "kernels/cuda/cuda_fold.hpp"
#endif

namespace fluxpoints {

std::int64_t checked_fold_size(const math::FoldArraysView& arrays,
                               const std::vector<FoldTask>& tasks) {
  std::int64_t size = 0;
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    const FoldTask& task = tasks[t];
    const std::string which = "fold: task " + std::to_string(t);
    if (task.dataset < 0 || task.dataset >= arrays.n_datasets)
      throw std::invalid_argument(which + " names dataset " + std::to_string(task.dataset) +
                                  " of " + std::to_string(arrays.n_datasets));
    const math::FoldDatasetView d = math::dataset_view(arrays, task.dataset);
    if (math::fold_needs_grid(task.model.kind, d))
      throw std::invalid_argument(which + ": dataset " + std::to_string(task.dataset) +
                                  " has no log-log grid (FoldArrays::prepare_grid)");
    if (task.npred_offset < 0) throw std::invalid_argument(which + " has a negative npred_offset");
    size = std::max(size, task.npred_offset + d.n_reco);
  }
  return size;
}

namespace {

// One task per item of a parallel loop; each thread keeps its own flux and npred_true scratch.
class CpuFold final : public FoldBackend {
 public:
  explicit CpuFold(int workers) : pool_(workers) {}
  std::string name() const override { return "cpu"; }
  std::vector<double> fold(const math::FoldArraysView& arrays,
                           const std::vector<FoldTask>& tasks) const override {
    std::vector<double> npred(static_cast<std::size_t>(checked_fold_size(arrays, tasks)), 0.0);
    pool_.parallel_for(static_cast<std::int64_t>(tasks.size()), 16, [&](std::int64_t t) {
      const FoldTask& task = tasks[static_cast<std::size_t>(t)];
      const math::FoldDatasetView d = math::dataset_view(arrays, task.dataset);
      thread_local std::vector<double> flux, npred_true;
      flux.resize(static_cast<std::size_t>(d.n_true));
      npred_true.resize(static_cast<std::size_t>(d.n_true));
      math::fold_dataset(task.model, d, flux.data(), npred_true.data(),
                         npred.data() + task.npred_offset);
    });
    return npred;
  }

 private:
  mutable ThreadPool pool_;  // parallel_for is safe from several callers
};

}  // namespace

std::unique_ptr<FoldBackend> make_fold_backend(const std::string& where, const CudaConfig& cuda,
                                               int workers, std::string* why) {
  if (where == "host") {
    auto folder = std::make_unique<CpuFold>(resolve_workers(workers));
    if (why) *why = "fold on the host (CPU)";
    return folder;
  }
  if (where == "device") {
#if FLUXPOINTS_WITH_CUDA
    auto folder = cuda_backend::make_fold(cuda);
    if (why) *why = "fold on the device: " + folder->name();
    return folder;
#else
    (void)cuda;
    throw std::runtime_error(
        "fold on the device: this build has no CUDA support (configured with FLUXPOINTS_CUDA=OFF)");
#endif
  }
  throw std::invalid_argument("unknown fold place '" + where + "' (expected host or device)");
}

}  // namespace fluxpoints
