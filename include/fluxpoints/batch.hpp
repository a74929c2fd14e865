// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// LikelihoodBatch: every flux-point problem (one source x energy group) of a run, flattened into a
// structure-of-arrays that both backends read directly.
//
//   bins      counts, npred_ref, npred_other, counts_off, alpha      (one entry per masked bin)
//   segments  segment_bins[k] .. segment_bins[k+1] are the bins of one dataset of one problem;
//             segment_kind[k] says Cash or WStat
//   problems  problem_segments[p] .. problem_segments[p+1] are the datasets of problem p
//
// Only bins inside the dataset mask are stored: the statistic, counts, npred and npred_excess
// are all masked sums. A problem with no segment is a group no dataset overlaps;
// a segment with no bin is a dataset whose mask is empty in the group.

#include <cstdint>
#include <string>
#include <vector>

#include "fluxpoints/math/batch_solve.hpp"
#include "fluxpoints/math/nuisance_problem.hpp"
#include "fluxpoints/span.hpp"

namespace fluxpoints {

using math::StatKind;

// A batch the caller owns: the arrays of a LikelihoodBatch as raw pointers and sizes, read in
// place (numpy buffers handed in from Python, for example). Backends solve batches only through
// this view; the pointers must stay valid and unchanged until the solve returns.
//
//   arrays.counts .. arrays.alpha   n_bins entries each (may be null when n_bins = 0)
//   arrays.segment_bins             n_segments + 1 offsets, from 0 to n_bins
//   arrays.segment_kind             n_segments entries
//   arrays.problem_segments         n_problems + 1 offsets, from 0 to n_segments
//
// Optional linear nuisance parameters (reoptimize=True; layout in math/nuisance_problem.hpp):
//   nuisances.problem_nuisances     null (no problem has nuisances) or n_problems + 1 offsets,
//                                   from 0 to n_nuisances
//   nuisances.start, .min, .max     n_nuisances entries each
//   nuisances.template_offset       n_problems entries (read only for problems with nuisances)
//   nuisances.template_values       n_template_values entries
struct BatchView {
  math::BatchArrays arrays{};
  std::int64_t n_problems = 0;
  std::int64_t n_segments = 0;
  std::int64_t n_bins = 0;
  math::NuisanceArrays nuisances{};
  std::int64_t n_nuisances = 0;
  std::int64_t n_template_values = 0;
  // Optional names of the problems for error messages (n_problems entries); null: by index.
  const std::vector<std::string>* labels = nullptr;

  // Checks, in this order, so that nothing is read out of bounds: the sizes, the offset arrays
  // (start at 0, never decrease, end at the sizes), the statistic kinds, then every bin value
  // (finite; counts, counts_off and alpha not negative). Throws std::invalid_argument naming
  // the array and index, or the problem, dataset and bin. Backends call it before solving.
  // Nuisance arrays are checked for structure only (offsets, sizes, every problem's templates
  // inside template_values); their values are the solver's to judge, per problem (status
  // invalid_nuisance), so that one bad problem does not stop a batch.
  void validate() const;
  math::ProblemView problem(std::int64_t p) const { return arrays.problem(p); }
  // True when some problem carries nuisance parameters (the backends' reoptimize path).
  bool has_nuisances() const { return nuisances.problem_nuisances != nullptr && n_nuisances > 0; }

 private:
  void validate_nuisance_structure() const;
};

// Built only through begin_problem / begin_dataset / add_*_bin / add_nuisance, which keep every
// offset array consistent with what it indexes (each throws std::logic_error, or
// std::invalid_argument for a wrong-sized template, rather than leave the batch half-built);
// read through the const spans below or as_view(). So a LikelihoodBatch is always structurally
// valid: validate() has only its values left to judge.
class LikelihoodBatch {
 public:
  LikelihoodBatch();

  // --- building ---------------------------------------------------------------------------
  // Starts a new problem; `label` names it in error messages (e.g. "crab, group 3").
  std::int64_t begin_problem(std::string label = {});
  // Starts a new dataset (segment) inside the current problem.
  void begin_dataset(StatKind kind);
  // Adds a masked bin to the current dataset. n: counts; s: source counts at norm 1;
  // b: background + other models' counts (known).
  void add_cash_bin(double n, double s, double b);
  // n_on, n_off, alpha = acceptance / acceptance_off; s: source counts at norm 1;
  // other_signal: other sky models' counts in the ON region (usually 0).
  void add_wstat_bin(double n_on, double n_off, double alpha, double s, double other_signal = 0.0);
  // Adds a linear nuisance parameter to the current problem, after all of its bins: `start` is
  // where the fit starts, min/max its bounds (NaN: none; min == max pins it), `template_values`
  // its predicted counts per unit value in each of the problem's bins, in the order they were
  // added (over all of its datasets). Its contribution phi * t enters the prediction of Cash
  // bins next to the background, and the signal of WStat bins; `npred_other` then holds
  // everything else. No bin or dataset can be added to a problem once it has a nuisance.
  void add_nuisance(double start, double min, double max,
                    const std::vector<double>& template_values);
  void reserve(std::int64_t n_problems, std::int64_t n_bins);
  // Appends every problem of `other` (bins, segments, nuisances and labels) after this batch's
  // problems: problem p of `other` becomes problem n_problems() + p here.
  void append(const LikelihoodBatch& other);
  // The same, moving other's labels instead of copying them (other keeps its numbers).
  void append(LikelihoodBatch&& other);

  // Rejects non-finite or negative inputs with std::invalid_argument naming the problem, the
  // dataset and the bin (BatchView::validate). Backends call it before solving.
  void validate() const { as_view().validate(); }
  // The view backends solve; valid while the batch is alive and unchanged.
  BatchView as_view() const;

  // --- sizes and access -------------------------------------------------------------------
  // Spans are valid while the batch is alive and nothing is added to it.
  std::int64_t n_problems() const { return static_cast<std::int64_t>(problem_segments_.size()) - 1; }
  std::int64_t n_segments() const { return static_cast<std::int64_t>(segment_bins_.size()) - 1; }
  std::int64_t n_bins() const { return static_cast<std::int64_t>(counts_.size()); }
  std::int64_t n_nuisances() const { return problem_nuisances_.back(); }
  math::ProblemView view(std::int64_t problem) const;
  const std::string& label(std::int64_t problem) const { return labels_[problem]; }

  // Per bin (n_bins entries each).
  Span<const double> counts() const { return counts_; }
  Span<const double> npred_ref() const { return npred_ref_; }
  Span<const double> npred_other() const { return npred_other_; }
  Span<const double> counts_off() const { return counts_off_; }
  Span<const double> alpha() const { return alpha_; }
  // Per segment: bin offsets (n_segments + 1, from 0 to n_bins) and statistic (n_segments).
  Span<const std::int64_t> segment_bins() const { return segment_bins_; }
  Span<const StatKind> segment_kind() const { return segment_kind_; }
  // Per problem: segment offsets (n_problems + 1, from 0 to n_segments).
  Span<const std::int64_t> problem_segments() const { return problem_segments_; }
  // Nuisance parameters (see add_nuisance and BatchView): per problem the offsets of its
  // nuisances (n_problems + 1) and of its templates (n_problems); per nuisance start and bounds;
  // the templates, template-major over each problem's bins.
  Span<const std::int64_t> problem_nuisances() const { return problem_nuisances_; }
  Span<const std::int64_t> template_offset() const { return template_offset_; }
  Span<const double> nuisance_start() const { return nuisance_start_; }
  Span<const double> nuisance_min() const { return nuisance_min_; }
  Span<const double> nuisance_max() const { return nuisance_max_; }
  Span<const double> template_values() const { return template_values_; }

 private:
  void check_no_nuisance(const char* what) const;
  void append_numbers(const LikelihoodBatch& other);  // append() but the labels
  void add_bin(const char* what, StatKind kind, double n, double s, double other, double n_off,
               double alpha);

  std::vector<double> counts_, npred_ref_, npred_other_, counts_off_, alpha_;
  std::vector<std::int64_t> segment_bins_;
  std::vector<StatKind> segment_kind_;
  std::vector<std::int64_t> problem_segments_;
  std::vector<std::int64_t> problem_nuisances_;
  std::vector<std::int64_t> template_offset_;
  std::vector<double> nuisance_start_, nuisance_min_, nuisance_max_, template_values_;
  std::vector<std::string> labels_;
};

}  // namespace fluxpoints
