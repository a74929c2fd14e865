// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Random likelihood problems for the tests: a portable generator (the same numbers on every
// standard library) of mixed Cash/WStat problems, 1-3 datasets of 1-12 bins, bright and faint,
// with zero bins, n_off = 0 bins and all-zero groups; and their conversion to a LikelihoodBatch.
// The seed is fixed by default; FLUXPOINTS_TEST_SEED overrides it.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/batch.hpp"
#include "reference_likelihood.hpp"

namespace fluxpoints::testing {

constexpr std::uint64_t kDefaultSeed = 20260701;

inline std::uint64_t test_seed() {
  if (const char* env = std::getenv("FLUXPOINTS_TEST_SEED")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end == env || *end != '\0')
      throw std::invalid_argument(std::string("FLUXPOINTS_TEST_SEED is not an unsigned integer: ") + env);
    return v;
  }
  return kDefaultSeed;
}

// A small, portable random source (std:: distributions differ between standard libraries).
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) {
    std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                      static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)};
    gen_.seed(seq);
  }
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  double log_uniform(double a, double b) { return std::exp(uniform(std::log(a), std::log(b))); }
  bool chance(double p) { return uniform() < p; }
  int integer(int lo, int hi) { return lo + static_cast<int>(uniform() * (hi - lo + 1)); }
  // Poisson draw: multiplication method for small means, rounded normal above 30 (only test data).
  double poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean < 30) {
      const double limit = std::exp(-mean);
      double prod = uniform();
      int k = 0;
      while (prod > limit) {
        prod *= uniform();
        ++k;
      }
      return k;
    }
    const double z = std::sqrt(-2 * std::log(1 - uniform())) * std::cos(2 * M_PI * uniform());
    return std::fmax(0.0, std::round(mean + std::sqrt(mean) * z));
  }

 private:
  std::mt19937_64 gen_;
};

constexpr double kMaxCounts = 1000;

// One random problem. Counts are drawn around a random true norm (negative ones too), capped at
// 1000; zero bins and n_off = 0 bins are forced at random; a few groups have all counts 0.
inline RefProblem random_problem(std::uint64_t seed, std::uint64_t index) {
  Rng rng(seed, index);
  RefProblem p;
  const bool bright = rng.chance(0.4);
  const double s_scale = bright ? rng.log_uniform(1, 300) : rng.log_uniform(0.02, 3);
  const double theta_true = rng.uniform(-0.5, 4);
  const bool all_zero_cash = rng.chance(0.03);
  const bool all_zero_on = !all_zero_cash && rng.chance(0.02);
  const int n_datasets = rng.integer(1, 3);
  for (int d = 0; d < n_datasets; ++d) {
    const bool wstat = !all_zero_cash && (all_zero_on || rng.chance(0.5));
    const int n_bins = rng.integer(1, 12);
    const double other = (wstat && rng.chance(0.1)) ? rng.uniform(0, 3) : 0.0;
    const double alpha = rng.log_uniform(0.05, 1);
    std::vector<RefBin> bins;
    for (int i = 0; i < n_bins; ++i) {
      RefBin b;
      b.wstat = wstat;
      b.s = s_scale * rng.log_uniform(0.3, 3);
      if (wstat) {
        const double off_mean = rng.log_uniform(0.1, 500) * (bright ? 1 : 0.05);
        b.alpha = alpha;
        b.other = other;
        b.n_off = std::fmin(rng.poisson(off_mean), kMaxCounts);
        b.n = std::fmin(rng.poisson(theta_true * b.s + other + alpha * off_mean), kMaxCounts);
        if (rng.chance(0.08)) b.n_off = 0;
        if (all_zero_on || rng.chance(0.08)) b.n = 0;
      } else {
        b.other = rng.log_uniform(0.01, 300) * (bright ? 1 : 0.02);
        b.n = std::fmin(rng.poisson(theta_true * b.s + b.other), kMaxCounts);
        if (all_zero_cash || rng.chance(0.1)) b.n = 0;
      }
      bins.push_back(b);
    }
    p.datasets.push_back(bins);
  }
  return p;
}

inline void add_to_batch(const RefProblem& p, LikelihoodBatch& batch, const std::string& label) {
  batch.begin_problem(label);
  for (const auto& d : p.datasets) {
    batch.begin_dataset(d.front().wstat ? StatKind::wstat : StatKind::cash);
    for (const RefBin& b : d) {
      const auto x = [](ld v) { return static_cast<double>(v); };
      if (b.wstat) batch.add_wstat_bin(x(b.n), x(b.n_off), x(b.alpha), x(b.s), x(b.other));
      else batch.add_cash_bin(x(b.n), x(b.s), x(b.other));
    }
  }
}

inline std::string describe(const RefProblem& p) {
  std::ostringstream os;
  os.precision(17);
  for (std::size_t d = 0; d < p.datasets.size(); ++d) {
    os << "\n  dataset " << d << (p.datasets[d].front().wstat ? " (wstat)" : " (cash)") << ":";
    for (const RefBin& b : p.datasets[d]) {
      os << "\n    n=" << static_cast<double>(b.n) << " s=" << static_cast<double>(b.s)
         << (b.wstat ? " o=" : " b=") << static_cast<double>(b.other);
      if (b.wstat) os << " n_off=" << static_cast<double>(b.n_off) << " alpha=" << static_cast<double>(b.alpha);
    }
  }
  return os.str();
}

}  // namespace fluxpoints::testing
