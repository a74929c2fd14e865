// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A PowerLaw local to the dataset tests, with gammapy's analytic integral (spec 5.2), so the
// folding tests do not depend on the models library. It counts integral() calls.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "fluxpoints/models/spectral_model.hpp"

namespace fluxpoints::testing {

class LocalPowerLaw : public models::SpectralModel {
 public:
  LocalPowerLaw(double amplitude, double index, double reference)
      : amplitude_(amplitude), index_(index), reference_(reference) {}
  std::string type() const override { return "PowerLawSpectralModel"; }
  std::unique_ptr<models::SpectralModel> clone() const override {
    return std::make_unique<LocalPowerLaw>(*this);
  }
  double dnde(double e) const override { return amplitude_ * std::pow(e / reference_, -index_); }
  std::vector<double> integral(const std::vector<double>& lo,
                               const std::vector<double>& hi) const override {
    ++integral_calls;
    std::vector<double> out(lo.size());
    for (std::size_t i = 0; i < lo.size(); ++i) {
      if (std::abs(1.0 - index_) <= 1e-8) {
        out[i] = amplitude_ * reference_ * std::log(hi[i] / lo[i]);
      } else {
        const double g = 1.0 - index_;
        out[i] = amplitude_ * reference_ / g *
                 (std::pow(hi[i] / reference_, g) - std::pow(lo[i] / reference_, g));
      }
    }
    return out;
  }
  mutable int integral_calls = 0;

 private:
  double amplitude_, index_, reference_;
};

}  // namespace fluxpoints::testing
