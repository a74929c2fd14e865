// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/batch.hpp"

#include <fmt/core.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "fluxpoints/limits.hpp"

namespace fluxpoints {

LikelihoodBatch::LikelihoodBatch() : segment_bins{0}, problem_segments{0} {}

std::int64_t LikelihoodBatch::begin_problem(std::string label) {
  problem_segments.push_back(problem_segments.back());
  labels_.push_back(std::move(label));
  return n_problems() - 1;
}

void LikelihoodBatch::begin_dataset(StatKind kind) {
  if (n_problems() == 0) throw std::logic_error("LikelihoodBatch: begin_dataset before begin_problem");
  segment_bins.push_back(segment_bins.back());
  segment_kind.push_back(kind);
  ++problem_segments.back();
}

void LikelihoodBatch::add_cash_bin(double n, double s, double b) {
  if (segment_kind.empty() || segment_kind.back() != StatKind::cash)
    throw std::logic_error("LikelihoodBatch: add_cash_bin outside a Cash dataset");
  counts.push_back(n);
  npred_ref.push_back(s);
  npred_other.push_back(b);
  counts_off.push_back(0.0);
  alpha.push_back(0.0);
  ++segment_bins.back();
}

void LikelihoodBatch::add_wstat_bin(double n_on, double n_off, double a, double s, double other) {
  if (segment_kind.empty() || segment_kind.back() != StatKind::wstat)
    throw std::logic_error("LikelihoodBatch: add_wstat_bin outside a WStat dataset");
  counts.push_back(n_on);
  npred_ref.push_back(s);
  npred_other.push_back(other);
  counts_off.push_back(n_off);
  alpha.push_back(a);
  ++segment_bins.back();
}

void LikelihoodBatch::reserve(std::int64_t problems, std::int64_t bins) {
  problem_segments.reserve(problems + 1);
  labels_.reserve(problems);
  for (auto* v : {&counts, &npred_ref, &npred_other, &counts_off, &alpha}) v->reserve(bins);
}

math::ProblemView LikelihoodBatch::view(std::int64_t p) const {
  return math::ProblemView{counts.data(),       npred_ref.data(),    npred_other.data(),
                           counts_off.data(),   alpha.data(),        segment_bins.data(),
                           segment_kind.data(), problem_segments[p], problem_segments[p + 1]};
}

void LikelihoodBatch::validate() const {
  const auto where = [&](std::int64_t p, std::int64_t k, std::int64_t i) {
    std::ostringstream os;
    os << "problem " << p;
    if (!labels_[p].empty()) os << " (" << labels_[p] << ")";
    os << ", dataset " << (k - problem_segments[p]) << ", bin " << (i - segment_bins[k]);
    return os.str();
  };
  for (std::int64_t p = 0; p < n_problems(); ++p) {
    for (std::int64_t k = problem_segments[p]; k < problem_segments[p + 1]; ++k) {
      const bool wstat = segment_kind[k] == StatKind::wstat;
      for (std::int64_t i = segment_bins[k]; i < segment_bins[k + 1]; ++i) {
        // `limit`: the largest magnitude the statistic's arithmetic handles (limits.hpp).
        const auto check = [&](double x, const char* field, bool non_negative, double limit) {
          if (!std::isfinite(x))
            throw std::invalid_argument(where(p, k, i) + ": " + field + " is not finite (" +
                                        fmt::format("{}", x) + ")");
          if (non_negative && x < 0)
            throw std::invalid_argument(where(p, k, i) + ": " + field + " is negative (" +
                                        fmt::format("{}", x) + ")");
          if (std::fabs(x) > limit)
            throw std::invalid_argument(
                where(p, k, i) + ": " + field + " = " + fmt::format("{:g}", x) + " exceeds " +
                fmt::format("{:g}", limit) +
                ", the largest magnitude the statistic handles without overflow");
        };
        const double n_max = limits::kMaxCounts;
        check(counts[i], wstat ? "counts (ON)" : "counts", true, n_max);
        check(npred_ref[i], "npred_ref (source counts at norm 1)", false, n_max);
        check(npred_other[i], wstat ? "npred_other (other models' signal)" : "npred_other (background)",
              false, n_max);
        if (wstat) {
          check(counts_off[i], "counts_off", true, n_max);
          check(alpha[i], "alpha", true, limits::kMaxAlpha);
        }
      }
    }
  }
}

}  // namespace fluxpoints
