// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
#include <memory>

#include "fluxpoints/backend.hpp"

namespace fluxpoints::kokkos_backend {
// The CPU backend: the batch solved problem by problem in a Kokkos parallel_for on the host
// execution space.
std::unique_ptr<Backend> make();
}  // namespace fluxpoints::kokkos_backend
