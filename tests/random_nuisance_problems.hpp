// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Random likelihood problems with K linear nuisance parameters for the tests: a source and K
// overlapping components (smooth positive templates of random centre and width, like
// neighbouring sources and background norms) over 1-3 Cash / WStat datasets, counts drawn around
// random true amplitudes (negative ones too where unbounded), faint and bright, with zero bins;
// bounds none, min = 0, or a random [min, max] that is often active at the optimum. The same
// problem is produced for the engine (NuisanceBatch) and for the long-double reference.

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "nuisance_batch.hpp"
#include "nuisance_reference.hpp"
#include "random_problems.hpp"

namespace fluxpoints::testing {

struct GenBin {
  bool wstat = false;
  double n = 0, s = 0, other = 0, n_off = 0, alpha = 0;
  std::vector<double> t;
};

struct GenProblem {
  std::vector<std::vector<GenBin>> datasets;
  std::vector<NuisanceSpec> nuisances;
};

inline void add_to_batch(const GenProblem& g, NuisanceBatch& b) {
  b.begin_problem(g.nuisances);
  for (const auto& d : g.datasets) {
    b.begin_dataset(d.front().wstat ? StatKind::wstat : StatKind::cash);
    for (const GenBin& x : d) {
      if (x.wstat)
        b.add_wstat_bin(x.n, x.n_off, x.alpha, x.s, x.other, x.t);
      else
        b.add_cash_bin(x.n, x.s, x.other, x.t);
    }
  }
}

inline NuRefProblem to_reference(const GenProblem& g) {
  NuRefProblem r;
  r.K = static_cast<int>(g.nuisances.size());
  for (const NuisanceSpec& n : g.nuisances) {
    r.start.push_back(n.start);
    r.lo.push_back(std::isnan(n.min) ? -kLdInf : static_cast<ld>(n.min));
    r.hi.push_back(std::isnan(n.max) ? kLdInf : static_cast<ld>(n.max));
  }
  r.n_datasets = static_cast<int>(g.datasets.size());
  for (int d = 0; d < r.n_datasets; ++d)
    for (const GenBin& x : g.datasets[d]) {
      NuRefBin b;
      b.wstat = x.wstat;
      b.dataset = d;
      b.n = x.n;
      b.s = x.s;
      b.other = x.other;
      b.n_off = x.n_off;
      b.alpha = x.alpha;
      for (double t : x.t) b.t.push_back(t);
      r.bins.push_back(b);
    }
  return r;
}

inline std::string describe(const GenProblem& g) {
  std::ostringstream os;
  os.precision(17);
  for (std::size_t k = 0; k < g.nuisances.size(); ++k)
    os << "\n  nuisance " << k << ": start " << g.nuisances[k].start << " min "
       << g.nuisances[k].min << " max " << g.nuisances[k].max;
  for (std::size_t d = 0; d < g.datasets.size(); ++d) {
    os << "\n  dataset " << d << (g.datasets[d].front().wstat ? " (wstat)" : " (cash)") << ":";
    for (const GenBin& b : g.datasets[d]) {
      os << "\n    n=" << b.n << " s=" << b.s << " o=" << b.other;
      if (b.wstat) os << " n_off=" << b.n_off << " alpha=" << b.alpha;
      os << " t=";
      for (double t : b.t) os << t << ",";
    }
  }
  return os.str();
}

// One random problem with K nuisances. `kind`: 0 Cash only, 1 WStat only, 2 mixed.
inline GenProblem random_nuisance_problem(std::uint64_t seed, std::uint64_t index, int K,
                                          int kind) {
  Rng rng(seed, 1000003 * static_cast<std::uint64_t>(K) + index);
  GenProblem g;
  const bool bright = rng.chance(0.5);
  const double scale = bright ? rng.log_uniform(5, 300) : rng.log_uniform(0.3, 5);
  const double theta_true = rng.uniform(-0.3, 3.0);
  const int n_datasets = rng.integer(1, 3);
  const int total_bins = rng.integer(K + 3, 2 * K + 12);
  std::vector<int> sizes(n_datasets, total_bins / n_datasets);
  sizes[0] += total_bins - (total_bins / n_datasets) * n_datasets;
  // Templates along a global bin coordinate u in [0, 1): Gaussian bumps plus a small floor,
  // centres spread over the bins and widths around their spacing (neighbouring sources that
  // overlap, not nearly identical ones: those are the degenerate cases tested separately).
  std::vector<double> centre(K), width(K), amp(K), truth(K);
  const double spacing = 1.2 / K;
  for (int k = 0; k < K; ++k) {
    centre[k] = -0.1 + (k + rng.uniform(0.2, 0.8)) * spacing;
    width[k] = std::fmin(0.3, spacing * rng.log_uniform(0.4, 1.2));
    amp[k] = scale * rng.log_uniform(0.1, 1.0);
    NuisanceSpec spec;
    const int mode = rng.integer(0, 2);
    truth[k] = rng.uniform(0.3, 2.0);
    if (mode == 0) {  // unbounded (gammapy's default): the truth may be negative
      if (rng.chance(0.25)) truth[k] = rng.uniform(-0.5, 0.2);
      spec.start = 1.0;
    } else if (mode == 1) {  // min = 0 (an amplitude that must stay positive): active if truth ~ 0
      if (rng.chance(0.4)) truth[k] = rng.uniform(-0.5, 0.1);
      spec.min = 0.0;
      spec.start = 1.0;
    } else {  // a window that often excludes the truth
      spec.min = truth[k] * rng.uniform(0.3, 1.3);
      spec.max = spec.min + rng.log_uniform(0.05, 2.0);
      spec.start = rng.uniform(spec.min, spec.max);
    }
    g.nuisances.push_back(spec);
  }
  int global = 0;
  for (int d = 0; d < n_datasets; ++d) {
    const bool wstat = kind == 1 || (kind == 2 && rng.chance(0.5));
    const double alpha = rng.log_uniform(0.05, 1.0);
    std::vector<GenBin> bins;
    for (int i = 0; i < sizes[d]; ++i, ++global) {
      const double u = (global + 0.5) / total_bins;
      GenBin b;
      b.wstat = wstat;
      b.s = scale * std::exp(-2.0 * u) * rng.log_uniform(0.5, 2.0);
      double mean = theta_true * b.s;
      for (int k = 0; k < K; ++k) {
        const double z = (u - centre[k]) / width[k];
        const double t = amp[k] * (std::exp(-0.5 * z * z) + 1e-3);
        b.t.push_back(t);
        mean += truth[k] * t;
      }
      if (wstat) {
        b.alpha = alpha;
        b.other = rng.chance(0.1) ? rng.uniform(0.0, 0.3) * scale : 0.0;
        const double off_mean = scale * rng.log_uniform(0.2, 5.0);
        b.n_off = std::fmin(rng.poisson(off_mean), kMaxCounts);
        b.n = std::fmin(rng.poisson(std::fmax(mean + b.other + alpha * off_mean, 0.0)), kMaxCounts);
        if (rng.chance(0.05)) b.n_off = 0;
      } else {
        b.other = scale * rng.log_uniform(0.05, 2.0);
        b.n = std::fmin(rng.poisson(std::fmax(mean + b.other, 0.0)), kMaxCounts);
      }
      if (rng.chance(0.05)) b.n = 0;
      bins.push_back(b);
    }
    g.datasets.push_back(bins);
  }
  return g;
}

// A faint source in a crowded field where every component is re-fitted, as in a field catalog:
// Cash bins (pixels) with no fixed background, nuisance 0 a background norm over every bin, the
// others neighbours whose templates cover only their footprint, all with min = 0; the source's
// own template local too. Counts are drawn with a true norm in [-0.6, 0] and are mostly 0, so the
// best-fit norm is often negative with TS < 1.
inline GenProblem negative_fit_nuisance_problem(std::uint64_t seed, std::uint64_t index, int K) {
  Rng rng(seed, 7000003 * static_cast<std::uint64_t>(K) + index);
  GenProblem g;
  const double scale = rng.log_uniform(0.05, 3);
  const double theta_true = rng.uniform(-0.6, 0.0);
  const int n_bins = rng.integer(20 + 2 * K, 40 + 4 * K);
  const double s_centre = rng.uniform(0.2, 0.8), s_width = rng.uniform(0.05, 0.2);
  std::vector<double> centre(K), width(K), amp(K), truth(K);
  for (int k = 0; k < K; ++k) {
    centre[k] = rng.uniform(0.0, 1.0);
    width[k] = rng.uniform(0.03, 0.15);
    amp[k] = scale * (k == 0 ? rng.log_uniform(0.1, 1.0) : rng.log_uniform(0.5, 3.0));
    truth[k] = rng.uniform(0.5, 1.5);
    g.nuisances.push_back(NuisanceSpec{1.0, 0.0, std::nan("")});
  }
  std::vector<GenBin> bins;
  for (int i = 0; i < n_bins; ++i) {
    const double u = (i + 0.5) / n_bins;
    GenBin b;
    const double zs = (u - s_centre) / s_width;
    b.s = std::fabs(zs) < 3 ? scale * std::exp(-0.5 * zs * zs) : 0.0;
    double mean = theta_true * b.s;
    for (int k = 0; k < K; ++k) {
      const double z = (u - centre[k]) / width[k];
      const double t = k == 0 ? amp[k] : (std::fabs(z) < 3 ? amp[k] * std::exp(-0.5 * z * z) : 0.0);
      b.t.push_back(t);
      mean += truth[k] * t;
    }
    b.n = std::fmin(rng.poisson(std::fmax(mean, 0.0)), kMaxCounts);
    bins.push_back(b);
  }
  g.datasets.push_back(bins);
  return g;
}

}  // namespace fluxpoints::testing
