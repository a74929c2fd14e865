// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// How the CUDA kernels are launched: threads per block and the occupancy each kernel is compiled
// for (__launch_bounds__), in one place.
//
// Meant for NVIDIA H100 / H200 (sm_90: 64K 32-bit registers, at most 2048 threads and 32 blocks
// per SM). NOT TUNED: no GPU has run these kernels yet. The numbers are reasoned from ptxas's
// register counts (bench/kernel_resources.sh, table in bench/RESULTS.md), not measured: the fp64
// solver needs about 100-130 registers a thread, so the minimum blocks per SM below are chosen so
// that the register limit they imply (65536 / (threads x blocks)) stays above what the kernels
// use, i.e. they do not force spills (ptxas reports none on sm_80 and sm_90), while still asking
// for 16 resident warps per SM. Measure on the card (bench_cuda) before changing them, and rerun
// bench/kernel_resources.sh; results never depend on them.
namespace fluxpoints::cuda_backend {

struct LaunchPolicy {
  static constexpr int kWarpThreads = 32;

  // Thread-per-problem and warp-per-problem kernels (and the small helper kernels).
  static constexpr int kSmallBlockThreads = 128;
  static constexpr int kWarpsPerBlock = kSmallBlockThreads / kWarpThreads;
  // 4 x 128 threads: at most 128 registers a thread.
  static constexpr int kSmallMinBlocksPerSm = 4;

  // Block-per-problem kernels.
  static constexpr int kBlockThreads = 256;
  // 2 x 256 threads: at most 128 registers a thread.
  static constexpr int kBlockMinBlocksPerSm = 2;

  // One thread per problem with nuisance parameters (solve_nuisance_per_thread). The nuisance
  // solver needs ~255 registers a thread and keeps its ~16 kB working set on the stack (local
  // memory) whatever the limit, so no minimum of blocks is asked (forcing fewer registers only
  // adds spills to that traffic): about 4 blocks of 64 threads fit an SM. Small blocks spread a
  // chunk's few thousand such problems over more SMs.
  static constexpr int kNuisanceBlockThreads = 64;
  static constexpr int kNuisanceMinBlocksPerSm = 1;

  // The fold kernels (cuda_fold.cu): one thread per true or reconstructed bin.
  static constexpr int kFoldBlockThreads = 256;
};

static_assert(LaunchPolicy::kSmallBlockThreads % LaunchPolicy::kWarpThreads == 0,
              "the warp-per-problem kernels need whole warps");

}  // namespace fluxpoints::cuda_backend
