// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
#include <memory>

#include "fluxpoints/backend.hpp"

namespace fluxpoints::kokkos_backend {
// The CPU backend: one per-problem body (math::solve_and_store) dispatched either by Kokkos over
// its default host execution space, when that space is parallel (Threads, OpenMP), or by the
// project's ThreadPool with `workers` threads (0 = every core this process may run on) when
// Kokkos has only the Serial space (as Debian's Kokkos 3.4). Problems are independent and each
// writes only its own rows, so the result is bit-identical for any number of workers.
std::unique_ptr<Backend> make(int workers = 0);
}  // namespace fluxpoints::kokkos_backend
