// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/datasets/spectrum_dataset.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fluxpoints/datasets/fold.hpp"
#include "fluxpoints/limits.hpp"

namespace fluxpoints::datasets {
namespace {

std::string context(const SpectrumDataset& ds) {
  return (ds.source_file.empty() ? std::string("<memory>") : ds.source_file) + ": dataset '" +
         ds.name + "'";
}

void require_size(const SpectrumDataset& ds, const char* field, std::size_t actual,
                  std::size_t expected) {
  if (actual != expected) {
    throw std::runtime_error(context(ds) + ": " + field + " has " + std::to_string(actual) +
                             " values, expected " + std::to_string(expected));
  }
}

// Whether every value is finite and >= 0 (NaN fails the comparison): one branch-free pass over
// the large arrays (the dispersion matrix), the message is looked for only when one fails.
bool all_finite_non_negative(const std::vector<double>& values) {
  bool ok = true;
  for (const double v : values) ok &= (v >= 0.0) & (v <= std::numeric_limits<double>::max());
  return ok;
}

void require_finite_non_negative(const SpectrumDataset& ds, const char* field,
                                 const std::vector<double>& values) {
  if (all_finite_non_negative(values)) return;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i]) || values[i] < 0.0) {
      throw std::runtime_error(context(ds) + ": " + field + "[" + std::to_string(i) + "] = " +
                               fmt::format("{}", values[i]) + " (must be finite and >= 0)");
    }
  }
}

// Counts and alpha above these make the statistic overflow (limits.hpp).
void require_at_most(const SpectrumDataset& ds, const char* field,
                     const std::vector<double>& values, double limit) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] > limit) {
      throw std::runtime_error(context(ds) + ": " + field + "[" + std::to_string(i) + "] = " +
                               fmt::format("{:g}", values[i]) + " exceeds " +
                               fmt::format("{:g}", limit) +
                               ", the largest value the statistic handles without overflow");
    }
  }
}

void require_increasing_edges(const SpectrumDataset& ds, const char* field,
                              const std::vector<double>& edges) {
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (!std::isfinite(edges[i]) || edges[i] <= 0.0 || (i > 0 && edges[i] <= edges[i - 1])) {
      throw std::runtime_error(context(ds) + ": " + field + "[" + std::to_string(i) +
                               "]: energies must be positive and increasing");
    }
  }
}

}  // namespace

bool SpectrumDataset::mask(std::size_t i) const {
  const bool safe = mask_safe.empty() || mask_safe[i] != 0;
  const bool fit = mask_fit.empty() || mask_fit[i] != 0;
  return safe && fit;
}

std::vector<double> SpectrumDataset::npred_source(const models::SpectralModel& model) const {
  // One integral over all true bins (gammapy's numeric rule shares its sampling across them);
  // to fold many models through one dataset, build the FoldArrays once instead.
  FoldArrays fold;
  return fold.npred(fold.add_dataset(*this), model);
}

void SpectrumDataset::set_alpha_from_acceptances() {
  if (acceptance.size() != acceptance_off.size()) {
    throw std::runtime_error(context(*this) + ": acceptance and acceptance_off differ in length");
  }
  alpha.resize(acceptance.size());
  for (std::size_t i = 0; i < alpha.size(); ++i) {
    const double a = acceptance[i] / acceptance_off[i];
    alpha[i] = std::isfinite(a) ? a : 0.0;
  }
}

void SpectrumDataset::validate() const {
  const std::size_t nr = n_reco();
  const std::size_t nt = n_true();
  if (nr == 0) throw std::runtime_error(context(*this) + ": no reco-energy bins (counts empty)");
  if (nt == 0) throw std::runtime_error(context(*this) + ": no true-energy bins (exposure empty)");
  require_size(*this, "reco_edges", reco_edges.size(), nr + 1);
  require_size(*this, "true_edges", true_edges.size(), nt + 1);
  require_increasing_edges(*this, "reco_edges", reco_edges);
  require_increasing_edges(*this, "true_edges", true_edges);
  require_finite_non_negative(*this, "counts", counts);
  require_at_most(*this, "counts", counts, limits::kMaxCounts);
  require_finite_non_negative(*this, "exposure", exposure);
  if (!(std::isfinite(livetime_s) && livetime_s >= 0.0)) {
    throw std::runtime_error(context(*this) + ": livetime " + fmt::format("{}", livetime_s) +
                             " s is not finite and >= 0");
  }
  if (edisp.empty()) {
    if (nt != nr) {
      throw std::runtime_error(context(*this) + ": no energy dispersion, but " +
                               std::to_string(nt) + " true and " + std::to_string(nr) +
                               " reco bins");
    }
  } else {
    require_size(*this, "edisp", edisp.size(), nt * nr);
    require_finite_non_negative(*this, "edisp", edisp);
  }
  if (!mask_safe.empty()) require_size(*this, "mask_safe", mask_safe.size(), nr);
  if (!mask_fit.empty()) require_size(*this, "mask_fit", mask_fit.size(), nr);
  if (on_off) {
    require_size(*this, "counts_off", counts_off.size(), nr);
    require_size(*this, "alpha", alpha.size(), nr);
    require_finite_non_negative(*this, "counts_off", counts_off);
    require_finite_non_negative(*this, "alpha", alpha);
    require_at_most(*this, "counts_off", counts_off, limits::kMaxCounts);
    require_at_most(*this, "alpha (acceptance / acceptance_off)", alpha, limits::kMaxAlpha);
    if (!acceptance.empty()) require_size(*this, "acceptance", acceptance.size(), nr);
    if (!acceptance_off.empty()) require_size(*this, "acceptance_off", acceptance_off.size(), nr);
  } else {
    if (!background.empty()) {
      require_size(*this, "background", background.size(), nr);
      require_finite_non_negative(*this, "background", background);
      require_at_most(*this, "background", background, limits::kMaxCounts);
    }
  }
}

}  // namespace fluxpoints::datasets
