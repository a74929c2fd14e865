// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Shared scaffolding of the engine tests: comparison against printed reference numbers, the
// backend-parameterised fixture, and a small batch builder.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/math/schema.hpp"

namespace fluxpoints::math {
// Readable statuses in gtest messages.
inline void PrintTo(SolveStatus s, std::ostream* os) {
  *os << static_cast<int>(s) << " (" << ::fluxpoints::describe_status(s) << ")";
}
inline void PrintTo(StatKind k, std::ostream* os) { *os << (k == StatKind::cash ? "cash" : "wstat"); }
}  // namespace fluxpoints::math

namespace fluxpoints::testing {

// Half a unit in the last printed digit of `printed` ("1.606972" -> 5e-7, "4.7e-5" -> 5e-7,
// "-3.4412" -> 5e-5): the most a correctly rounded printout can differ from the exact value.
inline double printed_half_unit(const std::string& printed) {
  const auto e = printed.find_first_of("eE");
  const std::string mantissa = printed.substr(0, e);
  const int exponent = e == std::string::npos ? 0 : std::stoi(printed.substr(e + 1));
  const auto dot = mantissa.find('.');
  const int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  return 0.5 * std::pow(10.0, exponent - decimals);
}

// `value` agrees with a printed reference number to every digit printed. The slack covers only the
// binary representation of the printed decimal.
#define EXPECT_PRINTED(value, printed)                                                         \
  do {                                                                                         \
    const double expected_ = std::stod(printed);                                               \
    const double tol_ = ::fluxpoints::testing::printed_half_unit(printed) * (1 + 1e-9);        \
    EXPECT_NEAR((value), expected_, tol_) << "printed reference " << (printed);                \
  } while (0)

// NaN-aware closeness (NaN only matches NaN, infinities only themselves).
inline bool is_close(double a, double b, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= atol + rtol * std::fmax(std::fabs(a), std::fabs(b));
}

enum class NanPayloads { must_match, may_differ };

// Every result array (math/schema.hpp), the scan grid and the evaluation count of `a` and `b` bit
// for bit; the first difference in each array is reported. NaN payloads may differ between
// backends (the GPU produces other NaNs), never between runs of one backend.
inline void expect_identical(const BatchResult& a, const BatchResult& b,
                             NanPayloads nans = NanPayloads::must_match) {
  const auto same = [nans](const auto& x, const auto& y) {
    if (std::memcmp(&x, &y, sizeof x) == 0) return true;
    if constexpr (std::is_floating_point_v<std::decay_t<decltype(x)>>)
      return nans == NanPayloads::may_differ && std::isnan(x) && std::isnan(y);
    return false;
  };
  const auto printable = [](const auto& v) {
    using T = std::decay_t<decltype(v)>;
    if constexpr (std::is_enum_v<T> || std::is_integral_v<T>)
      return static_cast<long long>(v);
    else
      return v;
  };
  const auto compare = [&](const char* name, const auto& x, const auto& y) {
    ASSERT_EQ(x.size(), y.size()) << name;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!same(x[i], y[i])) {
        ADD_FAILURE() << name << "[" << i << "]: " << printable(x[i]) << " vs " << printable(y[i]);
        return;
      }
    }
  };
  math::for_each_result_field(
      [&](const math::FieldInfo& field, const auto& x, const auto& y) { compare(field.name, x, y); },
      a, b);
  compare("norm_scan", a.norm_scan, b.norm_scan);
  EXPECT_EQ(a.evaluations, b.evaluations);
}

// Value-parameterised over fluxpoints::compiled_backends(): the same test runs on the CPU and,
// when compiled in, on CUDA (skipped with the reason when no device is usable).
class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda") {
      std::string reason;
      if (!cuda_device_available(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
    }
    backend_ = make_backend(GetParam());
  }
  const Backend& backend() const { return *backend_; }

 private:
  std::unique_ptr<Backend> backend_;
};

struct BackendName {
  std::string operator()(const ::testing::TestParamInfo<std::string>& info) const {
    return info.param;
  }
};

#define FLUXPOINTS_INSTANTIATE_BACKENDS(suite)                                                 \
  INSTANTIATE_TEST_SUITE_P(Backends, suite,                                                    \
                           ::testing::ValuesIn(::fluxpoints::compiled_backends()),             \
                           ::fluxpoints::testing::BackendName())

// Options with every optional quantity selected (gammapy's selection_optional="all").
inline SolveOptions all_options() {
  SolveOptions o;
  o.set_selection("all");
  return o;
}

}  // namespace fluxpoints::testing
