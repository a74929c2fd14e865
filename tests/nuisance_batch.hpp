// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Test scaffolding for problems with nuisance parameters: a builder that lays a LikelihoodBatch
// plus the raw nuisance arrays of math/nuisance_problem.hpp out exactly as the engine reads them,
// and a runner that calls math::solve_and_store_nuisance for every problem (the CPU path; the
// batch types and backends are not wired to nuisances yet).

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "fluxpoints/backend_support.hpp"
#include "fluxpoints/math/nuisance_batch_solve.hpp"

namespace fluxpoints::testing {

struct NuisanceSpec {
  double start = 1.0;
  double min = math::kNaN;  // NaN: unbounded
  double max = math::kNaN;
};

class NuisanceBatch {
 public:
  LikelihoodBatch batch;
  std::vector<std::int64_t> problem_nuisances{0};
  std::vector<std::int64_t> template_offset;
  std::vector<double> template_values, start, min, max;

  void begin_problem(const std::vector<NuisanceSpec>& nuisances) {
    flush();
    batch.begin_problem();
    for (const NuisanceSpec& n : nuisances) {
      start.push_back(n.start);
      min.push_back(n.min);
      max.push_back(n.max);
    }
    problem_nuisances.push_back(problem_nuisances.back() +
                                static_cast<std::int64_t>(nuisances.size()));
    k_ = static_cast<int>(nuisances.size());
    open_ = true;
  }
  void begin_dataset(StatKind kind) { batch.begin_dataset(kind); }
  // t: one value per nuisance of the current problem.
  void add_cash_bin(double n, double s, double b, const std::vector<double>& t) {
    check(t);
    batch.add_cash_bin(n, s, b);
    rows_.push_back(t);
  }
  void add_wstat_bin(double n_on, double n_off, double alpha, double s, double o,
                     const std::vector<double>& t) {
    check(t);
    batch.add_wstat_bin(n_on, n_off, alpha, s, o);
    rows_.push_back(t);
  }
  // Lays out the last problem's templates; call once after the last bin.
  void finish() { flush(); }

  math::NuisanceArrays arrays() const {
    return math::NuisanceArrays{problem_nuisances.data(),
                                template_offset.data(),
                                template_values.data(),
                                start.data(),
                                min.data(),
                                max.data()};
  }
  std::int64_t n_nuisances() const { return problem_nuisances.back(); }

 private:
  void check(const std::vector<double>& t) const {
    if (!open_ || static_cast<int>(t.size()) != k_)
      throw std::invalid_argument("NuisanceBatch: one template value per nuisance");
  }
  void flush() {
    if (!open_) return;
    // Template-major over the problem's bins.
    template_offset.push_back(static_cast<std::int64_t>(template_values.size()));
    for (int k = 0; k < k_; ++k)
      for (const auto& row : rows_) template_values.push_back(row[k]);
    rows_.clear();
    open_ = false;
  }
  int k_ = 0;
  bool open_ = false;
  std::vector<std::vector<double>> rows_;
};

struct NuisanceRun {
  BatchResult result;
  std::vector<double> phi;       // per nuisance
  std::vector<int> evaluations;  // per problem: passes over its bins
};

// Solves every problem of `b` on the host with the shared math.
inline NuisanceRun run_nuisance(const NuisanceBatch& b, const SolveOptions& options) {
  NuisanceRun run;
  prepare_solve(b.batch.as_view(), options, run.result);
  run.evaluations.assign(b.batch.n_problems(), 0);
  const math::ResultArrays out = result_arrays(run.result, run.evaluations);
  const math::BatchArrays in = b.batch.as_view().arrays;
  const math::NuisanceArrays nu = b.arrays();
  const math::SolveSettings settings = options.settings();
  run.phi.assign(b.n_nuisances(), math::kNaN);
  const std::vector<double>& scan = run.result.norm_scan;
  for (std::int64_t p = 0; p < b.batch.n_problems(); ++p)
    math::solve_and_store_nuisance(in, nu, p, settings, scan.data(), static_cast<int>(scan.size()),
                                   out, run.phi.data());
  for (int e : run.evaluations) run.result.evaluations += e;
  return run;
}

}  // namespace fluxpoints::testing
