// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// batch's fold on a FoldBackend (--fold device): the reference models of a chunk's sources folded
// through their datasets a slice of sources per call, instead of source by source on the host.
// The predictions then go to append_source_problems as the host fold's would.
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fluxpoints/catalog/batch_run.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/fold_backend.hpp"
#include "fluxpoints/thread_pool.hpp"

namespace fluxpoints::catalog {

struct BatchedFold {
  // Per source: its predictions (one per dataset, in the source's order), or nothing when the
  // source is left to the host fold.
  std::vector<std::optional<std::vector<DatasetPrediction>>> predictions;
  // The sources left to the host fold because their model has no closed form, and those types.
  std::int64_t n_no_closed_form = 0;
  std::set<std::string> no_closed_form_types;
  // "N sources folded on the host: their model has no closed form ... (TYPE, ...)", for a log.
  std::string host_fold_note() const;
};

// The fold backend of a run (BatchRunOptions::fold, the rules are stated there): null for the
// host fold. `solves_on_device`: whether the solve backend is on a device (what "auto" follows);
// `field`: the catalog has components (folded on the host whatever the choice). `why` gets one
// line saying where the fold runs and why. Throws std::invalid_argument for an unknown choice,
// std::runtime_error for "device" without a usable GPU.
std::shared_ptr<const FoldBackend> choose_fold_backend(const BatchRunOptions& options,
                                                       bool solves_on_device, bool field,
                                                       std::string* why);

// Folds every source of `sources` whose model has a closed form through its datasets
// (`reads[i]`: source i's dataset reads, in its order): each worker of `pool` one contiguous slice
// of the sources with one folder.fold call (the datasets are only read). A source is left
// to the host fold (no predictions) when its model has no closed form (counted), or when a dataset
// is missing, is a flattened map or cannot be folded, or its model cannot be built: the host path
// then reports that error for the source alone. Exceptions of folder.fold (a CUDA error) pass on.
BatchedFold fold_sources(const std::vector<Source>& sources,
                         const std::vector<std::vector<DatasetRead*>>& reads,
                         const FoldBackend& folder, ThreadPool& pool);

}  // namespace fluxpoints::catalog
