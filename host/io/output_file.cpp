// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/io/output_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <set>

namespace fluxpoints::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTemporaryTag = ".tmp.fluxpoints.";
// Longest part of the output's name kept in a temporary's name, and of the host name: together
// with the rest the temporary's name stays well below the 255 bytes a file name may have.
constexpr std::size_t kTemporaryNameChars = 100;
constexpr std::size_t kHostChars = 64;
// A temporary of another host is removed only when nothing has touched it for this long: its
// writer cannot be asked whether it still runs.
constexpr auto kForeignTemporaryAge = std::chrono::hours(24);

std::string host_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) return "unknown";
  std::string h(host);
  for (char& c : h)
    if (c == '/' || c == '@') c = '_';
  return h.substr(0, kHostChars);
}

fs::path folder_of(const fs::path& p) {
  return p.has_parent_path() ? p.parent_path() : fs::path(".");
}

void remove_stale_temporaries_once(const fs::path& folder) {
  static std::mutex mutex;
  static std::set<std::string> done;
  std::error_code ec;
  const fs::path key = fs::weakly_canonical(folder, ec);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!done.insert(ec ? folder.string() : key.string()).second) return;
  }
  remove_stale_temporaries(folder.string());
}

std::string os_text(int error) { return std::strerror(error); }

}  // namespace

void check_output(const std::string& path, const OutputRule& rule) {
  if (path.empty()) throw OutputError("the output file name is empty", 0);
  const fs::path p(path);
  const fs::path dir = folder_of(p);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw OutputError("cannot write " + path + ": the folder '" + dir.string() + "' does not exist",
                      0);
  if (fs::is_directory(p, ec)) throw OutputError(path + " is a folder; give a file name", 0);
  const bool exists = fs::exists(p, ec);
  if (exists) {
    for (const std::string& input : rule.inputs) {
      std::error_code eq;
      if (!input.empty() && fs::equivalent(p, input, eq))
        throw OutputError(path + " is one of this command's inputs (" + input +
                              "): refusing to write over it; choose another output name",
                          0);
    }
    if (!rule.overwrite)
      throw OutputError(path + " already exists; use --overwrite to replace it", 0);
  }
}

OutputFile::OutputFile(std::string path, const OutputRule& rule)
    : path_(std::move(path)), overwrite_(rule.overwrite) {
  check_output(path_, rule);
  const fs::path p(path_);
  const fs::path dir = folder_of(p);
  remove_stale_temporaries_once(dir);
  static std::atomic<long> counter{0};
  const std::string name = p.filename().string().substr(0, kTemporaryNameChars);
  temp_ = (dir / ("." + name + kTemporaryTag + std::to_string(::getpid()) + "." +
                  std::to_string(counter++) + "@" + host_name()))
              .string();
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) fail("cannot create a temporary file in its folder", errno);
  // A replaced file keeps its permissions.
  struct stat st {};
  if (overwrite_ && ::stat(path_.c_str(), &st) == 0) (void)::fchmod(fd_, st.st_mode & 07777);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void OutputFile::fail(const std::string& what, int error) const {
  throw OutputError(path_ + ": " + what + ": " + os_text(error) +
                        " (nothing was written; an existing " +
                        fs::path(path_).filename().string() + " is unchanged)",
                    error);
}

void OutputFile::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", errno);
    }
    if (n == 0) fail("cannot write", EIO);
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void OutputFile::commit() {
  if (committed_) return;
  // Whatever wrote the temporary (this object or a library by name), fsync on our descriptor
  // flushes the file and reports the errors the kernel met while writing it back.
  if (::fsync(fd_) != 0) fail("cannot write (fsync)", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot write (close)", errno);

  const auto exists_error = [&] {
    throw OutputError(path_ +
                          " appeared while it was being written (another process?); use "
                          "--overwrite to replace it. Nothing was written",
                      EEXIST);
  };
  if (overwrite_) {
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      fail("cannot rename the temporary onto it", errno);
  } else if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
    const int error = errno;
    if (error == EEXIST) exists_error();
    if (error != EINVAL && error != ENOSYS && error != EOPNOTSUPP)
      fail("cannot rename the temporary onto it", error);
    // A file system without RENAME_NOREPLACE (NFS): a hard link fails as well when the target
    // exists; without hard links, the check and the rename are two steps.
    if (::link(temp_.c_str(), path_.c_str()) == 0) {
      ::unlink(temp_.c_str());
    } else if (errno == EEXIST) {
      exists_error();
    } else {
      std::error_code ec;
      if (fs::exists(path_, ec)) exists_error();
      if (::rename(temp_.c_str(), path_.c_str()) != 0)
        fail("cannot rename the temporary onto it", errno);
    }
  }
  committed_ = true;
  // The rename itself is durable once the folder is synced.
  const int dir = ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    const int rc = ::fsync(dir);
    const int error = errno;
    ::close(dir);
    if (rc != 0 && error != EINVAL && error != EROFS)
      throw OutputError(path_ + ": written, but syncing its folder failed: " + os_text(error),
                        error);
  }
}

bool has_gz_suffix(const std::string& path) {
  if (path.size() < 3) return false;
  const std::string end = path.substr(path.size() - 3);
  return (end[0] == '.') && (end[1] == 'g' || end[1] == 'G') && (end[2] == 'z' || end[2] == 'Z');
}

std::string gzip_compress(std::string_view bytes) {
  z_stream z{};
  // windowBits 15 + 16: the gzip wrapper (header and CRC-32) instead of zlib's.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: cannot initialise zlib");
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const std::size_t n = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip: compression failed");
  out.resize(n);
  return out;
}

void write_output_file(const std::string& path, std::string_view bytes, const OutputRule& rule) {
  OutputFile out(path, rule);
  if (has_gz_suffix(path)) {
    out.write(gzip_compress(bytes));
  } else {
    out.write(bytes);
  }
  out.commit();
}

bool parse_temporary_name(const std::string& file_name, TemporaryOwner* owner) {
  if (file_name.empty() || file_name[0] != '.') return false;
  const std::size_t tag = file_name.rfind(kTemporaryTag);
  if (tag == std::string::npos) return false;
  const std::string rest = file_name.substr(tag + std::strlen(kTemporaryTag));  // PID.N@HOST
  const std::size_t dot = rest.find('.'), at = rest.find('@');
  if (dot == std::string::npos || at == std::string::npos || dot == 0 || at < dot + 2) return false;
  const std::string pid = rest.substr(0, dot), counter = rest.substr(dot + 1, at - dot - 1);
  for (const std::string& digits : {pid, counter})
    for (char c : digits)
      if (c < '0' || c > '9') return false;
  if (pid.size() > 9) return false;
  owner->pid = std::stol(pid);
  owner->host = rest.substr(at + 1);
  return !owner->host.empty();
}

void remove_stale_temporaries(const std::string& folder) {
  const std::string me = host_name();
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    TemporaryOwner owner;
    const std::string name = it->path().filename().string();
    if (!parse_temporary_name(name, &owner)) continue;
    bool stale = false;
    if (owner.host == me) {
      stale = owner.pid != ::getpid() && ::kill(static_cast<pid_t>(owner.pid), 0) != 0 &&
              errno == ESRCH;
    } else {
      std::error_code tec;
      const auto touched = fs::last_write_time(it->path(), tec);
      stale = !tec && fs::file_time_type::clock::now() - touched > kForeignTemporaryAge;
    }
    if (stale) {
      std::error_code rec;
      fs::remove(it->path(), rec);
    }
  }
}

RunLock::RunLock(const std::string& lock_path, const std::string& output) : path_(lock_path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      throw OutputError("cannot create the lock file " + path_ + ": " + os_text(errno), errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if (error == EWOULDBLOCK) {
        char holder[512] = {0};
        const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
        ::close(fd);
        std::string who =
            n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "unknown process";
        while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
        throw OutputError(
            output + " is being written by another run (" + who + "; lock file " + path_ +
                "). Wait for it to finish or stop it; a stopped or killed run releases "
                "the lock, and --resume then continues its work",
            error);
      }
      ::close(fd);
      warning_ = "cannot lock " + path_ + " (" + os_text(error) +
                 "): this file system has no flock, so a second run on " + output +
                 " would not be detected";
      return;
    }
    // The file may have been unlinked by the previous holder between our open and flock: then
    // the lock is on a file nobody else will open; start again.
    struct stat mine {
    }, named{};
    if (::fstat(fd, &mine) != 0 || ::stat(path_.c_str(), &named) != 0 ||
        mine.st_ino != named.st_ino || mine.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    const std::time_t now = std::time(nullptr);
    char started[64] = {0};
    std::strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    const std::string text =
        "pid " + std::to_string(::getpid()) + " on host " + host + ", started " + started + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      const int error = errno;
      ::close(fd);
      throw OutputError("cannot write the lock file " + path_ + ": " + os_text(error), error);
    }
    fd_ = fd;
    return;
  }
  throw OutputError("cannot take the lock " + path_ + ": it keeps being replaced", 0);
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  // Unlinked while still held: a run that opened the old file sees it is gone and starts again.
  ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace fluxpoints::io
