// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Node-level pieces of the gammapy model YAML reader/writer, for code that embeds a
// spectral model in a larger YAML document (and for tests). Whole files: spectral_model.hpp.

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "fluxpoints/models/spectral_model.hpp"

namespace fluxpoints::models {

// Builds a spectral model from a `spectral:` mapping ({type, parameters, [energy, values]}).
// Missing parameters or fields take gammapy's class defaults; values, min, max and error are
// converted to internal units. `where` (e.g. "models.yaml, model 'crab'") prefixes every error
// message, which also names the field. Relative table file names (EBL `filename:`) are looked up
// in `base_dir` (the model file's directory) when not found as given. Throws std::runtime_error.
std::unique_ptr<SpectralModel> spectral_model_from_yaml(const YAML::Node& spectral,
                                                        const std::string& where,
                                                        const std::string& base_dir = "");

// The `spectral:` mapping gammapy writes for this model (full_output=False).
YAML::Node spectral_model_to_yaml(const SpectralModel& model);

// A double as Python's yaml writes it ("1.0e-11", "2.0", ".nan"), so that PyYAML reads a float.
std::string yaml_float(double value);

}  // namespace fluxpoints::models
