// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// ECSV 1.0 (astropy's Enhanced CSV): a YAML header in '#' comment lines giving each column's name,
// unit and datatype plus the table meta, then space-separated values. Vector columns are
// "multidimensional" columns: datatype string, subtype like 'float64[11]', each cell one
// JSON array (NaN written as JSON's non-standard NaN, which astropy reads, as gammapy's own
// files do).
#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "fluxpoints/io/flux_points.hpp"
#include "host/io/output_file.hpp"

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
    case ColumnType::float32:
      return "float32";
    case ColumnType::boolean:
      return "bool";
    case ColumnType::float64:
      break;
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
    if (c.type == ColumnType::boolean)
      return std::string(v != 0 ? (json ? "true" : "True") : (json ? "false" : "False"));
    if (c.type == ColumnType::float32) v = static_cast<double>(static_cast<float>(v));
    return number(v, json);
  };
  if (!c.is_vector && c.width == 1) return one(c.at(row), false);
  std::string s = "[";
  for (std::size_t j = 0; j < c.width; ++j) s += (j ? "," : "") + one(c.at(row, j), true);
  return "\"" + s + "]\"";
}

}  // namespace

void write_flux_points_ecsv(const FluxPointsTable& t, const std::string& path,
                            const OutputRule& rule) {
  OutputFile out(path, rule);
  {
    std::ostringstream os;
    os << "# %ECSV 1.0\n# ---\n# datatype:\n";
    for (const Column& c : t.columns) {
      os << "# - {name: " << c.name;
      if (c.has_unit) os << ", unit: " << quoted(c.unit);
      if (!c.is_vector && c.width == 1) {
        os << ", datatype: " << scalar_type(c);
      } else {
        os << ", datatype: string, subtype: "
           << quoted(scalar_type(c) + "[" + std::to_string(c.width) + "]");
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
    out.write(os.str());
  }
  out.commit();
}

namespace {

// Splits a data line into fields: whitespace-separated, "..." quoted with "" for a quote.
std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::string field;
    if (line[i] == '"') {
      ++i;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') field += line[i++];
    }
    out.push_back(field);
  }
  return out;
}

double parse_value(std::string v, const std::string& where) {
  const auto b = v.find_first_not_of(" "), e = v.find_last_not_of(" ");
  v = b == std::string::npos ? "" : v.substr(b, e - b + 1);
  if (v == "True" || v == "true") return 1.0;
  if (v == "False" || v == "false") return 0.0;
  if (v == "nan" || v == "NaN" || v == "null" || v.empty()) return std::nan("");
  if (v == "inf" || v == "Infinity") return INFINITY;
  if (v == "-inf" || v == "-Infinity") return -INFINITY;
  std::size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || used == 0)
    throw std::runtime_error(where + ": '" + v + "' is not a number");
  return x;
}

}  // namespace

FluxPointsTable read_flux_points_ecsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::string line, header;
  std::getline(in, line);
  if (line.rfind("# %ECSV", 0) != 0)
    throw std::runtime_error(path + ": not an ECSV file (no '# %ECSV' line)");
  std::vector<std::string> data_lines;
  bool names_seen = false;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) {
      header += (line.size() > 2 ? line.substr(2) : std::string()) + "\n";
    } else if (!line.empty()) {
      if (names_seen) data_lines.push_back(line);
      names_seen = true;  // the first non-comment line holds the column names
    }
  }
  YAML::Node h;
  try {
    h = YAML::Load(header);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(path + ": bad ECSV header: " + e.what());
  }
  FluxPointsTable t;
  t.origin = path;
  t.n_rows = data_lines.size();
  if (h["meta"]) {
    // astropy writes the meta as an !!omap: a list of one-key mappings.
    const auto apply = [&](const std::string& k, const YAML::Node& v) {
      if (k == "SED_TYPE") t.sed_type = v.as<std::string>();
      if (k == "UL_CONF") t.n_sigma_ul = n_sigma_from_ul_conf(v.as<double>());
    };
    const YAML::Node meta = h["meta"];
    if (meta.IsSequence()) {
      for (const auto& item : meta)
        for (const auto& kv : item) apply(kv.first.as<std::string>(), kv.second);
    } else if (meta.IsMap()) {
      for (const auto& kv : meta) apply(kv.first.as<std::string>(), kv.second);
    }
  }
  if (!h["datatype"] || !h["datatype"].IsSequence())
    throw std::runtime_error(path + ": ECSV header has no datatype list");
  std::vector<std::vector<std::string>> rows;
  for (std::size_t r = 0; r < data_lines.size(); ++r) {
    rows.push_back(split_fields(data_lines[r]));
    if (rows.back().size() != h["datatype"].size())
      throw std::runtime_error(path + ": data row " + std::to_string(r + 1) + " has " +
                               std::to_string(rows.back().size()) + " fields for " +
                               std::to_string(h["datatype"].size()) + " columns");
  }
  for (std::size_t k = 0; k < h["datatype"].size(); ++k) {
    const YAML::Node d = h["datatype"][k];
    Column c;
    c.name = d["name"].as<std::string>();
    c.has_unit = static_cast<bool>(d["unit"]);
    if (c.has_unit) c.unit = d["unit"].as<std::string>();
    std::string type = d["datatype"].as<std::string>();
    if (type == "string") {
      if (!d["subtype"]) continue;  // plain text column (e.g. dataset names): not a quantity
      type = d["subtype"].as<std::string>();
      const auto open = type.find('[');
      c.is_vector = open != std::string::npos;
      // 'float64[11]': the length; 'float64[null]' (variable): taken from the first row.
      if (c.is_vector && open + 1 < type.size() &&
          std::isdigit(static_cast<unsigned char>(type[open + 1])))
        c.width = std::stoul(type.substr(open + 1));
      else if (c.is_vector)
        c.width = 0;
      type = type.substr(0, open);
    }
    if (type == "bool")
      c.type = ColumnType::boolean;
    else if (type == "float32")
      c.type = ColumnType::float32;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const std::string where = path + ": row " + std::to_string(r + 1) + ", column " + c.name;
      std::string field = rows[r][k];
      if (!c.is_vector) {
        c.data.push_back(parse_value(field, where));
        continue;
      }
      const auto b = field.find('['), e = field.rfind(']');
      if (b == std::string::npos || e == std::string::npos || e < b)
        throw std::runtime_error(where + ": expected a [..] array");
      std::vector<double> values;
      std::stringstream ss(field.substr(b + 1, e - b - 1));
      std::string item;
      while (std::getline(ss, item, ',')) values.push_back(parse_value(item, where));
      if (c.width == 0) c.width = values.size();
      if (values.size() != c.width)
        throw std::runtime_error(where + ": arrays of different lengths");
      c.data.insert(c.data.end(), values.begin(), values.end());
    }
    if (c.width == 0) continue;
    t.add(std::move(c));
  }
  return t;
}

FluxPointsTable read_flux_points(const std::string& path) {
  const bool ecsv = path.size() >= 5 && path.compare(path.size() - 5, 5, ".ecsv") == 0;
  return ecsv ? read_flux_points_ecsv(path) : read_flux_points_fits(path);
}

}  // namespace fluxpoints::io
