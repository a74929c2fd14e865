// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// EBL absorption factor tables (gammapy's EBLAbsorptionNormSpectralModel).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fluxpoints/math/hd.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "fluxpoints/models/units.hpp"
#include "host/io/fits_file.hpp"

namespace fluxpoints::models {
namespace {

constexpr const char* kXspecEnergyUnit = "keV";  // not stored in the file

// Interval i with grid[i] <= x <= grid[i+1], clamped to the first/last one (extrapolation), and
// the normalised distance t = (x - grid[i]) / (grid[i+1] - grid[i]), as scipy's
// RegularGridInterpolator.
void locate(const std::vector<double>& grid, double x, std::size_t& i, double& t) {
  i = 0;
  while (i + 2 < grid.size() && grid[i + 1] < x) ++i;
  t = (x - grid[i]) / (grid[i + 1] - grid[i]);
}

void check_ascending(const std::vector<double>& v, const char* what) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]) || (i > 0 && !(v[i] > v[i - 1])))
      throw std::invalid_argument(std::string("EBLAbsorptionNormSpectralModel: ") + what +
                                  " must be finite and strictly ascending");
  }
}

}  // namespace

EBLAbsorptionNormSpectralModel::EBLAbsorptionNormSpectralModel(std::vector<double> energies,
                                                               std::vector<double> redshifts,
                                                               std::vector<double> values,
                                                               double redshift, double alpha_norm,
                                                               const std::string& energy_unit)
    : energies_(std::move(energies)),
      redshifts_(std::move(redshifts)),
      values_(std::move(values)),
      energy_unit_(energy_unit) {
  if (energies_.size() < 2 || redshifts_.empty() ||
      values_.size() != energies_.size() * redshifts_.size())
    throw std::invalid_argument(
        "EBLAbsorptionNormSpectralModel: needs >= 2 energies, >= 1 redshift and "
        "n_redshift x n_energy values (got " +
        std::to_string(redshifts_.size()) + " x " + std::to_string(energies_.size()) + " for " +
        std::to_string(values_.size()) + ")");
  check_ascending(energies_, "energies");
  check_ascending(redshifts_, "redshifts");
  if (!(energies_.front() > 0.0))
    throw std::invalid_argument("EBLAbsorptionNormSpectralModel: energies must be > 0");
  tev_to_node_unit_ = unit_conversion_factor(kUnitEnergy, energy_unit_);
  for (double e : energies_) log_energies_.push_back(std::log(e));
  // Values are interpolated in log, with values <= 0 clipped to the smallest positive double.
  for (double v : values_) log_values_.push_back(std::log(math::dmax(v, math::kSmallestPositive)));
  Parameter z;
  z.name = "redshift";
  z.value = redshift;
  z.frozen = true;
  Parameter a;
  a.name = "alpha_norm";
  a.value = alpha_norm;
  a.frozen = true;
  parameters_ = {z, a};
}

double EBLAbsorptionNormSpectralModel::evaluate(double e, const Parameter* p) const {
  const double redshift = p[0].value, alpha_norm = p[1].value;
  const std::size_t ne = energies_.size();
  std::size_t ie = 0;
  double te = 0.0;
  locate(log_energies_, std::log(math::dmax(e * tev_to_node_unit_, math::kSmallestPositive)), ie,
         te);
  double lv;
  if (redshifts_.size() == 1) {  // a length-1 axis is dropped from the interpolation (gammapy)
    lv = log_values_[ie] * (1.0 - te) + log_values_[ie + 1] * te;
  } else {
    std::size_t iz = 0;
    double tz = 0.0;
    locate(redshifts_, redshift, iz, tz);
    const double* v0 = &log_values_[iz * ne];
    const double* v1 = &log_values_[(iz + 1) * ne];
    lv = v0[ie] * (1.0 - tz) * (1.0 - te) + v0[ie + 1] * (1.0 - tz) * te +
         v1[ie] * tz * (1.0 - te) + v1[ie + 1] * tz * te;
  }
  double absorption = std::exp(lv);
  if (std::abs(absorption) - math::kSmallestPositive <= math::kSmallestPositive) absorption = 0.0;
  absorption = std::min(std::max(absorption, 0.0), 1.0);
  return std::pow(absorption, alpha_norm);
}

namespace {

// The table's redshift grid, energy nodes and absorption values (n_redshift x n_energy).
struct EblTable {
  std::vector<double> energies;
  std::vector<double> redshifts;
  std::vector<double> values;
};

// Reads the XSPEC-style table; errors name the file and the HDU.
EblTable read_ebl_table(const std::string& path) {
  io::FitsFile t(path, io::FitsFile::Mode::kRead);
  t.move_to("PARAMETERS");
  const std::vector<double> raw = t.read_row_array("VALUE", 1);
  // The redshift grid may repeat values: keep the sorted unique ones and the first row of each.
  std::vector<std::pair<double, std::size_t>> order;
  for (std::size_t i = 0; i < raw.size(); ++i) order.emplace_back(raw[i], i);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<double> redshifts;
  std::vector<std::size_t> rows;
  for (const auto& [z, i] : order) {
    if (!redshifts.empty() && z == redshifts.back()) continue;
    redshifts.push_back(z);
    rows.push_back(i);
  }
  t.move_to("ENERGIES");
  const long n_energy = t.num_rows();
  std::vector<double> energies;
  for (long r = 1; r <= n_energy; ++r) {
    const double lo = t.read_row_array("ENERG_LO", r).at(0);
    const double hi = t.read_row_array("ENERG_HI", r).at(0);
    energies.push_back(std::sqrt(lo * hi));
  }
  t.move_to("SPECTRA");
  const long n_spectra = t.num_rows();
  std::vector<double> values;
  for (std::size_t row : rows) {
    if (static_cast<long>(row) >= n_spectra)
      throw std::runtime_error(path + ": HDU SPECTRA: fewer rows (" + std::to_string(n_spectra) +
                               ") than redshifts");
    const auto spectrum = t.read_row_array("INTPSPEC", static_cast<long>(row) + 1);
    if (static_cast<long>(spectrum.size()) != n_energy)
      throw std::runtime_error(path + ": HDU SPECTRA: INTPSPEC has " +
                               std::to_string(spectrum.size()) + " values, ENERGIES has " +
                               std::to_string(n_energy) + " rows");
    values.insert(values.end(), spectrum.begin(), spectrum.end());
  }
  return {std::move(energies), std::move(redshifts), std::move(values)};
}

}  // namespace

std::unique_ptr<EBLAbsorptionNormSpectralModel> EBLAbsorptionNormSpectralModel::read(
    const std::string& path, double redshift, double alpha_norm) {
  EblTable table;
  try {
    table = read_ebl_table(path);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("EBL table: ") + e.what());
  }
  std::unique_ptr<EBLAbsorptionNormSpectralModel> m;
  try {
    m = std::make_unique<EBLAbsorptionNormSpectralModel>(
        std::move(table.energies), std::move(table.redshifts), std::move(table.values), redshift,
        alpha_norm, kXspecEnergyUnit);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("EBL table '" + path + "': " + e.what());
  }
  m->filename = path;
  return m;
}

}  // namespace fluxpoints::models
