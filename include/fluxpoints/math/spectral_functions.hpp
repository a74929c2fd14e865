// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Differential fluxes of gammapy's spectral models, one function per model, in the
// operation order of gammapy's `evaluate`. Energies in TeV, amplitudes in cm-2 s-1 TeV-1 (or
// cm-2 s-1 for PowerLaw2). Shared by the host model classes and any device code.

#include "fluxpoints/math/hd.hpp"

namespace fluxpoints::math {

FLUXPOINTS_HD double power_law_dnde(double e, double index, double amplitude, double reference) {
  return amplitude * std::pow(e / reference, -index);
}

// PowerLaw2: amplitude is the integral flux between emin and emax.
FLUXPOINTS_HD double power_law2_dnde(double e, double amplitude, double index, double emin,
                                     double emax) {
  const double top = -index + 1.0;
  const double bottom = emax - emin * std::pow(emin / emax, -index);
  return amplitude * (top / bottom) * std::pow(e / emax, -index);
}

// PowerLaw2 integral from e_min to e_max; NaN at index 1 as in gammapy (no special case).
FLUXPOINTS_HD double power_law2_integral(double amplitude, double index, double emin, double emax,
                                         double e_min, double e_max) {
  const double top = std::pow(e_max, -index + 1.0) - std::pow(e_min, -index + 1.0);
  const double bottom = std::pow(emax, -index + 1.0) - std::pow(emin, -index + 1.0);
  return amplitude * top / bottom;
}

// Natural-log parabola: amplitude * x^(-alpha - beta ln x), x = E / reference.
FLUXPOINTS_HD double log_parabola_dnde(double e, double amplitude, double reference, double alpha,
                                       double beta) {
  const double x = e / reference;
  const double exponent = -alpha - beta * std::log(x);
  return amplitude * std::pow(x, exponent);
}

// alpha is 1 unless set otherwise (gammapy's default, frozen): pow(x, 1) is x exactly, so that
// case skips the pow without changing the result.
FLUXPOINTS_HD double exp_cutoff_power_law_dnde(double e, double index, double amplitude,
                                               double reference, double lambda, double alpha) {
  const double pwl = amplitude * std::pow(e / reference, -index);
  const double x = e * lambda;
  const double cutoff = std::exp(-(alpha == 1.0 ? x : std::pow(x, alpha)));
  return pwl * cutoff;
}

// 4FGL DR1/DR2: the exponent a * (E0^G2 - E^G2) takes energies in MeV (a carries MeV^-G2).
// The TeV -> MeV factor is formed as astropy forms it when gammapy converts the exponent to a
// dimensionless number, (TeV in J)^G2 * (MeV in J)^-G2, so that results match to the last bit.
constexpr double kElectronVoltInJoule = 1.602176634e-19;
FLUXPOINTS_HD double super_exp_cutoff_4fgl_dnde(double e, double amplitude, double reference,
                                                double expfactor, double index_1, double index_2) {
  const double pwl = amplitude * std::pow(e / reference, -index_1);
  const double tev_in_joule = 1e12 * kElectronVoltInJoule;
  const double mev_in_joule = 1e6 * kElectronVoltInJoule;
  const double tev_to_mev = std::pow(tev_in_joule, index_2) * std::pow(mev_in_joule, -index_2);
  const double cutoff =
      std::exp(expfactor * (std::pow(reference, index_2) - std::pow(e, index_2)) * tev_to_mev);
  return pwl * cutoff;
}

// 4FGL DR3: cutoff x^(a/G2) exp(a/G2^2 (1 - x^G2)); where |G2 ln x| < 1e-2 the cancelling form
// is replaced by its series x^(-a (L/2 + G2 L^2/6 + G2^2 L^3/24)), L = ln x.
constexpr double kDr3SeriesThreshold = 1e-2;
FLUXPOINTS_HD double super_exp_cutoff_4fgl_dr3_dnde(double e, double amplitude, double reference,
                                                    double expfactor, double index_1,
                                                    double index_2) {
  const double x = e / reference;
  const double pwl = amplitude * std::pow(x, -index_1);
  const double ln_x = std::log(x);
  double cutoff;
  if (dabs(index_2 * ln_x) < kDr3SeriesThreshold) {
    const double power = -expfactor * (ln_x / 2.0 + index_2 / 6.0 * (ln_x * ln_x) +
                                       (index_2 * index_2) / 24.0 * std::pow(ln_x, 3.0));
    cutoff = std::pow(x, power);
  } else {
    cutoff = std::pow(x, expfactor / index_2) *
             std::exp(expfactor / (index_2 * index_2) * (1.0 - std::pow(x, index_2)));
  }
  return pwl * cutoff;
}

FLUXPOINTS_HD double broken_power_law_dnde(double e, double index1, double index2, double amplitude,
                                           double ebreak) {
  const double ratio = e / ebreak;
  return amplitude * std::pow(ratio, e < ebreak ? -index1 : -index2);
}

FLUXPOINTS_HD double exp_cutoff_power_law_3fgl_dnde(double e, double index, double amplitude,
                                                    double reference, double ecut) {
  const double pwl = amplitude * std::pow(e / reference, -index);
  const double cutoff = std::exp((reference - e) / ecut);
  return pwl * cutoff;
}

FLUXPOINTS_HD double super_exp_cutoff_3fgl_dnde(double e, double amplitude, double reference,
                                                double ecut, double index_1, double index_2) {
  const double pwl = amplitude * std::pow(e / reference, -index_1);
  const double cutoff = std::exp(std::pow(reference / ecut, index_2) - std::pow(e / ecut, index_2));
  return pwl * cutoff;
}

// Smooth broken power law; beta takes the sign of (index2 - index1).
FLUXPOINTS_HD double smooth_broken_power_law_dnde(double e, double index1, double index2,
                                                  double amplitude, double ebreak, double reference,
                                                  double beta) {
  const double d = index2 - index1;
  const double sign = d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0);
  const double b = beta * sign;
  const double pwl = amplitude * std::pow(e / reference, -index1);
  const double brk = std::pow(1.0 + std::pow(e / ebreak, d / b), -b);
  return pwl * brk;
}

// Template spectrum: linear interpolation of ln(value) in ln(E) between tabulated nodes
// (ascending energies), linear extrapolation in log-log outside, clipped at >= 0. Values <= 0
// enter the log as the smallest positive double, results at or below twice it read as 0.
// A single node gives its value everywhere.
FLUXPOINTS_HD double template_dnde(double e, const double* log_energy, const double* log_value,
                                   int n) {
  if (n == 1) return std::exp(log_value[0]);
  const double le = std::log(dmax(e, kSmallestPositive));
  // Interval i with log_energy[i] < le <= log_energy[i+1] (searchsorted left), clamped to the
  // first/last interval for extrapolation.
  int i = 0;
  while (i < n - 2 && log_energy[i + 1] < le) ++i;
  const double t = (le - log_energy[i]) / (log_energy[i + 1] - log_energy[i]);
  const double lv = log_value[i] * (1.0 - t) + log_value[i + 1] * t;
  double v = std::exp(lv);
  if (dabs(v) - kSmallestPositive <= kSmallestPositive) v = 0.0;
  return v < 0.0 ? 0.0 : v;
}

}  // namespace fluxpoints::math
