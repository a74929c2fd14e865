// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/examples.hpp"

#include <string>

namespace fluxpoints::examples {

LikelihoodBatch synthetic_spectrum_batch() {
  // Source counts at norm 1: PowerLaw(1e-12 cm-2 s-1 TeV-1, index 2.5) x 5e13 cm2 s, identity
  // energy dispersion.
  const double s[8] = {54.52297653, 22.99214856, 9.69570865, 4.08864644,
                       1.72416791,  0.72707558,  0.30660523, 0.12929435};
  const double n[8] = {95, 60, 33, 17, 6, 3, 0, 1};
  const double b[8] = {20, 10, 5, 2, 1, 0.5, 0.2, 0.1};
  const double n_off[8] = {100, 50, 25, 10, 5, 2, 1, 0};
  LikelihoodBatch batch;
  for (int g = 0; g < 4; ++g) {
    batch.begin_problem("cash group " + std::to_string(g + 1));
    batch.begin_dataset(StatKind::cash);
    for (int i = 2 * g; i < 2 * g + 2; ++i) batch.add_cash_bin(n[i], s[i], b[i]);
  }
  for (int g = 0; g < 4; ++g) {
    batch.begin_problem("wstat group " + std::to_string(g + 1));
    batch.begin_dataset(StatKind::wstat);
    for (int i = 2 * g; i < 2 * g + 2; ++i) batch.add_wstat_bin(n[i], n_off[i], 0.2, s[i]);
  }
  return batch;
}

}  // namespace fluxpoints::examples
