// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Column checks and conversions shared by the dataset readers (OGIP and gadf). Errors name the
// file, the HDU, the column and the row.

#include <string>
#include <vector>

#include "host/io/fits_file.hpp"

namespace fluxpoints::io {

// Throws unless every value is finite and >= 0 (counts, BACKSCAL, SPECRESP, ...).
void require_finite_non_negative(FitsFile& file, const std::string& column,
                                 const std::vector<double>& values);

// Factor from the column's TUNIT (or `fallback` when it has none; an empty fallback makes the
// unit required) to `target`; the unit used goes to *unit_out when given.
double column_unit_factor(FitsFile& file, const std::string& column, const std::string& target,
                          const std::string& fallback, std::string* unit_out = nullptr);

// Energy edges in TeV from lo/hi columns: every lo value, then the last hi value (gammapy's
// rule); positive and strictly increasing. The file unit (required when `fallback_unit` is
// empty) goes to *unit_out when given.
std::vector<double> energy_edges_tev(FitsFile& file, const std::string& lo_column,
                                     const std::string& hi_column, const std::string& fallback_unit,
                                     std::string* unit_out = nullptr);

}  // namespace fluxpoints::io
