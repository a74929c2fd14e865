// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Flux-point tables as gammapy writes and reads them: named columns with units,
// some of them vectors per row (npred, counts, stat_scan, ...), plus the few metadata values that
// travel with the file (SED_TYPE, UL_CONF).
//
// The estimator fills a "likelihood" table (norm-based); to_sed_type() derives the
// dnde / e2dnde / flux / eflux tables from it. Writers: gadf SED FITS (HDU FLUXPOINTS) and ECSV,
// both readable by gammapy's FluxPoints.read and by astropy. Files are written to a temporary file
// in the same folder and renamed, so a failed write never leaves a half-written output.

#include <cstddef>
#include <string>
#include <vector>

#include "fluxpoints/io/output.hpp"

namespace fluxpoints::io {

enum class ColumnType { float64, float32, boolean };

struct Column {
  std::string name;
  std::string unit;      // FITS unit string ("TeV", "s-1 cm-2"); "" = dimensionless
  bool has_unit = true;  // false: no unit at all (gammapy writes none for stat, stat_scan, is_ul)
  ColumnType type = ColumnType::float64;
  std::size_t width = 1;     // values per row
  bool is_vector = false;    // a vector column (TDIM in FITS), even when width is 1
  std::vector<double> data;  // n_rows x width, row-major; booleans stored as 0 / 1

  double at(std::size_t row, std::size_t j = 0) const { return data[row * width + j]; }
};

struct FluxPointsTable {
  std::string sed_type = "likelihood";  // SED_TYPE
  double n_sigma = 1.0;                 // not stored in files (gammapy's default on read)
  double n_sigma_ul = 2.0;              // stored as UL_CONF
  double sqrt_ts_threshold_ul = 2.0;    // not stored in files
  std::size_t n_rows = 0;
  std::vector<Column> columns;
  // Names of the datasets behind the per-dataset vector columns (not written: gammapy writes none).
  std::vector<std::string> dataset_names;
  // Where the table came from, for error messages ("file.fits[FLUXPOINTS]").
  std::string origin;

  bool has(const std::string& name) const { return find(name) != nullptr; }
  const Column* find(const std::string& name) const;
  Column* find(const std::string& name);
  // Throws std::out_of_range naming the column and the table's origin.
  const Column& column(const std::string& name) const;
  // Appends a column; throws std::invalid_argument when its size does not match n_rows.
  Column& add(Column c);

  // UL_CONF = round(1 - 2 Q(n_sigma_ul), 7), Q the upper-tail standard normal probability.
  double ul_conf() const;
};

// n_sigma_ul back from UL_CONF, rounded to one decimal as gammapy does on read.
double n_sigma_from_ul_conf(double ul_conf);

// The supported SED types and the unit each writes its flux columns in.
// "likelihood" has no flux unit (returns "").
std::string sed_type_unit(const std::string& sed_type);

// Derives a dnde / e2dnde / flux / eflux table from a likelihood table: X_q = norm_q * ref_X for
// q in {"", err, errp, errn, ul} (dnde = norm * ref_dnde, e2dnde = norm * e_ref^2 * ref_dnde,
// ...), then the common columns (ts, sqrt_ts, npred, ..., norm_scan) as gammapy orders them.
// "likelihood" returns a copy. Throws std::invalid_argument for an unknown type.
FluxPointsTable to_sed_type(const FluxPointsTable& likelihood, const std::string& sed_type);

// TeV per `unit` ("keV" -> 1e-9; any energy unit io::parse_unit reads). Throws
// std::invalid_argument naming the unit when it is not an energy.
double energy_unit_in_tev(const std::string& unit);
constexpr double kErgPerTeV = 1.602176634;

// Writers. write_flux_points picks the format from the extension: .fits / .fits.gz / .fit ->
// gadf SED FITS (a name ending in .gz gives a gzip-compressed file), .ecsv -> ECSV. They follow
// the output rule (fluxpoints/io/output.hpp): an existing file is replaced only with
// rule.overwrite, an input never. Throw std::runtime_error (io::OutputError for the file itself)
// naming the file on failure; the previous file is then unchanged.
void write_flux_points(const FluxPointsTable& table, const std::string& path,
                       const OutputRule& rule = {});
// The checks write_flux_points makes before writing (known extension, existing folder, the output
// rule), for callers that want to fail before a long computation. Throws std::runtime_error.
void check_flux_points_output(const std::string& path, const OutputRule& rule = {});
void write_flux_points_fits(const FluxPointsTable& table, const std::string& path,
                            const OutputRule& rule = {});
void write_flux_points_ecsv(const FluxPointsTable& table, const std::string& path,
                            const OutputRule& rule = {});

// Reads a gadf SED FITS file: the FLUXPOINTS HDU, or the first binary table of older files.
// Columns are matched by name in any order; loglike / loglike_null / dloglike_scan of the gadf
// spec become stat / stat_null / stat_scan (x2). Throws std::runtime_error naming the file.
FluxPointsTable read_flux_points_fits(const std::string& path);
// Reads an ECSV flux-point table as astropy / gammapy / write_flux_points_ecsv write it (scalar
// float, int and bool columns, multidimensional columns as JSON arrays, SED_TYPE / UL_CONF meta).
FluxPointsTable read_flux_points_ecsv(const std::string& path);
// By extension: .ecsv -> ECSV, anything else -> FITS.
FluxPointsTable read_flux_points(const std::string& path);

// A printable table: one line per row, units in the header. Vector cells show every value, or
// with max_vector_values > 0 their first max_vector_values values followed by
// "... K more of N"; `skip` lists columns to leave out.
std::string format_flux_points(const FluxPointsTable& table, std::size_t max_vector_values = 0,
                               const std::vector<std::string>& skip = {});

}  // namespace fluxpoints::io
