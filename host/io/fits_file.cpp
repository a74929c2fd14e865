// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/io/fits_file.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>

namespace fluxpoints::io {
namespace {

// Removes the quotes and trailing blanks of a raw FITS string value ('abc  ' -> abc).
std::string unquote(const std::string& raw) {
  std::string s = raw;
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  if (s.size() >= 2 && s.front() == '\'' && s.back() == '\'') {
    std::string inner;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      inner += s[i];
      if (s[i] == '\'' && s[i + 1] == '\'') ++i;  // '' is an escaped quote
    }
    while (!inner.empty() && inner.back() == ' ') inner.pop_back();
    return inner;
  }
  return s;
}

}  // namespace

FitsFile::FitsFile(const std::string& path, Mode mode) : path_(path) {
  int status = 0;
  if (mode == Mode::kRead) {
    if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": file not found");
    if (std::filesystem::is_directory(path))
      throw std::runtime_error(path + ": is a folder, not a FITS file");
    // The "diskfile" variants take the name literally (no cfitsio filename filters).
    fits_open_diskfile(&fptr_, path.c_str(), READONLY, &status);
    if (status != 0) {
      fptr_ = nullptr;
      fail(status, "cannot open as FITS");
    }
    try {
      check_complete();
    } catch (...) {
      fits_close_file(fptr_, &status);  // no destructor runs for a throwing constructor
      fptr_ = nullptr;
      throw;
    }
  } else {
    memory_size_ = 2880;
    memory_ = std::malloc(memory_size_);
    if (memory_ == nullptr) throw std::bad_alloc();
    // Grown one FITS block at a time: with larger increments cfitsio 4.2's memory driver
    // corrupts files whose header grows after data was written (the OGIP RMF: test_ogip).
    fits_create_memfile(&fptr_, &memory_, &memory_size_, 2880, std::realloc, &status);
    if (status != 0) {
      fptr_ = nullptr;
      fail(status, "cannot create in memory");
    }
  }
}

FitsFile::~FitsFile() {
  if (fptr_ != nullptr) {
    int status = 0;
    fits_close_file(fptr_, &status);
  }
  std::free(memory_);
}

void FitsFile::close() {
  if (fptr_ == nullptr) return;
  int status = 0;
  fits_close_file(fptr_, &status);
  fptr_ = nullptr;
  check(status, "closing the file");
}

std::string FitsFile::finish() {
  if (memory_ == nullptr)
    throw std::logic_error(path_ + ": finish() is for files created in memory");
  // Flushing completes every HDU (heap sizes, padding); the file ends where the last HDU's data
  // unit, padded to whole blocks, ends.
  int status = 0;
  fits_flush_file(fptr_, &status);
  check(status, "completing the file");
  int n_hdus = 0;
  fits_get_num_hdus(fptr_, &n_hdus, &status);
  fits_movabs_hdu(fptr_, n_hdus, nullptr, &status);
  LONGLONG head_start = 0, data_start = 0, data_end = 0;
  fits_get_hduaddrll(fptr_, &head_start, &data_start, &data_end, &status);
  check(status, "completing the file");
  close();
  // The memory holds exactly the file; anything else means cfitsio's memory driver went wrong.
  if (data_end <= 0 || data_end % 2880 != 0 || static_cast<std::size_t>(data_end) != memory_size_)
    throw std::runtime_error(path_ + ": internal error: the FITS file built in memory has " +
                             std::to_string(memory_size_) + " bytes, its HDUs " +
                             std::to_string(data_end));
  return std::string(static_cast<const char*>(memory_), static_cast<std::size_t>(data_end));
}

void FitsFile::check_complete() {
  // Compressed files (.fits.gz) are inflated by cfitsio, which then fails on a cut-off stream
  // itself; their size on disk says nothing about the FITS size.
  {
    std::ifstream in(path_, std::ios::binary);
    unsigned char magic[2] = {0, 0};
    in.read(reinterpret_cast<char*>(magic), 2);
    if ((magic[0] == 0x1f && (magic[1] == 0x8b || magic[1] == 0x9d)) ||
        (magic[0] == 'B' && magic[1] == 'Z'))
      return;
  }
  std::error_code ec;
  const auto file_size = static_cast<long long>(std::filesystem::file_size(path_, ec));
  if (ec) throw std::runtime_error(path_ + ": cannot get the file size: " + ec.message());
  for (int k = 1;; ++k) {
    int status = 0, type = 0;
    fits_movabs_hdu(fptr_, k, &type, &status);
    if (status == END_OF_FILE) {
      fits_clear_errmsg();
      break;
    }
    std::string name = k == 1 ? "PRIMARY" : "number " + std::to_string(k);
    if (k > 1) {
      char extname[FLEN_VALUE] = {0};
      int s2 = 0;
      if (fits_read_key(fptr_, TSTRING, "EXTNAME", extname, nullptr, &s2) == 0) name = extname;
      fits_clear_errmsg();
    }
    if (status != 0) {
      hdu_ = name;
      fail(status, "unreadable header (is the file cut short?)");
    }
    // The data unit, padded to 2880-byte blocks as the standard requires (cfitsio reads whole
    // blocks: it fails on a file without the last padding too).
    LONGLONG head = 0, data_start = 0, data_end = 0;
    fits_get_hduaddrll(fptr_, &head, &data_start, &data_end, &status);
    check(status, "HDU addresses");
    if (data_end > file_size) {
      hdu_ = name;
      throw std::runtime_error(where(
          "the file is truncated: this HDU's data (padded to 2880-byte blocks) end at byte " +
          std::to_string(data_end) + ", but the file has only " + std::to_string(file_size) +
          " bytes"));
    }
  }
  int status = 0;
  fits_movabs_hdu(fptr_, 1, nullptr, &status);
  check(status, "moving to the primary HDU");
  hdu_ = "PRIMARY";
}

std::string FitsFile::where(const std::string& item) const {
  std::string s = path_ + ": HDU " + hdu_;
  if (!item.empty()) s += ": " + item;
  return s;
}

void FitsFile::fail(int status, const std::string& what) const {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  fits_clear_errmsg();
  throw std::runtime_error(where(what) + " (cfitsio status " + std::to_string(status) + ": " +
                           text + ")");
}

bool FitsFile::has_hdu(const std::string& extname) {
  int current = 0;
  fits_get_hdu_num(fptr_, &current);
  int status = 0;
  fits_movnam_hdu(fptr_, ANY_HDU, const_cast<char*>(extname.c_str()), 0, &status);
  const bool found = status == 0;
  fits_clear_errmsg();
  status = 0;
  fits_movabs_hdu(fptr_, current, nullptr, &status);
  return found;
}

void FitsFile::move_to(const std::string& extname) {
  int status = 0;
  fits_movnam_hdu(fptr_, BINARY_TBL, const_cast<char*>(extname.c_str()), 0, &status);
  if (status != 0) {
    fits_clear_errmsg();
    throw std::runtime_error(path_ + ": no binary table HDU '" + extname + "'");
  }
  hdu_ = extname;
}

void FitsFile::move_to_primary() {
  int status = 0;
  fits_movabs_hdu(fptr_, 1, nullptr, &status);
  check(status, "moving to the primary HDU");
  hdu_ = "PRIMARY";
}

long FitsFile::num_rows() {
  int status = 0;
  long rows = 0;
  fits_get_num_rows(fptr_, &rows, &status);
  check(status, "number of rows");
  return rows;
}

bool FitsFile::has_column(const std::string& name) {
  int status = 0;
  int colnum = 0;
  fits_get_colnum(fptr_, CASEINSEN, const_cast<char*>(name.c_str()), &colnum, &status);
  fits_clear_errmsg();
  return status == 0;
}

int FitsFile::column_number(const std::string& name) {
  int status = 0;
  int colnum = 0;
  fits_get_colnum(fptr_, CASEINSEN, const_cast<char*>(name.c_str()), &colnum, &status);
  if (status != 0) {
    fits_clear_errmsg();
    throw std::runtime_error(where("missing column " + name));
  }
  return colnum;
}

FitsFile::ColumnInfo FitsFile::column_info(const std::string& name) {
  ColumnInfo info;
  info.number = column_number(name);
  int status = 0;
  fits_get_coltype(fptr_, info.number, &info.typecode, &info.repeat, &info.width, &status);
  check(status, "type of column " + name);
  return info;
}

FitsFile::ColumnInfo FitsFile::numeric_column_info(const std::string& name) {
  const ColumnInfo info = column_info(name);
  if (info.typecode < 0 || info.typecode == TSTRING) {
    throw std::runtime_error(where("column " + name + " is not a numeric column"));
  }
  return info;
}

int FitsFile::column_type(const std::string& name) { return column_info(name).typecode; }

std::vector<double> FitsFile::read_doubles(const std::string& column) {
  const ColumnInfo info = numeric_column_info(column);
  const long rows = num_rows();
  std::vector<double> values(static_cast<std::size_t>(rows * info.repeat));
  if (values.empty()) return values;
  read_column_doubles(info.number, info.typecode, 1, rows * info.repeat, values.data());
  return values;
}

void FitsFile::read_column_doubles(int col, int typecode, long row, long long count, double* out) {
  const int type = typecode < 0 ? -typecode : typecode;
  const bool floating = type == TFLOAT || type == TDOUBLE;
  // nulval 0 switches cfitsio's null check off: floats come back as stored, infinities included.
  double nulval = floating ? 0.0 : std::numeric_limits<double>::quiet_NaN();
  int anynul = 0, status = 0;
  fits_read_col(fptr_, TDOUBLE, col, row, 1, count, &nulval, out, &anynul, &status);
  char name[FLEN_VALUE] = {0};
  int s2 = 0;
  fits_read_key(fptr_, TSTRING, ("TTYPE" + std::to_string(col)).c_str(), name, nullptr, &s2);
  fits_clear_errmsg();
  check(status, "reading column " + std::string(name) +
                    (row > 1 || count == 1 ? " row " + std::to_string(row) : ""));
}

std::vector<long long> FitsFile::read_integers(const std::string& column) {
  const ColumnInfo info = numeric_column_info(column);
  const long rows = num_rows();
  std::vector<long long> values(static_cast<std::size_t>(rows * info.repeat));
  if (values.empty()) return values;
  long long nulval = 0;
  int anynul = 0;
  int status = 0;
  fits_read_col(fptr_, TLONGLONG, info.number, 1, 1, rows * info.repeat, &nulval, values.data(),
                &anynul, &status);
  check(status, "reading column " + column);
  return values;
}

std::vector<std::uint8_t> FitsFile::read_flags(const std::string& column) {
  const int col = column_number(column);
  const long rows = num_rows();
  std::vector<std::uint8_t> flags(static_cast<std::size_t>(rows));
  if (rows == 0) return flags;
  int status = 0;
  int anynul = 0;
  if (column_type(column) == TLOGICAL) {
    std::vector<char> raw(static_cast<std::size_t>(rows));
    char nulval = 0;
    fits_read_col(fptr_, TLOGICAL, col, 1, 1, rows, &nulval, raw.data(), &anynul, &status);
    check(status, "reading column " + column);
    for (long i = 0; i < rows; ++i) flags[i] = raw[i] != 0;
  } else {
    const std::vector<long long> raw = read_integers(column);
    if (static_cast<long>(raw.size()) != rows) {
      throw std::runtime_error(where("column " + column + " must hold one value per row"));
    }
    for (long i = 0; i < rows; ++i) flags[i] = raw[i] != 0;
  }
  return flags;
}

std::vector<double> FitsFile::read_row_array(const std::string& column, long row) {
  const ColumnInfo info = column_info(column);
  const int col = info.number;
  const int typecode = info.typecode;
  long repeat = info.repeat;
  const long width = info.width;
  int status = 0;
  if (typecode < 0) {
    long offset = 0;
    fits_read_descript(fptr_, col, row, &repeat, &offset, &status);
    check(status, "array length of column " + column + " row " + std::to_string(row));
    // The descriptor is data from the file: it must point inside the heap (PCOUNT bytes)
    // before anything is allocated from it.
    long long heap = 0;
    fits_read_key(fptr_, TLONGLONG, "PCOUNT", &heap, nullptr, &status);
    check(status, "keyword PCOUNT");
    const long long element = width > 0 ? width : 1;
    if (repeat < 0 || offset < 0 || offset + static_cast<long long>(repeat) * element > heap) {
      throw std::runtime_error(where("column " + column + " row " + std::to_string(row) +
                                     ": array descriptor (" + std::to_string(repeat) +
                                     " values at heap byte " + std::to_string(offset) +
                                     ") points beyond the heap of " + std::to_string(heap) +
                                     " bytes"));
    }
  }
  std::vector<double> values(static_cast<std::size_t>(repeat));
  if (repeat == 0) return values;
  read_column_doubles(col, typecode, row, repeat, values.data());
  return values;
}

std::vector<long long> FitsFile::read_row_integers(const std::string& column, long row) {
  const std::vector<double> values = read_row_array(column, row);
  std::vector<long long> out(values.size());
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (!std::isfinite(values[k]) || values[k] != std::floor(values[k])) {
      throw std::runtime_error(
          where("column " + column + " row " + std::to_string(row) + " holds a non-integer value"));
    }
    out[k] = static_cast<long long>(values[k]);
  }
  return out;
}

bool FitsFile::has_key(const std::string& key) {
  int status = 0;
  char value[FLEN_VALUE];
  fits_read_keyword(fptr_, key.c_str(), value, nullptr, &status);
  fits_clear_errmsg();
  return status == 0;
}

double FitsFile::read_key_double(const std::string& key) {
  int status = 0;
  double value = 0.0;
  fits_read_key(fptr_, TDOUBLE, key.c_str(), &value, nullptr, &status);
  if (status == KEY_NO_EXIST) {
    fits_clear_errmsg();
    throw std::runtime_error(where("missing keyword " + key));
  }
  check(status, "keyword " + key + " is not a number");
  return value;
}

std::optional<std::string> FitsFile::find_key_string(const std::string& key) {
  if (!has_key(key)) return std::nullopt;
  return read_key_string(key);
}

std::string FitsFile::read_key_string(const std::string& key) {
  int status = 0;
  char* text = nullptr;
  fits_read_key_longstr(fptr_, key.c_str(), &text, nullptr, &status);
  if (status == KEY_NO_EXIST) {
    fits_clear_errmsg();
    throw std::runtime_error(where("missing keyword " + key));
  }
  check(status, "reading keyword " + key);
  std::string value = text != nullptr ? text : "";
  if (text != nullptr) fits_free_memory(text, &status);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

std::vector<std::string> FitsFile::read_key_all(const std::string& key) {
  int status = 0;
  int nkeys = 0;
  fits_get_hdrspace(fptr_, &nkeys, nullptr, &status);
  check(status, "reading the header");
  std::vector<std::string> values;
  for (int k = 1; k <= nkeys; ++k) {
    char name[FLEN_KEYWORD] = {0};
    char value[FLEN_VALUE] = {0};
    fits_read_keyn(fptr_, k, name, value, nullptr, &status);
    check(status, "reading header card " + std::to_string(k));
    if (key == name) values.push_back(unquote(value));
  }
  return values;
}

std::string FitsFile::column_unit(const std::string& column) {
  const int col = column_number(column);
  const std::string key = "TUNIT" + std::to_string(col);
  return has_key(key) ? read_key_string(key) : std::string();
}

void FitsFile::create_table(const std::string& extname, const std::vector<Column>& columns,
                            long rows) {
  std::vector<char*> names;
  std::vector<char*> forms;
  std::vector<char*> units;
  for (const Column& c : columns) {
    names.push_back(const_cast<char*>(c.name.c_str()));
    forms.push_back(const_cast<char*>(c.form.c_str()));
    units.push_back(const_cast<char*>(c.unit.c_str()));
  }
  int status = 0;
  hdu_ = extname;
  fits_create_tbl(fptr_, BINARY_TBL, rows, static_cast<int>(columns.size()), names.data(),
                  forms.data(), units.data(), extname.c_str(), &status);
  check(status, "creating the table");
  // cfitsio writes TUNITn = '' for columns without unit; gammapy's files have none.
  for (std::size_t k = 0; k < columns.size(); ++k) {
    if (columns[k].unit.empty()) {
      const std::string key = "TUNIT" + std::to_string(k + 1);
      fits_delete_key(fptr_, key.c_str(), &status);
      if (status == KEY_NO_EXIST) {
        status = 0;
        fits_clear_errmsg();
      }
      check(status, "removing " + key);
    }
  }
}

void FitsFile::write_column(const std::string& column, const std::vector<double>& values) {
  if (values.empty()) return;
  int status = 0;
  fits_write_col(fptr_, TDOUBLE, column_number(column), 1, 1, static_cast<long>(values.size()),
                 const_cast<double*>(values.data()), &status);
  check(status, "writing column " + column);
}

void FitsFile::write_column(const std::string& column, const std::vector<long long>& values) {
  if (values.empty()) return;
  int status = 0;
  fits_write_col(fptr_, TLONGLONG, column_number(column), 1, 1, static_cast<long>(values.size()),
                 const_cast<long long*>(values.data()), &status);
  check(status, "writing column " + column);
}

void FitsFile::write_logical_column(const std::string& column,
                                    const std::vector<std::uint8_t>& values) {
  if (values.empty()) return;
  std::vector<char> raw(values.begin(), values.end());
  int status = 0;
  fits_write_col(fptr_, TLOGICAL, column_number(column), 1, 1, static_cast<long>(raw.size()),
                 raw.data(), &status);
  check(status, "writing column " + column);
}

void FitsFile::write_row_array(const std::string& column, long row,
                               const std::vector<double>& values) {
  if (values.empty()) return;
  int status = 0;
  fits_write_col(fptr_, TDOUBLE, column_number(column), row, 1, static_cast<long>(values.size()),
                 const_cast<double*>(values.data()), &status);
  check(status, "writing column " + column + " row " + std::to_string(row));
}

void FitsFile::write_row_integers(const std::string& column, long row,
                                  const std::vector<long long>& values) {
  if (values.empty()) return;
  int status = 0;
  fits_write_col(fptr_, TLONGLONG, column_number(column), row, 1, static_cast<long>(values.size()),
                 const_cast<long long*>(values.data()), &status);
  check(status, "writing column " + column + " row " + std::to_string(row));
}

void FitsFile::write_key(const std::string& key, const std::string& value,
                         const std::string& comment) {
  int status = 0;
  fits_update_key_str(fptr_, key.c_str(), value.c_str(),
                      comment.empty() ? nullptr : comment.c_str(), &status);
  check(status, "writing keyword " + key);
}

void FitsFile::write_key(const std::string& key, double value, const std::string& comment) {
  int status = 0;
  // 17 significant digits: doubles survive the round trip exactly.
  fits_update_key_dbl(fptr_, key.c_str(), value, -17, comment.empty() ? nullptr : comment.c_str(),
                      &status);
  check(status, "writing keyword " + key);
}

void FitsFile::write_key(const std::string& key, long long value, const std::string& comment) {
  int status = 0;
  fits_update_key_lng(fptr_, key.c_str(), value, comment.empty() ? nullptr : comment.c_str(),
                      &status);
  check(status, "writing keyword " + key);
}

void FitsFile::write_key_logical(const std::string& key, bool value, const std::string& comment) {
  int status = 0;
  fits_update_key_log(fptr_, key.c_str(), value ? 1 : 0,
                      comment.empty() ? nullptr : comment.c_str(), &status);
  check(status, "writing keyword " + key);
}

}  // namespace fluxpoints::io
