// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// ECSV 1.0 (astropy's Enhanced CSV): a YAML header in '#' comment lines giving each column's name,
// unit and datatype plus the table meta, then space-separated values. Vector columns are
// "multidimensional" columns: datatype string, subtype like 'float64[11]', each cell one
// JSON array (NaN written as JSON's non-standard NaN, which astropy reads, as gammapy's own
// files do).
#include <fmt/core.h>

#include <cmath>
#include <fstream>
#include <stdexcept>

#include "fluxpoints/io/flux_points.hpp"
#include "host/io/atomic_output.hpp"

namespace fluxpoints::io {

namespace {

// Shortest text that reads back to the same double (fmt's default, like Python's repr).
std::string number(double v, bool json) {
  if (std::isnan(v)) return json ? "NaN" : "nan";
  if (std::isinf(v)) return json ? (v > 0 ? "Infinity" : "-Infinity") : (v > 0 ? "inf" : "-inf");
  return fmt::format("{}", v);
}

std::string scalar_type(const Column& c) {
  switch (c.type) {
    case ColumnType::float32: return "float32";
    case ColumnType::boolean: return "bool";
    case ColumnType::float64: break;
  }
  return "float64";
}

// A YAML single-quoted scalar ('' escapes a quote).
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

std::string cell(const Column& c, std::size_t row) {
  const auto one = [&](double v, bool json) {
    if (c.type == ColumnType::boolean) return std::string(v != 0 ? (json ? "true" : "True")
                                                                 : (json ? "false" : "False"));
    if (c.type == ColumnType::float32) v = static_cast<double>(static_cast<float>(v));
    return number(v, json);
  };
  if (!c.is_vector && c.width == 1) return one(c.at(row), false);
  std::string s = "[";
  for (std::size_t j = 0; j < c.width; ++j) s += (j ? "," : "") + one(c.at(row, j), true);
  return "\"" + s + "]\"";
}

}  // namespace

void write_flux_points_ecsv(const FluxPointsTable& t, const std::string& path) {
  AtomicOutput out(path);
  {
    std::ofstream os(out.temp_path());
    if (!os) throw std::runtime_error(path + ": cannot create the file");
    os << "# %ECSV 1.0\n# ---\n# datatype:\n";
    for (const Column& c : t.columns) {
      os << "# - {name: " << c.name;
      if (c.has_unit) os << ", unit: " << quoted(c.unit);
      if (!c.is_vector && c.width == 1) {
        os << ", datatype: " << scalar_type(c);
      } else {
        os << ", datatype: string, subtype: " << quoted(scalar_type(c) + "[" +
                                                        std::to_string(c.width) + "]");
      }
      os << "}\n";
    }
    os << "# meta: !!omap\n";
    os << "# - {SED_TYPE: " << t.sed_type << "}\n";
    os << "# - {UL_CONF: " << number(t.ul_conf(), false) << "}\n";
    os << "# schema: astropy-2.0\n";
    for (std::size_t k = 0; k < t.columns.size(); ++k) os << (k ? " " : "") << t.columns[k].name;
    os << "\n";
    for (std::size_t r = 0; r < t.n_rows; ++r) {
      for (std::size_t k = 0; k < t.columns.size(); ++k)
        os << (k ? " " : "") << cell(t.columns[k], r);
      os << "\n";
    }
    os.close();
    if (!os) throw std::runtime_error(path + ": write failed");
  }
  out.commit();
}

}  // namespace fluxpoints::io
