// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/batch.hpp"

#include <cmath>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "fluxpoints/limits.hpp"

namespace fluxpoints {
namespace {

// A value as error messages show it: %g-like, and "nan" whatever the sign bit (the engine links
// no formatting library).
std::string number_text(double x) {
  if (std::isnan(x)) return "nan";
  std::ostringstream os;
  os << x;
  return os.str();
}

}  // namespace

LikelihoodBatch::LikelihoodBatch()
    : segment_bins_{0}, problem_segments_{0}, problem_nuisances_{0} {}

std::int64_t LikelihoodBatch::begin_problem(std::string label) {
  problem_segments_.push_back(problem_segments_.back());
  problem_nuisances_.push_back(problem_nuisances_.back());
  template_offset_.push_back(static_cast<std::int64_t>(template_values_.size()));
  labels_.push_back(std::move(label));
  return n_problems() - 1;
}

void LikelihoodBatch::check_no_nuisance(const char* what) const {
  if (n_problems() > 0 && problem_nuisances_[n_problems()] != problem_nuisances_[n_problems() - 1])
    throw std::logic_error(std::string("LikelihoodBatch: ") + what +
                           " after add_nuisance (a problem's nuisances come after its bins)");
}

void LikelihoodBatch::add_nuisance(double start, double min, double max,
                                   const std::vector<double>& values) {
  if (n_problems() == 0)
    throw std::logic_error("LikelihoodBatch: add_nuisance before begin_problem");
  const std::int64_t p = n_problems() - 1;
  const std::int64_t bins =
      segment_bins_[problem_segments_[p + 1]] - segment_bins_[problem_segments_[p]];
  if (static_cast<std::int64_t>(values.size()) != bins)
    throw std::invalid_argument("LikelihoodBatch: nuisance " +
                                std::to_string(problem_nuisances_[p + 1] - problem_nuisances_[p]) +
                                " of problem " + std::to_string(p) + " has " +
                                std::to_string(values.size()) + " template values for " +
                                std::to_string(bins) + " bins");
  template_values_.insert(template_values_.end(), values.begin(), values.end());
  nuisance_start_.push_back(start);
  nuisance_min_.push_back(min);
  nuisance_max_.push_back(max);
  ++problem_nuisances_.back();
}

void LikelihoodBatch::append(const LikelihoodBatch& other) {
  append_numbers(other);
  labels_.insert(labels_.end(), other.labels_.begin(), other.labels_.end());
}

void LikelihoodBatch::append(LikelihoodBatch&& other) {
  append_numbers(other);
  labels_.insert(labels_.end(), std::make_move_iterator(other.labels_.begin()),
                 std::make_move_iterator(other.labels_.end()));
}

void LikelihoodBatch::append_numbers(const LikelihoodBatch& other) {
  const std::int64_t bin0 = n_bins(), segment0 = n_segments(), nuisance0 = n_nuisances();
  const std::int64_t template0 = static_cast<std::int64_t>(template_values_.size());
  const auto extend = [](auto& to, const auto& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  extend(counts_, other.counts_);
  extend(npred_ref_, other.npred_ref_);
  extend(npred_other_, other.npred_other_);
  extend(counts_off_, other.counts_off_);
  extend(alpha_, other.alpha_);
  for (std::int64_t k = 1; k <= other.n_segments(); ++k)
    segment_bins_.push_back(other.segment_bins_[k] + bin0);
  extend(segment_kind_, other.segment_kind_);
  for (std::int64_t p = 1; p <= other.n_problems(); ++p) {
    problem_segments_.push_back(other.problem_segments_[p] + segment0);
    problem_nuisances_.push_back(other.problem_nuisances_[p] + nuisance0);
    template_offset_.push_back(other.template_offset_[p - 1] + template0);
  }
  extend(nuisance_start_, other.nuisance_start_);
  extend(nuisance_min_, other.nuisance_min_);
  extend(nuisance_max_, other.nuisance_max_);
  extend(template_values_, other.template_values_);
}

void LikelihoodBatch::begin_dataset(StatKind kind) {
  if (n_problems() == 0)
    throw std::logic_error("LikelihoodBatch: begin_dataset before begin_problem");
  if (kind != StatKind::cash && kind != StatKind::wstat)
    throw std::invalid_argument("LikelihoodBatch: begin_dataset with statistic kind " +
                                std::to_string(static_cast<unsigned>(kind)) +
                                " (expected 0 = cash or 1 = wstat)");
  check_no_nuisance("begin_dataset");
  segment_bins_.push_back(segment_bins_.back());
  segment_kind_.push_back(kind);
  ++problem_segments_.back();
}

// A bin goes into the current problem's last dataset, which must exist and be of `kind`: a bin
// added before the problem's first begin_dataset would otherwise land in the previous problem.
void LikelihoodBatch::add_bin(const char* what, StatKind kind, double n, double s, double other,
                              double n_off, double a) {
  const std::int64_t p = n_problems() - 1;
  if (p < 0 || problem_segments_[p + 1] == problem_segments_[p])
    throw std::logic_error(std::string("LikelihoodBatch: ") + what + " before begin_dataset" +
                           (p < 0 ? " (and begin_problem)" : " in problem " + std::to_string(p)));
  if (segment_kind_.back() != kind)
    throw std::logic_error(std::string("LikelihoodBatch: ") + what + " in a " +
                           (kind == StatKind::cash ? "WStat" : "Cash") + " dataset");
  check_no_nuisance(what);
  counts_.push_back(n);
  npred_ref_.push_back(s);
  npred_other_.push_back(other);
  counts_off_.push_back(n_off);
  alpha_.push_back(a);
  ++segment_bins_.back();
}

void LikelihoodBatch::add_cash_bin(double n, double s, double b) {
  add_bin("add_cash_bin", StatKind::cash, n, s, b, 0.0, 0.0);
}

void LikelihoodBatch::add_wstat_bin(double n_on, double n_off, double a, double s, double other) {
  add_bin("add_wstat_bin", StatKind::wstat, n_on, s, other, n_off, a);
}

void LikelihoodBatch::reserve(std::int64_t problems, std::int64_t bins) {
  problem_segments_.reserve(problems + 1);
  problem_nuisances_.reserve(problems + 1);
  template_offset_.reserve(problems);
  labels_.reserve(problems);
  for (auto* v : {&counts_, &npred_ref_, &npred_other_, &counts_off_, &alpha_}) v->reserve(bins);
}

math::ProblemView LikelihoodBatch::view(std::int64_t p) const {
  return math::ProblemView{counts_.data(),       npred_ref_.data(),    npred_other_.data(),
                           counts_off_.data(),   alpha_.data(),        segment_bins_.data(),
                           segment_kind_.data(), problem_segments_[p], problem_segments_[p + 1]};
}

BatchView LikelihoodBatch::as_view() const {
  // The builders keep every array consistent with the offsets, so no size check is needed here.
  BatchView v;
  v.arrays = math::BatchArrays{counts_.data(),       npred_ref_.data(),    npred_other_.data(),
                               counts_off_.data(),   alpha_.data(),        segment_bins_.data(),
                               segment_kind_.data(), problem_segments_.data()};
  v.n_problems = n_problems();
  v.n_segments = n_segments();
  v.n_bins = n_bins();
  v.labels = &labels_;
  // Without nuisances the view carries none: the backends' plain path, unchanged.
  if (n_nuisances() > 0) {
    v.nuisances = math::NuisanceArrays{problem_nuisances_.data(), template_offset_.data(),
                                       template_values_.data(),   nuisance_start_.data(),
                                       nuisance_min_.data(),      nuisance_max_.data()};
    v.n_nuisances = n_nuisances();
    v.n_template_values = static_cast<std::int64_t>(template_values_.size());
  }
  return v;
}

namespace {

// Offsets must start at 0, never decrease and end at `total` (the size of what they index).
void check_offsets(const std::int64_t* offsets, std::int64_t n, std::int64_t total,
                   const char* name, const char* of) {
  if (offsets == nullptr) throw std::invalid_argument(std::string("batch: ") + name + " is null");
  if (offsets[0] != 0)
    throw std::invalid_argument(std::string("batch: ") + name + "[0] must be 0, got " +
                                std::to_string(offsets[0]));
  for (std::int64_t i = 0; i < n; ++i)
    if (offsets[i + 1] < offsets[i])
      throw std::invalid_argument(std::string("batch: ") + name + " decreases at index " +
                                  std::to_string(i + 1) + " (" + std::to_string(offsets[i]) +
                                  " -> " + std::to_string(offsets[i + 1]) + ")");
  if (offsets[n] != total)
    throw std::invalid_argument(std::string("batch: ") + name + "[" + std::to_string(n) +
                                "] must equal the number of " + of + " (" +
                                std::to_string(total) + "), got " + std::to_string(offsets[n]));
}

}  // namespace

void BatchView::validate() const {
  // 1. Structure: nothing below reads an index these checks have not bounded.
  if (n_problems < 0 || n_segments < 0 || n_bins < 0)
    throw std::invalid_argument("batch: negative size (problems " + std::to_string(n_problems) +
                                ", segments " + std::to_string(n_segments) + ", bins " +
                                std::to_string(n_bins) + ")");
  check_offsets(arrays.problem_segments, n_problems, n_segments, "problem_segments", "segments");
  check_offsets(arrays.segment_bins, n_segments, n_bins, "segment_bins", "bins");
  if (n_segments > 0 && arrays.segment_kind == nullptr)
    throw std::invalid_argument("batch: segment_kind is null");
  for (std::int64_t k = 0; k < n_segments; ++k) {
    const auto kind = static_cast<unsigned>(arrays.segment_kind[k]);
    if (kind != static_cast<unsigned>(StatKind::cash) &&
        kind != static_cast<unsigned>(StatKind::wstat))
      throw std::invalid_argument("batch: segment_kind[" + std::to_string(k) + "] is " +
                                  std::to_string(kind) + " (expected 0 = cash or 1 = wstat)");
  }
  if (n_bins > 0) {
    const double* bins[] = {arrays.counts, arrays.npred_ref, arrays.npred_other,
                            arrays.counts_off, arrays.alpha};
    const char* names[] = {"counts", "npred_ref", "npred_other", "counts_off", "alpha"};
    for (int a = 0; a < 5; ++a)
      if (bins[a] == nullptr)
        throw std::invalid_argument(std::string("batch: ") + names[a] + " is null");
  }
  if (labels != nullptr && static_cast<std::int64_t>(labels->size()) != n_problems)
    throw std::invalid_argument("batch: " + std::to_string(labels->size()) + " labels for " +
                                std::to_string(n_problems) + " problems");
  validate_nuisance_structure();

  // 2. Values.
  const math::BatchArrays& a = arrays;
  const auto where = [&](std::int64_t p, std::int64_t k, std::int64_t i) {
    std::ostringstream os;
    os << "problem " << p;
    if (labels != nullptr && !(*labels)[p].empty()) os << " (" << (*labels)[p] << ")";
    os << ", dataset " << (k - a.problem_segments[p]) << ", bin " << (i - a.segment_bins[k]);
    return os.str();
  };
  for (std::int64_t p = 0; p < n_problems; ++p) {
    for (std::int64_t k = a.problem_segments[p]; k < a.problem_segments[p + 1]; ++k) {
      const bool wstat = a.segment_kind[k] == StatKind::wstat;
      for (std::int64_t i = a.segment_bins[k]; i < a.segment_bins[k + 1]; ++i) {
        // `limit`: the largest magnitude the statistic's arithmetic handles (limits.hpp).
        const auto check = [&](double x, const char* field, bool non_negative, double limit) {
          if (!std::isfinite(x))
            throw std::invalid_argument(where(p, k, i) + ": " + field + " is not finite (" +
                                        number_text(x) + ")");
          if (non_negative && x < 0)
            throw std::invalid_argument(where(p, k, i) + ": " + field + " is negative (" +
                                        number_text(x) + ")");
          if (std::fabs(x) > limit)
            throw std::invalid_argument(
                where(p, k, i) + ": " + field + " = " + number_text(x) + " exceeds " +
                number_text(limit) +
                ", the largest magnitude the statistic handles without overflow");
        };
        const double n_max = limits::kMaxCounts;
        check(a.counts[i], wstat ? "counts (ON)" : "counts", true, n_max);
        check(a.npred_ref[i], "npred_ref (source counts at norm 1)", false, n_max);
        check(a.npred_other[i],
              wstat ? "npred_other (other models' signal)" : "npred_other (background)", false,
              n_max);
        if (wstat) {
          check(a.counts_off[i], "counts_off", true, n_max);
          check(a.alpha[i], "alpha", true, limits::kMaxAlpha);
        }
      }
    }
  }
}

void BatchView::validate_nuisance_structure() const {
  const math::NuisanceArrays& nu = nuisances;
  if (nu.problem_nuisances == nullptr) {
    if (n_nuisances != 0)
      throw std::invalid_argument("batch: nuisances.problem_nuisances is null but n_nuisances is " +
                                  std::to_string(n_nuisances));
    return;
  }
  if (n_nuisances < 0 || n_template_values < 0)
    throw std::invalid_argument("batch: negative nuisance size (nuisances " +
                                std::to_string(n_nuisances) + ", template values " +
                                std::to_string(n_template_values) + ")");
  check_offsets(nu.problem_nuisances, n_problems, n_nuisances, "nuisances.problem_nuisances",
                "nuisances");
  if (n_nuisances == 0) return;
  const double* per_nuisance[] = {nu.start, nu.min, nu.max};
  const char* names[] = {"nuisances.start", "nuisances.min", "nuisances.max"};
  for (int a = 0; a < 3; ++a)
    if (per_nuisance[a] == nullptr)
      throw std::invalid_argument(std::string("batch: ") + names[a] + " is null");
  if (nu.template_offset == nullptr)
    throw std::invalid_argument("batch: nuisances.template_offset is null");
  if (n_template_values > 0 && nu.template_values == nullptr)
    throw std::invalid_argument("batch: nuisances.template_values is null");
  for (std::int64_t p = 0; p < n_problems; ++p) {
    const std::int64_t k = nu.problem_nuisances[p + 1] - nu.problem_nuisances[p];
    if (k == 0) continue;
    const std::int64_t bins = arrays.segment_bins[arrays.problem_segments[p + 1]] -
                              arrays.segment_bins[arrays.problem_segments[p]];
    const std::int64_t begin = nu.template_offset[p];
    // k * bins values from `begin`, inside the array (written to avoid overflow).
    if (begin < 0 || begin > n_template_values ||
        (bins > 0 && k > (n_template_values - begin) / bins)) {
      std::string name = "problem " + std::to_string(p);
      if (labels != nullptr && !(*labels)[p].empty()) name += " (" + (*labels)[p] + ")";
      throw std::invalid_argument(
          "batch: " + name + ": its " + std::to_string(k) + " nuisance templates over " +
          std::to_string(bins) + " bins need template_values[" + std::to_string(begin) + " .. " +
          std::to_string(begin) + " + " + std::to_string(k) + " x " + std::to_string(bins) +
          "), but template_values has " + std::to_string(n_template_values) + " entries");
    }
  }
}

}  // namespace fluxpoints
