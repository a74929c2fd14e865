// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// make_backend's handling of a GPU that is present but cannot be used (e.g. the binary has no
// kernel image for it): `auto` falls back to the CPU and says why, `cuda` reports the error. The
// failed check is simulated through CudaBackendHooks, so these run on every machine; the real
// check (cuda_backend::kernel_image_problem) runs where there is a GPU.
#include <gtest/gtest.h>

#include "fluxpoints/config.hpp"

#include <array>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <sys/wait.h>

#include "fluxpoints/backend.hpp"
#include "kernels/cuda/device_choice.hpp"
#if FLUXPOINTS_WITH_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace fluxpoints {
namespace {

constexpr const char* kSimulatedFailure =
    "--backend cuda: this binary's kernels (built for CUDA architectures 80-real 90) cannot run "
    "on Tesla V100-SXM2-16GB, compute capability 7.0: no kernel image is available for "
    "execution on the device";

// One Cash problem of one bin: n = 10 counts, npred_ref = 5, background 2 (norm = 8 / 5).
LikelihoodBatch one_cash_bin() {
  LikelihoodBatch batch;
  batch.begin_problem("p");
  batch.begin_dataset(StatKind::cash);
  batch.add_cash_bin(10.0, 5.0, 2.0);
  return batch;
}

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
  const LikelihoodBatch batch = one_cash_bin();
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

// A usable GPU (simulated: the CPU backend solves) that counts the batches it is given.
class CountingDevice final : public Backend {
 public:
  explicit CountingDevice(int* solves) : solves_(solves) {}
  std::string name() const override { return "cuda (simulated)"; }
  using Backend::solve;
  BatchResult solve(const BatchView& batch, const SolveOptions& options) const override {
    ++*solves_;
    return cpu_->solve(batch, options);
  }

 private:
  int* solves_;
  std::unique_ptr<Backend> cpu_ = make_backend("cpu", nullptr, 1);
};

// The CUDA backend has its own kernel for problems with nuisance parameters (reoptimize): the
// backend that make_backend returns for "cuda" or "auto" on a GPU is the device's own, and
// every batch, with nuisances or without, reaches the device (none is diverted to the CPU).
TEST(BackendChoice, CudaReceivesBatchesWithNuisances) {
  int device_solves = 0;
  CudaBackendHooks hooks;
  hooks.device_available = [](std::string*) { return true; };
  hooks.make = [&device_solves]() -> std::unique_ptr<Backend> {
    return std::make_unique<CountingDevice>(&device_solves);
  };
  // n = 10 = norm * 5 + phi * 4 + 2 in one bin and 6 = phi * 4 + 2 in a second: the joint
  // minimum is phi = 1, norm = 0.8 (both bins exactly predicted).
  LikelihoodBatch with_nuisance;
  with_nuisance.begin_problem("p");
  with_nuisance.begin_dataset(StatKind::cash);
  with_nuisance.add_cash_bin(10.0, 5.0, 2.0);
  with_nuisance.add_cash_bin(6.0, 0.0, 2.0);
  with_nuisance.add_nuisance(0.5, 0.0, 10.0, {4.0, 4.0});
  const LikelihoodBatch plain = one_cash_bin();
  for (const char* which : {"cuda", "auto"}) {
    device_solves = 0;
    const auto backend = make_backend(which, nullptr, 1, hooks);
    EXPECT_EQ(backend->name(), "cuda (simulated)") << which;
    const BatchResult got = backend->solve(with_nuisance, SolveOptions{});
    EXPECT_EQ(device_solves, 1) << which << ": the nuisance batch did not reach the device";
    ASSERT_TRUE(got.success[0]) << which;
    EXPECT_NEAR(got.norm[0], 0.8, 1e-6) << which;
    ASSERT_EQ(got.nuisance.size(), 1u) << which;
    EXPECT_NEAR(got.nuisance[0], 1.0, 1e-6) << which;
    backend->solve(plain, SolveOptions{});
    backend->solve_async(plain.as_view(), SolveOptions{}).get();
    EXPECT_EQ(device_solves, 3) << which << ": every batch goes to the device";
  }
}

// ---- choosing the GPU by index (CudaConfig::device, --device) ----

TEST(BackendChoice, DeviceIndexOutOfRangeNamesTheIndexAndTheCount) {
  using cuda_backend::device_index_problem;
  EXPECT_EQ(device_index_problem(0, 1, nullptr), "");
  EXPECT_EQ(device_index_problem(3, 4, "0,1,2,3"), "");
  EXPECT_EQ(device_index_problem(2, 2, nullptr),
            "CUDA device index 2 is out of range: this process sees 2 CUDA devices (indices 0 "
            "to 1)");
  EXPECT_EQ(device_index_problem(1, 1, "3"),
            "CUDA device index 1 is out of range: this process sees 1 CUDA device (indices 0 to "
            "0), as CUDA_VISIBLE_DEVICES=\"3\" allows");
  EXPECT_EQ(device_index_problem(-1, 2, nullptr),
            "CUDA device index -1 is out of range: this process sees 2 CUDA devices (indices 0 "
            "to 1)");
}

// An index no machine has: `cuda` refuses (no device, no CUDA build, or the index out of range,
// each saying so), `auto` falls back to the CPU and says why.
constexpr int kNoSuchDevice = 1000;

TEST(BackendChoice, DeviceIndexBeyondTheDevicesRefusedByCudaAndAutoUsesTheCpu) {
  BackendOptions options;
  options.workers = 1;
  options.cuda.device = kNoSuchDevice;
  options.device = "cuda";
  try {
    make_backend(options);
    FAIL() << "--backend cuda accepted CUDA device " << kNoSuchDevice;
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("--backend cuda: ", 0), 0u) << what;
    const bool says_out_of_range =
        what.find("CUDA device index 1000 is out of range") != std::string::npos;
    // With a GPU the index is what is wrong; without one (or without CUDA) the reason is that.
    EXPECT_EQ(says_out_of_range, cuda_device_available()) << what;
  }
  options.device = "auto";
  std::string why;
  const auto backend = make_backend(options, &why);
  EXPECT_EQ(backend->name().rfind("cpu", 0), 0u) << backend->name();
  EXPECT_NE(why.find("using the CPU"), std::string::npos) << why;
}

// The command line: --device takes a non-negative index and reaches the backend choice.
struct CliRun {
  int exit_code;
  std::string output;  // stdout and stderr
};
CliRun run_fluxpoints(const std::string& args) {
  const std::string command = std::string(FLUXPOINTS_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  CliRun run{-1, ""};
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) run.output += buffer.data();
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST(BackendChoice, CliDeviceOption) {
  const CliRun not_a_number = run_fluxpoints("demo --device first");
  EXPECT_NE(not_a_number.exit_code, 0) << not_a_number.output;
  EXPECT_NE(not_a_number.output.find("--device"), std::string::npos) << not_a_number.output;
  const CliRun negative = run_fluxpoints("demo --device -1");
  EXPECT_NE(negative.exit_code, 0) << negative.output;

  const std::string beyond = " --device " + std::to_string(kNoSuchDevice);
  const CliRun cuda = run_fluxpoints("demo --backend cuda" + beyond);
  EXPECT_NE(cuda.exit_code, 0) << cuda.output;
  EXPECT_NE(cuda.output.find("--backend cuda"), std::string::npos) << cuda.output;
  const CliRun fallback = run_fluxpoints("demo --backend auto --workers 1" + beyond);
  EXPECT_EQ(fallback.exit_code, 0) << fallback.output;
  EXPECT_NE(fallback.output.find("using the CPU"), std::string::npos) << fallback.output;
}

// On a GPU machine: the last device by index solves, one past it is refused naming both numbers.
TEST(CudaDevice, ChosenByIndex) {
#if !FLUXPOINTS_WITH_CUDA
  GTEST_SKIP() << "built without the CUDA backend (FLUXPOINTS_CUDA=OFF or no nvcc)";
#else
  std::string why;
  if (!cuda_device_available(&why)) GTEST_SKIP() << why;
  const int count = cuda_backend::device_count(nullptr);
  BackendOptions options;
  options.device = "cuda";
  options.cuda.device = count - 1;
  const auto backend = make_backend(options);
  EXPECT_NE(backend->name().find("device " + std::to_string(count - 1)), std::string::npos)
      << backend->name();
  const LikelihoodBatch batch = one_cash_bin();
  const BatchResult r = backend->solve(batch, SolveOptions{});
  ASSERT_EQ(r.n_problems(), 1);
  EXPECT_NEAR(r.norm[0], (10.0 - 2.0) / 5.0, 1e-9);  // closed form: n = s norm + b
  options.cuda.device = count;
  try {
    make_backend(options);
    FAIL() << "device index " << count << " accepted with " << count << " devices";
  } catch (const std::runtime_error& e) {
    const std::string expected = "CUDA device index " + std::to_string(count) +
                                 " is out of range: this process sees " + std::to_string(count);
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
#endif
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
