// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Upper bounds on sizes and values that come from input (command line, config YAML, catalog
// attributes and columns, OGIP files). Each is checked before anything is allocated from it,
// with an error naming the file, the field and the value. docs/limits.md explains each one.

#include <cstdint>

namespace fluxpoints::limits {

// Norm scan points per flux point (scan_n_values, or the length of scan_values). gammapy's
// default is 11; the result holds n_sources x n_groups x this many doubles.
constexpr int kMaxScanValues = 10000;

// Energy groups (edges - 1) of one run.
constexpr int kMaxEnergyGroups = 10000;

// Counts, OFF counts and predicted counts (at norm 1, and of the background / other models):
// the largest magnitude the statistic's arithmetic handles. The curvature of a Cash bin holds
// s^2 n / mu^2 and WStat's profiled background the square of alpha (n_on + n_off) + (1 + alpha)
// mu_s, evaluated out to 1e5 times the best-fit norm (gammapy's crossing bracket): products of
// two counts overflow double precision (1.8e308) from about 1.3e154 on, which made such inputs
// look like kinks or give npred = DBL_MAX. 1e100 leaves the 54 orders of magnitude that alpha
// (below), the bracket factor and the norm need.
constexpr double kMaxCounts = 1e100;

// alpha = acceptance / acceptance_off (per bin). With counts below kMaxCounts, alpha up to 1e30
// keeps alpha (alpha + 1) n_off mu_s and the square above finite.
constexpr double kMaxAlpha = 1e30;

// A dense energy-dispersion matrix (n_true x n_reco doubles) built from an OGIP RMF: the RMF
// may describe a huge matrix in a few bytes (rows with N_GRP = 0), so its size is bounded
// explicitly (1e8 entries = 800 MB).
constexpr std::int64_t kMaxEdispEntries = 100000000;

// Catalog files reached through the `file` column of the dataset table: a chain
// catalog -> external -> external ... deeper than this is refused (cycles are refused at once).
constexpr int kMaxExternalDepth = 8;

}  // namespace fluxpoints::limits
