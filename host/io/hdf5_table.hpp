// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A small RAII layer over the HDF5 C API for what the catalog and result files need: growable
// one-dimensional columns (append, read a slice), fixed-shape arrays and scalar/array/string
// attributes. Every failure throws std::runtime_error naming the file and the object, followed by
// HDF5's own message. The library is not thread-safe (Debian builds it without the thread-safe
// option): call these from one thread at a time.

#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fluxpoints::hdf5 {

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) { reset(); id_ = o.id_; o.id_ = -1; }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  hid_t release() {
    const hid_t id = id_;
    id_ = -1;
    return id;
  }

 private:
  hid_t id_ = -1;
};

// The innermost message of HDF5's error stack (then clears it); "" when there is none.
std::string last_error();
// Turns HDF5's automatic printing of error stacks off for this process (we report errors).
void silence_errors();

// Element types of columns.
enum class Type { f64, i64, u8, str };

class File {
 public:
  // Opens an existing file read-only, or read-write. Throws naming the path and saying whether
  // it is missing, not HDF5, or truncated/corrupt.
  static File open(const std::string& path, bool writable = false);
  // Creates (truncates) a file. Errors name `name_in_messages` when given (the output a
  // temporary file stands for).
  static File create(const std::string& path, const std::string& name_in_messages = "");
  const std::string& path() const { return path_; }
  hid_t id() const { return file_.get(); }
  void flush();
  void close();

  bool exists(const std::string& object) const;
  void create_group(const std::string& group);

  // --- growable 1-D columns ---
  void create_column(const std::string& name, Type type, hsize_t chunk = 4096);
  void append(const std::string& name, const double* data, std::size_t n);
  void append(const std::string& name, const std::int64_t* data, std::size_t n);
  void append(const std::string& name, const std::uint8_t* data, std::size_t n);
  void append(const std::string& name, const std::vector<std::string>& data);
  // Length of a 1-D column (first dimension of any dataset).
  std::int64_t length(const std::string& name) const;
  std::vector<double> read_f64(const std::string& name, std::int64_t begin, std::int64_t count) const;
  std::vector<std::int64_t> read_i64(const std::string& name, std::int64_t begin, std::int64_t count) const;
  std::vector<std::uint8_t> read_u8(const std::string& name, std::int64_t begin, std::int64_t count) const;
  std::vector<std::string> read_str(const std::string& name, std::int64_t begin, std::int64_t count) const;
  // Throws naming the file and column unless [begin, begin + count) lies inside the column.
  void check_range(const std::string& name, std::int64_t begin, std::int64_t count) const;
  // Throws unless the file actually stores the data the dataset's extent claims (a corrupt or
  // crafted file may declare billions of entries in a few bytes; nothing is sized from such an
  // extent then).
  void check_stored(const std::string& name) const;

  // --- fixed-shape arrays (row-major), written and read whole or by leading-dimension rows ---
  void create_array(const std::string& name, Type type, const std::vector<hsize_t>& dims);
  void write_rows(const std::string& name, std::int64_t first_row, std::int64_t n_rows, const double* data);
  void write_rows(const std::string& name, std::int64_t first_row, std::int64_t n_rows, const std::uint8_t* data);
  void write_rows(const std::string& name, std::int64_t first_row, std::int64_t n_rows, const std::int64_t* data);
  void write_rows(const std::string& name, std::int64_t first_row, std::int64_t n_rows, const std::vector<std::string>& data);
  std::vector<hsize_t> dims(const std::string& name) const;
  // A whole dataset of any shape, row-major.
  std::vector<double> read_all_f64(const std::string& name) const;
  std::vector<std::uint8_t> read_all_u8(const std::string& name) const;
  // Row `row` (index along the first dimension) of an array of any rank, as doubles: the
  // product of the other dimensions values, row-major. Throws naming the array when out of range.
  std::vector<double> read_row_f64(const std::string& name, std::int64_t row) const;
  // Element class of a dataset: f64 for floats, u8/i64 for integers (by size), str for strings.
  Type type_of(const std::string& name) const;
  // Names of the members of a group, in HDF5's name order.
  std::vector<std::string> members(const std::string& group) const;

  // --- attributes, on an object path ("/" for the file) ---
  bool has_attr(const std::string& object, const std::string& attr) const;
  void set_attr(const std::string& object, const std::string& attr, double value);
  void set_attr(const std::string& object, const std::string& attr, std::int64_t value);
  void set_attr(const std::string& object, const std::string& attr, const std::string& value);
  void set_attr(const std::string& object, const std::string& attr, const std::vector<double>& value);
  double attr_f64(const std::string& object, const std::string& attr) const;
  std::int64_t attr_i64(const std::string& object, const std::string& attr) const;
  std::string attr_str(const std::string& object, const std::string& attr) const;
  std::vector<double> attr_f64_array(const std::string& object, const std::string& attr) const;

 private:
  std::runtime_error error(const std::string& what) const;
  Handle open_dataset(const std::string& name) const;
  void append_raw(const std::string& name, hid_t mem_type, const void* data, std::size_t n);
  void read_raw(const std::string& name, hid_t mem_type, std::int64_t begin, std::int64_t count,
                void* out) const;
  void read_all_raw(const std::string& name, hid_t mem_type, void* out) const;
  void write_rows_raw(const std::string& name, hid_t mem_type, std::int64_t first_row,
                      std::int64_t n_rows, const void* data);

  std::string path_;
  Handle file_;
};

}  // namespace fluxpoints::hdf5
