// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/io/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace fluxpoints::io {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kElectronVoltJoule = 1.602176634e-19;  // exact (SI 2019)
constexpr double kJulianYearSeconds = 365.25 * 86400.0;

struct Symbol {
  const char* name;
  double scale;
  std::array<int, 4> dims;  // m, kg, s, rad
  bool takes_prefix;
};

// Units found in gamma-ray files; energy is kg m2 s-2.
constexpr Symbol kSymbols[] = {
    {"m", 1.0, {1, 0, 0, 0}, true},
    {"g", 1e-3, {0, 1, 0, 0}, true},
    {"s", 1.0, {0, 0, 1, 0}, true},
    {"min", 60.0, {0, 0, 1, 0}, false},
    {"h", 3600.0, {0, 0, 1, 0}, false},
    {"d", 86400.0, {0, 0, 1, 0}, false},
    {"yr", kJulianYearSeconds, {0, 0, 1, 0}, false},
    {"Hz", 1.0, {0, 0, -1, 0}, true},
    {"eV", kElectronVoltJoule, {2, 1, -2, 0}, true},
    {"J", 1.0, {2, 1, -2, 0}, true},
    {"erg", 1e-7, {2, 1, -2, 0}, false},
    {"rad", 1.0, {0, 0, 0, 1}, true},
    {"deg", kPi / 180.0, {0, 0, 0, 1}, false},
    {"arcmin", kPi / 180.0 / 60.0, {0, 0, 0, 1}, false},
    {"arcsec", kPi / 180.0 / 3600.0, {0, 0, 0, 1}, false},
    {"sr", 1.0, {0, 0, 0, 2}, false},
    // Counting units are dimensionless.
    {"ct", 1.0, {0, 0, 0, 0}, false},
    {"count", 1.0, {0, 0, 0, 0}, false},
    {"counts", 1.0, {0, 0, 0, 0}, false},
    {"ph", 1.0, {0, 0, 0, 0}, false},
    {"photon", 1.0, {0, 0, 0, 0}, false},
    {"dimensionless", 1.0, {0, 0, 0, 0}, false},
};

struct Prefix {
  const char* name;
  double factor;
};
constexpr Prefix kPrefixes[] = {{"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6},
                                {"k", 1e3},  {"h", 1e2},  {"da", 1e1}, {"d", 1e-1}, {"c", 1e-2},
                                {"m", 1e-3}, {"u", 1e-6}, {"n", 1e-9}, {"p", 1e-12}, {"f", 1e-15}};

Unit power(const Unit& u, int exponent) {
  Unit out;
  out.scale = std::pow(u.scale, exponent);
  for (int k = 0; k < 4; ++k) out.dims[k] = u.dims[k] * exponent;
  return out;
}

Unit multiply(const Unit& a, const Unit& b) {
  Unit out;
  out.scale = a.scale * b.scale;
  for (int k = 0; k < 4; ++k) out.dims[k] = a.dims[k] + b.dims[k];
  return out;
}

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  Unit parse() {
    Unit u = expression();
    skip_space();
    if (pos_ != text_.size()) fail("unexpected '" + text_.substr(pos_) + "'");
    return u;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("cannot parse unit '" + text_ + "': " + why);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  // factor { ('*' | '.' | ' ' | '/') factor }
  Unit expression() {
    skip_space();
    Unit result;
    if (at_end() || peek() == ')') return result;
    result = factor();
    while (true) {
      skip_space();
      if (at_end() || peek() == ')') return result;
      bool divide = false;
      if (peek() == '/') {
        divide = true;
        ++pos_;
      } else if (peek() == '*' || peek() == '.') {
        ++pos_;
      }
      skip_space();
      Unit next = factor();
      result = multiply(result, divide ? power(next, -1) : next);
    }
  }

  Unit factor() {
    skip_space();
    Unit base;
    if (peek() == '(') {
      ++pos_;
      base = expression();
      skip_space();
      if (peek() != ')') fail("missing ')'");
      ++pos_;
    } else if (std::isdigit(static_cast<unsigned char>(peek())) || peek() == '+' || peek() == '-') {
      const char* start = text_.c_str() + pos_;
      char* end = nullptr;
      const double value = std::strtod(start, &end);
      if (end == start) fail("bad number at '" + text_.substr(pos_) + "'");
      pos_ += static_cast<std::size_t>(end - start);
      base.scale = value;
      return base;  // a scale factor takes no power
    } else if (std::isalpha(static_cast<unsigned char>(peek()))) {
      const std::size_t start = pos_;
      while (!at_end() && std::isalpha(static_cast<unsigned char>(peek()))) ++pos_;
      base = symbol(text_.substr(start, pos_ - start));
    } else {
      fail("unexpected '" + text_.substr(pos_) + "'");
    }
    return power(base, exponent());
  }

  // Optional power right after a symbol: "2", "-1", "**2", "^-2", "**(-1)".
  int exponent() {
    if (text_.compare(pos_, 2, "**") == 0) {
      pos_ += 2;
    } else if (peek() == '^') {
      ++pos_;
    } else if (!(std::isdigit(static_cast<unsigned char>(peek())) || peek() == '-' || peek() == '+')) {
      return 1;
    }
    const bool parenthesised = peek() == '(';
    if (parenthesised) ++pos_;
    const char* start = text_.c_str() + pos_;
    char* end = nullptr;
    const long value = std::strtol(start, &end, 10);
    if (end == start) fail("bad exponent at '" + text_.substr(pos_) + "'");
    pos_ += static_cast<std::size_t>(end - start);
    if (parenthesised) {
      if (peek() != ')') fail("missing ')' after exponent");
      ++pos_;
    }
    return static_cast<int>(value);
  }

  Unit symbol(const std::string& name) const {
    for (const Symbol& s : kSymbols) {
      if (name == s.name) return Unit{s.scale, s.dims};
    }
    for (const Prefix& p : kPrefixes) {
      const std::string prefix = p.name;
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string rest = name.substr(prefix.size());
      for (const Symbol& s : kSymbols) {
        if (s.takes_prefix && rest == s.name) return Unit{p.factor * s.scale, s.dims};
      }
    }
    fail("unknown unit '" + name + "'");
  }

  const std::string& text_;
  std::size_t pos_ = 0;
};

}  // namespace

Unit parse_unit(const std::string& text) { return Parser(text).parse(); }

double unit_conversion_factor(const std::string& from, const std::string& to) {
  const Unit a = parse_unit(from);
  const Unit b = parse_unit(to);
  if (!a.same_dimension(b)) {
    throw std::invalid_argument("cannot convert unit '" + from + "' to '" + to +
                                "': different physical dimensions");
  }
  return a.scale / b.scale;
}

}  // namespace fluxpoints::io
