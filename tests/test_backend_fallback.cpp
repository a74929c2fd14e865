// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// make_backend's handling of a GPU that is present but cannot be used (e.g. the binary has no
// kernel image for it): `auto` falls back to the CPU and says why, `cuda` reports the error. The
// failed check is simulated through CudaBackendHooks, so these run on every machine; the real
// check (cuda_backend::kernel_image_problem) runs where there is a GPU.
#include <gtest/gtest.h>

#include "fluxpoints/config.hpp"

#include <memory>
#include <stdexcept>
#include <string>

#include "fluxpoints/backend.hpp"
#if FLUXPOINTS_WITH_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace fluxpoints {
namespace {

constexpr const char* kSimulatedFailure =
    "--backend cuda: this binary's kernels (built for CUDA architectures 80-real 90) cannot run "
    "on Tesla V100-SXM2-16GB, compute capability 7.0: no kernel image is available for "
    "execution on the device";

// A machine with a GPU on which the CUDA backend's constructor check fails.
CudaBackendHooks unusable_gpu(int* make_calls) {
  CudaBackendHooks hooks;
  hooks.device_available = [](std::string*) { return true; };
  hooks.make = [make_calls]() -> std::unique_ptr<Backend> {
    ++*make_calls;
    throw std::runtime_error(kSimulatedFailure);
  };
  return hooks;
}

TEST(BackendChoice, AutoFallsBackToTheCpuWhenTheGpuCannotRunTheKernels) {
  int make_calls = 0;
  std::string why;
  const auto backend = make_backend("auto", &why, 1, unusable_gpu(&make_calls));
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(make_calls, 1);  // the CUDA backend was tried
  EXPECT_EQ(backend->name().rfind("cpu", 0), 0u) << backend->name();
  EXPECT_NE(why.find("using the CPU"), std::string::npos) << why;
  EXPECT_NE(why.find("no kernel image is available"), std::string::npos) << why;
  EXPECT_NE(why.find("compute capability 7.0"), std::string::npos) << why;
  // The fallback solves.
  LikelihoodBatch batch;
  batch.begin_problem("p");
  batch.begin_dataset(StatKind::cash);
  batch.add_cash_bin(10.0, 5.0, 2.0);
  const BatchResult r = backend->solve(batch, SolveOptions{});
  ASSERT_EQ(r.n_problems(), 1);
  EXPECT_TRUE(r.success[0]);
  EXPECT_NEAR(r.norm[0], (10.0 - 2.0) / 5.0, 1e-9);  // closed form: n = s norm + b
}

TEST(BackendChoice, RequestedCudaReportsWhyTheGpuCannotBeUsed) {
  int make_calls = 0;
  try {
    make_backend("cuda", nullptr, 1, unusable_gpu(&make_calls));
    FAIL() << "an unusable GPU was accepted for --backend cuda";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), kSimulatedFailure);
  }
}

TEST(BackendChoice, AutoWithoutADeviceDoesNotTryTheCudaBackend) {
  int make_calls = 0;
  CudaBackendHooks hooks = unusable_gpu(&make_calls);
  hooks.device_available = [](std::string* reason) {
    *reason = "no CUDA device found";
    return false;
  };
  std::string why;
  const auto backend = make_backend("auto", &why, 1, hooks);
  EXPECT_EQ(make_calls, 0);
  EXPECT_EQ(why, "backend auto: using the CPU (no CUDA device found)");
}

TEST(CudaKernelImage, RunsOnThisGpu) {
#if !FLUXPOINTS_WITH_CUDA
  GTEST_SKIP() << "built without the CUDA backend (FLUXPOINTS_CUDA=OFF or no nvcc)";
#else
  std::string why;
  if (!cuda_device_available(&why)) GTEST_SKIP() << why;
  EXPECT_EQ(cuda_backend::kernel_image_problem(), "");
#endif
}

}  // namespace
}  // namespace fluxpoints
