// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// gammapy model YAML: reading Models files into SkyModel / FoVBackgroundModel, and
// writing them back the way gammapy's Models.write does (full_output=False).
#include "fluxpoints/models/model_yaml.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

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

// A {data, unit} mapping: the numbers as written and their unit, checked to have the dimension
// of `internal_unit`.
struct UnitArray {
  std::vector<double> data;
  std::string unit;
  double to_internal = 1.0;  // factor to internal_unit
};
UnitArray read_array(const YAML::Node& holder, const char* key, const std::string& at,
                     const std::string& internal_unit) {
  const YAML::Node node = holder[key];
  if (!node || !node.IsMap()) fail(at, std::string("missing mapping '") + key + "' {data, unit}");
  const YAML::Node data = node["data"];
  if (!data || !data.IsSequence()) fail(at, std::string("missing sequence '") + key + ".data'");
  UnitArray out;
  if (node["unit"] && !node["unit"].IsNull()) out.unit = to_string(node["unit"], at, "unit");
  out.to_internal = conversion(out.unit, internal_unit, at + ", field '" + key + ".unit'");
  for (std::size_t i = 0; i < data.size(); ++i)
    out.data.push_back(
        to_double(data[i], at, std::string(key) + ".data[" + std::to_string(i) + "]"));
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
  static const char* kTypes[] = {"NaimaSpectralModel",
                                 "naima",
                                 "GaussianSpectralModel",
                                 "gauss",
                                 "LogParabola2SpectralModel",
                                 "lp2",
                                 "ScaleSpectralModel",
                                 "scale",
                                 "PiecewiseNormSpectralModel",
                                 "piecewise-norm",
                                 "TemplateNDSpectralModel",
                                 "templateND",
                                 "ExpCutoffPowerLawNormSpectralModel",
                                 "ecpl-norm",
                                 "LogParabolaNormSpectralModel",
                                 "lp-norm"};
  for (const char* t : kTypes)
    if (type == t) return true;
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// "$VAR/x" and "${VAR}/x" expanded from the environment (gammapy's make_path); unset -> error.
std::string expand_env(const std::string& path, const std::string& at) {
  std::string out;
  for (std::size_t i = 0; i < path.size();) {
    if (path[i] != '$') {
      out += path[i++];
      continue;
    }
    std::size_t start = i + 1, end;
    const bool braced = start < path.size() && path[start] == '{';
    if (braced) {
      end = path.find('}', start);
      if (end == std::string::npos) fail(at, "bad variable in filename '" + path + "'");
      ++start;
    } else {
      end = start;
      while (end < path.size() &&
             (std::isalnum(static_cast<unsigned char>(path[end])) || path[end] == '_'))
        ++end;
    }
    const std::string var = path.substr(start, end - start);
    const char* value = std::getenv(var.c_str());
    if (!value) fail(at, "filename '" + path + "' uses $" + var + ", which is not set");
    out += value;
    i = braced ? end + 1 : end;
  }
  return out;
}

std::unique_ptr<SpectralModel> read_ebl_table(const YAML::Node& spectral, const std::string& at,
                                              const std::string& base_dir) {
  if (spectral["filename"] && !spectral["filename"].IsNull()) {
    std::string file = expand_env(to_string(spectral["filename"], at, "filename"), at);
    // gammapy resolves relative paths against the model file's directory.
    if (!file.empty() && file[0] != '/' && !base_dir.empty() && !std::ifstream(file).good())
      file = base_dir + "/" + file;
    try {
      return EBLAbsorptionNormSpectralModel::read(file);
    } catch (const std::runtime_error& e) {
      fail(at, e.what());
    }
  }
  auto energies = read_array(spectral, "energy", at, kUnitEnergy);
  auto redshifts = read_array(spectral, "param", at, kUnitDimensionless);
  for (double& z : redshifts.data) z *= redshifts.to_internal;
  // values: one row of absorption factors per redshift.
  const YAML::Node values = spectral["values"];
  if (!values || !values["data"] || !values["data"].IsSequence())
    fail(at, "missing 'values.data' (one list of absorption factors per redshift)");
  if (values["unit"] && !values["unit"].IsNull())
    conversion(to_string(values["unit"], at, "values.unit"), kUnitDimensionless,
               at + ", field 'values.unit'");
  std::vector<double> flat;
  for (std::size_t i = 0; i < values["data"].size(); ++i) {
    const YAML::Node row = values["data"][i];
    if (!row.IsSequence()) fail(at, "values.data[" + std::to_string(i) + "] is not a list");
    for (std::size_t j = 0; j < row.size(); ++j)
      flat.push_back(to_double(
          row[j], at, "values.data[" + std::to_string(i) + "][" + std::to_string(j) + "]"));
  }
  return std::make_unique<EBLAbsorptionNormSpectralModel>(std::move(energies.data),
                                                          std::move(redshifts.data),
                                                          std::move(flat), 0.1, 1.0, energies.unit);
}

}  // namespace

std::unique_ptr<SpectralModel> spectral_model_from_yaml(const YAML::Node& spectral,
                                                        const std::string& where,
                                                        const std::string& base_dir) {
  if (!spectral || !spectral.IsMap()) fail(where, "missing mapping 'spectral'");
  if (!spectral["type"]) fail(where, "missing field 'spectral.type'");
  const std::string type = to_string(spectral["type"], where, "spectral.type");
  const std::string tag = canonical_spectral_type(type);
  if (tag.empty()) {
    if (is_known_unsupported(type))
      fail(where, "spectral model type '" + type +
                      "' is not supported (supported: " + join(supported_spectral_types()) + ")");
    fail(where, "unknown spectral model type '" + type +
                    "' (supported: " + join(supported_spectral_types()) + ")");
  }
  const std::string at = where + ", " + tag;

  std::unique_ptr<SpectralModel> model;
  try {
    if (tag == "TemplateSpectralModel") {
      auto energies = read_array(spectral, "energy", at, kUnitEnergy);
      auto values = read_array(spectral, "values", at, kUnitDnde);
      for (double& v : values.data) v *= values.to_internal;
      model = std::make_unique<TemplateSpectralModel>(std::move(energies.data),
                                                      std::move(values.data), energies.unit);
    } else if (tag == "CompoundSpectralModel") {
      auto model1 = spectral_model_from_yaml(spectral["model1"], at + ".model1", base_dir);
      auto model2 = spectral_model_from_yaml(spectral["model2"], at + ".model2", base_dir);
      if (!spectral["operator"]) fail(at, "missing field 'operator'");
      const auto op =
          CompoundSpectralModel::parse_operator(to_string(spectral["operator"], at, "operator"));
      model = std::make_unique<CompoundSpectralModel>(std::move(model1), std::move(model2), op);
    } else if (tag == "EBLAbsorptionNormSpectralModel") {
      model = read_ebl_table(spectral, at, base_dir);
    } else {
      model = make_default_spectral_model(tag);
    }
  } catch (const std::invalid_argument& e) {
    fail(at, e.what());
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
  if (const auto* c = dynamic_cast<const CompoundSpectralModel*>(&model)) {
    node["model1"] = spectral_model_to_yaml(*c->part(1));
    node["model2"] = spectral_model_to_yaml(*c->part(2));
    node["operator"] = CompoundSpectralModel::operator_name(c->op());
    return node;
  }
  const auto* templ = dynamic_cast<const TemplateSpectralModel*>(&model);
  const auto* ebl = dynamic_cast<const EBLAbsorptionNormSpectralModel*>(&model);
  // Defaults decide which fields to omit, as gammapy's full_output=False.
  std::unique_ptr<SpectralModel> defaults;
  if (!templ && !ebl) defaults = make_default_spectral_model(model.type());
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
    // EBL: redshift and alpha_norm are frozen by default.
    const bool default_frozen = defaults ? defaults->parameters().at(i).frozen : ebl != nullptr;
    if (p.frozen != default_frozen) entry["frozen"] = p.frozen;
    params.push_back(entry);
  }
  node["parameters"] = params;
  auto array = [](const std::vector<double>& data, const char* unit) {
    YAML::Node n;
    n["data"] = YAML::Node(YAML::NodeType::Sequence);
    for (double x : data) n["data"].push_back(yaml_float(x));
    n["unit"] = unit;
    return n;
  };
  if (templ) {
    node["energy"] = array(templ->energies(), templ->energy_unit().c_str());
    node["values"] = array(templ->values(), kUnitDnde);
  }
  if (ebl && !ebl->filename.empty()) {
    node["filename"] = ebl->filename;
  } else if (ebl) {
    node["energy"] = array(ebl->energies(), ebl->energy_unit().c_str());
    node["param"] = array(ebl->redshifts(), kUnitDimensionless);
    YAML::Node values;
    const std::size_t ne = ebl->energies().size();
    for (std::size_t iz = 0; iz < ebl->redshifts().size(); ++iz) {
      YAML::Node row(YAML::NodeType::Sequence);
      for (std::size_t ie = 0; ie < ne; ++ie)
        row.push_back(yaml_float(ebl->values()[iz * ne + ie]));
      values["data"].push_back(row);
    }
    values["unit"] = kUnitDimensionless;
    node["values"] = values;
  }
  return node;
}

std::string models_to_yaml(const std::vector<SkyModel>& models,
                           const std::vector<FoVBackgroundModel>& backgrounds) {
  YAML::Node components(YAML::NodeType::Sequence);
  for (const auto& m : models) {
    if (!m.spectral)
      throw std::invalid_argument("sky model '" + m.name + "' has no spectral model");
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
  if (std::filesystem::is_directory(path))
    throw std::runtime_error("model file '" + path + "' is a folder, not a file");
  if (!std::filesystem::exists(path))
    throw std::runtime_error("model file '" + path + "' not found");
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

  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  ModelsFile out;
  // gammapy's Models refuses two components of the same name (a second 'crab' would otherwise
  // silently become the other model's background); unnamed ones get unique names there.
  std::map<std::string, std::size_t> component_of_name;
  const auto unique_name = [&](const std::string& name, std::size_t i) {
    const auto [it, fresh] = component_of_name.emplace(name, i);
    if (!fresh)
      fail("model file '" + path + "'",
           "model names must be unique, but components " + std::to_string(it->second) + " and " +
               std::to_string(i) + " are both named '" + name + "'");
  };
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
      unique_name(name, i);
    }
    if (type == "SkyModel") {
      SkyModel m;
      m.name = name;
      m.datasets_names = read_datasets_names(c, at);
      if (!c["spectral"]) fail(at, "missing mapping 'spectral'");
      m.spectral = spectral_model_from_yaml(c["spectral"], at, base_dir);
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
      if (name.empty()) unique_name(b.name, i);
      if (c["spectral"] && !c["spectral"].IsNull()) {
        b.spectral_type = c["spectral"]["type"] ? c["spectral"]["type"].as<std::string>() : "";
        if (canonical_spectral_type(b.spectral_type) == "PowerLawNormSpectralModel")
          b.spectral = spectral_model_from_yaml(c["spectral"], at, base_dir);
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
    names.push_back(std::to_string(i) + ": " +
                    (models[i].name.empty() ? "(no name)" : models[i].name));
  throw std::runtime_error("model file '" + file_for_errors + "': no sky model '" + name_or_index +
                           "' (available: " + (names.empty() ? "none" : join(names)) + ")");
}

}  // namespace fluxpoints::models
