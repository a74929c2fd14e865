// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A thin RAII layer over cfitsio for binary tables: every failure becomes a std::runtime_error
// that names the file, the HDU and the column or keyword, plus cfitsio's own message.

#include <fitsio.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fluxpoints::io {

class FitsFile {
 public:
  enum class Mode { kRead, kCreate };
  // kRead opens an existing file. kCreate builds a new file in memory (cfitsio's memory driver):
  // finish() returns its bytes, which the caller stores through io::OutputFile, so that every
  // byte put on disk goes through one checked path. `path` is then only the name in messages.
  FitsFile(const std::string& path, Mode mode);
  ~FitsFile();
  FitsFile(const FitsFile&) = delete;
  FitsFile& operator=(const FitsFile&) = delete;

  const std::string& path() const { return path_; }
  // Current HDU name (EXTNAME), "PRIMARY" for the first.
  const std::string& hdu() const { return hdu_; }

  // ---- reading ----
  bool has_hdu(const std::string& extname);
  // Moves to the binary table EXTNAME; throws "file: no HDU 'X'" when absent.
  void move_to(const std::string& extname);
  void move_to_primary();
  long num_rows();
  bool has_column(const std::string& name);
  int column_number(const std::string& name);  // throws naming the column when absent
  int column_type(const std::string& name);    // cfitsio type code, negative for variable length
  // Whole column as doubles / 64-bit integers (numeric columns of one element per row).
  std::vector<double> read_doubles(const std::string& column);
  std::vector<long long> read_integers(const std::string& column);
  // QUALITY-like flags: numeric or FITS logical ('L') columns, as non-zero = true.
  std::vector<std::uint8_t> read_flags(const std::string& column);
  // One row of a (variable- or fixed-length) array column. row is 1-based.
  std::vector<double> read_row_array(const std::string& column, long row);
  std::vector<long long> read_row_integers(const std::string& column, long row);

  bool has_key(const std::string& key);
  double read_key_double(const std::string& key);
  std::string read_key_string(const std::string& key);
  std::optional<std::string> find_key_string(const std::string& key);
  // Raw value text of every card with this keyword, in order (quotes of strings removed).
  std::vector<std::string> read_key_all(const std::string& key);
  // TUNITn of a column, empty when not set.
  std::string column_unit(const std::string& column);

  // ---- writing ----
  struct Column {
    std::string name;
    std::string form;  // TFORM, e.g. "I", "J", "D", "L", "PI()", "PE()"
    std::string unit;  // empty: no TUNIT
  };
  // Appends a binary table HDU and makes it current. Creates an empty primary HDU first if needed.
  void create_table(const std::string& extname, const std::vector<Column>& columns, long rows);
  void write_column(const std::string& column, const std::vector<double>& values);
  void write_column(const std::string& column, const std::vector<long long>& values);
  void write_logical_column(const std::string& column, const std::vector<std::uint8_t>& values);
  void write_row_array(const std::string& column, long row, const std::vector<double>& values);
  void write_row_integers(const std::string& column, long row,
                          const std::vector<long long>& values);
  void write_key(const std::string& key, const std::string& value, const std::string& comment = "");
  void write_key(const std::string& key, double value, const std::string& comment = "");
  void write_key(const std::string& key, long long value, const std::string& comment = "");
  void write_key_logical(const std::string& key, bool value, const std::string& comment = "");
  // Flushes and closes; errors while closing throw (the destructor only closes quietly).
  void close();
  // kCreate: completes the file and returns its bytes (a whole number of 2880-byte blocks).
  std::string finish();
  // The cfitsio handle, for writers that call cfitsio directly.
  fitsfile* handle() const { return fptr_; }

 private:
  [[noreturn]] void fail(int status, const std::string& what) const;
  void check(int status, const std::string& what) const {
    if (status != 0) fail(status, what);
  }
  std::string where(const std::string& item) const;
  // A column's number and cfitsio type (typecode negative for variable length; repeat: values
  // per row, or the maximum for variable length; width: bytes per value).
  struct ColumnInfo {
    int number = 0;
    int typecode = 0;
    long repeat = 0;
    long width = 0;
  };
  ColumnInfo column_info(const std::string& name);  // throws naming the column when absent
  // The same for whole-column reads: throws unless the column is fixed-length and numeric.
  ColumnInfo numeric_column_info(const std::string& name);
  // Throws naming the HDU if the file is shorter than its headers say (a copy or download cut
  // off: cfitsio would only notice when the missing rows are read, or never for an HDU whose
  // data are not read).
  void check_complete();
  // Reads rows [1, rows] x repeat values of a numeric column as doubles: floating-point columns
  // as stored (cfitsio's null check would turn +-inf into NaN), integer columns with TNULL
  // values as NaN.
  void read_column_doubles(int col, int typecode, long row, long long count, double* out);

  fitsfile* fptr_ = nullptr;
  std::string path_;
  // kCreate: the memory cfitsio writes into (grown with realloc; cfitsio keeps their addresses).
  void* memory_ = nullptr;
  std::size_t memory_size_ = 0;
  std::string hdu_ = "PRIMARY";
};

}  // namespace fluxpoints::io
