// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A spectral model as plain data: a type tag and its parameter values, no virtual calls, no heap.
// It covers every model whose dnde is a closed formula of a few parameters (gammapy's PowerLaw,
// PowerLaw2, LogParabola, the exponential cutoffs, the broken power laws, Constant and
// PowerLawNorm), so a model can be evaluated and integrated the same way on the host and on a
// device. The formulas are those of spectral_functions.hpp (one copy); the host model classes
// describe themselves with SpectralModel::closed_form(). Models that hold a table or other models
// (Template, Compound, EBL absorption, Scale) have no closed form and stay on the host.
// Units as everywhere in the library: TeV, cm-2 s-1 TeV-1 (cm-2 s-1 for PowerLaw2).

#include <cstdint>

#include "fluxpoints/math/spectral_functions.hpp"
#include "fluxpoints/math/spectral_integration.hpp"

namespace fluxpoints::math {

enum class ClosedFormKind : std::int32_t {
  power_law = 0,
  power_law2,
  log_parabola,
  exp_cutoff_power_law,
  exp_cutoff_power_law_3fgl,
  super_exp_cutoff_3fgl,
  super_exp_cutoff_4fgl,
  super_exp_cutoff_4fgl_dr3,
  broken_power_law,
  smooth_broken_power_law,
  constant,
  power_law_norm,
};
constexpr int kClosedFormKinds = 12;
// The most parameters of one closed-form model (SmoothBrokenPowerLaw's six).
constexpr int kClosedFormMaxParameters = 6;

// p[] holds the parameter values in gammapy's order for the type (the order of the host class'
// parameters()), unused entries 0.
struct ClosedFormSpectrum {
  ClosedFormKind kind = ClosedFormKind::power_law;
  double p[kClosedFormMaxParameters] = {0, 0, 0, 0, 0, 0};
};

// dnde at energy e (TeV).
FLUXPOINTS_HD double closed_form_dnde(const ClosedFormSpectrum& m, double e) {
  const double* p = m.p;
  switch (m.kind) {
    case ClosedFormKind::power_law:
      return power_law_dnde(e, p[0], p[1], p[2]);
    case ClosedFormKind::power_law2:
      return power_law2_dnde(e, p[0], p[1], p[2], p[3]);
    case ClosedFormKind::log_parabola:
      return log_parabola_dnde(e, p[0], p[1], p[2], p[3]);
    case ClosedFormKind::exp_cutoff_power_law:
      return exp_cutoff_power_law_dnde(e, p[0], p[1], p[2], p[3], p[4]);
    case ClosedFormKind::exp_cutoff_power_law_3fgl:
      return exp_cutoff_power_law_3fgl_dnde(e, p[0], p[1], p[2], p[3]);
    case ClosedFormKind::super_exp_cutoff_3fgl:
      return super_exp_cutoff_3fgl_dnde(e, p[0], p[1], p[2], p[3], p[4]);
    case ClosedFormKind::super_exp_cutoff_4fgl:
      return super_exp_cutoff_4fgl_dnde(e, p[0], p[1], p[2], p[3], p[4]);
    case ClosedFormKind::super_exp_cutoff_4fgl_dr3:
      return super_exp_cutoff_4fgl_dr3_dnde(e, p[0], p[1], p[2], p[3], p[4]);
    case ClosedFormKind::broken_power_law:
      return broken_power_law_dnde(e, p[0], p[1], p[2], p[3]);
    case ClosedFormKind::smooth_broken_power_law:
      return smooth_broken_power_law_dnde(e, p[0], p[1], p[2], p[3], p[4], p[5]);
    case ClosedFormKind::constant:
      return p[0];
    case ClosedFormKind::power_law_norm:
      // gammapy: norm * (E / reference)^(-tilt), the power-law formula with norm as amplitude.
      return power_law_dnde(e, p[0], p[1], p[2]);
  }
  return kNaN;
}

// Whether gammapy integrates this type analytically (else: its log-log rule, ndecade = 100).
FLUXPOINTS_HD bool has_analytic_integral(ClosedFormKind kind) {
  return kind == ClosedFormKind::power_law || kind == ClosedFormKind::power_law2 ||
         kind == ClosedFormKind::power_law_norm;
}

// The analytic integral over [e_lo, e_hi] of a type with has_analytic_integral; NaN otherwise.
FLUXPOINTS_HD double closed_form_analytic_integral(const ClosedFormSpectrum& m, double e_lo,
                                                   double e_hi) {
  const double* p = m.p;
  switch (m.kind) {
    case ClosedFormKind::power_law:  // index, amplitude, reference
      return power_law_integral(p[1], p[2], p[0], e_lo, e_hi);
    case ClosedFormKind::power_law2:  // amplitude, index, emin, emax
      return power_law2_integral(p[0], p[1], p[2], p[3], e_lo, e_hi);
    case ClosedFormKind::power_law_norm:  // tilt, norm, reference
      return power_law_integral(p[1], p[2], p[0], e_lo, e_hi);
    default:
      return kNaN;
  }
}

// dnde of a closed-form model as a function object (for the log-log rule's templates).
struct ClosedFormDnde {
  const ClosedFormSpectrum& m;
  FLUXPOINTS_HD double operator()(double e) const { return closed_form_dnde(m, e); }
};

}  // namespace fluxpoints::math
