// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/io/table_columns.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "fluxpoints/models/units.hpp"

namespace fluxpoints::io {

void require_finite_non_negative(FitsFile& file, const std::string& column,
                                 const std::vector<double>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i]) || values[i] < 0.0) {
      throw std::runtime_error(
          fmt::format("{}: HDU {}: column {} row {} is {} (must be finite "
                      "and >= 0)",
                      file.path(), file.hdu(), column, i + 1, values[i]));
    }
  }
}

double column_unit_factor(FitsFile& file, const std::string& column, const std::string& target,
                          const std::string& fallback, std::string* unit_out) {
  std::string unit = file.column_unit(column);
  if (unit.empty() && fallback.empty()) {
    throw std::runtime_error(file.path() + ": HDU " + file.hdu() + ": column " + column +
                             " has no unit (no TUNIT" + std::to_string(file.column_number(column)) +
                             " keyword; gammapy refuses such a file too)");
  }
  if (unit.empty()) unit = fallback;
  if (unit_out != nullptr) *unit_out = unit;
  try {
    return models::unit_conversion_factor(unit, target);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(file.path() + ": HDU " + file.hdu() + ": column " + column + ": " +
                             e.what());
  }
}

std::vector<double> energy_edges_tev(FitsFile& file, const std::string& lo_column,
                                     const std::string& hi_column, const std::string& fallback_unit,
                                     std::string* unit_out) {
  const double to_tev = column_unit_factor(file, lo_column, "TeV", fallback_unit, unit_out);
  const std::vector<double> lo = file.read_doubles(lo_column);
  const std::vector<double> hi = file.read_doubles(hi_column);
  if (lo.empty() || lo.size() != hi.size()) {
    throw std::runtime_error(file.path() + ": HDU " + file.hdu() + ": columns " + lo_column + "/" +
                             hi_column + " are empty or of different lengths");
  }
  std::vector<double> edges;
  edges.reserve(lo.size() + 1);
  for (double v : lo) edges.push_back(v * to_tev);
  edges.push_back(hi.back() * to_tev);
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (!std::isfinite(edges[i]) || edges[i] <= 0.0 || (i > 0 && edges[i] <= edges[i - 1])) {
      const bool last = i == lo.size();
      throw std::runtime_error(fmt::format(
          "{}: HDU {}: column {} row {}: energies must be positive and increasing", file.path(),
          file.hdu(), last ? hi_column : lo_column, last ? lo.size() : i + 1));
    }
  }
  return edges;
}

}  // namespace fluxpoints::io
