// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Reading a `fluxpoints batch` result file (results.h5, layout in docs/catalog-format.md) back,
// one source at a time: as the same flux-points table that `fluxpoints estimate` writes for it.

#include <string>
#include <vector>

#include "fluxpoints/io/flux_points.hpp"

namespace fluxpoints::catalog {

// The source names of a result file, in catalog order. Throws std::runtime_error naming the
// file when it is not a result file or has a format version this program does not read.
std::vector<std::string> result_source_names(const std::string& path);

// The flux points of source `name` (SED type likelihood): every column of the file, the
// per-dataset columns cut to the source's own datasets (dataset_names set), n_sigma,
// n_sigma_ul and sqrt_ts_threshold_ul from the file. Throws std::runtime_error naming the file
// and the source when there is no such source (listing some names) or when it failed in the run
// (with its error).
io::FluxPointsTable read_result_source(const std::string& path, const std::string& name);

}  // namespace fluxpoints::catalog
