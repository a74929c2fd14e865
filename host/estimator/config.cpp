// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Estimator options from YAML (gammapy's names), see estimator_config.hpp.
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>

#include "fluxpoints/estimator/config.hpp"
#include "fluxpoints/limits.hpp"

namespace fluxpoints {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Whole-string number parse (no trailing junk), or throws.
double to_double(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw std::invalid_argument(what + ": '" + text + "' is not a number");
  return v;
}

class ConfigReader {
 public:
  ConfigReader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw std::runtime_error(path_ + ": " + key + ": " + message);
  }

  double number(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(key, "expected a number");
    const std::string s = n.Scalar();
    // YAML's NaN spellings (gammapy writes .nan).
    if (s == ".nan" || s == ".NaN" || s == ".NAN" || s == "nan" || s == "NaN") return std::nan("");
    try {
      return n.as<double>();
    } catch (const YAML::Exception&) {
      fail(key, "'" + s + "' is not a number");
    }
  }

  bool boolean(const YAML::Node& n, const std::string& key) const {
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(key, "expected true or false");
    }
  }

  // An integer in [lo, hi], checked before it is used to size anything.
  int integer(const YAML::Node& n, const std::string& key, int lo, int hi) const {
    const double v = number(n, key);
    if (v != std::floor(v) || !std::isfinite(v)) fail(key, "expected an integer");
    if (v < lo || v > hi)
      fail(key, "'" + n.Scalar() + "' is outside [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
    return static_cast<int>(v);
  }

  std::string string(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(key, "expected a string");
    return n.Scalar();
  }

  double energy(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(key, "expected an energy such as 1.5 or \"1.5 TeV\"");
    try {
      return parse_energy_tev(n.Scalar());
    } catch (const std::invalid_argument& e) {
      fail(key, e.what());
    }
  }

  std::vector<double> energy_edges(const YAML::Node& n, const std::string& key) const {
    std::vector<double> edges;
    if (n.IsSequence()) {
      if (n.size() > static_cast<std::size_t>(limits::kMaxEnergyGroups) + 1)
        fail(key, std::to_string(n.size()) + " edges exceed the maximum of " +
                      std::to_string(limits::kMaxEnergyGroups + 1));
      for (std::size_t i = 0; i < n.size(); ++i)
        edges.push_back(energy(n[i], key + "[" + std::to_string(i) + "]"));
    } else if (n.IsMap()) {
      // {min, max, nbins}: log-spaced, as gammapy's analysis config.
      check_keys(n, key, {"min", "max", "nbins"});
      if (!n["min"] || !n["max"] || !n["nbins"]) fail(key, "needs min, max and nbins");
      const double lo = energy(n["min"], key + ".min"), hi = energy(n["max"], key + ".max");
      const int nbins = integer(n["nbins"], key + ".nbins", 1, limits::kMaxEnergyGroups);
      for (int i = 0; i <= nbins; ++i)
        edges.push_back(i == nbins ? hi : lo * std::pow(hi / lo, static_cast<double>(i) / nbins));
    } else {
      fail(key, "expected a list of energies or {min, max, nbins}");
    }
    return edges;
  }

  std::string selection(const YAML::Node& n, const std::string& key) const {
    if (n.IsNull()) return "none";
    if (n.IsScalar()) return n.Scalar();
    if (!n.IsSequence()) fail(key, "expected 'all', a list of errn-errp/ul/scan, or null");
    std::string s;
    for (const auto& item : n) s += (s.empty() ? "" : ",") + string(item, key);
    return s.empty() ? "none" : s;
  }

  void check_keys(const YAML::Node& n, const std::string& where,
                  const std::set<std::string>& allowed) const {
    for (const auto& kv : n) {
      const std::string k = kv.first.as<std::string>();
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(where.empty() ? k : where + "." + k, "unknown option (expected one of: " + list + ")");
      }
    }
  }

  void norm(const YAML::Node& n, SolveOptions& o) const {
    if (!n.IsMap()) fail("norm", "expected a mapping of norm parameter fields");
    check_keys(n, "norm",
               {"name", "value", "min", "max", "scan_min", "scan_max", "scan_n_values",
                "scan_values", "interp", "frozen", "unit", "error", "scan_n_sigma"});
    if (n["name"] && string(n["name"], "norm.name") != "norm")
      fail("norm.name", "the parameter must be called 'norm'");
    if (n["value"]) o.norm_value = number(n["value"], "norm.value");
    if (n["min"]) o.norm_min = number(n["min"], "norm.min");
    if (n["max"]) o.norm_max = number(n["max"], "norm.max");
    if (n["scan_min"]) o.scan_min = number(n["scan_min"], "norm.scan_min");
    if (n["scan_max"]) o.scan_max = number(n["scan_max"], "norm.scan_max");
    if (n["scan_n_values"])
      o.scan_n_values =
          integer(n["scan_n_values"], "norm.scan_n_values", 1, limits::kMaxScanValues);
    if (n["interp"]) o.scan_interp = string(n["interp"], "norm.interp");
    if (n["scan_values"]) {
      const YAML::Node v = n["scan_values"];
      o.scan_values.clear();
      if (!v.IsNull()) {
        if (!v.IsSequence()) fail("norm.scan_values", "expected a list of numbers");
        if (v.size() > static_cast<std::size_t>(limits::kMaxScanValues))
          fail("norm.scan_values", std::to_string(v.size()) + " values exceed the maximum of " +
                                       std::to_string(limits::kMaxScanValues));
        for (std::size_t i = 0; i < v.size(); ++i)
          o.scan_values.push_back(number(v[i], "norm.scan_values[" + std::to_string(i) + "]"));
      }
    }
    if (n["frozen"] && boolean(n["frozen"], "norm.frozen"))
      fail("norm.frozen", "the norm must be free");
    if (n["unit"] && !trim(string(n["unit"], "norm.unit")).empty())
      fail("norm.unit", "the norm is dimensionless");
    if (n["scan_n_sigma"] || n["error"])
      fail(n["error"] ? "norm.error" : "norm.scan_n_sigma",
           "sigma-based scans are not supported; give scan_min/scan_max or scan_values");
  }

  void options(const YAML::Node& n, EstimatorOptions& o, std::string& source,
               const std::string& where) const {
    check_keys(n, where,
               {"energy_edges", "source", "selection_optional", "n_sigma", "n_sigma_ul",
                "sum_over_energy_groups", "allow_multiple_telescopes", "sqrt_ts_threshold_ul",
                "reoptimize", "norm", "n_jobs", "parallel_backend", "flux_points",
                "n_sigma_sensitivity"});
    const auto key = [&](const char* k) {
      return where.empty() ? std::string(k) : where + "." + k;
    };
    if (n["energy_edges"]) o.energy_edges = energy_edges(n["energy_edges"], key("energy_edges"));
    if (n["source"]) source = string(n["source"], key("source"));
    if (n["selection_optional"]) {
      try {
        o.set_selection(selection(n["selection_optional"], key("selection_optional")));
      } catch (const std::invalid_argument& e) {
        fail(key("selection_optional"), e.what());
      }
    }
    if (n["n_sigma"]) o.solve.n_sigma = number(n["n_sigma"], key("n_sigma"));
    if (n["n_sigma_ul"]) o.solve.n_sigma_ul = number(n["n_sigma_ul"], key("n_sigma_ul"));
    if (n["n_sigma_sensitivity"])
      o.n_sigma_sensitivity = number(n["n_sigma_sensitivity"], key("n_sigma_sensitivity"));
    if (n["sum_over_energy_groups"])
      o.sum_over_energy_groups =
          boolean(n["sum_over_energy_groups"], key("sum_over_energy_groups"));
    if (n["allow_multiple_telescopes"])
      o.allow_multiple_telescopes =
          boolean(n["allow_multiple_telescopes"], key("allow_multiple_telescopes"));
    if (n["sqrt_ts_threshold_ul"])
      o.sqrt_ts_threshold_ul = number(n["sqrt_ts_threshold_ul"], key("sqrt_ts_threshold_ul"));
    if (n["reoptimize"] && boolean(n["reoptimize"], key("reoptimize")))
      fail(key("reoptimize"), "reoptimize: true is not supported (only the norm is fitted)");
    if (n["norm"]) norm(n["norm"], o.solve);
    if (n["flux_points"]) analysis_block(n["flux_points"], o, source);
  }

  // gammapy's analysis config: flux_points: {energy: {min, max, nbins}, source, parameters}.
  void analysis_block(const YAML::Node& n, EstimatorOptions& o, std::string& source) const {
    if (!n.IsMap()) fail("flux_points", "expected a mapping");
    check_keys(n, "flux_points", {"energy", "source", "parameters"});
    if (n["energy"]) o.energy_edges = energy_edges(n["energy"], "flux_points.energy");
    if (n["source"]) source = string(n["source"], "flux_points.source");
    if (n["parameters"]) options(n["parameters"], o, source, "flux_points.parameters");
  }

  void read(EstimatorOptions& o, std::string& source) const {
    if (!std::filesystem::exists(path_))
      throw std::runtime_error(path_ + ": config file not found");
    if (std::filesystem::is_directory(path_))
      throw std::runtime_error(path_ + ": is a folder, not a config file");
    YAML::Node root;
    try {
      root = YAML::LoadFile(path_);
    } catch (const YAML::Exception& e) {
      throw std::runtime_error(path_ + ": not valid YAML: " + e.what());
    }
    if (root.IsNull()) return;
    if (!root.IsMap()) throw std::runtime_error(path_ + ": expected a mapping of options");
    if (root["flux_points"] && root.size() > 1) {
      // A full gammapy analysis config: only its flux_points block concerns us.
      analysis_block(root["flux_points"], o, source);
      return;
    }
    options(root, o, source, "");
  }

 private:
  std::string path_;
};

}  // namespace

double parse_energy_tev(const std::string& text) {
  const std::string s = trim(text);
  std::size_t split = 0;
  while (split < s.size() && (std::isdigit(static_cast<unsigned char>(s[split])) ||
                              std::string("+-.eE").find(s[split]) != std::string::npos)) {
    // Stop at an 'e' that starts a unit name rather than an exponent ("1 eV" vs "1e3").
    if ((s[split] == 'e' || s[split] == 'E') &&
        !(split + 1 < s.size() && (std::isdigit(static_cast<unsigned char>(s[split + 1])) ||
                                   s[split + 1] == '-' || s[split + 1] == '+')))
      break;
    ++split;
  }
  const std::string num = trim(s.substr(0, split)), unit = trim(s.substr(split));
  const double v = to_double(num, "energy '" + text + "'");
  return unit.empty() ? v : v * io::energy_unit_in_tev(unit);
}

std::vector<double> parse_energy_edges_tev(const std::string& text) {
  std::string s = trim(text);
  // A unit after the last number applies to every edge.
  double scale = 1.0;
  const auto last_space = s.find_last_of(' ');
  if (last_space != std::string::npos) {
    const std::string unit = trim(s.substr(last_space + 1));
    if (!unit.empty() && std::isalpha(static_cast<unsigned char>(unit[0]))) {
      scale = io::energy_unit_in_tev(unit);
      s = trim(s.substr(0, last_space));
    }
  }
  std::vector<double> edges;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (item.empty()) throw std::invalid_argument("energy edges '" + text + "': empty entry");
    edges.push_back(to_double(item, "energy edges '" + text + "'") * scale);
  }
  return edges;
}

void apply_estimator_config(const std::string& path, EstimatorOptions& options,
                            std::string& source) {
  ConfigReader(path).read(options, source);
}

}  // namespace fluxpoints
