// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// A fault-injection shim for the output tests, loaded with LD_PRELOAD into the `fluxpoints`
// program. It wraps the libc calls that put bytes on disk (write, pwrite, writev, fsync,
// fdatasync, close, rename*) and makes them fail, for files whose path contains a chosen text
// only, once a chosen number of bytes has been written to such files:
//
//   FLUXPOINTS_FAULT_PATH         text the file path must contain (required; nothing happens
//   without) FLUXPOINTS_FAULT_AFTER_BYTES  bytes written successfully before the fault (default 0)
//   FLUXPOINTS_FAULT_ERRNO        the error returned (default ENOSPC; e.g. 5 = EIO, 122 = EDQUOT)
//   FLUXPOINTS_FAULT_OP           what fails: "write" (default: write/pwrite/writev; a write that
//                                 crosses the limit is cut short, as on a full disk), "fsync"
//                                 (fsync/fdatasync), "close", "rename" (rename/renameat/renameat2
//                                 and link/linkat onto a matching path), or "kill" (the process
//                                 kills itself with SIGKILL once the limit is crossed: a crash in
//                                 the middle of writing)
//
// The library code paths are the real ones (HDF5's sec2 driver calls pwrite; fluxpoints' own
// output code calls write/fsync/close/renameat2); only the kernel's answer is replaced.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long long budget_used;  // bytes written to matching files so far (updated atomically)

static const char* fault_path(void) {
  const char* p = getenv("FLUXPOINTS_FAULT_PATH");
  return p != NULL && *p != '\0' ? p : NULL;
}

static const char* fault_op(void) {
  const char* op = getenv("FLUXPOINTS_FAULT_OP");
  return op != NULL && *op != '\0' ? op : "write";
}

static long long fault_after(void) {
  const char* v = getenv("FLUXPOINTS_FAULT_AFTER_BYTES");
  return v != NULL ? atoll(v) : 0;
}

static int fault_errno(void) {
  const char* v = getenv("FLUXPOINTS_FAULT_ERRNO");
  return v != NULL ? atoi(v) : ENOSPC;
}

static int path_matches(const char* path) {
  const char* want = fault_path();
  return want != NULL && path != NULL && strstr(path, want) != NULL;
}

static int fd_matches(int fd) {
  if (fault_path() == NULL || fd < 0) return 0;
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  return path_matches(target);
}

static int op_is(const char* op) { return strcmp(fault_op(), op) == 0; }

// How many of `n` bytes may still be written to a matching file; 0 = fail now. "kill" kills.
static size_t allowed(size_t n) {
  const long long limit = fault_after();
  const long long used = __atomic_load_n(&budget_used, __ATOMIC_SEQ_CST);
  const long long left = limit > used ? limit - used : 0;
  if ((long long)n <= left) return n;
  if (op_is("kill")) kill(getpid(), SIGKILL);
  return (size_t)left;
}

#define REAL(name, type) ((type)dlsym(RTLD_NEXT, #name))

typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec*, int);

// The shared part of write/pwrite: cut short or fail once the budget is spent.
static ssize_t guarded(int fd, size_t n, ssize_t (*call)(int, size_t, void*), void* ctx) {
  if (!(op_is("write") || op_is("kill")) || !fd_matches(fd)) return call(fd, n, ctx);
  const size_t ok = allowed(n);
  if (ok == 0 && n > 0) {
    errno = fault_errno();
    return -1;
  }
  const ssize_t r = call(fd, ok, ctx);
  if (r > 0) __atomic_add_fetch(&budget_used, r, __ATOMIC_SEQ_CST);
  return r;
}

struct write_ctx {
  const void* buf;
  off_t offset;
};

static ssize_t call_write(int fd, size_t n, void* ctx) {
  return REAL(write, write_fn)(fd, ((struct write_ctx*)ctx)->buf, n);
}
static ssize_t call_pwrite(int fd, size_t n, void* ctx) {
  struct write_ctx* c = ctx;
  return REAL(pwrite, pwrite_fn)(fd, c->buf, n, c->offset);
}
static ssize_t call_pwrite64(int fd, size_t n, void* ctx) {
  struct write_ctx* c = ctx;
  return REAL(pwrite64, pwrite_fn)(fd, c->buf, n, c->offset);
}

ssize_t write(int fd, const void* buf, size_t n) {
  struct write_ctx c = {buf, 0};
  return guarded(fd, n, call_write, &c);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  struct write_ctx c = {buf, offset};
  return guarded(fd, n, call_pwrite, &c);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t offset) {
  struct write_ctx c = {buf, offset};
  return guarded(fd, n, call_pwrite64, &c);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  if (!(op_is("write") || op_is("kill")) || !fd_matches(fd))
    return REAL(writev, writev_fn)(fd, iov, count);
  // Written one buffer at a time through write() above, which applies the budget.
  ssize_t total = 0;
  for (int i = 0; i < count; ++i) {
    const ssize_t r = write(fd, iov[i].iov_base, iov[i].iov_len);
    if (r < 0) return total > 0 ? total : -1;
    total += r;
    if ((size_t)r < iov[i].iov_len) break;
  }
  return total;
}

int fsync(int fd) {
  if (op_is("fsync") && fd_matches(fd)) {
    errno = fault_errno();
    return -1;
  }
  return REAL(fsync, int (*)(int))(fd);
}

int fdatasync(int fd) {
  if (op_is("fsync") && fd_matches(fd)) {
    errno = fault_errno();
    return -1;
  }
  return REAL(fdatasync, int (*)(int))(fd);
}

int close(int fd) {
  const int fail = op_is("close") && fd_matches(fd);
  const int r = REAL(close, int (*)(int))(fd);  // the descriptor is released either way
  if (fail) {
    errno = fault_errno();
    return -1;
  }
  return r;
}

int rename(const char* from, const char* to) {
  if (op_is("rename") && path_matches(to)) {
    errno = fault_errno();
    return -1;
  }
  return REAL(rename, int (*)(const char*, const char*))(from, to);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to) {
  if (op_is("rename") && path_matches(to)) {
    errno = fault_errno();
    return -1;
  }
  return REAL(renameat, int (*)(int, const char*, int, const char*))(from_dir, from, to_dir, to);
}

int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
  if (op_is("rename") && path_matches(to)) {
    errno = fault_errno();
    return -1;
  }
  return REAL(renameat2, int (*)(int, const char*, int, const char*, unsigned))(from_dir, from,
                                                                                to_dir, to, flags);
}

int link(const char* from, const char* to) {
  if (op_is("rename") && path_matches(to)) {
    errno = fault_errno();
    return -1;
  }
  return REAL(link, int (*)(const char*, const char*))(from, to);
}

int linkat(int from_dir, const char* from, int to_dir, const char* to, int flags) {
  if (op_is("rename") && path_matches(to)) {
    errno = fault_errno();
    return -1;
  }
  return REAL(linkat, int (*)(int, const char*, int, const char*, int))(from_dir, from, to_dir, to,
                                                                        flags);
}
