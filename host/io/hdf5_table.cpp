// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/io/hdf5_table.hpp"

#include <filesystem>
#include <fstream>

namespace fluxpoints::hdf5 {
namespace {

// A variable-length UTF-8 string type (caller owns it).
Handle string_type() {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

hid_t native(Type t) {
  switch (t) {
    case Type::f64: return H5T_NATIVE_DOUBLE;
    case Type::i64: return H5T_NATIVE_INT64;
    case Type::u8: return H5T_NATIVE_UINT8;
    case Type::str: break;
  }
  return -1;
}

herr_t innermost_message(unsigned, const H5E_error2_t* e, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (e->desc && *e->desc) *text = e->desc;  // walking downward: the last one is the innermost
  return 0;
}

// HDF5's I/O errors read "file write failed: time = ..., filename = ..., errno = 28, error
// message = 'No space left on device', buf = ..."; keep the step and the system's words.
std::string shorten_io_message(const std::string& text) {
  const std::string key = "error message = '";
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return text;
  const std::size_t begin = at + key.size(), end = text.find('\'', begin);
  if (end == std::string::npos) return text;
  return text.substr(0, text.find(':')) + ": " + text.substr(begin, end - begin);
}

// HDF5 1.10 (fixed in 1.14.1) frees a file whose H5Fclose failed (a full disk, an I/O error) but
// keeps its id; the exit handler HDF5 installs then closes that id again and the process dies
// with SIGSEGV after having reported the error. Every file here is closed explicitly, so the
// handler is not needed: it is turned off before the library initialises.
const bool kNoExitHandler = H5dont_atexit() >= 0;

}  // namespace

void Handle::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
  id_ = -1;
}

std::string last_error() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, innermost_message, &text);
  H5Eclear2(H5E_DEFAULT);
  return shorten_io_message(text);
}

void silence_errors() {
  (void)kNoExitHandler;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::runtime_error File::error(const std::string& what) const {
  const std::string hdf5 = last_error();
  return std::runtime_error(path_ + ": " + what + (hdf5.empty() ? "" : " (HDF5: " + hdf5 + ")"));
}

File File::open(const std::string& path, bool writable) {
  silence_errors();
  File f;
  f.path_ = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error(path + ": no such file");
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) {
    last_error();
    throw std::runtime_error(path + ": not an HDF5 file (no HDF5 signature)");
  }
  f.file_ = Handle(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f.file_.valid()) throw f.error("cannot open the HDF5 file: truncated or corrupt");
  return f;
}

File File::create(const std::string& path, const std::string& name_in_messages) {
  silence_errors();
  File f;
  f.path_ = name_in_messages.empty() ? path : name_in_messages;
  f.file_ = Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!f.file_.valid()) throw f.error("cannot create the HDF5 file");
  return f;
}

void File::flush() {
  if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) throw error("cannot flush");
}

void File::close() {
  if (!file_.valid()) return;
  const herr_t rc = H5Fclose(file_.release());
  if (rc < 0) throw error("cannot close (data may not have been written)");
}

bool File::exists(const std::string& object) const {
  // Check each level: H5Lexists fails when an intermediate group is missing.
  std::string prefix;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    const std::size_t next = object.find('/', pos + 1);
    prefix = object.substr(0, next);
    if (!prefix.empty() && prefix != "/") {
      const htri_t e = H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT);
      if (e <= 0) {
        last_error();
        return false;
      }
    }
    pos = next;
  }
  return true;
}

void File::create_group(const std::string& group) {
  Handle g(H5Gcreate2(file_.get(), group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) throw error("cannot create group '" + group + "'");
}

Handle File::open_dataset(const std::string& name) const {
  if (!exists(name)) throw std::runtime_error(path_ + ": missing dataset '" + name + "'");
  Handle d(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT));
  if (!d.valid()) throw error("cannot open dataset '" + name + "'");
  return d;
}

void File::create_column(const std::string& name, Type type, hsize_t chunk) {
  const hsize_t zero = 0, unlimited = H5S_UNLIMITED;
  Handle space(H5Screate_simple(1, &zero, &unlimited));
  Handle props(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(props.get(), 1, &chunk);
  H5Pset_obj_track_times(props.get(), 0);  // no timestamps: the same content gives the same bytes
  Handle str = string_type();
  const hid_t t = type == Type::str ? str.get() : native(type);
  Handle d(H5Dcreate2(file_.get(), name.c_str(), t, space.get(), H5P_DEFAULT, props.get(), H5P_DEFAULT));
  if (!d.valid()) throw error("cannot create column '" + name + "'");
}

void File::append_raw(const std::string& name, hid_t mem_type, const void* data, std::size_t n) {
  if (n == 0) return;
  Handle d = open_dataset(name);
  const hsize_t old = static_cast<hsize_t>(length(name));
  const hsize_t size = old + n, count = n;
  if (H5Dset_extent(d.get(), &size) < 0) throw error("cannot extend column '" + name + "'");
  Handle file_space(H5Dget_space(d.get()));
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &old, nullptr, &count, nullptr);
  Handle mem_space(H5Screate_simple(1, &count, nullptr));
  if (H5Dwrite(d.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    throw error("cannot write column '" + name + "'");
}

void File::append(const std::string& name, const double* data, std::size_t n) {
  append_raw(name, H5T_NATIVE_DOUBLE, data, n);
}
void File::append(const std::string& name, const std::int64_t* data, std::size_t n) {
  append_raw(name, H5T_NATIVE_INT64, data, n);
}
void File::append(const std::string& name, const std::uint8_t* data, std::size_t n) {
  append_raw(name, H5T_NATIVE_UINT8, data, n);
}
void File::append(const std::string& name, const std::vector<std::string>& data) {
  std::vector<const char*> ptrs;
  ptrs.reserve(data.size());
  for (const auto& s : data) ptrs.push_back(s.c_str());
  Handle t = string_type();
  append_raw(name, t.get(), ptrs.data(), ptrs.size());
}

std::int64_t File::length(const std::string& name) const { return static_cast<std::int64_t>(dims(name).at(0)); }

std::vector<hsize_t> File::dims(const std::string& name) const {
  Handle d = open_dataset(name);
  Handle space(H5Dget_space(d.get()));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1) throw error("dataset '" + name + "' is not an array");
  std::vector<hsize_t> out(rank);
  H5Sget_simple_extent_dims(space.get(), out.data(), nullptr);
  return out;
}

void File::check_range(const std::string& name, std::int64_t begin, std::int64_t count) const {
  Handle d = open_dataset(name);
  Handle file_space(H5Dget_space(d.get()));
  hsize_t n = 0;
  if (H5Sget_simple_extent_ndims(file_space.get()) != 1) throw error("column '" + name + "' is not one-dimensional");
  H5Sget_simple_extent_dims(file_space.get(), &n, nullptr);
  if (begin < 0 || count < 0 || static_cast<hsize_t>(begin) > n || static_cast<hsize_t>(count) > n - begin)
    throw std::runtime_error(path_ + ": column '" + name + "' has " + std::to_string(n) +
                             " entries, asked for " + std::to_string(count) + " from entry " +
                             std::to_string(begin));
}

void File::check_stored(const std::string& name) const {
  Handle d = open_dataset(name);
  Handle space(H5Dget_space(d.get()));
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  Handle type(H5Dget_type(d.get()));
  const std::size_t element = H5Tget_size(type.get());
  Handle plist(H5Dget_create_plist(d.get()));
  const bool filtered = H5Pget_nfilters(plist.get()) > 0;
  const double stored = static_cast<double>(H5Dget_storage_size(d.get()));
  const double needed = static_cast<double>(points) * static_cast<double>(element);
  // Uncompressed data occupy their full size; deflate, the strongest of HDF5's built-in
  // filters, compresses at most ~1032:1.
  const double ratio = filtered ? 1100.0 : 1.0;
  if (needed > stored * ratio)
    throw std::runtime_error(path_ + ": dataset '" + name + "' claims " + std::to_string(points) +
                             " entries (" + std::to_string(static_cast<std::int64_t>(needed)) +
                             " bytes) but only " + std::to_string(static_cast<std::int64_t>(stored)) +
                             " bytes are stored: the file is corrupt or was cut short");
}

void File::read_raw(const std::string& name, hid_t mem_type, std::int64_t begin, std::int64_t count,
                    void* out) const {
  if (count == 0) return;  // the callers checked the range
  Handle d = open_dataset(name);
  Handle file_space(H5Dget_space(d.get()));
  const hsize_t start = begin, cnt = count;
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr);
  Handle mem_space(H5Screate_simple(1, &cnt, nullptr));
  if (H5Dread(d.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out) < 0)
    throw error("cannot read column '" + name + "' entries [" + std::to_string(begin) + ", " +
                std::to_string(begin + count) + ")");
}

std::vector<double> File::read_f64(const std::string& name, std::int64_t begin, std::int64_t count) const {
  check_range(name, begin, count);  // before allocating
  std::vector<double> v(count);
  read_raw(name, H5T_NATIVE_DOUBLE, begin, count, v.data());
  return v;
}
std::vector<std::int64_t> File::read_i64(const std::string& name, std::int64_t begin, std::int64_t count) const {
  check_range(name, begin, count);  // before allocating
  std::vector<std::int64_t> v(count);
  read_raw(name, H5T_NATIVE_INT64, begin, count, v.data());
  return v;
}
std::vector<std::uint8_t> File::read_u8(const std::string& name, std::int64_t begin, std::int64_t count) const {
  check_range(name, begin, count);  // before allocating
  std::vector<std::uint8_t> v(count);
  read_raw(name, H5T_NATIVE_UINT8, begin, count, v.data());
  return v;
}
std::vector<std::string> File::read_str(const std::string& name, std::int64_t begin, std::int64_t count) const {
  check_range(name, begin, count);  // before allocating
  std::vector<char*> ptrs(count, nullptr);
  Handle t = string_type();
  read_raw(name, t.get(), begin, count, ptrs.data());
  std::vector<std::string> out(count);
  for (std::int64_t i = 0; i < count; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
  // Free what HDF5 allocated for the variable-length strings.
  const hsize_t n = count;
  Handle space(H5Screate_simple(1, &n, nullptr));
  H5Dvlen_reclaim(t.get(), space.get(), H5P_DEFAULT, ptrs.data());
  return out;
}

void File::create_array(const std::string& name, Type type, const std::vector<hsize_t>& dims) {
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Handle str = string_type();
  const hid_t t = type == Type::str ? str.get() : native(type);
  Handle props(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_obj_track_times(props.get(), 0);
  Handle d(H5Dcreate2(file_.get(), name.c_str(), t, space.get(), H5P_DEFAULT, props.get(), H5P_DEFAULT));
  if (!d.valid()) throw error("cannot create dataset '" + name + "'");
}

void File::write_rows_raw(const std::string& name, hid_t mem_type, std::int64_t first_row,
                          std::int64_t n_rows, const void* data) {
  if (n_rows == 0) return;
  Handle d = open_dataset(name);
  Handle file_space(H5Dget_space(d.get()));
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  std::vector<hsize_t> dims(rank), start(rank, 0), count(rank);
  H5Sget_simple_extent_dims(file_space.get(), dims.data(), nullptr);
  count = dims;
  start[0] = first_row;
  count[0] = n_rows;
  if (static_cast<hsize_t>(first_row + n_rows) > dims[0])
    throw std::runtime_error(path_ + ": rows beyond the end of '" + name + "'");
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Handle mem_space(H5Screate_simple(rank, count.data(), nullptr));
  if (H5Dwrite(d.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    throw error("cannot write dataset '" + name + "'");
}

void File::write_rows(const std::string& name, std::int64_t first_row, std::int64_t n_rows, const double* data) {
  write_rows_raw(name, H5T_NATIVE_DOUBLE, first_row, n_rows, data);
}
void File::write_rows(const std::string& name, std::int64_t first_row, std::int64_t n_rows, const std::uint8_t* data) {
  write_rows_raw(name, H5T_NATIVE_UINT8, first_row, n_rows, data);
}
void File::write_rows(const std::string& name, std::int64_t first_row, std::int64_t n_rows, const std::int64_t* data) {
  write_rows_raw(name, H5T_NATIVE_INT64, first_row, n_rows, data);
}
void File::write_rows(const std::string& name, std::int64_t first_row, std::int64_t n_rows,
                      const std::vector<std::string>& data) {
  std::vector<const char*> ptrs;
  for (const auto& s : data) ptrs.push_back(s.c_str());
  Handle t = string_type();
  write_rows_raw(name, t.get(), first_row, n_rows, ptrs.data());
}

void File::read_all_raw(const std::string& name, hid_t mem_type, void* out) const {
  Handle d = open_dataset(name);
  if (H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    throw error("cannot read dataset '" + name + "'");
}

std::vector<double> File::read_all_f64(const std::string& name) const {
  std::size_t n = 1;
  for (hsize_t d : dims(name)) n *= d;
  std::vector<double> v(n);
  if (n) read_all_raw(name, H5T_NATIVE_DOUBLE, v.data());
  return v;
}

std::vector<double> File::read_row_f64(const std::string& name, std::int64_t row) const {
  const std::vector<hsize_t> shape = dims(name);
  if (shape.empty() || row < 0 || static_cast<hsize_t>(row) >= shape[0])
    throw std::runtime_error(path_ + ": array '" + name + "' has " +
                             std::to_string(shape.empty() ? 0 : shape[0]) + " rows, asked for row " +
                             std::to_string(row));
  std::vector<hsize_t> start(shape.size(), 0), count = shape;
  start[0] = static_cast<hsize_t>(row);
  count[0] = 1;
  std::size_t n = 1;
  for (std::size_t k = 1; k < shape.size(); ++k) n *= shape[k];
  std::vector<double> v(n);
  if (n == 0) return v;
  Handle d = open_dataset(name);
  Handle file_space(H5Dget_space(d.get()));
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                      nullptr);
  const hsize_t flat = n;
  Handle mem_space(H5Screate_simple(1, &flat, nullptr));
  if (H5Dread(d.get(), H5T_NATIVE_DOUBLE, mem_space.get(), file_space.get(), H5P_DEFAULT,
              v.data()) < 0)
    throw error("cannot read row " + std::to_string(row) + " of '" + name + "'");
  return v;
}

std::vector<std::uint8_t> File::read_all_u8(const std::string& name) const {
  std::size_t n = 1;
  for (hsize_t d : dims(name)) n *= d;
  std::vector<std::uint8_t> v(n);
  if (n) read_all_raw(name, H5T_NATIVE_UINT8, v.data());
  return v;
}

Type File::type_of(const std::string& name) const {
  Handle d = open_dataset(name);
  Handle t(H5Dget_type(d.get()));
  switch (H5Tget_class(t.get())) {
    case H5T_FLOAT: return Type::f64;
    case H5T_INTEGER: return H5Tget_size(t.get()) == 1 ? Type::u8 : Type::i64;
    case H5T_STRING: return Type::str;
    default: throw std::runtime_error(path_ + ": dataset '" + name + "' has an unsupported type");
  }
}

namespace {
herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> File::members(const std::string& group) const {
  std::vector<std::string> names;
  if (H5Literate_by_name(file_.get(), group.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name,
                         &names, H5P_DEFAULT) < 0)
    throw error("cannot list group '" + group + "'");
  return names;
}

bool File::has_attr(const std::string& object, const std::string& attr) const {
  const htri_t e = H5Aexists_by_name(file_.get(), object.c_str(), attr.c_str(), H5P_DEFAULT);
  if (e < 0) last_error();
  return e > 0;
}

namespace {
void write_attr(hid_t file, const std::string& object, const std::string& attr, hid_t type,
                hid_t space, const void* data, bool* ok) {
  if (H5Aexists_by_name(file, object.c_str(), attr.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(file, object.c_str(), attr.c_str(), H5P_DEFAULT);
  Handle a(H5Acreate_by_name(file, object.c_str(), attr.c_str(), type, space, H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT));
  *ok = a.valid() && H5Awrite(a.get(), type, data) >= 0;
}
}  // namespace

void File::set_attr(const std::string& object, const std::string& attr, double value) {
  Handle space(H5Screate(H5S_SCALAR));
  bool ok = false;
  write_attr(file_.get(), object, attr, H5T_NATIVE_DOUBLE, space.get(), &value, &ok);
  if (!ok) throw error("cannot write attribute '" + attr + "' of '" + object + "'");
}
void File::set_attr(const std::string& object, const std::string& attr, std::int64_t value) {
  Handle space(H5Screate(H5S_SCALAR));
  bool ok = false;
  write_attr(file_.get(), object, attr, H5T_NATIVE_INT64, space.get(), &value, &ok);
  if (!ok) throw error("cannot write attribute '" + attr + "' of '" + object + "'");
}
void File::set_attr(const std::string& object, const std::string& attr, const std::string& value) {
  Handle space(H5Screate(H5S_SCALAR));
  Handle t = string_type();
  const char* p = value.c_str();
  bool ok = false;
  write_attr(file_.get(), object, attr, t.get(), space.get(), &p, &ok);
  if (!ok) throw error("cannot write attribute '" + attr + "' of '" + object + "'");
}
void File::set_attr(const std::string& object, const std::string& attr, const std::vector<double>& value) {
  const hsize_t n = value.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  bool ok = false;
  write_attr(file_.get(), object, attr, H5T_NATIVE_DOUBLE, space.get(), value.data(), &ok);
  if (!ok) throw error("cannot write attribute '" + attr + "' of '" + object + "'");
}

namespace {
Handle open_attr(hid_t file, const std::string& object, const std::string& attr) {
  return Handle(H5Aopen_by_name(file, object.c_str(), attr.c_str(), H5P_DEFAULT, H5P_DEFAULT));
}
}  // namespace

double File::attr_f64(const std::string& object, const std::string& attr) const {
  Handle a = open_attr(file_.get(), object, attr);
  double v = 0;
  if (!a.valid() || H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0)
    throw error("cannot read attribute '" + attr + "' of '" + object + "' as a number");
  return v;
}
std::int64_t File::attr_i64(const std::string& object, const std::string& attr) const {
  Handle a = open_attr(file_.get(), object, attr);
  std::int64_t v = 0;
  if (!a.valid() || H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0)
    throw error("cannot read attribute '" + attr + "' of '" + object + "' as an integer");
  return v;
}
std::string File::attr_str(const std::string& object, const std::string& attr) const {
  Handle a = open_attr(file_.get(), object, attr);
  if (!a.valid()) throw error("cannot read attribute '" + attr + "' of '" + object + "'");
  Handle file_type(H5Aget_type(a.get()));
  if (H5Tget_class(file_type.get()) != H5T_STRING)
    throw std::runtime_error(path_ + ": attribute '" + attr + "' of '" + object + "' is not a string");
  if (H5Tis_variable_str(file_type.get()) > 0) {
    Handle t = string_type();
    char* p = nullptr;
    if (H5Aread(a.get(), t.get(), &p) < 0) throw error("cannot read attribute '" + attr + "'");
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  // Fixed-length strings, as h5py writes numpy bytes.
  const std::size_t n = H5Tget_size(file_type.get());
  std::string s(n, '\0');
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), n);
  if (H5Aread(a.get(), t.get(), s.data()) < 0) throw error("cannot read attribute '" + attr + "'");
  return s.substr(0, s.find('\0'));
}
std::vector<double> File::attr_f64_array(const std::string& object, const std::string& attr) const {
  Handle a = open_attr(file_.get(), object, attr);
  if (!a.valid()) throw error("cannot read attribute '" + attr + "' of '" + object + "'");
  Handle space(H5Aget_space(a.get()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<double> v(n > 0 ? n : 0);
  if (n > 0 && H5Aread(a.get(), H5T_NATIVE_DOUBLE, v.data()) < 0)
    throw error("cannot read attribute '" + attr + "' of '" + object + "' as numbers");
  return v;
}

}  // namespace fluxpoints::hdf5
