// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// From datasets + models to likelihood problems: snap, slice (reco
// bins only: exposure and the true axis are never sliced, so migration from outside the group is
// in the predicted counts), mask, optionally collapse each group to one bin, append.
#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/datasets/fold.hpp"
#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/estimator/summed_groups.hpp"
#include "fluxpoints/math/hd.hpp"
#include "fluxpoints/math/sensitivity.hpp"

namespace fluxpoints {

namespace {

bool model_applies(const models::SkyModel& m, const datasets::SpectrumDataset& d) {
  return m.datasets_names.empty() || std::find(m.datasets_names.begin(), m.datasets_names.end(),
                                               d.name) != m.datasets_names.end();
}

// Throws naming the model and the parameter if a parameter value is NaN or infinite: every
// predicted count would be NaN, which the likelihood could only report as "not finite".
void require_finite_parameters(const models::SkyModel& m) {
  if (!m.spectral) return;
  for (const models::Parameter& p : m.spectral->parameters())
    if (!std::isfinite(p.value))
      throw std::invalid_argument(fmt::format(
          "model '{}' ({}): parameter '{}' is {}, so its predicted counts are not defined", m.name,
          m.spectral->type(), p.name, p.value));
}

// Throws if the source's datasets_names name none of the datasets: it would predict no counts
// anywhere, which the fit could only report as a flat statistic (gammapy refuses it too: the
// source is then in no dataset's models).
void require_applies_somewhere(const models::SkyModel& source,
                               const std::vector<datasets::SpectrumDataset>& datasets) {
  for (const auto& d : datasets)
    if (model_applies(source, d)) return;
  std::string wanted, have;
  for (const auto& n : source.datasets_names) wanted += (wanted.empty() ? "'" : ", '") + n + "'";
  for (const auto& d : datasets) have += (have.empty() ? "'" : ", '") + d.name + "'";
  throw std::invalid_argument("model '" + source.name + "': its datasets_names [" + wanted +
                              "] name none of the datasets (" + have +
                              "), so it predicts no counts in any of them");
}

double value_or_zero(const std::vector<double>& v, std::size_t i) {
  return i < v.size() ? v[i] : 0.0;
}

// Adds the masked bins [r.begin, r.end) of one dataset to the current segment.
void add_bins(LikelihoodBatch& batch, const datasets::SpectrumDataset& d,
              const DatasetPrediction& pred, BinRange r) {
  for (std::size_t i = r.begin; i < r.end; ++i) {
    if (!d.mask(i)) continue;
    const double s = pred.source[i], other = value_or_zero(pred.other, i);
    if (d.on_off) {
      batch.add_wstat_bin(d.counts[i], d.counts_off[i], math::nan_to_num(d.alpha[i]), s, other);
    } else {
      batch.add_cash_bin(d.counts[i], s, value_or_zero(d.background, i) + other);
    }
  }
}

// Folds models through the datasets, adding a dataset to the fold's arrays the first time a
// model is folded through it (so its true-axis grid is shared by every model folded through it).
// The arrays are the thread's, cleared for each folder (a catalog folds thousands of sources one
// after the other, each in a folder of its own): one folder at a time per thread.
class DatasetFolder {
 public:
  explicit DatasetFolder(const std::vector<datasets::SpectrumDataset>& d)
      : datasets_(d), index_(d.size(), -1), arrays_(thread_arrays()) {
    arrays_.clear();
  }
  std::vector<double> npred(std::size_t k, const models::SpectralModel& model) {
    if (index_[k] < 0) index_[k] = arrays_.add_dataset(datasets_[k]);
    return arrays_.npred(index_[k], model);
  }

 private:
  static datasets::FoldArrays& thread_arrays() {
    thread_local datasets::FoldArrays arrays;
    return arrays;
  }

  const std::vector<datasets::SpectrumDataset>& datasets_;
  std::vector<std::int32_t> index_;
  datasets::FoldArrays& arrays_;
};

// "<source>, group <g> [<e_min>, <e_max>] TeV", the name of a problem in error messages. The
// energies' text is the same for most sources of a catalog: the last one of each group index is
// kept per thread (formatting the two numbers costs more than the rest of the problem's setup).
std::string group_label(const std::string& source, std::size_t g, double e_min, double e_max) {
  struct Energies {
    double e_min = math::kNaN, e_max = math::kNaN;
    std::string text;
  };
  thread_local std::vector<Energies> last;
  if (last.size() <= g) last.resize(g + 1);
  Energies& e = last[g];
  // Bitwise, so that the text is exactly fmt's for these numbers (0.0 and -0.0 print differently).
  if (std::memcmp(&e.e_min, &e_min, sizeof(double)) != 0 ||
      std::memcmp(&e.e_max, &e_max, sizeof(double)) != 0) {
    e.e_min = e_min;
    e.e_max = e_max;
    e.text = fmt::format(" [{:g}, {:g}] TeV", e_min, e_max);
  }
  std::string label;
  label.reserve(source.size() + 32 + e.text.size());
  label += source;
  label += ", group ";
  label += std::to_string(g);
  label += e.text;
  return label;
}

}  // namespace

bool SourceProblems::any_dataset() const {
  for (const auto& g : groups)
    if (!g.segment_dataset.empty()) return true;
  return false;
}

std::vector<DatasetPrediction> predict_counts(
    const std::vector<datasets::SpectrumDataset>& datasets,
    const std::vector<models::SkyModel>& models, std::size_t source) {
  if (source >= models.size())
    throw std::out_of_range("source index " + std::to_string(source) + " but only " +
                            std::to_string(models.size()) + " models");
  if (!models[source].spectral)
    throw std::invalid_argument("source '" + models[source].name + "' has no spectral model");
  require_applies_somewhere(models[source], datasets);
  for (const auto& m : models)
    for (const auto& d : datasets)
      if (model_applies(m, d)) {
        require_finite_parameters(m);
        break;
      }
  DatasetFolder fold(datasets);
  std::vector<DatasetPrediction> out(datasets.size());
  for (std::size_t k = 0; k < datasets.size(); ++k) {
    const auto& d = datasets[k];
    auto& p = out[k];
    p.source = model_applies(models[source], d) ? fold.npred(k, *models[source].spectral)
                                                : std::vector<double>(d.n_reco(), 0.0);
    p.other.assign(d.n_reco(), 0.0);
    for (std::size_t m = 0; m < models.size(); ++m) {
      if (m == source || !models[m].spectral || !model_applies(models[m], d)) continue;
      const std::vector<double> npred = fold.npred(k, *models[m].spectral);
      for (std::size_t i = 0; i < npred.size() && i < p.other.size(); ++i) p.other[i] += npred[i];
    }
  }
  return out;
}

std::vector<std::vector<DatasetPrediction>> predict_counts_all_sources(
    const std::vector<datasets::SpectrumDataset>& datasets,
    const std::vector<models::SkyModel>& models) {
  for (const auto& m : models)
    for (const auto& d : datasets)
      if (model_applies(m, d)) {
        require_finite_parameters(m);
        break;
      }
  DatasetFolder fold(datasets);
  // folded[m][d]: model m through dataset d (zeros where the model does not apply).
  std::vector<std::vector<std::vector<double>>> folded(models.size());
  std::vector<std::vector<double>> total(datasets.size());
  for (std::size_t d = 0; d < datasets.size(); ++d) total[d].assign(datasets[d].n_reco(), 0.0);
  for (std::size_t m = 0; m < models.size(); ++m) {
    for (std::size_t d = 0; d < datasets.size(); ++d) {
      const bool applies = models[m].spectral && model_applies(models[m], datasets[d]);
      folded[m].push_back(applies ? fold.npred(d, *models[m].spectral)
                                  : std::vector<double>(datasets[d].n_reco(), 0.0));
      for (std::size_t i = 0; i < total[d].size(); ++i) total[d][i] += folded[m][d][i];
    }
  }
  std::vector<std::vector<DatasetPrediction>> out(models.size());
  for (std::size_t m = 0; m < models.size(); ++m) {
    for (std::size_t d = 0; d < datasets.size(); ++d) {
      DatasetPrediction p;
      p.source = folded[m][d];
      p.other = total[d];
      // Exactly 0 when the source is the only model (no rounding residue).
      for (std::size_t i = 0; i < p.other.size(); ++i)
        p.other[i] = models.size() == 1 ? 0.0 : p.other[i] - p.source[i];
      out[m].push_back(std::move(p));
    }
  }
  return out;
}

SourceProblems append_source_problems(LikelihoodBatch& batch,
                                      const std::vector<datasets::SpectrumDataset>& datasets,
                                      const std::vector<DatasetPrediction>& predictions,
                                      const models::SkyModel& source,
                                      const EstimatorOptions& options) {
  options.validate();
  check_datasets(datasets, options.allow_multiple_telescopes);
  if (predictions.size() != datasets.size())
    throw std::invalid_argument("append_source_problems: " + std::to_string(predictions.size()) +
                                " predictions for " + std::to_string(datasets.size()) +
                                " datasets");
  if (!source.spectral)
    throw std::invalid_argument("source '" + source.name + "' has no spectral model");
  require_finite_parameters(source);  // it also gives the reference fluxes
  require_applies_somewhere(source, datasets);
  for (std::size_t k = 0; k < datasets.size(); ++k) {
    if (predictions[k].source.size() != datasets[k].n_reco())
      throw std::invalid_argument(
          "dataset '" + datasets[k].name + "': " + std::to_string(predictions[k].source.size()) +
          " predicted source counts for " + std::to_string(datasets[k].n_reco()) + " reco bins");
  }

  SourceProblems out = start_source_problems(source.name, *source.spectral, datasets);

  const auto& edges = options.energy_edges;
  out.groups.reserve(edges.size() - 1);
  if (batch.n_problems() == 0) {
    // A batch of its own (a catalog source): room for every bin at once. (Not for a batch that
    // grows source by source: reserving each time would defeat the vectors' doubling.)
    std::int64_t bins = 0;
    for (const auto& d : datasets) bins += static_cast<std::int64_t>(d.n_reco());
    batch.reserve(static_cast<std::int64_t>(edges.size() - 1), bins);
  }
  for (std::size_t g = 0; g + 1 < edges.size(); ++g) {
    const double lo = edges[g], hi = edges[g + 1];
    GroupLayout layout = lay_out_group(datasets, lo, hi, *source.spectral, out.warnings);
    FluxPointGroup& group = layout.group;
    const std::vector<BinRange>& ranges = layout.ranges;

    group.problem = batch.begin_problem(group_label(source.name, g, group.e_min, group.e_max));
    group.first_segment = batch.n_segments();
    for (std::size_t k : group.segment_dataset) {
      const auto& d = datasets[k];
      batch.begin_dataset(d.on_off ? StatKind::wstat : StatKind::cash);
      if (options.sum_over_energy_groups) {
        // One bin (the group's safe bins summed): the dataset's only pixel.
        const datasets::SpectrumDataset summed = sum_energy_group(d, ranges[k], 1);
        DatasetPrediction summed_prediction;
        summed_prediction.source = sum_safe_bins(predictions[k].source, d, ranges[k], 1);
        summed_prediction.other = sum_safe_bins(predictions[k].other, d, ranges[k], 1);
        add_bins(batch, summed, summed_prediction, BinRange{0, 1});
      } else {
        add_bins(batch, d, predictions[k], ranges[k]);
      }
    }
    if (options.sensitivity) {
      // Needs no fit: the Asimov data are the model (1e-10: far below gammapy's rtol 0.01).
      group.norm_sensitivity =
          math::norm_sensitivity(batch.view(group.problem), options.n_sigma_sensitivity, 1e-10);
    }
    out.groups.push_back(std::move(group));
  }
  return out;
}

SourceProblems append_source_problems(LikelihoodBatch& batch,
                                      const std::vector<datasets::SpectrumDataset>& datasets,
                                      const std::vector<models::SkyModel>& models,
                                      std::size_t source, const EstimatorOptions& options) {
  const std::vector<DatasetPrediction> predictions = predict_counts(datasets, models, source);
  return append_source_problems(batch, datasets, predictions, models[source], options);
}

}  // namespace fluxpoints
