// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The flux-point problems of one source of a field catalog (format version 2): the source's
// predicted counts come from its own component in a dataset (or its model folded through the
// dataset's IRFs where it has none), and every other component of the dataset is either a fixed
// contribution or, with reoptimize on and the component free, a linear nuisance parameter that
// is re-fitted with the norm. The rules are in docs/catalog-format.md ("Fields").

#include <cstdint>
#include <map>
#include <vector>

#include "fluxpoints/batch.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/estimator/estimator.hpp"

namespace fluxpoints::catalog {

// What the problems of one source are built from.
struct FieldSourceInput {
  const Source* source = nullptr;
  // One per entry of source->datasets, in that order.
  std::vector<const DatasetRead*> datasets;
  // Every component row the source may need: its own, and all of those in its datasets.
  const std::map<std::int64_t, ComponentRead>* components = nullptr;
  // Per entry of source->datasets: the component rows present in that dataset, increasing.
  std::vector<std::vector<std::int64_t>> dataset_components;
};

// Appends one problem per energy group of options.energy_edges to `batch`. Throws
// std::runtime_error naming the dataset, the component row or the limit when the source cannot
// be estimated (the caller records it as that source's error).
SourceProblems append_field_source_problems(LikelihoodBatch& batch, const FieldSourceInput& input,
                                            const EstimatorOptions& options, bool reoptimize);

}  // namespace fluxpoints::catalog
