// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A generator of realistic test catalogs (`fluxpoints simulate --catalog N`): sources with random
// PowerLaw, LogParabola and ExpCutoffPowerLaw spectra whose fluxes follow a Euclidean logN-logS
// (many faint sources, a few bright ones), each observed by 1-4 On/Off datasets with their own
// livetime, effective area, energy threshold, energy dispersion and background. Deterministic for
// a seed (with the same C++ standard library). With `field`, crowded survey fields instead
// (`fluxpoints simulate --catalog N --field`): see SimulateCatalogOptions.

#include <cstdint>
#include <string>

#include "fluxpoints/io/output.hpp"

namespace fluxpoints::catalog {

struct SimulateCatalogOptions {
  std::int64_t n_sources = 100;
  std::uint64_t seed = 1;
  int min_datasets = 1;
  int max_datasets = 4;
  int n_groups = 10;  // energy groups written to the catalog's energy_edges (0.1 - 100 TeV)
  std::string selection = "all";  // selection_optional written to the catalog
  // Crowded fields instead (format version 2): sources share flattened-map datasets of
  // field_side x field_side pixels, each source a Gaussian PSF template of one of a few widths,
  // plus a background component with a free norm, Poisson counts.
  bool field = false;
  int field_side = 20;
  int sources_per_field = 8;
  bool reoptimize = false;  // the catalog's reoptimize attribute
};

// Field catalogs: reco energy bins of each field dataset (0.1 - 100 TeV); --groups divides it.
inline constexpr int kFieldRecoBins = 10;

// Writes the catalog to `path` under the output rule (fluxpoints/io/output.hpp: an existing file
// only with rule.overwrite; written to a temporary, then renamed). Throws std::runtime_error.
void simulate_catalog(const SimulateCatalogOptions& options, const std::string& path,
                      const io::OutputRule& rule = {});

}  // namespace fluxpoints::catalog
