// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// FluxPointsTable: column access, SED-type conversion, units, text formatting.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "fluxpoints/io/flux_points.hpp"
#include "fluxpoints/models/units.hpp"

namespace fluxpoints::io {

const Column* FluxPointsTable::find(const std::string& name) const {
  for (const Column& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

Column* FluxPointsTable::find(const std::string& name) {
  for (Column& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

const Column& FluxPointsTable::column(const std::string& name) const {
  if (const Column* c = find(name)) return *c;
  throw std::out_of_range((origin.empty() ? std::string("flux points") : origin) + ": no column '" +
                          name + "'");
}

Column& FluxPointsTable::add(Column c) {
  if (c.width == 0) throw std::invalid_argument("column '" + c.name + "': width 0");
  if (c.data.size() != n_rows * c.width)
    throw std::invalid_argument("column '" + c.name + "': " + std::to_string(c.data.size()) +
                                " values for " + std::to_string(n_rows) + " rows x " +
                                std::to_string(c.width));
  if (has(c.name)) throw std::invalid_argument("column '" + c.name + "' already exists");
  columns.push_back(std::move(c));
  return columns.back();
}

double FluxPointsTable::ul_conf() const {
  // 1 - 2 Q(n) = erf(n / sqrt 2); numpy.round to 7 decimals.
  return std::nearbyint(std::erf(n_sigma_ul / std::sqrt(2.0)) * 1e7) / 1e7;
}

double n_sigma_from_ul_conf(double ul_conf) {
  if (!(ul_conf > 0 && ul_conf < 1)) return 2.0;  // gammapy's default n_sigma_ul
  // Solve erf(n / sqrt 2) = ul_conf by bisection: erf is monotonic, 100 halvings are plenty.
  double lo = 0.0, hi = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erf(mid / std::sqrt(2.0)) < ul_conf ? lo : hi) = mid;
  }
  return std::nearbyint(0.5 * (lo + hi) * 10.0) / 10.0;
}

double energy_unit_in_tev(const std::string& unit) {
  if (unit.empty()) throw std::invalid_argument("energy unit is empty");
  return models::unit_conversion_factor(unit, "TeV");  // throws for a unit that is not an energy
}

std::string sed_type_unit(const std::string& sed_type) {
  // Spelled as gammapy writes them into FITS TUNIT.
  if (sed_type == "likelihood") return "";
  if (sed_type == "dnde") return "TeV-1 s-1 cm-2";
  if (sed_type == "e2dnde") return "erg s-1 cm-2";
  if (sed_type == "flux") return "s-1 cm-2";
  if (sed_type == "eflux") return "erg s-1 cm-2";
  throw std::invalid_argument("unknown SED type '" + sed_type +
                              "' (expected likelihood, dnde, e2dnde, flux or eflux)");
}

namespace {

// Reference value of `sed_type` per row, in the unit of sed_type_unit().
std::vector<double> reference_values(const FluxPointsTable& t, const std::string& sed_type) {
  std::vector<double> ref(t.n_rows);
  const auto eflux_factor = [&](const Column& c) {
    // Older files store ref_eflux in TeV cm-2 s-1; gammapy >= 2.0 in erg.
    if (c.unit.rfind("TeV", 0) == 0) return kErgPerTeV;
    if (c.unit.rfind("erg", 0) == 0 || c.unit.empty()) return 1.0;
    throw std::invalid_argument("ref_eflux: unsupported unit '" + c.unit + "'");
  };
  if (sed_type == "dnde" || sed_type == "e2dnde") {
    const Column& dnde = t.column("ref_dnde");
    if (sed_type == "dnde") return dnde.data;
    const Column& e_ref = t.column("e_ref");
    const double tev = energy_unit_in_tev(e_ref.unit);
    for (std::size_t r = 0; r < t.n_rows; ++r) {
      const double e = e_ref.data[r] * tev;
      ref[r] = e * e * dnde.data[r] * kErgPerTeV;
    }
  } else if (sed_type == "flux") {
    ref = t.column("ref_flux").data;
  } else if (sed_type == "eflux") {
    const Column& c = t.column("ref_eflux");
    const double f = eflux_factor(c);
    for (std::size_t r = 0; r < t.n_rows; ++r) ref[r] = c.data[r] * f;
  }
  return ref;
}

}  // namespace

FluxPointsTable to_sed_type(const FluxPointsTable& in, const std::string& sed_type) {
  const std::string unit = sed_type_unit(sed_type);  // validates the name
  if (sed_type == "likelihood") return in;
  if (in.sed_type != "likelihood")
    throw std::invalid_argument("conversion to '" + sed_type + "' needs a likelihood table, got '" +
                                in.sed_type + "'");
  FluxPointsTable out;
  out.sed_type = sed_type;
  out.n_sigma = in.n_sigma;
  out.n_sigma_ul = in.n_sigma_ul;
  out.sqrt_ts_threshold_ul = in.sqrt_ts_threshold_ul;
  out.n_rows = in.n_rows;
  out.dataset_names = in.dataset_names;
  out.origin = in.origin;
  for (const char* name : {"e_ref", "e_min", "e_max"})
    if (const Column* c = in.find(name)) out.add(*c);
  const std::vector<double> ref = reference_values(in, sed_type);
  // gammapy's order for flux-like types: X, X_err, X_errp, X_errn, X_ul, X_sensitivity.
  for (const char* q : {"", "_err", "_errp", "_errn", "_ul", "_sensitivity"}) {
    const Column* norm = in.find(std::string("norm") + q);
    if (!norm) continue;
    Column c;
    c.name = sed_type + q;
    c.unit = unit;
    c.data.resize(in.n_rows);
    for (std::size_t r = 0; r < in.n_rows; ++r) c.data[r] = norm->data[r] * ref[r];
    out.add(std::move(c));
  }
  for (const char* name : {"ts", "sqrt_ts", "npred", "npred_excess", "stat", "stat_null",
                           "stat_scan", "is_ul", "counts", "success", "norm_scan"})
    if (const Column* c = in.find(name)) out.add(*c);
  return out;
}

namespace {

std::string format_value(const Column& c, double v) {
  if (c.type == ColumnType::boolean) return v != 0 ? "True" : "False";
  if (std::isnan(v)) return "nan";
  return fmt::format("{:.7g}", v);
}

std::string format_cell(const Column& c, std::size_t row, std::size_t max_values) {
  if (!c.is_vector && c.width == 1) return format_value(c, c.at(row));
  // Every value up to max_values (0: all), then how many are left out: an elided cell never
  // looks like a complete one.
  const std::size_t shown = max_values == 0 ? c.width : std::min(c.width, max_values);
  std::string s = "[";
  for (std::size_t j = 0; j < shown; ++j) s += (j ? ", " : "") + format_value(c, c.at(row, j));
  if (shown < c.width) s += fmt::format(", ... {} more of {}", c.width - shown, c.width);
  return s + "]";
}

}  // namespace

std::string format_flux_points(const FluxPointsTable& t, std::size_t max_vector_values,
                               const std::vector<std::string>& skip) {
  std::vector<const Column*> cols;
  for (const Column& c : t.columns)
    if (std::find(skip.begin(), skip.end(), c.name) == skip.end()) cols.push_back(&c);
  std::vector<std::vector<std::string>> cells(t.n_rows + 2);
  std::vector<std::size_t> widths;
  for (const Column* c : cols) {
    std::size_t w = std::max(c->name.size(), c->unit.size());
    for (std::size_t r = 0; r < t.n_rows; ++r)
      w = std::max(w, format_cell(*c, r, max_vector_values).size());
    widths.push_back(w);
  }
  std::string out;
  const auto line = [&](const auto& text_of) {
    for (std::size_t k = 0; k < cols.size(); ++k)
      out += fmt::format("{}{:>{}}", k ? " " : "", text_of(k), widths[k]);
    out += "\n";
  };
  line([&](std::size_t k) { return cols[k]->name; });
  bool any_unit = false;
  for (const Column* c : cols) any_unit = any_unit || !c->unit.empty();
  if (any_unit) line([&](std::size_t k) { return cols[k]->unit; });
  line([&](std::size_t k) { return std::string(widths[k], '-'); });
  for (std::size_t r = 0; r < t.n_rows; ++r)
    line([&](std::size_t k) { return format_cell(*cols[k], r, max_vector_values); });
  return out;
}

}  // namespace fluxpoints::io
