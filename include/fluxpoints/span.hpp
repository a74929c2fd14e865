// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Span<T>: a pointer and a length, the read-only window the library hands out onto arrays it
// owns (C++17 has no std::span). It owns nothing: valid while the array it views is alive and
// not reallocated.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace fluxpoints {

template <class T>
class Span {
 public:
  using value_type = std::remove_cv_t<T>;
  using iterator = T*;

  constexpr Span() = default;
  constexpr Span(T* data, std::size_t size) : data_(data), size_(size) {}
  // Any vector whose elements convert to T* (a std::vector<double> to a Span<const double>).
  template <class V, class A>
  Span(const std::vector<V, A>& v) : data_(v.data()), size_(v.size()) {}  // NOLINT: implicit

  constexpr T* data() const { return data_; }
  constexpr std::size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr T* begin() const { return data_; }
  constexpr T* end() const { return data_ + size_; }
  // Unchecked, as std::span's; at() checks.
  constexpr T& operator[](std::size_t i) const { return data_[i]; }
  T& at(std::size_t i) const {
    if (i >= size_)
      throw std::out_of_range("Span: index " + std::to_string(i) + " out of " +
                              std::to_string(size_));
    return data_[i];
  }
  constexpr T& front() const { return data_[0]; }
  constexpr T& back() const { return data_[size_ - 1]; }
  // A copy, for callers that need a vector of their own.
  std::vector<value_type> to_vector() const { return std::vector<value_type>(begin(), end()); }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace fluxpoints
