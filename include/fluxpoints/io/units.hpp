// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Physical unit strings as they appear in FITS TUNIT keywords and gammapy files ("keV", "cm2",
// "h-1 m2 s", "cm-2 s-1 TeV-1", "1 / (cm2 s TeV)", "m**2", "erg"). A unit is parsed into a scale
// factor times SI base dimensions, so any two units of the same dimension convert into each other.

#include <array>
#include <string>

namespace fluxpoints::io {

struct Unit {
  double scale = 1.0;  // value of one of this unit in SI base units (m, kg, s, rad)
  // Exponents of the base dimensions, in the order of Dimension.
  std::array<int, 4> dims{0, 0, 0, 0};
  enum Dimension { kLength = 0, kMass = 1, kTime = 2, kAngle = 3 };

  bool same_dimension(const Unit& other) const { return dims == other.dims; }
};

// Parses a unit expression: products of symbols with an SI prefix and an optional integer power
// ("cm2", "s-1", "m**2", "m^2"), separated by spaces, '.' or '*'; '/' divides by the next factor
// or parenthesised group; plain numbers scale. An empty string is dimensionless. Throws
// std::invalid_argument naming the text and the part that could not be read.
Unit parse_unit(const std::string& text);

// Factor that converts a value in `from` into `to` (value_to = value_from * factor). Throws
// std::invalid_argument when the two have different dimensions, naming both.
double unit_conversion_factor(const std::string& from, const std::string& to);

}  // namespace fluxpoints::io
