// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// gadf SED FITS (as gammapy's FluxPoints.write, format "gadf-sed"): an empty PRIMARY and a
// BINTABLE 'FLUXPOINTS' with SED_TYPE and UL_CONF, vector columns as repeat counts with TDIM.
// Written with cfitsio so that gammapy's FluxPoints.read (astropy) loads it.
#include <fitsio.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "fluxpoints/io/flux_points.hpp"
#include "host/io/fits_file.hpp"
#include "host/io/output_file.hpp"

namespace fluxpoints::io {

namespace {

// Throws with the file name, the step and cfitsio's own message when `status` is set.
void check(int status, const std::string& path, const std::string& what) {
  if (status == 0) return;
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  fits_clear_errmsg();
  throw std::runtime_error(path + ": " + what + ": " + text);
}

struct FitsCloser {
  void operator()(fitsfile* f) const {
    int status = 0;
    fits_close_file(f, &status);
  }
};
using FitsHandle = std::unique_ptr<fitsfile, FitsCloser>;

std::string tform(const Column& c) {
  const std::string repeat = c.width == 1 ? "" : std::to_string(c.width);
  switch (c.type) {
    case ColumnType::float32:
      return repeat + "E";
    case ColumnType::boolean:
      return repeat + "L";
    case ColumnType::float64:
      break;
  }
  return repeat + "D";
}

}  // namespace

void write_flux_points_fits(const FluxPointsTable& t, const std::string& path,
                            const OutputRule& rule) {
  OutputFile out(path, rule);  // checks the rule before the work
  FitsFile file(path, FitsFile::Mode::kCreate);
  fitsfile* raw = file.handle();
  int status = 0;
  fits_create_img(raw, BYTE_IMG, 0, nullptr, &status);
  check(status, path, "cannot write the PRIMARY HDU");

  const int n_cols = static_cast<int>(t.columns.size());
  std::vector<std::string> names, forms;
  for (const Column& c : t.columns) {
    names.push_back(c.name);
    forms.push_back(tform(c));
  }
  std::vector<char*> ttype, tformp, tunit;
  std::string empty;
  for (int k = 0; k < n_cols; ++k) {
    ttype.push_back(names[k].data());
    tformp.push_back(forms[k].data());
    tunit.push_back(empty.data());  // units are written below, '' included
  }
  char extname[] = "FLUXPOINTS";
  fits_create_tbl(raw, BINARY_TBL, static_cast<LONGLONG>(t.n_rows), n_cols, ttype.data(),
                  tformp.data(), tunit.data(), extname, &status);
  check(status, path, "cannot create the FLUXPOINTS table");

  for (int k = 0; k < n_cols; ++k) {
    const Column& c = t.columns[k];
    const int colnum = k + 1;
    if (c.has_unit) {
      const std::string key = "TUNIT" + std::to_string(colnum);
      fits_write_key_str(raw, key.c_str(), c.unit.c_str(), nullptr, &status);
    }
    if (c.is_vector || c.width > 1) {
      long naxes = static_cast<long>(c.width);
      fits_write_tdim(raw, colnum, 1, &naxes, &status);
    }
    check(status, path, "cannot write the header of column '" + c.name + "'");
    const LONGLONG n = static_cast<LONGLONG>(c.data.size());
    if (n == 0) continue;
    if (c.type == ColumnType::boolean) {
      std::vector<char> v(c.data.size());
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = c.data[i] != 0 ? 1 : 0;
      fits_write_col(raw, TLOGICAL, colnum, 1, 1, n, v.data(), &status);
    } else {
      std::vector<double> v = c.data;  // cfitsio takes a non-const pointer
      fits_write_col(raw, TDOUBLE, colnum, 1, 1, n, v.data(), &status);
    }
    check(status, path, "cannot write column '" + c.name + "'");
  }
  char sed_type_key[] = "SED_TYPE";
  fits_write_key_str(raw, sed_type_key, t.sed_type.c_str(), nullptr, &status);
  double ul_conf = t.ul_conf();
  fits_write_key(raw, TDOUBLE, "UL_CONF", &ul_conf, nullptr, &status);
  check(status, path, "cannot write the header keywords");
  const std::string bytes = file.finish();
  out.write(has_gz_suffix(path) ? gzip_compress(bytes) : bytes);  // "x.fits.gz": a gzip file
  out.commit();
}

FluxPointsTable read_flux_points_fits(const std::string& path) {
  int status = 0;
  fitsfile* raw = nullptr;
  fits_open_file(&raw, path.c_str(), READONLY, &status);
  check(status, path, "cannot open");
  FitsHandle f(raw);

  std::string hdu_name = "FLUXPOINTS";
  char extname[] = "FLUXPOINTS";
  if (fits_movnam_hdu(raw, BINARY_TBL, extname, 0, &status) != 0) {
    // Older files (gammapy <= 1.x) have an unnamed table: take the first binary table.
    status = 0;
    fits_clear_errmsg();
    int n_hdus = 0, type = 0;
    fits_get_num_hdus(raw, &n_hdus, &status);
    bool found = false;
    for (int h = 2; h <= n_hdus && !found; ++h) {
      fits_movabs_hdu(raw, h, &type, &status);
      check(status, path, "cannot read HDU " + std::to_string(h - 1));
      found = type == BINARY_TBL;
    }
    if (!found)
      throw std::runtime_error(path +
                               ": no FLUXPOINTS HDU and no binary table: not a flux-points file");
    hdu_name = "HDU " + std::to_string(n_hdus);
  }

  FluxPointsTable t;
  t.origin = path + "[" + hdu_name + "]";
  char value[FLEN_VALUE] = {0};
  if (fits_read_key_str(raw, "SED_TYPE", value, nullptr, &status) == 0) {
    t.sed_type = value;
  } else {
    status = 0;
    fits_clear_errmsg();
    t.sed_type = "";  // guessed below from the columns
  }
  double ul_conf = 0;
  if (fits_read_key(raw, TDOUBLE, "UL_CONF", &ul_conf, nullptr, &status) == 0) {
    t.n_sigma_ul = n_sigma_from_ul_conf(ul_conf);
  } else {
    status = 0;
    fits_clear_errmsg();
  }

  long n_rows = 0;
  int n_cols = 0;
  fits_get_num_rows(raw, &n_rows, &status);
  fits_get_num_cols(raw, &n_cols, &status);
  check(status, path, "cannot read the table size");
  t.n_rows = static_cast<std::size_t>(n_rows);

  for (int colnum = 1; colnum <= n_cols; ++colnum) {
    const std::string num = std::to_string(colnum);
    char name[FLEN_VALUE] = {0};
    fits_read_key_str(raw, ("TTYPE" + num).c_str(), name, nullptr, &status);
    check(status, path, "cannot read the name of column " + num);
    int typecode = 0;
    long repeat = 0, width = 0;
    fits_get_coltype(raw, colnum, &typecode, &repeat, &width, &status);
    check(status, path, std::string("cannot read the type of column '") + name + "'");
    if (typecode == TSTRING || typecode < 0 || repeat < 1) continue;  // names, variable arrays

    Column c;
    c.name = name;
    char unit[FLEN_VALUE] = {0};
    if (fits_read_key_str(raw, ("TUNIT" + num).c_str(), unit, nullptr, &status) == 0) {
      c.unit = unit;
    } else {
      status = 0;
      fits_clear_errmsg();
      c.has_unit = false;
    }
    char tdim[FLEN_VALUE] = {0};
    if (fits_read_key_str(raw, ("TDIM" + num).c_str(), tdim, nullptr, &status) == 0) {
      c.is_vector = true;
    } else {
      status = 0;
      fits_clear_errmsg();
    }
    c.width = static_cast<std::size_t>(repeat);
    c.is_vector = c.is_vector || repeat > 1;
    c.type = typecode == TLOGICAL ? ColumnType::boolean
             : typecode == TFLOAT ? ColumnType::float32
                                  : ColumnType::float64;
    const LONGLONG n = static_cast<LONGLONG>(t.n_rows * c.width);
    c.data.assign(static_cast<std::size_t>(n), 0.0);
    if (n > 0) {
      int any_null = 0;
      if (c.type == ColumnType::boolean) {
        std::vector<char> v(static_cast<std::size_t>(n));
        char null_value = 0;
        fits_read_col(raw, TLOGICAL, colnum, 1, 1, n, &null_value, v.data(), &any_null, &status);
        for (std::size_t i = 0; i < v.size(); ++i) c.data[i] = v[i] ? 1.0 : 0.0;
      } else {
        double null_value = std::nan("");
        fits_read_col(raw, TDOUBLE, colnum, 1, 1, n, &null_value, c.data.data(), &any_null,
                      &status);
      }
      check(status, path, "cannot read column '" + c.name + "'");
    }
    // The gadf spec's log-likelihood columns: stat = 2 loglike (gammapy converts without a sign
    // flip).
    for (const auto& [old_name, new_name] : {std::pair<const char*, const char*>{"loglike", "stat"},
                                             {"loglike_null", "stat_null"},
                                             {"dloglike_scan", "stat_scan"}}) {
      if (c.name == old_name && !t.has(new_name)) {
        c.name = new_name;
        for (double& v : c.data) v *= 2.0;
      }
    }
    if (t.has(c.name)) continue;  // a duplicate name: keep the first
    t.add(std::move(c));
  }
  if (t.sed_type.empty()) {
    // gammapy's guess from the columns when there is no SED_TYPE keyword.
    for (const char* type : {"likelihood", "dnde", "e2dnde", "flux", "eflux"}) {
      const std::string key = std::string(type) == "likelihood" ? "norm" : type;
      if (t.has(key)) {
        t.sed_type = type;
        break;
      }
    }
    if (t.sed_type.empty())
      throw std::runtime_error(path +
                               ": no SED_TYPE keyword and no norm/dnde/e2dnde/flux/eflux column");
  }
  if (!t.has("e_ref") && !(t.has("e_min") && t.has("e_max")))
    throw std::runtime_error(t.origin + ": no energy columns (e_ref, or e_min and e_max)");
  return t;
}

namespace {

enum class OutputFormat { fits, ecsv };

OutputFormat output_format(const std::string& path) {
  const auto ends_with = [&](const std::string& suffix) {
    return path.size() >= suffix.size() &&
           std::equal(suffix.rbegin(), suffix.rend(), path.rbegin(),
                      [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  };
  if (ends_with(".ecsv")) return OutputFormat::ecsv;
  if (ends_with(".fits") || ends_with(".fits.gz") || ends_with(".fit") || ends_with(".fts"))
    return OutputFormat::fits;
  throw std::runtime_error(path + ": unknown output format (use a .fits, .fits.gz or .ecsv name)");
}

}  // namespace

void check_flux_points_output(const std::string& path, const OutputRule& rule) {
  output_format(path);
  check_output(path, rule);
}

void write_flux_points(const FluxPointsTable& table, const std::string& path,
                       const OutputRule& rule) {
  if (output_format(path) == OutputFormat::ecsv) {
    write_flux_points_ecsv(table, path, rule);
  } else {
    write_flux_points_fits(table, path, rule);
  }
}

}  // namespace fluxpoints::io
