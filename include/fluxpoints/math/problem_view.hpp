// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A read-only view of one likelihood problem (one source x energy group) inside a flattened batch:
// the total statistic S(theta) and its derivatives, summed over the problem's datasets and bins.
// The same struct is used by the CPU (Kokkos) backend and by the CUDA kernels (thread per problem, or
// one block per problem summing strided partial sums); it only holds raw pointers into the batch's structure-of-arrays.

#include "fluxpoints/math/statistic.hpp"

namespace fluxpoints::math {

// Which statistic a dataset segment uses. One value per segment, so the inner bin loops never
// branch on it.
enum class StatKind : std::uint8_t { cash = 0, wstat = 1 };

struct ProfilePoint {
  double value;  // S(theta)
  double d1;     // S'(theta)
  double d2;     // S''(theta)
};

struct ProblemView {
  // Per-bin arrays of the whole batch (absolute indices).
  const double* counts;       // n (ON counts for WStat)
  const double* npred_ref;    // s: source counts at theta = 1
  const double* npred_other;  // Cash: background + other models; WStat: other models' signal
  const double* counts_off;   // WStat only
  const double* alpha;        // WStat only
  // Dataset segments of this problem: bins [segment_bins[k], segment_bins[k+1]) for k in
  // [segment_begin, segment_end).
  const std::int64_t* segment_bins;
  const StatKind* segment_kind;
  std::int64_t segment_begin;
  std::int64_t segment_end;

  FLUXPOINTS_HD std::int64_t n_bins() const {
    return segment_bins[segment_end] - segment_bins[segment_begin];
  }

  // Every sum below visits, in each dataset segment, the bins segment_start + first,
  // + first + stride, ... . A single worker uses (first, stride) = (0, 1); the CUDA block-per-
  // problem path lets thread t of a block of T threads take (t, T) and reduces the partial sums
  // in a fixed order, so both see the same per-bin terms.

  FLUXPOINTS_HD ProfilePoint partial_profile(double theta, std::int64_t first,
                                             std::int64_t stride) const {
    ProfilePoint p{0.0, 0.0, 0.0};
    for (std::int64_t k = segment_begin; k < segment_end; ++k) {
      const std::int64_t end = segment_bins[k + 1];
      if (segment_kind[k] == StatKind::cash) {
        for (std::int64_t i = segment_bins[k] + first; i < end; i += stride) {
          const BinTerms t = cash_bin(counts[i], npred_ref[i], npred_other[i], theta);
          p.value += t.value;
          p.d1 += t.d1;
          p.d2 += t.d2;
        }
      } else {
        for (std::int64_t i = segment_bins[k] + first; i < end; i += stride) {
          const BinTerms t =
              wstat_bin(counts[i], counts_off[i], alpha[i], npred_ref[i], npred_other[i], theta);
          p.value += t.value;
          p.d1 += t.d1;
          p.d2 += t.d2;
        }
      }
    }
    return p;
  }

  FLUXPOINTS_HD ProfilePoint profile(double theta) const { return partial_profile(theta, 0, 1); }

  FLUXPOINTS_HD double value(double theta) const { return profile(theta).value; }

  // S at up to K norms in one pass over the bins (scans): each bin is read once for all norms,
  // which are held in registers. Adds to acc[0..n_thetas) (n_thetas <= K); the caller zeroes it.
  template <int K>
  FLUXPOINTS_HD void partial_values(const double (&thetas)[K], int n_thetas, std::int64_t first,
                                    std::int64_t stride, double (&acc)[K]) const {
    for (std::int64_t k = segment_begin; k < segment_end; ++k) {
      const std::int64_t end = segment_bins[k + 1];
      if (segment_kind[k] == StatKind::cash) {
        for (std::int64_t i = segment_bins[k] + first; i < end; i += stride) {
          const double n = counts[i], s = npred_ref[i], o = npred_other[i];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
          for (int j = 0; j < K; ++j)
            if (j < n_thetas) acc[j] += cash_value(n, s, o, thetas[j]);
        }
      } else {
        for (std::int64_t i = segment_bins[k] + first; i < end; i += stride) {
          const double n = counts[i], s = npred_ref[i], o = npred_other[i];
          const double n_off = counts_off[i], a = alpha[i];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
          for (int j = 0; j < K; ++j)
            if (j < n_thetas) acc[j] += wstat_value(n, n_off, a, s, o, thetas[j]);
        }
      }
    }
  }

  // Number of norms one scan pass keeps in registers.
  static constexpr int kScanNormsPerPass = 16;

  // S at several norms (scans), kScanNormsPerPass norms per pass over the bins.
  FLUXPOINTS_HD void values(const double* thetas, int n_thetas, double* out) const {
    constexpr int K = kScanNormsPerPass;
    for (int j0 = 0; j0 < n_thetas; j0 += K) {
      const int n = n_thetas - j0 < K ? n_thetas - j0 : K;
      double t[K], acc[K];
      for (int j = 0; j < K; ++j) {
        t[j] = j < n ? thetas[j0 + j] : 0.0;
        acc[j] = 0.0;
      }
      partial_values<K>(t, n, 0, 1, acc);
      for (int j = 0; j < n; ++j) out[j0 + j] = acc[j];
    }
  }

  // Per-dataset sums reported for segment k at norm theta: counts, total
  // predicted counts (clipped per bin) and the source-only excess theta * sum(s).
  struct DatasetSums {
    double counts;
    double npred;
    double npred_ref;  // sum of s; the excess is theta times it
  };
  FLUXPOINTS_HD DatasetSums partial_dataset_sums(std::int64_t k, double theta, std::int64_t first,
                                                 std::int64_t stride) const {
    DatasetSums d{0.0, 0.0, 0.0};
    const bool cash = segment_kind[k] == StatKind::cash;
    for (std::int64_t i = segment_bins[k] + first; i < segment_bins[k + 1]; i += stride) {
      d.counts += counts[i];
      d.npred_ref += npred_ref[i];
      d.npred += cash ? cash_bin(counts[i], npred_ref[i], npred_other[i], theta).npred
                      : wstat_bin(counts[i], counts_off[i], alpha[i], npred_ref[i], npred_other[i],
                                  theta).npred;
    }
    return d;
  }
  FLUXPOINTS_HD DatasetSums dataset_sums(std::int64_t k, double theta) const {
    return partial_dataset_sums(k, theta, 0, 1);
  }

  // Lowest norm at which the statistic is still finite and convex: Cash bins with n > 0 need
  // theta*s + b > 0, i.e. theta > -b/s for s > 0 (below it the bin saturates at the truncation
  // value and the profile is flat). -inf when no bin limits it (WStat is defined on
  // the whole real line).
  FLUXPOINTS_HD double partial_feasible_min(std::int64_t first, std::int64_t stride) const {
    double lo = -kInf;
    for (std::int64_t k = segment_begin; k < segment_end; ++k) {
      if (segment_kind[k] != StatKind::cash) continue;
      for (std::int64_t i = segment_bins[k] + first; i < segment_bins[k + 1]; i += stride) {
        if (counts[i] > 0.0 && npred_ref[i] > 0.0) lo = dmax(lo, -npred_other[i] / npred_ref[i]);
      }
    }
    return lo;
  }
  FLUXPOINTS_HD double feasible_min() const { return partial_feasible_min(0, 1); }
};

}  // namespace fluxpoints::math
