// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The processes of a `fluxpoints batch` job. Under mpirun/srun (Open MPI or PMI environment
// variables present) and in a build with MPI, MPI is initialised and finalised at exit; otherwise
// the job is one process. A launch with several ranks in a build without MPI is refused, as every
// rank would otherwise run the whole job into the same files.
#include <string>

#include "fluxpoints/catalog/batch_run.hpp"

namespace fluxpoints::catalog {

ProcessGroup start_process_group();
// Rank on this node (for one GPU per rank), 0 without MPI.
int local_rank();
// Ranks on this node (1 without MPI).
int local_size();
// Lets this rank see only GPU (local_rank % GPUs on the node), through CUDA_VISIBLE_DEVICES, before
// any CUDA call. Returns a line saying what was chosen ("" when there is nothing to choose).
std::string pin_gpu_to_local_rank();
// Ends the whole job after a fatal error on one rank (MPI_Abort), so the others do not wait.
[[noreturn]] void abort_job(int code);
// Whether this build has MPI support.
bool mpi_compiled();

}  // namespace fluxpoints::catalog
