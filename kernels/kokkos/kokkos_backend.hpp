// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
#include <memory>

#include "fluxpoints/backend.hpp"

namespace fluxpoints::kokkos_backend {
// The CPU backend. With one worker the batch is solved problem by problem in a Kokkos
// parallel_for on the host execution space. With more workers (0 = every core this process may
// run on) the problems are shared between std::threads that call the shared math directly: Debian's
// Kokkos has only the Serial space, whose dispatch is not safe from several threads at once, so no
// Kokkos call is made off the main thread. Problems are independent and each writes only its own
// rows, so the result is bit-identical for any number of workers.
std::unique_ptr<Backend> make(int workers = 0);
}  // namespace fluxpoints::kokkos_backend
