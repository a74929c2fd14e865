// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/estimator/summed_groups.hpp"

#include <cstdint>

#include "fluxpoints/math/hd.hpp"

namespace fluxpoints {

namespace {

bool is_safe(const datasets::SpectrumDataset& d, std::size_t i) {
  return d.mask_safe.empty() || d.mask_safe[i] != 0;
}

// Per pixel: whether any of its bins in `r` is set.
std::vector<std::uint8_t> any_per_pixel(const std::vector<std::uint8_t>& mask, BinRange r,
                                        std::size_t n_pixels) {
  std::vector<std::uint8_t> out(n_pixels, 0);
  for (std::size_t e = r.begin; e < r.end; ++e)
    for (std::size_t px = 0; px < n_pixels; ++px) out[px] |= mask[e * n_pixels + px] != 0;
  return out;
}

}  // namespace

std::vector<double> sum_safe_bins(const std::vector<double>& values,
                                  const datasets::SpectrumDataset& d, BinRange r,
                                  std::size_t n_pixels) {
  if (values.empty()) return {};
  std::vector<double> sum(n_pixels, 0.0);
  for (std::size_t e = r.begin; e < r.end; ++e)
    for (std::size_t px = 0; px < n_pixels; ++px) {
      const std::size_t i = e * n_pixels + px;
      if (is_safe(d, i)) sum[px] += values[i];
    }
  return sum;
}

datasets::SpectrumDataset sum_energy_group(const datasets::SpectrumDataset& d, BinRange r,
                                           std::size_t n_pixels) {
  datasets::SpectrumDataset out;
  out.name = d.name;
  out.on_off = d.on_off;
  out.counts = sum_safe_bins(d.counts, d, r, n_pixels);
  if (d.on_off) {
    out.counts_off = sum_safe_bins(d.counts_off, d, r, n_pixels);
    std::vector<double> alpha_n_off(d.counts.size());
    for (std::size_t i = 0; i < alpha_n_off.size(); ++i)
      alpha_n_off[i] = math::nan_to_num(d.alpha[i]) * d.counts_off[i];
    out.alpha = sum_safe_bins(alpha_n_off, d, r, n_pixels);
    for (std::size_t px = 0; px < n_pixels; ++px)
      out.alpha[px] = math::nan_to_num(out.alpha[px] / out.counts_off[px]);
  } else {
    out.background = sum_safe_bins(d.background, d, r, n_pixels);
  }
  if (!d.mask_safe.empty()) out.mask_safe = any_per_pixel(d.mask_safe, r, n_pixels);
  if (!d.mask_fit.empty()) out.mask_fit = any_per_pixel(d.mask_fit, r, n_pixels);
  return out;
}

}  // namespace fluxpoints
