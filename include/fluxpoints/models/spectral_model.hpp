// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Spectral models with gammapy's names, parameters and integration rules.
// Internal units, everywhere in the library: energy in TeV, dnde in cm-2 s-1 TeV-1, integral flux
// in cm-2 s-1, energy flux in TeV cm-2 s-1. Readers convert to these on input.
// Concrete models and factories: models/spectral_models.hpp. YAML details: models/model_yaml.hpp.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fluxpoints/math/closed_form_spectrum.hpp"

namespace fluxpoints::models {

struct Parameter {
  std::string name;
  double value = 0.0;  // in the internal unit of the parameter (see each model)
  std::string unit;    // the internal unit, e.g. "cm-2 s-1 TeV-1", "TeV", ""
  double min = __builtin_nan("");
  double max = __builtin_nan("");
  bool frozen = false;
  double error = 0.0;  // in the internal unit; 0 = not known
};

class SpectralModel {
 public:
  virtual ~SpectralModel() = default;
  // gammapy's full type tag, e.g. "PowerLawSpectralModel".
  virtual std::string type() const = 0;
  virtual std::unique_ptr<SpectralModel> clone() const = 0;
  // Differential flux at energy E (TeV), cm-2 s-1 TeV-1, with the model's own parameters.
  double dnde(double energy_tev) const { return evaluate(energy_tev, parameters_.data()); }
  // dnde at each energy.
  std::vector<double> dnde(const std::vector<double>& energies_tev) const;
  // The model's formula with an external parameter block laid out as parameters() (a compound
  // model evaluates its parts on slices of its own parameter list this way).
  virtual double evaluate(double energy_tev, const Parameter* params) const = 0;
  // Integral flux over each bin [e_lo[i], e_hi[i]] (TeV), cm-2 s-1, as gammapy integrates it:
  // analytic where gammapy is, else its log-log trapezoid rule with ndecade = 100 where the
  // number of points is shared by the whole vector of bins.
  virtual std::vector<double> integral(const std::vector<double>& e_lo,
                                       const std::vector<double>& e_hi) const;
  // Energy flux over each bin, TeV cm-2 s-1 (analytic only for PowerLaw).
  virtual std::vector<double> energy_flux(const std::vector<double>& e_lo,
                                          const std::vector<double>& e_hi) const;
  // The model as plain data (type tag and parameter values, math/closed_form_spectrum.hpp) when
  // its dnde is a closed formula: such models are evaluated, integrated and folded by the code
  // the host shares with the device. Empty for models made of tables or other models (Template,
  // Compound, EBL absorption, Scale), which integrate through the virtual dnde on the host.
  virtual std::optional<math::ClosedFormSpectrum> closed_form() const { return std::nullopt; }
  // True for gammapy's "Norm" models (dimensionless factors such as PowerLawNormSpectralModel),
  // which must not be used as a source spectrum.
  virtual bool is_norm() const { return false; }

  std::vector<Parameter>& parameters() { return parameters_; }
  const std::vector<Parameter>& parameters() const { return parameters_; }
  // Throws std::out_of_range naming the model type and the parameter.
  const Parameter& parameter(const std::string& name) const;
  Parameter& parameter(const std::string& name);

 protected:
  std::vector<Parameter> parameters_;
};

// A sky model as read from gammapy's model YAML: what flux points need, plus the spatial and
// temporal parts kept verbatim (as YAML text) so that writing the model back preserves them.
struct SkyModel {
  std::string name;
  std::unique_ptr<SpectralModel> spectral;
  std::vector<std::string> datasets_names;  // empty = applies to every dataset
  std::string spatial_yaml;                 // the `spatial:` mapping as YAML text, "" if none
  std::string temporal_yaml;                // the `temporal:` mapping as YAML text, "" if none

  SkyModel clone() const;
};

// A FoVBackgroundModel component: a norm spectrum (usually PowerLawNormSpectralModel) that scales
// one dataset's background at reco energies.
struct FoVBackgroundModel {
  std::string name;  // gammapy default: "<dataset>-bkg"
  std::vector<std::string> datasets_names;
  std::unique_ptr<SpectralModel> spectral;  // null when the type is not supported here
  std::string spectral_type;                // the type tag as written in the file
};

// Everything read from one model YAML file.
struct ModelsFile {
  std::vector<SkyModel> sky_models;
  std::vector<FoVBackgroundModel> backgrounds;
  std::vector<std::string> skipped_components;  // "type name" of components not read
};

// Reads a gammapy model YAML file. Unknown model types, missing required fields or
// unparsable units throw std::runtime_error naming the file, the model and the field.
ModelsFile read_models_file(const std::string& path);

// Reads every SkyModel of a gammapy model YAML file. Unknown model types, missing
// required fields or unparsable units throw std::runtime_error naming the file and the field.
std::vector<SkyModel> read_models_yaml(const std::string& path);

// Writes sky models (and optional FoV background models) as gammapy's Models.write does with
// full_output=False: readable by gammapy's Models.read. Writes to a temporary file and renames
// it, so a failure leaves nothing half-written. Throws std::runtime_error naming the path.
void write_models_yaml(const std::string& path, const std::vector<SkyModel>& models,
                       const std::vector<FoVBackgroundModel>& backgrounds = {});
// The same YAML text, without touching the file system.
std::string models_to_yaml(const std::vector<SkyModel>& models,
                           const std::vector<FoVBackgroundModel>& backgrounds = {});

// Picks the source by name, or by index when `name_or_index` is all digits. Throws
// std::runtime_error listing the available names when it is not found.
const SkyModel& select_source(const std::vector<SkyModel>& models, const std::string& name_or_index,
                              const std::string& file_for_errors);

}  // namespace fluxpoints::models
