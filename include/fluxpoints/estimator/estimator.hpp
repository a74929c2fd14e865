// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The flux-point estimator (gammapy's FluxPointsEstimator with reoptimize=False): turns
// datasets + a source model into likelihood problems, and solved problems into flux-point tables.
//
//   append_source_problems(batch, datasets, models, source, options)
//       snaps the requested energy edges to each dataset's reco axis, slices, masks, optionally
//       sums each group to one bin, and appends one problem per energy group (one segment per
//       contributing dataset) to `batch`. Returns where they went (SourceProblems).
//   Backend::solve(batch, options.solve)                               (all problems at once)
//   make_flux_points(result, source_problems, options)
//       the likelihood FluxPointsTable of one source, with reference quantities.
//
// Many sources go into one batch: call append_source_problems once per source, solve once, then
// make_flux_points per source. estimate_flux_points() does all three for one source.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/batch.hpp"
#include "fluxpoints/batch_result.hpp"
#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/io/flux_points.hpp"
#include "fluxpoints/math/hd.hpp"
#include "fluxpoints/models/spectral_model.hpp"
#include "fluxpoints/solve_options.hpp"

namespace fluxpoints {

struct EstimatorOptions {
  std::vector<double> energy_edges{1.0, 10.0};  // requested group edges, TeV (gammapy's default)
  SolveOptions solve;                           // n_sigma, n_sigma_ul, selection, norm, scan
  bool sum_over_energy_groups = false;          // collapse each group to one reco bin
  bool allow_multiple_telescopes = false;       // accept datasets of several telescopes
  double sqrt_ts_threshold_ul = 2.0;            // is_ul = sqrt_ts < this
  // selection_optional "sensitivity": Asimov norm at n_sigma_sensitivity (gammapy
  // 2.1's default is 5). Computed on the host at assembly time: it needs no fit.
  bool sensitivity = false;
  double n_sigma_sensitivity = 5.0;
  // gammapy's selection_optional: "all" (errn-errp, ul, scan, sensitivity), "none", or a comma
  // list of those names. Sets `sensitivity` and solve's flags; throws std::invalid_argument.
  void set_selection(const std::string& selection);
  // Throws std::invalid_argument: fewer than 2 edges, non-increasing or non-positive edges, ...
  void validate() const;
};

// --- Energy groups ------------------------------------------------------------

// Fractional pixel coordinate of `energy` on a log axis with these edges: piecewise linear in
// ln E, edge j at j - 0.5, extrapolated with the first / last segment outside the axis.
double energy_pixel(const std::vector<double>& edges, double energy);

// Reco bins [begin, end) that an axis snaps the requested range [e_lo, e_hi] to: each end goes to
// the nearest edge in ln E (ties to the even index, numpy rounding), clipped to the axis.
// begin == end means the dataset does not contribute to that group.
struct BinRange {
  std::size_t begin = 0, end = 0;
  bool empty() const { return end <= begin; }
};
BinRange snap_energy_range(const std::vector<double>& edges, double e_lo, double e_hi);

// Why no dataset contributes to the group [e_lo, e_hi] TeV (every snapped range empty): the
// group lies outside every dataset's reco axis, or it is narrower than one reco bin (both
// edges snap to the same axis edge). Text for messages, e.g. "it is narrower than one reco bin
// of dataset '23523' (both edges snap to 1.12 TeV)".
std::string why_no_dataset_contributes(const std::vector<datasets::SpectrumDataset>& datasets,
                                       double e_lo, double e_hi);

// gammapy's MapAxis.is_aligned: the bin centres of each axis lie within `atol` bin of an integer
// pixel of the other (log interpolation on both).
bool energy_axes_aligned(const std::vector<double>& a, const std::vector<double>& b,
                         double atol = 0.02);

// gammapy's checks before a run: unique dataset names, aligned reco axes, a single telescope
// unless allowed.
// Throws std::invalid_argument naming the datasets.
void check_datasets(const std::vector<datasets::SpectrumDataset>& datasets,
                    bool allow_multiple_telescopes);

// --- Assembly ---------------------------------------------------------------------------------

// Predicted counts per reco bin of one dataset at norm 1 (reoptimize=False: everything but the
// source's norm is fixed). `other` is every other model's npred: Cash adds it to the background,
// WStat to the ON signal.
struct DatasetPrediction {
  std::vector<double> source;
  std::vector<double> other;
};

// Folds the source (models[source]) and every other model through each dataset.
// A model with datasets_names predicts nothing in the datasets it does not name.
std::vector<DatasetPrediction> predict_counts(
    const std::vector<datasets::SpectrumDataset>& datasets,
    const std::vector<models::SkyModel>& models, std::size_t source);

// The same for every model as the source at once (catalogs): each model is folded through each
// dataset once, and `other` = all models - the source (so N sources cost N foldings, not N^2).
// Result [source][dataset].
std::vector<std::vector<DatasetPrediction>> predict_counts_all_sources(
    const std::vector<datasets::SpectrumDataset>& datasets,
    const std::vector<models::SkyModel>& models);

// One energy group = one problem of the batch.
struct FluxPointGroup {
  double e_min = 0, e_max = 0;     // TeV: snapped edges, or the requested ones (no dataset, 1.8a)
  std::int64_t problem = 0;        // index in the batch
  std::int64_t first_segment = 0;  // the problem's segments are first_segment + k ...
  std::vector<std::size_t> segment_dataset;  // ... and segment k holds this dataset (index into
                                             // the input datasets)
  double norm_sensitivity = math::kNaN;      // when options.sensitivity
  // Masked bins of the group left out of the problem because nothing fitted predicts counts
  // there (field catalogs): their statistic is the same at every norm. make_flux_points adds it
  // back to stat, stat_null and stat_scan, and their counts and predicted counts to the
  // per-dataset counts and npred (per segment; empty: nothing left out).
  double stat_constant = 0.0;
  std::vector<double> segment_counts_constant, segment_npred_constant;
};

// One requested energy group [e_lo, e_hi] TeV laid over the datasets: each dataset's snapped reco
// bins (`ranges`, one per dataset; empty where it does not contribute) and the group with the
// contributing datasets and its e_min/e_max (the outermost snapped edges, or the requested edges
// when no dataset contributes, which gives a NaN row). Appends gammapy's warnings to `warnings`:
// no dataset in the range (with the reason), a reference model negative at e_min or e_max.
struct GroupLayout {
  FluxPointGroup group;
  std::vector<BinRange> ranges;
};
GroupLayout lay_out_group(const std::vector<datasets::SpectrumDataset>& datasets, double e_lo,
                          double e_hi, const models::SpectralModel& reference,
                          std::vector<std::string>& warnings);

// Where one source's problems are in a batch, and what make_flux_points needs besides the result.
struct SourceProblems {
  std::string source_name;
  std::vector<FluxPointGroup> groups;
  std::vector<std::string> dataset_names;
  std::string energy_unit = "TeV";  // of the first dataset's axis: the output default
  std::shared_ptr<const models::SpectralModel> reference_model;
  std::vector<std::string> warnings;  // gammapy's logged warnings (no dataset in a range, ...)

  // Whether any group has at least one contributing dataset.
  bool any_dataset() const;
};

// A source's SourceProblems before its groups are added: its name, a copy of its reference model,
// the datasets' names and the output energy unit (that of the first dataset).
SourceProblems start_source_problems(const std::string& source_name,
                                     const models::SpectralModel& reference,
                                     const std::vector<datasets::SpectrumDataset>& datasets);


// Appends one problem per energy group of `options.energy_edges`. `predictions` are
// per dataset, as predict_counts returns them. Checks the datasets (check_datasets) first.
SourceProblems append_source_problems(LikelihoodBatch& batch,
                                      const std::vector<datasets::SpectrumDataset>& datasets,
                                      const std::vector<DatasetPrediction>& predictions,
                                      const models::SkyModel& source,
                                      const EstimatorOptions& options);
// The same, folding the models first.
SourceProblems append_source_problems(LikelihoodBatch& batch,
                                      const std::vector<datasets::SpectrumDataset>& datasets,
                                      const std::vector<models::SkyModel>& models,
                                      std::size_t source, const EstimatorOptions& options);

// --- Results ----------------------------------------------------------------------------------

// The likelihood table of one source (columns in gammapy's order): e_ref/e_min/e_max in
// `energy_unit` (empty: the datasets' unit), ref_dnde/ref_flux/ref_eflux (erg; from
// models::reference_fluxes on the output axis), norm and norm_err
// NaN where success is false, errn/errp/ul/scan as selected, sqrt_ts and is_ul.
// Per-dataset columns (npred, npred_excess, counts) have one entry per input dataset, in input
// order; a dataset that does not contribute to a group gets counts 0, npred NaN, npred_excess NaN
// (gammapy writes shorter, unlabelled arrays there instead).
io::FluxPointsTable make_flux_points(const BatchResult& result, const SourceProblems& problems,
                                     const EstimatorOptions& options,
                                     const std::string& energy_unit = "");

// All of it for one source. `backend_used`, if given, receives the backend's name.
io::FluxPointsTable estimate_flux_points(const std::vector<datasets::SpectrumDataset>& datasets,
                                         const std::vector<models::SkyModel>& models,
                                         std::size_t source, const EstimatorOptions& options,
                                         const Backend& backend,
                                         std::vector<std::string>* warnings = nullptr);

}  // namespace fluxpoints
