// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Solves a small batch through the installed engine API only (no file format): the synthetic
// spectrum of the built-in example as Cash and as On/Off problems, synchronously and through
// solve_async, and checks what a user would check. Exit status 0 when everything holds.
#include <cmath>
#include <cstdio>
#include <future>
#include <string>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/config.hpp"
#include "fluxpoints/examples.hpp"

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what.c_str());
    ++failures;
  }
}

}  // namespace

int main() {
  const fluxpoints::LikelihoodBatch batch = fluxpoints::examples::synthetic_spectrum_batch();
  fluxpoints::SolveOptions options;
  options.set_selection("all");

  std::string why;
  const auto backend = fluxpoints::make_backend("cpu", &why, 2);
  std::future<fluxpoints::BatchResult> pending = backend->solve_async(batch.as_view(), options);
  const fluxpoints::BatchResult async_result = pending.get();
  const fluxpoints::BatchResult result = backend->solve(batch, options);

  check(result.n_problems() == batch.n_problems(), "one result row per problem");
  for (std::int64_t p = 0; p < result.n_problems(); ++p) {
    const std::string row = "problem " + std::to_string(p) + " (" + batch.label(p) + ")";
    check(result.success[p] == 1, row + ": success (" + result.reason(p) + ")");
    check(std::isfinite(result.norm[p]) && result.norm[p] > 0, row + ": a positive norm");
    check(result.norm_errn[p] > 0 && result.norm_errp[p] > 0, row + ": errn and errp");
    check(result.norm_ul[p] > result.norm[p], row + ": ul above the norm");
    // The same batch solved twice gives the same bits.
    check(async_result.norm[p] == result.norm[p], row + ": solve_async agrees with solve");
  }
  check(result.n_scan() == 11, "gammapy's default scan of 11 norms");
  std::printf("fluxpoints %s (CUDA compiled in: %d): %s; %s: %lld problems solved, norm[0] = %.6f\n",
              FLUXPOINTS_VERSION_STRING, FLUXPOINTS_WITH_CUDA, why.c_str(),
              backend->name().c_str(), static_cast<long long>(result.n_problems()),
              result.norm[0]);
  return failures == 0 ? 0 : 1;
}
