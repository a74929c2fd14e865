// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// fluxpoints._engine: the engine (statistic, batch, backends) for Python. numpy arrays go into a
// BatchView in place (no copy); the GIL is released while a backend solves; results come back as
// numpy arrays that own the result vectors (no copy either). `submit` starts a solve
// (Backend::solve_async) and returns at once, so that Python can prepare the next batch meanwhile.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <condition_variable>
#include <cstdint>
#include <future>
#include <thread>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/math/sensitivity.hpp"

namespace nb = nanobind;
namespace fp = fluxpoints;

namespace {

template <class T>
using InArray = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
template <class T, int N>
using OutArray = nb::ndarray<nb::numpy, T, nb::ndim<N>>;

// A numpy array that owns `v` (moved to the heap; freed when the array is collected).
template <class T>
OutArray<T, 1> to_numpy(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return OutArray<T, 1>(owned->data(), {owned->size()}, owner);
}

OutArray<double, 2> to_numpy_2d(std::vector<double>&& v, std::size_t rows, std::size_t cols) {
  auto* owned = new std::vector<double>(std::move(v));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<double>*>(p); });
  return OutArray<double, 2>(owned->data(), {rows, cols}, owner);
}

// One batch at a time per backend (the CUDA backend reuses its device buffers between solves). A
// turn is taken when a solve starts and given back when its result is collected, possibly by
// another thread: a flag and a condition variable, not a mutex (which only its owner may unlock).
class BackendTurn {
 public:
  // Waits for the turn. The thread that holds it and asks again would wait for itself: an error.
  void take() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (busy_ && holder_ == std::this_thread::get_id())
      throw std::runtime_error(
          "submit: this thread has a solve on this backend whose result was not collected; call "
          "result() on it first");
    free_.wait(lock, [this] { return !busy_; });
    busy_ = true;
    holder_ = std::this_thread::get_id();
  }
  void give_back() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ = false;
    }
    free_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable free_;
  bool busy_ = false;
  std::thread::id holder_;
};

// One backend per (kind, workers, CUDA device index), made once: the CUDA backend keeps its device
// buffers between solves.
struct CachedBackend {
  std::unique_ptr<fp::Backend> backend;
  std::string why;
  BackendTurn turn;
};

CachedBackend& backend_for(const std::string& which, int workers, int device) {
  if (device < 0)
    throw std::invalid_argument("device: a CUDA device index is >= 0, got " +
                                std::to_string(device));
  static std::mutex cache_mutex;
  static std::map<std::tuple<std::string, int, int>, std::unique_ptr<CachedBackend>> cache;
  std::lock_guard<std::mutex> lock(cache_mutex);
  auto& slot = cache[{which, workers, device}];
  if (!slot) {
    auto made = std::make_unique<CachedBackend>();
    fp::BackendOptions choice;
    choice.device = which;
    choice.workers = workers;
    choice.cuda.device = device;
    made->backend = fp::make_backend(choice, &made->why);
    slot = std::move(made);
  }
  return *slot;
}

std::int64_t size_of(const InArray<double>& a) { return static_cast<std::int64_t>(a.shape(0)); }

void require_size(std::int64_t got, std::int64_t want, const char* name) {
  if (got != want)
    throw std::invalid_argument(std::string("solve: ") + name + " has " + std::to_string(got) +
                                " entries, expected " + std::to_string(want));
}

// A solve in flight: what it reads (the caller's arrays, kept alive here), its options and its
// future. result() waits for it (without the GIL) and turns it into numpy arrays.
class PendingSolve {
 public:
  PendingSolve() = default;
  PendingSolve(const PendingSolve&) = delete;
  PendingSolve& operator=(const PendingSolve&) = delete;
  ~PendingSolve() {
    if (!future_.valid()) return;
    nb::gil_scoped_release release;
    future_.wait();  // the solve reads arrays this object keeps alive
    backend_->turn.give_back();
  }

  nb::dict result();

  // Inputs (held so that numpy cannot free them while the backend reads them).
  std::vector<InArray<double>> doubles;
  std::vector<InArray<std::int64_t>> int64s;
  std::optional<InArray<std::uint8_t>> kinds;
  std::optional<std::vector<std::string>> labels;
  fp::BatchView view;
  fp::SolveOptions options;
  std::optional<double> n_sigma_sensitivity;
  bool has_nuisances = false;

  void start(CachedBackend& backend) {
    backend_ = &backend;
    {
      nb::gil_scoped_release release;
      backend.turn.take();
    }
    try {
      future_ = backend.backend->solve_async(view, options);
    } catch (...) {
      backend.turn.give_back();
      throw;
    }
  }

 private:
  CachedBackend* backend_ = nullptr;
  std::future<fp::BatchResult> future_;
};

std::unique_ptr<PendingSolve> submit(
    InArray<double> counts, InArray<double> npred_ref, InArray<double> npred_other,
    InArray<double> counts_off, InArray<double> alpha, InArray<std::int64_t> segment_bins,
    InArray<std::uint8_t> segment_kind, InArray<std::int64_t> problem_segments, double n_sigma,
    double n_sigma_ul, bool errn_errp, bool ul, std::optional<InArray<double>> scan_values,
    double norm_value, double norm_min, double norm_max, std::optional<double> n_sigma_sensitivity,
    const std::string& backend, int workers, int device,
    std::optional<std::vector<std::string>> labels,
    std::optional<InArray<std::int64_t>> problem_nuisances,
    std::optional<InArray<std::int64_t>> template_offset,
    std::optional<InArray<double>> template_values, std::optional<InArray<double>> nuisance_start,
    std::optional<InArray<double>> nuisance_min, std::optional<InArray<double>> nuisance_max) {
  // Sizes first: the view's own validation then checks the offsets against them.
  if (problem_segments.shape(0) < 1 || segment_bins.shape(0) < 1)
    throw std::invalid_argument(
        "solve: problem_segments and segment_bins need at least one entry (0)");
  fp::BatchView view;
  view.n_problems = static_cast<std::int64_t>(problem_segments.shape(0)) - 1;
  view.n_segments = static_cast<std::int64_t>(segment_bins.shape(0)) - 1;
  view.n_bins = size_of(counts);
  require_size(size_of(npred_ref), view.n_bins, "npred_ref");
  require_size(size_of(npred_other), view.n_bins, "npred_other");
  require_size(size_of(counts_off), view.n_bins, "counts_off");
  require_size(size_of(alpha), view.n_bins, "alpha");
  require_size(static_cast<std::int64_t>(segment_kind.shape(0)), view.n_segments, "segment_kind");
  if (labels) require_size(static_cast<std::int64_t>(labels->size()), view.n_problems, "labels");
  // StatKind is a uint8 enum (0 = cash, 1 = wstat); validate() rejects any other value before a
  // backend reads one.
  view.arrays = fp::math::BatchArrays{counts.data(),
                                      npred_ref.data(),
                                      npred_other.data(),
                                      counts_off.data(),
                                      alpha.data(),
                                      segment_bins.data(),
                                      reinterpret_cast<const fp::StatKind*>(segment_kind.data()),
                                      problem_segments.data()};
  if (problem_nuisances) {
    // Linear nuisance parameters (reoptimize=True); the layout is LikelihoodBatch's.
    if (!template_offset || !template_values || !nuisance_start || !nuisance_min || !nuisance_max)
      throw std::invalid_argument(
          "solve: problem_nuisances needs template_offset, template_values, nuisance_start, "
          "nuisance_min and nuisance_max");
    require_size(static_cast<std::int64_t>(problem_nuisances->shape(0)), view.n_problems + 1,
                 "problem_nuisances");
    require_size(static_cast<std::int64_t>(template_offset->shape(0)), view.n_problems,
                 "template_offset");
    view.n_nuisances = problem_nuisances->data()[view.n_problems];  // validate() checks it
    require_size(size_of(*nuisance_start), view.n_nuisances, "nuisance_start");
    require_size(size_of(*nuisance_min), view.n_nuisances, "nuisance_min");
    require_size(size_of(*nuisance_max), view.n_nuisances, "nuisance_max");
    view.n_template_values = size_of(*template_values);
    view.nuisances = fp::math::NuisanceArrays{problem_nuisances->data(), template_offset->data(),
                                              template_values->data(),   nuisance_start->data(),
                                              nuisance_min->data(),      nuisance_max->data()};
  }

  fp::SolveOptions options;
  options.n_sigma = n_sigma;
  options.n_sigma_ul = n_sigma_ul;
  options.errn_errp = errn_errp;
  options.ul = ul;
  options.norm_value = norm_value;
  options.norm_min = norm_min;
  options.norm_max = norm_max;
  if (scan_values) {
    options.scan = true;
    options.scan_values.assign(scan_values->data(), scan_values->data() + scan_values->shape(0));
    if (options.scan_values.empty()) throw std::invalid_argument("solve: scan_values is empty");
  }
  if (n_sigma_sensitivity && !(*n_sigma_sensitivity > 0))
    throw std::invalid_argument("n_sigma_sensitivity must be positive, got " +
                                std::to_string(*n_sigma_sensitivity));

  if (n_sigma_sensitivity && view.has_nuisances())
    throw std::invalid_argument(
        "solve: the sensitivity is not computed for problems with nuisance parameters");

  auto pending = std::make_unique<PendingSolve>();
  pending->doubles = {counts, npred_ref, npred_other, counts_off, alpha};
  pending->int64s = {segment_bins, problem_segments};
  pending->kinds = segment_kind;
  if (labels) {
    pending->labels = std::move(labels);
    view.labels = &*pending->labels;
  }
  if (problem_nuisances) {
    pending->int64s.push_back(*problem_nuisances);
    pending->int64s.push_back(*template_offset);
    for (const auto* a : {&template_values, &nuisance_start, &nuisance_min, &nuisance_max})
      pending->doubles.push_back(**a);
  }
  pending->view = view;
  pending->options = std::move(options);
  pending->n_sigma_sensitivity = n_sigma_sensitivity;
  pending->has_nuisances = problem_nuisances.has_value();
  pending->start(backend_for(backend, workers, device));
  return pending;
}

// solve(): submit() and wait, with submit's arguments.
template <class F>
struct SolveNow;
template <class R, class... Args>
struct SolveNow<R (*)(Args...)> {
  static nb::dict call(Args... args) { return submit(std::move(args)...)->result(); }
};

nb::dict PendingSolve::result() {
  if (!future_.valid())
    throw std::runtime_error("result: this solve's result was already collected");
  const fp::BatchView& view = this->view;
  fp::BatchResult r;
  std::vector<double> sensitivity;
  {
    nb::gil_scoped_release release;
    try {
      r = future_.get();
    } catch (...) {
      backend_->turn.give_back();
      throw;
    }
    backend_->turn.give_back();
    if (n_sigma_sensitivity) {
      // Host-side, after the solve (as the command line does): a 1-D root of the Asimov TS.
      constexpr double kSensitivityRelTol = 1e-10;
      sensitivity.resize(view.n_problems);
      for (std::int64_t p = 0; p < view.n_problems; ++p)
        sensitivity[p] =
            fp::math::norm_sensitivity(view.problem(p), *n_sigma_sensitivity, kSensitivityRelTol);
    }
  }

  const std::size_t np = static_cast<std::size_t>(r.n_problems());
  const std::size_t n_scan = static_cast<std::size_t>(r.n_scan());
  std::vector<std::uint8_t> status(np);
  for (std::size_t p = 0; p < np; ++p) status[p] = static_cast<std::uint8_t>(r.status[p]);

  nb::dict out;
  out["backend"] = backend_->backend->name();
  out["norm"] = to_numpy(std::move(r.norm));
  out["norm_err"] = to_numpy(std::move(r.norm_err));
  out["ts"] = to_numpy(std::move(r.ts));
  out["sqrt_ts"] = to_numpy(std::move(r.sqrt_ts));
  out["stat"] = to_numpy(std::move(r.stat));
  out["stat_null"] = to_numpy(std::move(r.stat_null));
  out["norm_errn"] = to_numpy(std::move(r.norm_errn));
  out["norm_errp"] = to_numpy(std::move(r.norm_errp));
  out["norm_ul"] = to_numpy(std::move(r.norm_ul));
  out["success"] = to_numpy(std::move(r.success));
  out["status"] = to_numpy(std::move(status));
  out["notes"] = to_numpy(std::move(r.notes));
  out["norm_scan"] = to_numpy(std::move(r.norm_scan));
  out["stat_scan"] = to_numpy_2d(std::move(r.stat_scan), np, n_scan);
  out["npred"] = to_numpy(std::move(r.npred));
  out["npred_excess"] = to_numpy(std::move(r.npred_excess));
  out["counts"] = to_numpy(std::move(r.counts));
  out["evaluations"] = r.evaluations;
  if (has_nuisances) out["nuisance"] = to_numpy(std::move(r.nuisance));
  if (n_sigma_sensitivity) out["norm_sensitivity"] = to_numpy(std::move(sensitivity));
  return out;
}

// Per-bin statistic and total predicted counts of bins where the source predicts nothing (the
// statistic there is the same at every norm): the same per-bin functions the solvers use.
std::pair<OutArray<double, 1>, OutArray<double, 1>> constant_bins(
    int kind, InArray<double> counts, InArray<double> npred_other,
    std::optional<InArray<double>> counts_off, std::optional<InArray<double>> alpha) {
  const std::int64_t n = size_of(counts);
  require_size(size_of(npred_other), n, "npred_other");
  const bool wstat = kind == static_cast<int>(fp::StatKind::wstat);
  if (!wstat && kind != static_cast<int>(fp::StatKind::cash))
    throw std::invalid_argument("constant_bins: kind must be 0 (cash) or 1 (wstat), got " +
                                std::to_string(kind));
  if (wstat) {
    if (!counts_off || !alpha)
      throw std::invalid_argument("constant_bins: WStat needs counts_off and alpha");
    require_size(size_of(*counts_off), n, "counts_off");
    require_size(size_of(*alpha), n, "alpha");
  }
  std::vector<double> stat(n), npred(n);
  {
    nb::gil_scoped_release release;
    const double* c = counts.data();
    const double* o = npred_other.data();
    for (std::int64_t i = 0; i < n; ++i) {
      const fp::math::BinTerms t =
          wstat ? fp::math::wstat_bin(c[i], counts_off->data()[i], alpha->data()[i], 0.0, o[i], 0.0)
                : fp::math::cash_bin(c[i], 0.0, o[i], 0.0);
      stat[i] = t.value;
      npred[i] = t.npred;
    }
  }
  return {to_numpy(std::move(stat)), to_numpy(std::move(npred))};
}

}  // namespace

NB_MODULE(_engine, m) {
  m.doc() = "The fluxpoints engine: batched flux-point likelihood solves (Cash, WStat).";

  nb::class_<PendingSolve>(m, "PendingSolve",
                           "A solve started by submit(); result() waits for it (without the GIL).")
      .def("result", &PendingSolve::result,
           "The solve's dict of numpy arrays (as solve() returns it); rethrows its error.");

  // noconvert: the batch arrays are read in place; an array of another dtype or layout is an
  // error, not a silent copy.
  const auto batch_arguments = [] {
    return std::make_tuple(
        nb::arg("counts").noconvert(), nb::arg("npred_ref").noconvert(),
        nb::arg("npred_other").noconvert(), nb::arg("counts_off").noconvert(),
        nb::arg("alpha").noconvert(), nb::arg("segment_bins").noconvert(),
        nb::arg("segment_kind").noconvert(), nb::arg("problem_segments").noconvert(), nb::kw_only(),
        nb::arg("n_sigma") = 1.0, nb::arg("n_sigma_ul") = 2.0, nb::arg("errn_errp") = false,
        nb::arg("ul") = false, nb::arg("scan_values") = nb::none(), nb::arg("norm_value") = 1.0,
        nb::arg("norm_min") = fp::math::kNaN, nb::arg("norm_max") = fp::math::kNaN,
        nb::arg("n_sigma_sensitivity") = nb::none(), nb::arg("backend") = "auto",
        nb::arg("workers") = 0, nb::arg("device") = 0, nb::arg("labels") = nb::none(),
        nb::arg("problem_nuisances").noconvert() = nb::none(),
        nb::arg("template_offset").noconvert() = nb::none(),
        nb::arg("template_values").noconvert() = nb::none(),
        nb::arg("nuisance_start").noconvert() = nb::none(),
        nb::arg("nuisance_min").noconvert() = nb::none(),
        nb::arg("nuisance_max").noconvert() = nb::none());
  };
  const char* solve_doc =
      "Solve every problem of a flattened batch (see LikelihoodBatch). The arrays are read in "
      "place: float64 / int64 / uint8, C-contiguous. Optional linear nuisance parameters "
      "(problem_nuisances ... nuisance_max, laid out as in LikelihoodBatch) are re-fitted with "
      "the norm; their fitted values come back as 'nuisance'. Returns a dict of numpy arrays.";
  std::apply(
      [&](auto&&... args) {
        m.def("solve", &SolveNow<decltype(&submit)>::call, args..., solve_doc);
      },
      batch_arguments());
  std::apply(
      [&](auto&&... args) {
        m.def("submit", &submit, args...,
              "Starts solve() with the same arguments and returns a PendingSolve at once; its "
              "result() returns what solve() would. The arrays stay referenced until then. One "
              "solve per backend runs at a time: collect a result before submitting the next "
              "from the same thread.");
      },
      batch_arguments());

  m.def("constant_bins", &constant_bins, nb::arg("kind"), nb::arg("counts"), nb::arg("npred_other"),
        nb::arg("counts_off") = nb::none(), nb::arg("alpha") = nb::none(),
        "(stat, npred) per bin with no source counts: kind 0 = Cash (npred_other = the whole "
        "prediction), 1 = WStat (npred_other = the sky models' signal).");

  m.def("compiled_backends", &fp::compiled_backends, "Backends built into this module.");
  m.def(
      "cuda_device_available",
      [] {
        std::string reason;
        const bool ok = fp::cuda_device_available(&reason);
        return std::make_pair(ok, reason);
      },
      "(available, reason): whether a CUDA device can be used now, and why not.");
  m.def(
      "backend_name",
      [](const std::string& which, int workers, int device) {
        CachedBackend& b = backend_for(which, workers, device);
        return std::make_pair(b.backend->name(), b.why);
      },
      nb::arg("which") = "auto", nb::arg("workers") = 0, nb::arg("device") = 0,
      "(name, why) of the backend `which` resolves to (device: the CUDA device index).");
  m.def(
      "describe",
      [](int status, std::uint32_t notes) {
        std::string s = fp::describe_status(static_cast<fp::SolveStatus>(status));
        const std::string n = fp::describe_notes(notes);
        return n.empty() ? s : s + " (" + n + ")";
      },
      nb::arg("status"), nb::arg("notes") = 0, "Text for a solve status and its note bits.");
}
