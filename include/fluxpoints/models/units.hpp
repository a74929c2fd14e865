// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A small parser for the astropy unit strings found in gammapy files ("cm-2 s-1 TeV-1",
// "TeV-1 s-1 cm-2", "1 / (cm2 s TeV)", "erg / (cm2 s)", "m-2 s-1 TeV-1", "keV", "deg", ...),
// enough to convert values to the library's internal units (TeV, cm, s, deg).

#include <array>
#include <string>

namespace fluxpoints::models {

// A unit as scale * TeV^e * cm^l * s^t * deg^a (exponents in that order).
struct Unit {
  double scale = 1.0;
  std::array<int, 4> exponents{0, 0, 0, 0};
  bool same_dimension(const Unit& other) const { return exponents == other.exponents; }
};

// Parses an astropy-style unit string: products separated by spaces, '*' or '.', division by '/',
// integer powers written as suffixes ("cm2", "s-1"), with "**" or "^" ("cm**-2", "cm^(-2)"),
// parentheses, and a leading numeric factor ("1e-12 TeV"). "" is dimensionless.
// Throws std::invalid_argument naming the unit string and the unknown token.
Unit parse_unit(const std::string& text);

// Factor f such that a value in `from` times f is the value in `to`. Throws
// std::invalid_argument if either does not parse or the dimensions differ.
double unit_conversion_factor(const std::string& from, const std::string& to);

}  // namespace fluxpoints::models
