// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/models/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace fluxpoints::models {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDegPerRad = 180.0 / kPi;
constexpr double kTeVPerErg = 0.6241509074460764;  // 1 erg = 6.241509074460764e11 eV (exact SI)

enum Dim { kEnergy = 0, kLength = 1, kTime = 2, kAngle = 3 };

struct NamedUnit {
  const char* name;
  double scale;  // in TeV, cm, s or deg
  int dim;
  int power;  // power of the dimension (2 for sr)
};

// Only the units met in gammapy spectral files; others are rejected with a clear message.
constexpr NamedUnit kUnits[] = {
    {"eV", 1e-12, kEnergy, 1},
    {"keV", 1e-9, kEnergy, 1},
    {"MeV", 1e-6, kEnergy, 1},
    {"GeV", 1e-3, kEnergy, 1},
    {"TeV", 1.0, kEnergy, 1},
    {"PeV", 1e3, kEnergy, 1},
    {"erg", kTeVPerErg, kEnergy, 1},
    {"J", kTeVPerErg * 1e7, kEnergy, 1},
    {"mm", 0.1, kLength, 1},
    {"cm", 1.0, kLength, 1},
    {"m", 100.0, kLength, 1},
    {"km", 1e5, kLength, 1},
    {"ms", 1e-3, kTime, 1},
    {"s", 1.0, kTime, 1},
    {"min", 60.0, kTime, 1},
    {"h", 3600.0, kTime, 1},
    {"d", 86400.0, kTime, 1},
    {"yr", 31557600.0, kTime, 1},
    {"deg", 1.0, kAngle, 1},
    {"rad", kDegPerRad, kAngle, 1},
    {"arcmin", 1.0 / 60.0, kAngle, 1},
    {"arcsec", 1.0 / 3600.0, kAngle, 1},
    {"sr", kDegPerRad* kDegPerRad, kAngle, 2},
};

[[noreturn]] void fail(const std::string& text, const std::string& why) {
  throw std::invalid_argument("cannot parse unit '" + text + "': " + why);
}

Unit multiply(const Unit& a, const Unit& b, int sign) {
  Unit r = a;
  r.scale = sign > 0 ? a.scale * b.scale : a.scale / b.scale;
  for (int i = 0; i < 4; ++i) r.exponents[i] += sign * b.exponents[i];
  return r;
}

Unit power(const Unit& u, int p) {
  Unit r;
  r.scale = std::pow(u.scale, p);
  for (int i = 0; i < 4; ++i) r.exponents[i] = u.exponents[i] * p;
  return r;
}

// Recursive descent over: expr := product ('/' product)* ; product := factor (sep factor)* ;
// factor := (NAME | NUMBER | '(' expr ')') [power] ; power := ['**' | '^'] (INT | '(' INT ')').
// As astropy, "a / b c" is a / (b c).
class UnitParser {
 public:
  explicit UnitParser(const std::string& text) : text_(text) {}

  Unit parse() {
    Unit u = expr();
    skip_spaces();
    if (pos_ != text_.size()) fail(text_, "unexpected '" + text_.substr(pos_) + "'");
    return u;
  }

 private:
  const std::string& text_;
  std::size_t pos_ = 0;

  void skip_spaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool at_end() {
    skip_spaces();
    return pos_ >= text_.size();
  }
  char peek() {
    skip_spaces();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  Unit expr() {
    Unit u = product();
    while (peek() == '/') {
      ++pos_;
      u = multiply(u, product(), -1);
    }
    return u;
  }

  Unit product() {
    Unit u = factor();
    for (;;) {
      const char c = peek();
      if (c == '*' && pos_ + 1 < text_.size() && text_[pos_ + 1] != '*') {
        ++pos_;
      } else if (c == '.') {
        ++pos_;
      } else if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '(' ||
                   std::isdigit(static_cast<unsigned char>(c)))) {
        return u;
      }
      u = multiply(u, factor(), +1);
    }
  }

  Unit factor() {
    skip_spaces();
    if (pos_ >= text_.size()) fail(text_, "unit expected at the end");
    Unit u;
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      u = expr();
      if (peek() != ')') fail(text_, "missing ')'");
      ++pos_;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      const char* begin = text_.c_str() + pos_;
      char* end = nullptr;
      u.scale = std::strtod(begin, &end);
      pos_ += static_cast<std::size_t>(end - begin);
      return u;  // a number takes no power suffix
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      const std::size_t start = pos_;
      while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      u = named(text_.substr(start, pos_ - start));
    } else {
      fail(text_, std::string("unexpected character '") + c + "'");
    }
    return power(u, exponent());
  }

  // Optional power right after a factor: "2", "-2", "**-2", "^2", "(-2)", "**(-2)".
  int exponent() {
    if (pos_ >= text_.size()) return 1;
    std::size_t p = pos_;
    if (text_.compare(p, 2, "**") == 0)
      p += 2;
    else if (text_[p] == '^')
      p += 1;
    const bool explicit_op = p != pos_;
    bool paren = false;
    if (p < text_.size() && text_[p] == '(') {
      // "(" right after a unit is a power only if it holds just an integer.
      std::size_t q = p + 1;
      if (q < text_.size() && (text_[q] == '-' || text_[q] == '+')) ++q;
      std::size_t digits = q;
      while (digits < text_.size() && std::isdigit(static_cast<unsigned char>(text_[digits])))
        ++digits;
      if (digits == q || digits >= text_.size() || text_[digits] != ')') {
        if (explicit_op) fail(text_, "only integer powers are supported");
        return 1;
      }
      paren = true;
      ++p;
    }
    std::size_t q = p;
    if (q < text_.size() && (text_[q] == '-' || text_[q] == '+')) ++q;
    std::size_t digits = q;
    while (digits < text_.size() && std::isdigit(static_cast<unsigned char>(text_[digits])))
      ++digits;
    if (digits == q) {
      if (explicit_op) fail(text_, "power expected after '**' or '^'");
      return 1;
    }
    if (digits < text_.size() && (text_[digits] == '.' || text_[digits] == '/'))
      fail(text_, "only integer powers are supported");
    const int value = std::atoi(text_.substr(p, digits - p).c_str());
    pos_ = digits + (paren ? 1 : 0);
    return value;
  }

  Unit named(const std::string& name) {
    for (const auto& nu : kUnits) {
      if (name == nu.name) {
        Unit u;
        u.scale = nu.scale;
        u.exponents[nu.dim] = nu.power;
        return u;
      }
    }
    if (name == "ph" || name == "photon" || name == "ct" || name == "count")
      fail(text_, "'" + name +
                      "' (photon/count units) is not supported; gammapy's spectral "
                      "parameters use e.g. 'cm-2 s-1 TeV-1'");
    fail(text_, "unknown unit '" + name + "'");
  }
};

}  // namespace

Unit parse_unit(const std::string& text) {
  bool blank = true;
  for (char c : text) blank = blank && std::isspace(static_cast<unsigned char>(c));
  if (blank) return Unit{};
  return UnitParser(text).parse();
}

double unit_conversion_factor(const std::string& from, const std::string& to) {
  const Unit a = parse_unit(from);
  const Unit b = parse_unit(to);
  if (!a.same_dimension(b))
    throw std::invalid_argument("unit '" + from + "' cannot be converted to '" + to + "'");
  return a.scale / b.scale;
}

}  // namespace fluxpoints::models
