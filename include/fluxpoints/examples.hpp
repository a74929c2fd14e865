// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Small built-in example batches (no files needed): a synthetic spectrum of eight reco bins in
// four groups (the worked example of tests/test_spec_examples.cpp).
#include "fluxpoints/batch.hpp"

namespace fluxpoints::examples {
// Eight log bins 0.5-50 TeV, PowerLaw source counts, grouped into four flux points
// ({0,1},{2,3},{4,5},{6,7}); first as Cash data with a known background, then as
// On/Off data with alpha = 0.2. Eight problems in all.
LikelihoodBatch synthetic_spectrum_batch();
}  // namespace fluxpoints::examples
