// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Likelihood problems with linear nuisance parameters (gammapy's reoptimize=True for parameters
// that enter the prediction linearly: other sources' amplitudes, background norms). A problem
// carries K <= kMaxNuisances templates t_k, one value per bin, and the linear predictor of bin i
//
//     eta_i(theta, phi) = theta s_i + sum_k phi_k t_ik + o_i
//
// is what the per-bin statistics of statistic.hpp see: Cash uses mu = eta (o = background and
// other models), WStat uses the ON-region signal mu_s = eta (o = other models' signal) and
// profiles its background per bin as before. The statistic itself is not duplicated here: every
// bin is evaluated by cash_bin / wstat_bin with s = 1 and the norm set to eta, which gives the
// value and the derivatives with respect to eta.
//
// Raw-array layout (NuisanceArrays, next to BatchArrays of batch_solve.hpp):
//   problem_nuisances  n_problems + 1 offsets: problem p owns nuisances
//                      [problem_nuisances[p], problem_nuisances[p+1]) (K_p of them, may be 0)
//   start, min, max    one entry per nuisance: start value of the fit, bounds (NaN = none;
//                      min == max pins the nuisance at that value)
//   template_offset    one entry per problem: where its templates start in template_values
//   template_values    problem p's templates, template-major over its bins: template k of the
//                      problem's local bin i (bins counted from the problem's first bin, over
//                      all its dataset segments in order) is
//                      template_values[template_offset[p] + k * n_bins(p) + i]
// Problems with K_p = 0 need no template values (their template_offset is not read).

#include "fluxpoints/math/batch_solve.hpp"

// The nuisance solver's large routines are called from many places (the profile adapter from
// every call site of the 1-D machinery): inlined there on a device, the kernel grows to the
// point where ptxas needs many minutes. They are compiled once each instead (a call costs
// nothing next to a pass over the bins); host compilers inline as they see fit.
#if defined(__CUDACC__)
#define FLUXPOINTS_HD_NOINLINE __host__ __device__ __noinline__ inline
#else
#define FLUXPOINTS_HD_NOINLINE inline
#endif

namespace fluxpoints::math {

// Most nuisance parameters per problem. Bit masks over the 1 + K coordinates (norm and
// nuisances) are 32-bit, and the working set of one solve (see NuisanceWorkspace) grows as K^2.
constexpr int kMaxNuisances = 16;
constexpr int kMaxCoords = kMaxNuisances + 1;
constexpr int kMaxPacked = kMaxCoords * (kMaxCoords + 1) / 2;

struct NuisanceArrays {
  const std::int64_t* problem_nuisances;
  const std::int64_t* template_offset;
  const double* template_values;
  const double* start;
  const double* min;
  const double* max;
};

// One problem's bins (the usual ProblemView) and its nuisances.
struct NuisanceProblemView {
  ProblemView bins;
  const double* templates;  // template k of local bin i at templates[k * n_bins + i]
  std::int64_t first_bin;   // absolute index of local bin 0
  std::int64_t n_bins;
  std::int64_t n_nuisances;  // K (checked against kMaxNuisances by the solver)
  const double* start;       // K entries each
  const double* min;
  const double* max;

  FLUXPOINTS_HD double template_value(int k, std::int64_t bin) const {
    return templates[k * n_bins + (bin - first_bin)];
  }
};

FLUXPOINTS_HD NuisanceProblemView nuisance_problem(const BatchArrays& in, const NuisanceArrays& nu,
                                                   std::int64_t p) {
  NuisanceProblemView v;
  v.bins = in.problem(p);
  v.first_bin = v.bins.segment_bins[v.bins.segment_begin];
  v.n_bins = v.bins.n_bins();
  const std::int64_t first_nuisance = nu.problem_nuisances[p];
  v.n_nuisances = nu.problem_nuisances[p + 1] - first_nuisance;
  v.templates = v.n_nuisances > 0 ? nu.template_values + nu.template_offset[p] : nullptr;
  v.start = nu.start + first_nuisance;
  v.min = nu.min + first_nuisance;
  v.max = nu.max + first_nuisance;
  return v;
}

// The statistic of bin i of a segment of kind `kind` at linear predictor eta: value, d/d eta,
// d^2/d eta^2 and npred, straight from statistic.hpp (s = 1, norm = eta: mu = eta * 1 + 0).
FLUXPOINTS_HD BinTerms linear_bin(StatKind kind, const ProblemView& v, std::int64_t i, double eta) {
  return kind == StatKind::cash
             ? cash_bin(v.counts[i], 1.0, 0.0, eta)
             : wstat_bin(v.counts[i], v.counts_off[i], v.alpha[i], 1.0, 0.0, eta);
}

// Bins whose statistic is piecewise linear in eta with a kink at eta = 0 and no curvature on
// either side: Cash with no counts (2 max(eta, 0): slopes 0 | 2) and WStat with n_on = n_off = 0
// (slopes -2/alpha | 2). The solver treats their kinks as constraints it can hold active;
// every other bin is smooth (C1 where WStat changes branch) or has a barrier (Cash with counts).
FLUXPOINTS_HD bool is_kink_bin(StatKind kind, const ProblemView& v, std::int64_t i) {
  if (kind == StatKind::cash) return v.counts[i] == 0.0;
  const double a = v.alpha[i];
  return v.counts[i] == 0.0 && v.counts_off[i] == 0.0 && a > 0.0 && is_finite(a);
}

}  // namespace fluxpoints::math
