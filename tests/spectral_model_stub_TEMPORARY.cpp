// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// TEMPORARY: definitions of the SpectralModel base members so the dataset tests link before the
// `models` branch (host/models) is merged. Delete this file when merging `models`.
#include <stdexcept>

#include "fluxpoints/models/spectral_model.hpp"

namespace fluxpoints::models {

std::vector<double> SpectralModel::integral(const std::vector<double>&,
                                            const std::vector<double>&) const {
  throw std::logic_error("SpectralModel::integral: stub (models branch not merged)");
}

std::vector<double> SpectralModel::energy_flux(const std::vector<double>&,
                                               const std::vector<double>&) const {
  throw std::logic_error("SpectralModel::energy_flux: stub (models branch not merged)");
}

const Parameter& SpectralModel::parameter(const std::string& name) const {
  for (const Parameter& p : parameters_) {
    if (p.name == name) return p;
  }
  throw std::out_of_range(type() + ": no parameter " + name);
}

Parameter& SpectralModel::parameter(const std::string& name) {
  for (Parameter& p : parameters_) {
    if (p.name == name) return p;
  }
  throw std::out_of_range(type() + ": no parameter " + name);
}

}  // namespace fluxpoints::models
