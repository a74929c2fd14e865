// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/catalog/mpi_env.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "fluxpoints/config.hpp"
#if FLUXPOINTS_WITH_MPI
// The C API only: Open MPI's deprecated C++ bindings would need their own library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace fluxpoints::catalog {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Ranks the launcher says this job has (Open MPI, PMI/PMIx as Slurm's srun sets them).
int launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"}) {
    const int n = env_int(name, 0);
    if (n > 0) return n;
  }
  return 0;
}

int g_local_rank = 0;
int g_local_size = 1;
#if FLUXPOINTS_WITH_MPI
bool g_mpi_started = false;
#endif

}  // namespace

bool mpi_compiled() {
#if FLUXPOINTS_WITH_MPI
  return true;
#else
  return false;
#endif
}

ProcessGroup start_process_group() {
  ProcessGroup pg;
  const int launched = launcher_size();
#if FLUXPOINTS_WITH_MPI
  if (launched > 0) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      MPI_Init(nullptr, nullptr);
      g_mpi_started = true;
      std::atexit([] {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised) MPI_Finalize();
      });
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &pg.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &pg.size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, pg.rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &g_local_rank);
    MPI_Comm_size(node, &g_local_size);
    MPI_Comm_free(&node);
    pg.barrier = [] { MPI_Barrier(MPI_COMM_WORLD); };
  }
#else
  if (launched > 1)
    throw std::runtime_error("launched as " + std::to_string(launched) +
                             " MPI ranks, but this fluxpoints was built without MPI (install "
                             "libopenmpi-dev and reconfigure)");
#endif
  return pg;
}

int local_rank() { return g_local_rank; }
int local_size() { return g_local_size; }

std::string pin_gpu_to_local_rank() {
  // GPUs this process may see: those of CUDA_VISIBLE_DEVICES, else those the driver lists.
  std::vector<std::string> gpus;
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
    std::string s = visible, item;
    for (char c : s + ",") {
      if (c == ',') {
        if (!item.empty()) gpus.push_back(item);
        item.clear();
      } else {
        item += c;
      }
    }
  } else {
    std::error_code ec;
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec)) {
      (void)e;
      gpus.push_back(std::to_string(n++));
    }
  }
  if (gpus.size() < 2) return "";
  const std::string chosen = gpus[static_cast<std::size_t>(g_local_rank) % gpus.size()];
  setenv("CUDA_VISIBLE_DEVICES", chosen.c_str(), 1);
  return "local rank " + std::to_string(g_local_rank) + " uses GPU " + chosen + " of " +
         std::to_string(gpus.size());
}

void abort_job(int code) {
#if FLUXPOINTS_WITH_MPI
  if (g_mpi_started) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace fluxpoints::catalog
