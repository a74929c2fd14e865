// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The CUDA backend: chunks of whole problems streamed through pinned memory onto the GPU, solved
// there by the kernels of solve_kernels.cuh (see cuda_backend.hpp for the overall scheme).
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <cub/device/device_radix_sort.cuh>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "chunk_plan.hpp"
#include "chunk_staging.hpp"
#include "cuda_backend.hpp"
#include "device_choice.hpp"
#include "device_memory.cuh"
#include "fluxpoints/thread_pool.hpp"
#include "host/engine/backend_support.hpp"
#include "input_fields.hpp"
#include "solve_kernels.cuh"

namespace fluxpoints::cuda_backend {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Calls f(a_ptr, b_ptr, n) for every result array of a chunk with np problems, ns segments and
// n_scan scan norms: the one list of result arrays that copies walk through.
template <class F>
void zip_results(const math::ResultArrays& a, const math::ResultArrays& b, std::int64_t np,
                 std::int64_t ns, std::int64_t n_scan, F&& f) {
  const math::ResultSizes sizes{np, ns, n_scan};
  math::for_each_result_field(
      [&](const math::FieldInfo& field, auto* x, auto* y) { f(x, y, sizes.count(field.extent)); },
      a, b);
  f(a.evaluations, b.evaluations, np);
}

// The result arrays of a chunk starting at problem p0 / segment s0 inside whole-batch arrays.
math::ResultArrays offset(math::ResultArrays r, std::int64_t p0, std::int64_t s0,
                          std::int64_t n_scan) {
  const math::ResultSizes before{p0, s0, n_scan};
  math::for_each_result_field(
      [&](const math::FieldInfo& field, auto*& pointer) {
        if (pointer) pointer += before.count(field.extent);
      },
      r);
  r.evaluations += p0;
  return r;
}

// Storage for the results of one chunk, on the device (DeviceArray) or pinned (PinnedArray).
template <template <class> class Array>
struct ResultStore {
  math::ResultColumns<Array> columns;
  Array<int> evaluations;

  ResultStore() = default;
  ResultStore(std::int64_t np, std::int64_t ns, std::int64_t n_scan) : evaluations(np) {
    const math::ResultSizes sizes{np, ns, n_scan};
    math::for_each_result_field(
        [&](const math::FieldInfo& field, auto& column) {
          column = std::decay_t<decltype(column)>(sizes.count(field.extent));
        },
        columns);
  }
  math::ResultArrays arrays() const {
    math::ResultArrays r;
    math::for_each_result_field(
        [](const math::FieldInfo&, auto*& pointer, const auto& column) { pointer = column.get(); },
        r, columns);
    r.evaluations = evaluations.get();
    return r;
  }
};

// Batch inputs of one chunk (input_fields.hpp), offsets rebased to the chunk's first segment and
// bin.
template <template <class> class Array>
struct InputStore {
#define FLUXPOINTS_DECLARE_INPUT(name, type, extent) Array<type> name;
  FLUXPOINTS_CUDA_INPUT_FIELDS(FLUXPOINTS_DECLARE_INPUT)
#undef FLUXPOINTS_DECLARE_INPUT

  InputStore() = default;
  explicit InputStore(const InputSizes& n) {
    for_each_input_field(
        [&](InputExtent e, auto& array) { array = std::decay_t<decltype(array)>(n.count(e)); },
        *this);
  }
  math::BatchArrays arrays() const {
    math::BatchArrays r{};
    for_each_input_field(
        [](InputExtent, auto& pointer, const auto& array) { pointer = array.get(); }, r, *this);
    return r;
  }
  void targets(StagingTargets& t) const {
    for_each_input_field(
        [](InputExtent, auto& pointer, const auto& array) { pointer = array.get(); }, t, *this);
  }
};

// Nuisance inputs of one chunk (input_fields.hpp): offsets rebased to the chunk's first
// nuisance, templates gathered. Empty (null pointers) for chunks sized without nuisances.
template <template <class> class Array>
struct NuisanceStore {
#define FLUXPOINTS_DECLARE_NUISANCE_INPUT(name, type, extent) Array<type> name;
  FLUXPOINTS_CUDA_NUISANCE_FIELDS(FLUXPOINTS_DECLARE_NUISANCE_INPUT)
#undef FLUXPOINTS_DECLARE_NUISANCE_INPUT

  NuisanceStore() = default;
  explicit NuisanceStore(const InputSizes& n) {
    for_each_nuisance_field(
        [&](InputExtent e, auto& array) { array = std::decay_t<decltype(array)>(n.count(e)); },
        *this);
  }
  math::NuisanceArrays arrays() const {
    math::NuisanceArrays r{};
    for_each_nuisance_field(
        [](InputExtent, auto& pointer, const auto& array) { pointer = array.get(); }, r, *this);
    return r;
  }
  void targets(StagingTargets::Nuisances& t) const {
    for_each_nuisance_field(
        [](InputExtent, auto& pointer, const auto& array) { pointer = array.get(); }, t, *this);
  }
};

// Everything one chunk in flight needs: its stream, device buffers and pinned staging buffers.
struct Slot {
  Stream stream;
  Event started, uploaded, solved, downloaded;
  InputStore<DeviceArray> in;
  InputStore<PinnedArray> staged_in;
  NuisanceStore<DeviceArray> nu;
  NuisanceStore<PinnedArray> staged_nu;
  ResultStore<DeviceArray> out;
  ResultStore<PinnedArray> staged_out;
  DeviceArray<double> phi;  // fitted nuisances (BatchResult::nuisance)
  PinnedArray<double> staged_phi;
  DeviceArray<std::uint32_t> keys, sorted_keys;  // bins per problem
  DeviceArray<std::int64_t> ids, sorted_ids;     // problem index in the chunk
  DeviceArray<unsigned char> sort_scratch;
  std::size_t sort_scratch_bytes = 0;
  int chunk = -1;  // the chunk in flight, -1 when idle

  StagingTargets staging_targets() const {
    StagingTargets t;
    staged_in.targets(t);
    staged_nu.targets(t.nuisances);
    return t;
  }

  Slot(const InputSizes& n, std::int64_t n_scan)
      : in(n), staged_in(n), nu(n), staged_nu(n), out(n.problems, n.segments, n_scan),
        staged_out(n.problems, n.segments, n_scan), phi(n.nuisances), staged_phi(n.nuisances),
        keys(n.problems), sorted_keys(n.problems), ids(n.problems), sorted_ids(n.problems) {
    check(cub::DeviceRadixSort::SortPairs(nullptr, sort_scratch_bytes, keys.get(),
                                          sorted_keys.get(), ids.get(), sorted_ids.get(),
                                          static_cast<int>(n.problems)),
          "cub::DeviceRadixSort (scratch size)");
    sort_scratch = DeviceArray<unsigned char>(sort_scratch_bytes);
  }
};

// Buffers kept between solves, so repeated solves of similar batches allocate nothing.
struct Workspace {
  InputSizes sizes;  // of every slot's buffers
  std::int64_t n_scan = 0;
  std::vector<std::unique_ptr<Slot>> slots;
  DeviceArray<double> norms;

  bool fits(const InputSizes& n, std::int64_t scan, std::size_t n_slots) const {
    return n.problems <= sizes.problems && n.segments <= sizes.segments &&
           n.bins <= sizes.bins && n.nuisances <= sizes.nuisances &&
           n.template_values <= sizes.template_values && scan == n_scan &&
           n_slots <= slots.size();
  }
  std::size_t device_bytes() const {
    return slots.size() * slot_bytes(sizes, static_cast<int>(n_scan));
  }
  void ensure(const InputSizes& n, std::int64_t scan, std::size_t n_slots) {
    if (fits(n, scan, n_slots)) return;
    slots.clear();  // free before allocating the larger set
    sizes.problems = std::max(n.problems, sizes.problems);
    sizes.segments = std::max(n.segments, sizes.segments);
    sizes.bins = std::max(n.bins, sizes.bins);
    sizes.nuisances = std::max(n.nuisances, sizes.nuisances);
    sizes.template_values = std::max(n.template_values, sizes.template_values);
    n_scan = scan;
    for (std::size_t i = 0; i < n_slots; ++i)
      slots.push_back(std::make_unique<Slot>(sizes, n_scan));
    norms = DeviceArray<double>(n_scan);
  }
};

int sort_key_bits(std::int64_t max_bins) {
  int bits = 1;
  while (bits < 32 && (max_bins >> bits) != 0) ++bits;
  return bits;
}

// Runs the copies with several threads when they are large: one memcpy thread moves ~10 GB/s,
// so staging a map-sized chunk on one thread would take longer than its transfer and solve.
// Up to 8 threads: more do not raise the memory bandwidth.
void copy_parallel(const std::vector<CopyJob>& jobs) {
  constexpr std::size_t kPiece = std::size_t{16} << 20;  // smaller copies are not worth a thread
  std::vector<CopyJob> pieces;
  for (const CopyJob& j : jobs)
    for (std::size_t off = 0; off < j.bytes; off += kPiece)
      pieces.push_back({static_cast<char*>(j.dst) + off, static_cast<const char*>(j.src) + off,
                        std::min(kPiece, j.bytes - off)});
  static ThreadPool pool(std::min(available_cores(), 8));
  pool.parallel_for(static_cast<std::int64_t>(pieces.size()), 1, [&](std::int64_t i) {
    std::memcpy(pieces[i].dst, pieces[i].src, pieces[i].bytes);
  });
}

// Host: copies chunk c of the batch into the slot's pinned buffers (chunk_staging.hpp).
void stage(const BatchView& view, const Chunk& c, Slot& s) {
  std::vector<CopyJob> copies;
  stage_chunk(view, c, s.staging_targets(), copies);
  copy_parallel(copies);
}

void upload(const Chunk& c, Slot& s) {
  const InputSizes n = c.sizes();
  const auto copy = [&](InputExtent e, const auto& dst, const auto& src) {
    copy_to_device(dst.get(), src.get(), n.count(e), s.stream.get());
  };
  for_each_input_field(copy, s.in, s.staged_in);
  for_each_nuisance_field(copy, s.nu, s.staged_nu);
}

// The chunk's nuisance arrays on the device; null ones when its problems have none (every
// kernel then takes the plain path).
math::NuisanceArrays device_nuisances(const Chunk& c, const Slot& s) {
  return c.nuisances() > 0 ? s.nu.arrays() : math::NuisanceArrays{};
}

unsigned blocks_for(std::int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// Sorts the chunk's problem ids by bin count, those with nuisance parameters last (by their
// number), so each tier (thread, warp, block, nuisance) is a range.
void sort_by_size(const Chunk& c, Slot& s) {
  const cudaStream_t st = s.stream.get();
  const std::int64_t np = c.problems();
  // Nuisance problems' keys lie above every other problem's bin count (problem_sizes).
  const std::int64_t nuisance_key_base = c.max_problem_bins + 1;
  const std::int64_t max_key =
      c.n_nuisance_problems > 0 ? nuisance_key_base + math::kMaxCoords - 1 : c.max_problem_bins;
  problem_sizes<<<blocks_for(np, kSmallThreads), kSmallThreads, 0, st>>>(
      s.in.arrays(), device_nuisances(c, s), np, static_cast<std::uint32_t>(nuisance_key_base),
      s.keys.get(), s.ids.get());
  check(cudaGetLastError(), "problem_sizes launch");
  std::size_t bytes = s.sort_scratch_bytes;
  check(cub::DeviceRadixSort::SortPairs(s.sort_scratch.get(), bytes, s.keys.get(),
                                        s.sorted_keys.get(), s.ids.get(), s.sorted_ids.get(),
                                        static_cast<int>(np), 0, sort_key_bits(max_key), st),
        "cub::DeviceRadixSort");
}

// The chunk's sorted ids are [thread | warp | block | nuisance] problems (chunk_plan.hpp).
struct Tiers {
  std::int64_t n_thread, n_warp, n_block, n_nuisance;
  const std::int64_t* thread_ids;
  const std::int64_t* warp_ids;
  const std::int64_t* block_ids;
  const std::int64_t* nuisance_ids;
};
Tiers tiers(const Chunk& c, const Slot& s) {
  const std::int64_t* ids = s.sorted_ids.get();
  Tiers t;
  t.n_thread = c.n_thread_problems();
  t.n_warp = c.n_warp_problems;
  t.n_block = c.n_block_problems;
  t.n_nuisance = c.n_nuisance_problems;
  t.thread_ids = ids;
  t.warp_ids = t.thread_ids + t.n_thread;
  t.block_ids = t.warp_ids + t.n_warp;
  t.nuisance_ids = t.block_ids + t.n_block;
  return t;
}

template <int K>
void launch_scan_k(const Chunk& c, Slot& s, const double* norms, int n_scan) {
  const cudaStream_t st = s.stream.get();
  const Tiers t = tiers(c, s);
  if (t.n_thread > 0) {
    scan_per_thread<K><<<blocks_for(t.n_thread, kSmallThreads), kSmallThreads, 0, st>>>(
        s.in.arrays(), t.thread_ids, t.n_thread, norms, n_scan, s.out.arrays());
    check(cudaGetLastError(), "scan_per_thread launch");
  }
  if (t.n_warp > 0) {
    scan_per_warp<K><<<blocks_for(t.n_warp, kWarpsPerBlock), kSmallThreads, 0, st>>>(
        s.in.arrays(), t.warp_ids, t.n_warp, norms, n_scan, s.out.arrays());
    check(cudaGetLastError(), "scan_per_warp launch");
  }
  if (t.n_block > 0) {
    scan_per_block<K, kBlockThreads><<<static_cast<unsigned>(t.n_block), kBlockThreads, 0, st>>>(
        s.in.arrays(), t.block_ids, norms, n_scan, s.out.arrays());
    check(cudaGetLastError(), "scan_per_block launch");
  }
}

void launch_scan(const CudaConfig& config, const Chunk& c, Slot& s, const double* norms,
                 int n_scan) {
  if (n_scan == 0) return;
  if (config.scan_norms_per_pass == 8) launch_scan_k<8>(c, s, norms, n_scan);
  else launch_scan_k<16>(c, s, norms, n_scan);
}

// The solve kernels of every tier; the nuisance tier's also computes its problems' scans (over
// `norms`), the scan kernels (launch_scan) those of the other tiers.
void launch_solve(const Chunk& c, Slot& s, const math::SolveSettings& settings,
                  const double* norms, int n_scan) {
  const cudaStream_t st = s.stream.get();
  const Tiers t = tiers(c, s);
  if (t.n_thread > 0) {
    solve_per_thread<<<blocks_for(t.n_thread, kSmallThreads), kSmallThreads, 0, st>>>(
        s.in.arrays(), t.thread_ids, t.n_thread, settings, s.out.arrays());
    check(cudaGetLastError(), "solve_per_thread launch");
  }
  if (t.n_warp > 0) {
    solve_per_warp<<<blocks_for(t.n_warp, kWarpsPerBlock), kSmallThreads, 0, st>>>(
        s.in.arrays(), t.warp_ids, t.n_warp, settings, s.out.arrays());
    check(cudaGetLastError(), "solve_per_warp launch");
  }
  if (t.n_block > 0) {
    solve_per_block<kBlockThreads><<<static_cast<unsigned>(t.n_block), kBlockThreads, 0, st>>>(
        s.in.arrays(), t.block_ids, settings, s.out.arrays());
    check(cudaGetLastError(), "solve_per_block launch");
  }
  if (t.n_nuisance > 0) {
    solve_nuisance_per_thread<<<blocks_for(t.n_nuisance, kNuisanceThreads), kNuisanceThreads, 0,
                                st>>>(s.in.arrays(), device_nuisances(c, s), t.nuisance_ids,
                                      t.n_nuisance, settings, norms, n_scan, s.out.arrays(),
                                      s.phi.get());
    check(cudaGetLastError(), "solve_nuisance_per_thread launch");
  }
}

void download(const Chunk& c, Slot& s, std::int64_t n_scan) {
  const cudaStream_t st = s.stream.get();
  zip_results(s.staged_out.arrays(), s.out.arrays(), c.problems(), c.segments(), n_scan,
              [&](auto* dst, const auto* src, std::int64_t n) { copy_to_host(dst, src, n, st); });
  copy_to_host(s.staged_phi.get(), s.phi.get(), c.nuisances(), st);
}

// Waits for the slot's chunk, copies its results into the batch result (`all`, and `all_phi`
// indexed like the batch's nuisances) and adds its timings.
void finish(const ChunkPlan& plan, Slot& s, const math::ResultArrays& all, double* all_phi,
            std::int64_t n_scan, PhaseTimes& t) {
  const Chunk& c = plan.chunks[s.chunk];
  check(cudaEventSynchronize(s.downloaded.get()), "chunk solve");
  t.upload_s += s.uploaded.seconds_since(s.started);
  t.solve_s += s.solved.seconds_since(s.uploaded);
  t.download_s += s.downloaded.seconds_since(s.solved);
  const auto t0 = Clock::now();
  zip_results(offset(all, c.problem_begin, c.segment_begin, n_scan), s.staged_out.arrays(),
              c.problems(), c.segments(), n_scan, [](auto* dst, const auto* src, std::int64_t n) {
                if (n) std::memcpy(dst, src, n * sizeof(*src));
              });
  if (c.nuisances() > 0)
    std::memcpy(all_phi + c.nuisance_begin, s.staged_phi.get(), c.nuisances() * sizeof(double));
  t.unstage_s += seconds_since(t0);
  s.chunk = -1;
}

std::size_t total_bytes(const BatchView& b, int n_scan) {
  std::size_t bytes =
      static_cast<std::size_t>(b.n_bins) * kBytesPerBin +
      static_cast<std::size_t>(b.n_segments) * kBytesPerSegment +
      static_cast<std::size_t>(b.n_problems) * (kBytesPerProblem + n_scan * sizeof(double));
  if (b.has_nuisances())
    bytes += static_cast<std::size_t>(b.n_problems) * kBytesPerProblemWithNuisances +
             static_cast<std::size_t>(b.n_nuisances) * kBytesPerNuisance +
             static_cast<std::size_t>(b.n_template_values) * kBytesPerTemplateValue;
  return bytes;
}

// The batch's offsets for the chunk plan.
BatchOffsets batch_offsets(const BatchView& b) {
  return {b.arrays.problem_segments, b.n_problems, b.arrays.segment_bins,
          b.has_nuisances() ? b.nuisances.problem_nuisances : nullptr};
}

// Chunk budget: the configured one, or a share of the device memory that also cuts large
// batches into at least `streams` chunks so transfers and kernels overlap; both within the
// pinned-memory cap (automatic_chunk_bytes).
std::size_t chunk_budget(const CudaConfig& config, const Workspace& ws, const BatchView& b,
                         int n_scan) {
  const std::size_t streams = static_cast<std::size_t>(std::max(config.streams, 1));
  const bool with_nuisances = batch_offsets(b).with_nuisances();
  if (config.chunk_bytes > 0)
    return capped_chunk_bytes(config.chunk_bytes, config.pinned_bytes_cap, config.streams,
                              with_nuisances);
  std::size_t free_bytes = 0, total = 0;
  check(cudaMemGetInfo(&free_bytes, &total), "cudaMemGetInfo");
  const std::size_t share = (free_bytes + ws.device_bytes()) / 10 * 8 / streams;
  return automatic_chunk_bytes(share, total_bytes(b, n_scan), config.streams,
                               config.pinned_bytes_cap, with_nuisances);
}

// Makes `device` the calling thread's current GPU for its lifetime, then restores the previous
// one. The current device is per host thread, and a solve may run on any thread (solve_async,
// the caller's workers), so every entry point of the solver sets it.
class CurrentDevice {
 public:
  explicit CurrentDevice(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (device != previous_) check(cudaSetDevice(device), "cudaSetDevice");
    else previous_ = -1;  // nothing to restore
  }
  ~CurrentDevice() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;

 private:
  int previous_ = -1;
};

class CudaSolver {
 public:
  explicit CudaSolver(const CudaConfig& config) : config_(config), device_(config.device) {
    if (config_.streams < 1) throw std::invalid_argument("CUDA backend: streams must be >= 1");
    if (config_.scan_norms_per_pass != 8 && config_.scan_norms_per_pass != 16)
      throw std::invalid_argument("CUDA backend: scan_norms_per_pass must be 8 or 16");
  }
  ~CudaSolver() {
    // Frees the buffers, streams and events with their own device current (the destroying
    // thread may have another one).
    try {
      const CurrentDevice on(device_);
      workspace_ = Workspace{};
    } catch (const std::exception&) {
      // The runtime is already gone (process exit): the members free what they still can.
    }
  }
  CudaSolver(const CudaSolver&) = delete;
  CudaSolver& operator=(const CudaSolver&) = delete;

  BatchResult solve(const BatchView& batch, const SolveOptions& options, PhaseTimes* times) {
    const auto t_start = Clock::now();
    PhaseTimes t;
    BatchResult result;
    prepare_solve(batch, options, result);
    const int n_scan = static_cast<int>(result.n_scan());
    std::vector<int> evaluations(batch.n_problems, 0);
    const math::ResultArrays all = result_arrays(result, evaluations);
    // Every nuisance is written by its problem's thread (NaN where the problem has no fit).
    if (batch.has_nuisances()) result.nuisance.assign(batch.n_nuisances, math::kNaN);
    double* all_phi = result.nuisance.data();
    const math::SolveSettings settings = options.settings();

    std::lock_guard<std::mutex> lock(mutex_);  // one workspace: one solve at a time
    const CurrentDevice on(device_);
    const ChunkPlan plan = plan_chunks(batch_offsets(batch), n_scan,
                                       chunk_budget(config_, workspace_, batch, n_scan),
                                       config_.warp_min_bins, config_.block_min_bins, INT_MAX);
    t.chunks = static_cast<int>(plan.chunks.size());
    if (!plan.chunks.empty()) {
      const auto t_setup = Clock::now();
      const std::size_t n_slots =
          std::min<std::size_t>(plan.chunks.size(), static_cast<std::size_t>(config_.streams));
      workspace_.ensure(plan.max_sizes(), n_scan, n_slots);
      for (auto& slot : workspace_.slots) slot->chunk = -1;  // nothing left from a failed solve
      copy_to_device(workspace_.norms.get(), result.norm_scan.data(), n_scan, nullptr);
      check(cudaDeviceSynchronize(), "scan norms upload");
      t.setup_s = seconds_since(t_setup);

      for (std::size_t ci = 0; ci < plan.chunks.size(); ++ci) {
        Slot& s = *workspace_.slots[ci % n_slots];
        if (s.chunk >= 0) finish(plan, s, all, all_phi, n_scan, t);
        const Chunk& c = plan.chunks[ci];
        const auto t_stage = Clock::now();
        stage(batch, c, s);
        t.stage_s += seconds_since(t_stage);
        s.started.record(s.stream.get());
        upload(c, s);
        s.uploaded.record(s.stream.get());
        sort_by_size(c, s);
        launch_solve(c, s, settings, workspace_.norms.get(), n_scan);
        launch_scan(config_, c, s, workspace_.norms.get(), n_scan);
        s.solved.record(s.stream.get());
        download(c, s, n_scan);
        s.downloaded.record(s.stream.get());
        s.chunk = static_cast<int>(ci);
      }
      for (std::size_t i = 0; i < n_slots; ++i) {
        // Finish in chunk order (slot of chunk n-n_slots first); any order gives equal results.
        Slot& s = *workspace_.slots[(plan.chunks.size() + i) % n_slots];
        if (s.chunk >= 0) finish(plan, s, all, all_phi, n_scan, t);
      }
    }
    result.evaluations = std::accumulate(evaluations.begin(), evaluations.end(), std::int64_t{0});
    t.wall_s = seconds_since(t_start);
    if (times) *times = t;
    return result;
  }

  double time_scan(const LikelihoodBatch& owned, const std::vector<double>& norms,
                   int repetitions) {
    const BatchView batch = owned.as_view();
    batch.validate();
    if (norms.empty() || repetitions < 1)
      throw std::invalid_argument("time_scan_kernel: needs norms and repetitions >= 1");
    if (batch.has_nuisances())  // their scans are part of the nuisance solve kernel
      throw std::invalid_argument("time_scan_kernel: the batch has nuisance parameters");
    const int n_scan = static_cast<int>(norms.size());
    const ChunkPlan plan =
        plan_chunks(batch.arrays.problem_segments, batch.n_problems, batch.arrays.segment_bins,
                    n_scan, ~std::size_t{0}, config_.warp_min_bins, config_.block_min_bins,
                    INT_MAX);
    if (plan.chunks.size() != 1) return 0.0;  // empty batch
    std::lock_guard<std::mutex> lock(mutex_);
    const CurrentDevice on(device_);
    workspace_.ensure(plan.max_sizes(), n_scan, 1);
    Slot& s = *workspace_.slots[0];
    const Chunk& c = plan.chunks[0];
    stage(batch, c, s);
    copy_to_device(workspace_.norms.get(), norms.data(), n_scan, s.stream.get());
    upload(c, s);
    sort_by_size(c, s);
    launch_scan(config_, c, s, workspace_.norms.get(), n_scan);  // warm-up
    s.started.record(s.stream.get());
    for (int r = 0; r < repetitions; ++r) launch_scan(config_, c, s, workspace_.norms.get(), n_scan);
    s.solved.record(s.stream.get());
    s.stream.synchronize();
    return s.solved.seconds_since(s.started) / repetitions;
  }

 private:
  CudaConfig config_;
  int device_;
  std::mutex mutex_;
  Workspace workspace_;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaConfig& config) : solver_(config) {
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, config.device), "cudaGetDeviceProperties");
    name_ = "cuda (" + std::string(prop.name) + ", device " + std::to_string(config.device) + ")";
  }
  std::string name() const override { return name_; }
  using Backend::solve;
  BatchResult solve(const BatchView& batch, const SolveOptions& options) const override {
    return solver_.solve(batch, options, nullptr);
  }

 private:
  std::string name_;
  mutable CudaSolver solver_;  // holds the reusable device workspace
};

// The architectures this binary carries kernels for (CMake's CUDA_ARCHITECTURES), for messages.
#ifndef FLUXPOINTS_CUDA_ARCHITECTURES
#define FLUXPOINTS_CUDA_ARCHITECTURES "unknown"
#endif

__global__ void probe_kernel(int* out) { *out = 1; }

// Checks that GPU `device` exists and runs this binary's kernels.
void require_device(int device) {
  std::string why;
  const int count = device_count(&why);
  if (count == 0) throw std::runtime_error("--backend cuda: " + why);
  why = device_index_problem(device, count, std::getenv("CUDA_VISIBLE_DEVICES"));
  if (!why.empty()) throw std::runtime_error("--backend cuda: " + why);
  const CurrentDevice on(device);
  why = kernel_image_problem();
  if (!why.empty()) throw std::runtime_error("--backend cuda: " + why);
}

}  // namespace

int device_count(std::string* reason) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (reason) *reason = std::string("no usable CUDA device: ") + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  if (n == 0 && reason) *reason = "no CUDA device found";
  return n;
}

std::string kernel_image_problem() {
  int dev = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
    cudaGetLastError();
    return "cannot query the CUDA device";
  }
  const std::string gpu = std::string(prop.name) + ", compute capability " +
                          std::to_string(prop.major) + "." + std::to_string(prop.minor);
  // The first allocation creates the context; the launch fails when the binary has neither
  // machine code for this GPU nor PTX it can compile.
  int* d_flag = nullptr;
  cudaError_t e = cudaMalloc(&d_flag, sizeof(int));
  if (e != cudaSuccess) {
    cudaGetLastError();
    return "cannot create a CUDA context on " + gpu + ": " + cudaGetErrorString(e);
  }
  int flag = 0;
  e = cudaMemset(d_flag, 0, sizeof(int));
  if (e == cudaSuccess) {
    probe_kernel<<<1, 1>>>(d_flag);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpy(&flag, d_flag, sizeof(int), cudaMemcpyDeviceToHost);
  cudaFree(d_flag);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return "this binary's kernels (built for CUDA architectures " FLUXPOINTS_CUDA_ARCHITECTURES
           ") cannot run on " + gpu + ": " + cudaGetErrorString(e);
  }
  if (flag != 1) return "a test kernel on " + gpu + " ran but did not write its result";
  return "";
}

std::unique_ptr<Backend> make(const CudaConfig& config) {
  require_device(config.device);
  return std::make_unique<CudaBackend>(config);
}

class Solver::Impl : public CudaSolver {
 public:
  using CudaSolver::CudaSolver;
};

Solver::Solver(const CudaConfig& config) {
  require_device(config.device);
  impl_ = std::make_unique<Impl>(config);
}
Solver::~Solver() = default;

BatchResult Solver::solve(const BatchView& batch, const SolveOptions& options,
                          PhaseTimes* times) {
  return impl_->solve(batch, options, times);
}

BatchResult Solver::solve(const LikelihoodBatch& batch, const SolveOptions& options,
                          PhaseTimes* times) {
  return impl_->solve(batch.as_view(), options, times);
}

double Solver::time_scan(const LikelihoodBatch& batch, const std::vector<double>& norms,
                         int repetitions) {
  return impl_->time_scan(batch, norms, repetitions);
}

}  // namespace fluxpoints::cuda_backend
