// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// gammapy model YAML (spec 6.2): reading Models files into SkyModel / FoVBackgroundModel, and
// writing them back the way gammapy's Models.write does (full_output=False).
#include "fluxpoints/models/model_yaml.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fluxpoints/models/spectral_models.hpp"
#include "fluxpoints/models/units.hpp"

namespace fluxpoints::models {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::runtime_error(where + ": " + what);
}

double to_double(const YAML::Node& node, const std::string& where, const std::string& field) {
  try {
    return node.as<double>();
  } catch (const YAML::Exception&) {
    fail(where, "field '" + field + "' is not a number (" +
                    (node.IsScalar() ? "'" + node.Scalar() + "'" : std::string("not a scalar")) +
                    ")");
  }
}

bool to_bool(const YAML::Node& node, const std::string& where, const std::string& field) {
  try {
    return node.as<bool>();
  } catch (const YAML::Exception&) {
    fail(where, "field '" + field + "' is not true/false");
  }
}

std::string to_string(const YAML::Node& node, const std::string& where, const std::string& field) {
  if (!node.IsScalar()) fail(where, "field '" + field + "' is not a string");
  return node.Scalar();
}

// Factor from the unit written in the file to the parameter's internal unit.
double conversion(const std::string& file_unit, const std::string& internal_unit,
                  const std::string& where) {
  try {
    return unit_conversion_factor(file_unit, internal_unit);
  } catch (const std::invalid_argument& e) {
    fail(where, std::string(e.what()) + " (expected a unit like '" +
                    (internal_unit.empty() ? std::string("dimensionless") : internal_unit) + "')");
  }
}

void read_parameter(Parameter& p, const YAML::Node& entry, const std::string& where) {
  const std::string at = where + ", parameter '" + p.name + "'";
  double factor = 1.0;
  if (entry["unit"] && !entry["unit"].IsNull())
    factor = conversion(to_string(entry["unit"], at, "unit"), p.unit, at);
  if (entry["value"]) p.value = to_double(entry["value"], at, "value") * factor;
  if (entry["min"]) p.min = to_double(entry["min"], at, "min") * factor;
  if (entry["max"]) p.max = to_double(entry["max"], at, "max") * factor;
  if (entry["error"]) p.error = to_double(entry["error"], at, "error") * factor;
  if (entry["frozen"]) p.frozen = to_bool(entry["frozen"], at, "frozen");
}

std::vector<double> read_array(const YAML::Node& holder, const char* key, const std::string& at,
                               const std::string& internal_unit) {
  const YAML::Node node = holder[key];
  if (!node || !node.IsMap()) fail(at, std::string("missing mapping '") + key + "' {data, unit}");
  const YAML::Node data = node["data"];
  if (!data || !data.IsSequence()) fail(at, std::string("missing sequence '") + key + ".data'");
  std::string unit;
  if (node["unit"] && !node["unit"].IsNull()) unit = to_string(node["unit"], at, "unit");
  const double factor = conversion(unit, internal_unit, at + ", field '" + key + ".unit'");
  std::vector<double> out;
  for (std::size_t i = 0; i < data.size(); ++i)
    out.push_back(to_double(data[i], at, std::string(key) + ".data[" + std::to_string(i) + "]") *
                  factor);
  return out;
}

std::vector<std::string> read_datasets_names(const YAML::Node& component, const std::string& at) {
  std::vector<std::string> names;
  const YAML::Node node = component["datasets_names"];
  if (!node || node.IsNull()) return names;
  if (node.IsScalar()) return {node.Scalar()};
  if (!node.IsSequence()) fail(at, "field 'datasets_names' is not a list");
  for (const auto& n : node) names.push_back(to_string(n, at, "datasets_names"));
  return names;
}

// gammapy model types that exist but that this library cannot evaluate.
bool is_known_unsupported(const std::string& type) {
  static const char* kTypes[] = {"CompoundSpectralModel", "compound", "EBLAbsorptionNormSpectralModel",
                                 "ebl-norm", "NaimaSpectralModel", "naima",
                                 "GaussianSpectralModel", "gauss", "LogParabola2SpectralModel",
                                 "lp2", "ScaleSpectralModel", "scale", "PiecewiseNormSpectralModel",
                                 "piecewise-norm", "TemplateNDSpectralModel", "templateND",
                                 "ExpCutoffPowerLawNormSpectralModel", "ecpl-norm",
                                 "LogParabolaNormSpectralModel", "lp-norm"};
  for (const char* t : kTypes)
    if (type == t) return true;
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::unique_ptr<SpectralModel> spectral_model_from_yaml(const YAML::Node& spectral,
                                                        const std::string& where) {
  if (!spectral || !spectral.IsMap()) fail(where, "missing mapping 'spectral'");
  if (!spectral["type"]) fail(where, "missing field 'spectral.type'");
  const std::string type = to_string(spectral["type"], where, "spectral.type");
  const std::string tag = canonical_spectral_type(type);
  if (tag.empty()) {
    if (is_known_unsupported(type))
      fail(where, "spectral model type '" + type + "' is not supported (supported: " +
                      join(supported_spectral_types()) + ")");
    fail(where, "unknown spectral model type '" + type + "' (supported: " +
                    join(supported_spectral_types()) + ")");
  }
  const std::string at = where + ", " + tag;

  std::unique_ptr<SpectralModel> model;
  if (tag == "TemplateSpectralModel") {
    auto energies = read_array(spectral, "energy", at, kUnitEnergy);
    auto values = read_array(spectral, "values", at, kUnitDnde);
    try {
      model = make_template(std::move(energies), std::move(values));
    } catch (const std::invalid_argument& e) {
      fail(at, e.what());
    }
  } else {
    model = make_default_spectral_model(tag);
  }

  const YAML::Node params = spectral["parameters"];
  if (params && !params.IsNull()) {
    if (!params.IsSequence()) fail(at, "field 'parameters' is not a list");
    for (std::size_t i = 0; i < params.size(); ++i) {
      const YAML::Node entry = params[i];
      if (!entry.IsMap() || !entry["name"])
        fail(at, "parameters[" + std::to_string(i) + "] has no 'name'");
      const std::string name = to_string(entry["name"], at, "parameters.name");
      // As gammapy: parameters the model does not have are ignored, missing ones keep defaults.
      for (auto& p : model->parameters())
        if (p.name == name) read_parameter(p, entry, at);
    }
  }
  return model;
}

// ---- writing ----------------------------------------------------------------------------------

std::string yaml_float(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  // Shortest round-trip digits, then the shape PyYAML's float resolver needs: a '.' in the
  // mantissa and a signed exponent ("1e-11" would be read as a string).
  std::string s = fmt::format("{}", value);
  const auto e = s.find_first_of("eE");
  std::string mantissa = s.substr(0, e);
  std::string exponent = e == std::string::npos ? "" : s.substr(e + 1);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  if (exponent.empty()) return mantissa;
  if (exponent[0] != '-' && exponent[0] != '+') exponent = "+" + exponent;
  return mantissa + "e" + exponent;
}

YAML::Node spectral_model_to_yaml(const SpectralModel& model) {
  YAML::Node node;
  node["type"] = model.type();
  // Defaults decide which fields to omit, as gammapy's full_output=False.
  std::unique_ptr<SpectralModel> defaults;
  if (const auto* t = dynamic_cast<const TemplateSpectralModel*>(&model); t == nullptr)
    defaults = make_default_spectral_model(model.type());
  YAML::Node params(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < model.parameters().size(); ++i) {
    const Parameter& p = model.parameters()[i];
    YAML::Node entry;
    entry["name"] = p.name;
    entry["value"] = yaml_float(p.value);
    if (!p.unit.empty()) entry["unit"] = p.unit;
    if (p.error != 0.0 && !std::isnan(p.error)) entry["error"] = yaml_float(p.error);
    if (!std::isnan(p.min)) entry["min"] = yaml_float(p.min);
    if (!std::isnan(p.max)) entry["max"] = yaml_float(p.max);
    const bool default_frozen = defaults ? defaults->parameters().at(i).frozen : false;
    if (p.frozen != default_frozen) entry["frozen"] = p.frozen;
    params.push_back(entry);
  }
  node["parameters"] = params;
  if (const auto* t = dynamic_cast<const TemplateSpectralModel*>(&model)) {
    YAML::Node energy, values;
    for (double x : t->energies()) energy["data"].push_back(yaml_float(x));
    energy["unit"] = kUnitEnergy;
    for (double x : t->values()) values["data"].push_back(yaml_float(x));
    values["unit"] = kUnitDnde;
    node["energy"] = energy;
    node["values"] = values;
  }
  return node;
}

std::string models_to_yaml(const std::vector<SkyModel>& models,
                           const std::vector<FoVBackgroundModel>& backgrounds) {
  YAML::Node components(YAML::NodeType::Sequence);
  for (const auto& m : models) {
    if (!m.spectral) throw std::invalid_argument("sky model '" + m.name + "' has no spectral model");
    YAML::Node c;
    if (!m.name.empty()) c["name"] = m.name;
    c["type"] = "SkyModel";
    if (!m.datasets_names.empty())
      for (const auto& d : m.datasets_names) c["datasets_names"].push_back(d);
    c["spectral"] = spectral_model_to_yaml(*m.spectral);
    if (!m.spatial_yaml.empty()) c["spatial"] = YAML::Load(m.spatial_yaml);
    if (!m.temporal_yaml.empty()) c["temporal"] = YAML::Load(m.temporal_yaml);
    components.push_back(c);
  }
  for (const auto& b : backgrounds) {
    if (!b.spectral) continue;  // a type we could not read cannot be written back either
    YAML::Node c;
    if (!b.name.empty()) c["name"] = b.name;
    c["type"] = "FoVBackgroundModel";
    for (const auto& d : b.datasets_names) c["datasets_names"].push_back(d);
    c["spectral"] = spectral_model_to_yaml(*b.spectral);
    components.push_back(c);
  }
  YAML::Node root;
  root["components"] = components;
  YAML::Emitter out;
  out.SetIndent(4);
  out << root;
  return std::string(out.c_str()) + "\n";
}

void write_models_yaml(const std::string& path, const std::vector<SkyModel>& models,
                       const std::vector<FoVBackgroundModel>& backgrounds) {
  const std::string text = models_to_yaml(models, backgrounds);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write model file '" + path + "'");
    f << text;
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot write model file '" + path + "'");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write model file '" + path + "'");
  }
}

// ---- reading files ----------------------------------------------------------------------------

ModelsFile read_models_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw std::runtime_error("cannot open model file '" + path + "'");
  } catch (const YAML::Exception& e) {
    throw std::runtime_error("model file '" + path + "' is not valid YAML: " + e.what());
  }
  if (!root.IsMap() || !root["components"])
    throw std::runtime_error("model file '" + path + "': missing list 'components'");
  const YAML::Node components = root["components"];
  if (!components.IsSequence())
    throw std::runtime_error("model file '" + path + "': 'components' is not a list");

  ModelsFile out;
  for (std::size_t i = 0; i < components.size(); ++i) {
    const YAML::Node c = components[i];
    std::string at = path + ", component " + std::to_string(i);
    if (!c.IsMap()) fail(at, "not a mapping");
    if (!c["type"]) fail(at, "missing field 'type'");
    const std::string type = to_string(c["type"], at, "type");
    std::string name;
    if (c["name"] && !c["name"].IsNull()) {
      name = to_string(c["name"], at, "name");
      at = path + ", model '" + name + "'";
    }
    if (type == "SkyModel") {
      SkyModel m;
      m.name = name;
      m.datasets_names = read_datasets_names(c, at);
      if (!c["spectral"]) fail(at, "missing mapping 'spectral'");
      m.spectral = spectral_model_from_yaml(c["spectral"], at);
      if (m.spectral->is_norm())
        fail(at, "spectral model '" + m.spectral->type() +
                     "' is a dimensionless norm model and cannot be a source spectrum");
      if (c["spatial"] && !c["spatial"].IsNull()) m.spatial_yaml = YAML::Dump(c["spatial"]);
      if (c["temporal"] && !c["temporal"].IsNull()) m.temporal_yaml = YAML::Dump(c["temporal"]);
      out.sky_models.push_back(std::move(m));
    } else if (type == "FoVBackgroundModel") {
      FoVBackgroundModel b;
      b.datasets_names = read_datasets_names(c, at);
      if (b.datasets_names.empty()) fail(at, "FoVBackgroundModel without 'datasets_names'");
      b.name = name.empty() ? b.datasets_names.front() + "-bkg" : name;
      if (c["spectral"] && !c["spectral"].IsNull()) {
        b.spectral_type = c["spectral"]["type"] ? c["spectral"]["type"].as<std::string>() : "";
        if (canonical_spectral_type(b.spectral_type) == "PowerLawNormSpectralModel")
          b.spectral = spectral_model_from_yaml(c["spectral"], at);
      } else {
        b.spectral_type = "PowerLawNormSpectralModel";  // gammapy's default
        b.spectral = make_power_law_norm();
      }
      out.backgrounds.push_back(std::move(b));
    } else if (type == "TemplateNPredModel") {
      out.skipped_components.push_back(type + " " + name);
    } else {
      fail(at, "unknown component type '" + type +
                   "' (expected SkyModel, FoVBackgroundModel or TemplateNPredModel)");
    }
  }
  return out;
}

std::vector<SkyModel> read_models_yaml(const std::string& path) {
  return std::move(read_models_file(path).sky_models);
}

SkyModel SkyModel::clone() const {
  SkyModel m;
  m.name = name;
  m.spectral = spectral ? spectral->clone() : nullptr;
  m.datasets_names = datasets_names;
  m.spatial_yaml = spatial_yaml;
  m.temporal_yaml = temporal_yaml;
  return m;
}

const SkyModel& select_source(const std::vector<SkyModel>& models, const std::string& name_or_index,
                              const std::string& file_for_errors) {
  for (const auto& m : models)
    if (m.name == name_or_index) return m;
  bool digits = !name_or_index.empty();
  for (char ch : name_or_index) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
  if (digits) {
    const unsigned long long index = std::stoull(name_or_index);
    if (index < models.size()) return models[index];
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < models.size(); ++i)
    names.push_back(std::to_string(i) + ": " + (models[i].name.empty() ? "(no name)" : models[i].name));
  throw std::runtime_error("model file '" + file_for_errors + "': no sky model '" + name_or_index +
                           "' (available: " + (names.empty() ? "none" : join(names)) + ")");
}

}  // namespace fluxpoints::models
