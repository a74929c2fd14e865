// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/catalog/batch_run.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "fluxpoints/thread_pool.hpp"
#include "host/catalog/batched_fold.hpp"
#include "host/catalog/field_problems.hpp"
#include "host/catalog/results_file.hpp"
#include "host/io/hdf5_table.hpp"
#include "host/io/output_file.hpp"

namespace fluxpoints::catalog {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// One source of a chunk after folding and assembly: its own small batch, or why it failed.
struct AssembledSource {
  LikelihoodBatch batch;
  std::optional<SourceProblems> problems;
  std::string error;
  std::vector<std::string> dataset_names;
};

// Folds and assembles one source. Runs on a worker thread: it touches only its
// own output and its own dataset reads (each read belongs to one source: the datasets are moved
// out of them, not copied), and neither HDF5 nor Kokkos. `field` (catalogs with components): the
// source's problems include the other components of its datasets (host/catalog/field_problems.hpp).
// `predicted`: the source's predictions, folded already (--fold device); null: fold here.
void assemble_source(const Source& source, const std::vector<DatasetRead*>& reads,
                     const EstimatorOptions& options, AssembledSource& out,
                     const FieldSourceInput* field = nullptr, bool reoptimize = false,
                     const std::vector<DatasetPrediction>* predicted = nullptr) {
  try {
    if (field) {
      for (const DatasetRead* r : reads)
        out.dataset_names.push_back(r->dataset ? r->dataset->name : std::string());
      out.problems = append_field_source_problems(out.batch, *field, options, reoptimize);
      out.batch.validate();
      if (out.batch.n_bins() == 0)
        throw std::runtime_error(
            "no valid bins: no dataset has a bin inside its mask in any requested energy group");
      return;
    }
    std::vector<datasets::SpectrumDataset> datasets;
    datasets.reserve(reads.size());
    for (std::size_t k = 0; k < reads.size(); ++k) {
      if (!reads[k]->dataset)
        throw std::runtime_error("dataset " + std::to_string(source.datasets[k]) + ": " + reads[k]->error);
      out.dataset_names.push_back(reads[k]->dataset->name);
      datasets.push_back(std::move(*reads[k]->dataset));
      datasets.back().validate();
    }
    if (datasets.empty()) throw std::runtime_error("the source has no datasets");
    std::vector<models::SkyModel> sky;
    try {
      sky.push_back(make_sky_model(source));
    } catch (const std::exception& e) {
      throw std::runtime_error("reference model " + source.model.type + ": " + e.what());
    }
    out.problems = predicted
                       ? append_source_problems(out.batch, datasets, *predicted, sky[0], options)
                       : append_source_problems(out.batch, datasets, sky, 0, options);
    // NaN or negative predicted counts (e.g. from a NaN exposure that validate() let through)
    // would make the whole chunk's solve fail: reject the source here, with the reason.
    out.batch.validate();
    if (out.batch.n_bins() == 0)
      throw std::runtime_error(
          "no valid bins: no dataset has a bin inside its mask in any requested energy group");
  } catch (const std::exception& e) {
    out.error = e.what();
    out.problems.reset();
  }
}

// Appends `src` to `dst` (moving its labels) and shifts the problem and segment indices of
// `problems` to match.
void append_batch(LikelihoodBatch& dst, LikelihoodBatch&& src, SourceProblems& problems) {
  const std::int64_t problem_offset = dst.n_problems();
  const std::int64_t segment_offset = dst.n_segments();
  dst.append(std::move(src));
  for (FluxPointGroup& g : problems.groups) {
    g.problem += problem_offset;
    g.first_segment += segment_offset;
  }
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// What identifies a job: resumed chunk files must come from the same catalog and options.
std::string job_fingerprint(const std::string& catalog, const CatalogReader& reader,
                            const EstimatorOptions& o, std::int64_t chunk_sources) {
  std::string edges;
  for (double e : o.energy_edges) edges += fmt::format("{:.17g},", e);
  std::string scan;
  for (double v : o.solve.norm_scan()) scan += fmt::format("{:.17g},", v);
  return fmt::format(
      "catalog={};size={};n_sources={};n_datasets={};chunk={};edges={};selection={};n_sigma={:.17g};"
      "n_sigma_ul={:.17g};norm={:.17g},{:.17g},{:.17g};scan={};sum={};ul_threshold={:.17g};"
      "n_sigma_sensitivity={:.17g}",
      fs::absolute(catalog).lexically_normal().string(), fs::file_size(catalog), reader.n_sources(),
      reader.n_datasets(), chunk_sources, edges, selection_text(o), o.solve.n_sigma, o.solve.n_sigma_ul,
      o.solve.norm_value, o.solve.norm_min, o.solve.norm_max, scan, o.sum_over_energy_groups,
      o.sqrt_ts_threshold_ul, o.n_sigma_sensitivity);
}

std::string chunk_file_name(const std::string& folder, std::int64_t begin, std::int64_t end) {
  return fmt::format("{}/chunk_{:010d}_{:010d}.h5", folder, begin, end);
}

// A file name for a source's FITS file: its row (which makes it unique) and its name, made safe
// (letters, digits, '-', '_', '.'; anything else becomes '_'). A long name is cut, and a hash of
// the whole name added, so that the file name stays far below the 255 bytes file systems allow.
constexpr std::size_t kFitsNameChars = 120;
std::string fits_file_name(const std::string& folder, std::int64_t row, const std::string& name) {
  std::string safe;
  for (char c : name) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  if (safe.size() > kFitsNameChars)
    safe =
        fmt::format("{}_{:016x}", safe.substr(0, kFitsNameChars), std::hash<std::string>{}(name));
  return fmt::format("{}/{:06d}_{}.fits", folder, row, safe);
}

// A FITS file that cannot be written because of the source itself (its table, its name) is that
// source's error; a file-system fault (full disk, no permission, I/O error) would hit every
// source, so it stops the job: --resume continues it once the cause is fixed.
bool is_per_source_fits_error(const std::exception& e) {
  const auto* output = dynamic_cast<const io::OutputError*>(&e);
  return output == nullptr || output->os_error() == ENAMETOOLONG;
}

// Whether a --fits-dir folder already holds FITS files (which a new run would replace).
std::size_t count_fits_files(const std::string& folder) {
  std::size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    n += it->path().extension() == ".fits" ? 1 : 0;
  return n;
}

// Test hook: FLUXPOINTS_BATCH_TEST_DELAY_MS slows each chunk down so that tests can kill a run
// part-way through.
int test_delay_ms() {
  const char* v = std::getenv("FLUXPOINTS_BATCH_TEST_DELAY_MS");
  return v ? std::atoi(v) : 0;
}

using ChunkRange = std::pair<std::int64_t, std::int64_t>;  // [first source, end)

// ---- stage: plan
// ---------------------------------------------------------------------------------

// Everything a run decides before the first chunk: the options, the job's identity and the
// chunk ranges.
struct JobPlan {
  EstimatorOptions options;
  std::vector<std::string> inputs;  // the catalog and the files it references: never written
  std::int64_t n_groups = 0;
  // Field catalogs (with components): whether the free components are re-fitted with each norm.
  bool reoptimize = false;
  std::string fingerprint;
  std::string parts;               // the folder of chunk files
  std::vector<ChunkRange> chunks;  // fixed ranges of sources; chunk k belongs to rank k % size
  std::vector<std::size_t> mine;   // this rank's chunks
};

JobPlan plan_job(const BatchRunOptions& ro, const CatalogReader& reader) {
  if (ro.chunk_sources < 1) throw std::invalid_argument("--chunk-sources must be >= 1");
  JobPlan plan;
  reader.apply_options(plan.options);
  if (ro.override_options) ro.override_options(plan.options);
  plan.options.validate();
  plan.options.solve.validate();
  plan.inputs = reader.external_files();
  plan.inputs.insert(plan.inputs.begin(), ro.catalog);
  plan.n_groups = static_cast<std::int64_t>(plan.options.energy_edges.size()) - 1;
  plan.reoptimize = ro.reoptimize.value_or(reader.reoptimize());
  plan.fingerprint = job_fingerprint(ro.catalog, reader, plan.options, ro.chunk_sources) +
                     (plan.reoptimize ? ";reoptimize=1" : "");
  plan.parts = parts_folder(ro.output);
  for (std::int64_t b = 0; b < reader.n_sources(); b += ro.chunk_sources)
    plan.chunks.emplace_back(b, std::min(reader.n_sources(), b + ro.chunk_sources));
  for (std::size_t k = ro.processes.rank; k < plan.chunks.size(); k += ro.processes.size)
    plan.mine.push_back(k);
  return plan;
}

// The output rule, checked by rank 0 before any work: one run per output (a lock held until the
// end, returned), an existing output only with --overwrite, never the catalog or a dataset file
// it references; the same for the --fits-dir files.
std::unique_ptr<io::RunLock> claim_output(const BatchRunOptions& ro, const JobPlan& plan) {
  io::check_output(ro.output,
                   io::OutputRule{true, plan.inputs});  // folder, not a folder, not an input
  auto lock = std::make_unique<io::RunLock>(ro.output + ".lock", ro.output);
  if (!lock->warning().empty() && ro.on_warning) ro.on_warning(lock->warning());
  io::check_output(ro.output, io::OutputRule{ro.overwrite, plan.inputs});
  if (!ro.fits_dir.empty()) {
    const std::size_t existing = count_fits_files(ro.fits_dir);
    if (existing > 0 && !ro.overwrite && !ro.resume)
      throw io::OutputError("--fits-dir " + ro.fits_dir + " already holds " +
                                std::to_string(existing) +
                                " FITS files; use --overwrite to replace them, or another folder",
                            0);
    fs::create_directories(ro.fits_dir);
  }
  return lock;
}

// ---- stage: resume
// -------------------------------------------------------------------------------

// Rank 0: a fresh parts folder, or (--resume) the previous job's, whose chunk files must match
// this job or resuming would mix results. Temporaries of a killed writer and unreadable files
// are removed (those chunks are computed again).
void prepare_parts_folder(const BatchRunOptions& ro, const JobPlan& plan) {
  if (!ro.resume && fs::exists(plan.parts)) fs::remove_all(plan.parts);
  fs::create_directories(plan.parts);
  if (!ro.resume) return;
  for (const auto& entry : fs::directory_iterator(plan.parts)) {
    const std::string p = entry.path().string();
    if (entry.path().extension() != ".h5") {
      fs::remove(entry.path());
      continue;
    }
    ChunkFileInfo info;
    try {
      info = read_chunk_info(p);
    } catch (const std::exception&) {
      fs::remove(entry.path());
      continue;
    }
    if (info.fingerprint != plan.fingerprint)
      throw std::runtime_error("--resume: " + p +
                               " belongs to a different job (other catalog, options or "
                               "--chunk-sources); remove " +
                               plan.parts + " or run without --resume");
  }
}

// This rank's chunks still to do (with --resume, those without a chunk file).
std::vector<std::size_t> chunks_to_do(const BatchRunOptions& ro, const JobPlan& plan) {
  std::vector<std::size_t> todo;
  for (std::size_t k : plan.mine)
    if (!ro.resume ||
        !fs::exists(chunk_file_name(plan.parts, plan.chunks[k].first, plan.chunks[k].second)))
      todo.push_back(k);
  return todo;
}

// ---- stage: read
// ---------------------------------------------------------------------------------

// What one chunk reads from the catalog, and how long that took.
struct ChunkInput {
  std::vector<Source> sources;
  std::vector<DatasetRead> reads;  // the sources' dataset rows, in order
  // Catalogs with components: every component of the chunk's datasets and the sources' own,
  // and per dataset row the component rows in it.
  std::map<std::int64_t, ComponentRead> components;
  std::map<std::int64_t, std::vector<std::int64_t>> dataset_components;
  double read_seconds = 0;
};

// Reads chunks from the catalog. HDF5 is not thread-safe: every HDF5 call of a run (these reads
// on the reader thread, chunk-file writes on the writer thread) takes hdf5_mutex().
class ChunkReader {
 public:
  explicit ChunkReader(const CatalogReader& reader) : reader_(reader) {}
  std::mutex& hdf5_mutex() { return mutex_; }

  ChunkInput read(const ChunkRange& range) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto start = Clock::now();
    ChunkInput in;
    in.sources = reader_.read_sources(range.first, range.second);
    std::vector<std::int64_t> rows;
    for (const Source& s : in.sources)
      rows.insert(rows.end(), s.datasets.begin(), s.datasets.end());
    in.reads = reader_.read_datasets(rows);
    if (reader_.n_components() > 0) {
      std::vector<std::int64_t> wanted;
      for (std::int64_t d : std::set<std::int64_t>(rows.begin(), rows.end())) {
        std::vector<std::int64_t>& in_d = in.dataset_components[d];
        in_d = reader_.components_of_datasets({d});
        wanted.insert(wanted.end(), in_d.begin(), in_d.end());
      }
      for (const Source& s : in.sources)
        wanted.insert(wanted.end(), s.components.begin(), s.components.end());
      in.components = reader_.read_components(wanted);
    }
    in.read_seconds = seconds_since(start);
    return in;
  }

  // Reads ahead: the chunk after the one being worked on is read on a thread of its own.
  void read_ahead(const ChunkRange& range) {
    next_ = std::async(std::launch::async, [this, range] { return read(range); });
  }
  ChunkInput take() { return next_.get(); }

 private:
  const CatalogReader& reader_;
  std::mutex mutex_;
  std::future<ChunkInput> next_;
};

// ---- stage: fold and assemble
// --------------------------------------------------------------------

// One chunk after folding: each source's problems (or its error) and the chunk's batch.
struct FoldedChunk {
  ChunkRange range;
  ChunkInput input;
  std::vector<AssembledSource> sources;
  // On the heap: the solve reads its arrays in place while this struct moves between stages.
  std::unique_ptr<LikelihoodBatch> batch = std::make_unique<LikelihoodBatch>();
  double fold_seconds = 0;
};

// Asks the CPU to bring a source's dataset arrays into its caches ahead of their first use. The
// reader thread wrote them a chunk earlier, so they are in main memory, and the first pass over
// them (validate()) otherwise waits for each line in turn; fetched while the previous source is
// folded, they arrive in time. Only a hint: nothing changes if it is dropped.
void prefetch_datasets(const std::vector<DatasetRead*>& reads) {
  constexpr std::size_t kLine = 64 / sizeof(double);  // doubles per cache line
  const auto fetch = [](const std::vector<double>& v) {
#if defined(__GNUC__)
    for (std::size_t i = 0; i < v.size(); i += kLine) __builtin_prefetch(v.data() + i, 0, 2);
#else
    (void)v;
#endif
  };
  for (const DatasetRead* r : reads) {
    if (!r->dataset) continue;
    const datasets::SpectrumDataset& d = *r->dataset;
    for (const std::vector<double>* v : {&d.edisp, &d.exposure, &d.counts, &d.counts_off,
                                         &d.alpha, &d.background, &d.true_edges, &d.reco_edges})
      fetch(*v);
  }
}

// Folds and assembles every source of a chunk (one source per task), then concatenates their
// batches into the chunk's batch.
// `folder` (--fold device): the chunk's closed-form models are folded by it first, many per call
// (batched_fold.hpp); `on_detail` hears which sources were not.
FoldedChunk fold_chunk(ChunkInput input, const ChunkRange& range, const EstimatorOptions& options,
                       bool field, bool reoptimize, ThreadPool& pool,
                       const FoldBackend* folder = nullptr,
                       const std::function<void(const std::string&)>& on_detail = {}) {
  const auto start = Clock::now();
  FoldedChunk f;
  f.range = range;
  f.input = std::move(input);
  const std::vector<Source>& sources = f.input.sources;
  const std::int64_t n = range.second - range.first;
  std::vector<std::vector<DatasetRead*>> source_reads(n);  // assemble_source moves the datasets out
  std::size_t next = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < sources[i].datasets.size(); ++d)
      source_reads[i].push_back(&f.input.reads[next++]);
  f.sources.resize(n);
  BatchedFold folded;
  if (folder && !field) {
    folded = fold_sources(sources, source_reads, *folder, pool);
    if (on_detail && folded.n_no_closed_form > 0)
      on_detail(fmt::format("sources {} to {}: {}", range.first, range.second - 1,
                            folded.host_fold_note()));
  }
  pool.parallel_for(n, 1, [&](std::int64_t i) {
    if (i + 1 < n) prefetch_datasets(source_reads[i + 1]);
    if (!field) {
      const auto* predicted =
          folded.predictions.empty() || !folded.predictions[i] ? nullptr : &*folded.predictions[i];
      return assemble_source(sources[i], source_reads[i], options, f.sources[i], nullptr, false,
                             predicted);
    }
    FieldSourceInput fi;
    fi.source = &sources[i];
    fi.datasets.assign(source_reads[i].begin(), source_reads[i].end());
    fi.components = &f.input.components;
    for (std::int64_t d : sources[i].datasets)
      fi.dataset_components.push_back(f.input.dataset_components.at(d));
    assemble_source(sources[i], source_reads[i], options, f.sources[i], &fi, reoptimize);
  });

  std::int64_t total_problems = 0, total_bins = 0;
  for (const AssembledSource& a : f.sources) {
    total_problems += a.batch.n_problems();
    total_bins += a.batch.n_bins();
  }
  f.batch->reserve(total_problems, total_bins);
  for (AssembledSource& a : f.sources)
    if (a.problems) append_batch(*f.batch, std::move(a.batch), *a.problems);
  f.fold_seconds = seconds_since(start);
  return f;
}

// ---- stage: tables
// -------------------------------------------------------------------------------

// The flux-point table of every source of a solved chunk (one source per task); a source whose
// table cannot be built gets that error.
ChunkResults make_tables(FoldedChunk& f, const BatchResult& result, const EstimatorOptions& options,
                         std::int64_t n_groups, ThreadPool& pool) {
  const std::vector<Source>& sources = f.input.sources;
  const std::int64_t n = f.range.second - f.range.first;
  ChunkResults chunk;
  chunk.begin = f.range.first;
  chunk.end = f.range.second;
  chunk.n_groups = n_groups;
  chunk.resize(n);
  pool.parallel_for(n, 1, [&](std::int64_t i) {
    AssembledSource& a = f.sources[i];
    chunk.names[i] = sources[i].name;
    chunk.model_types[i] = sources[i].model.type;
    chunk.models[i] = sources[i].model;
    chunk.n_datasets[i] = static_cast<std::int64_t>(sources[i].datasets.size());
    chunk.dataset_names[i] = join(a.dataset_names, ",");
    if (a.problems) {
      try {
        chunk.tables[i] = make_flux_points(result, *a.problems, options, "TeV");
        chunk.warnings[i] = join(a.problems->warnings, "\n");
        chunk.ok[i] = 1;
      } catch (const std::exception& e) {
        a.error = e.what();
      }
    }
    chunk.errors[i] = a.error;
  });
  return chunk;
}

// ---- stage: write
// --------------------------------------------------------------------------------

// Writes finished chunks on a thread of its own, one chunk in flight at a time: the per-source
// FITS files (cfitsio, only ever called from this thread), then the chunk file under the HDF5
// mutex. A write's error surfaces at the next write or at finish().
class ChunkWriter {
 public:
  ChunkWriter(const BatchRunOptions& ro, const JobPlan& plan, std::mutex& hdf5_mutex)
      : ro_(ro), plan_(plan), hdf5_mutex_(hdf5_mutex) {}
  ~ChunkWriter() {
    if (pending_.valid()) pending_.wait();  // on an exception elsewhere: no thread left behind
  }

  void write(ChunkResults chunk, const std::vector<Source>& sources) {
    finish();
    std::vector<std::string> fits_names;
    if (!ro_.fits_dir.empty())
      for (std::size_t i = 0; i < sources.size(); ++i)
        fits_names.push_back(fits_file_name(
            ro_.fits_dir, chunk.begin + static_cast<std::int64_t>(i), sources[i].name));
    pending_ = std::async(std::launch::async, [this, chunk = std::move(chunk),
                                               fits_names = std::move(fits_names)]() mutable {
      return write_now(chunk, fits_names);
    });
  }

  // Waits for the write in flight (rethrowing its error) and adds its time.
  void finish() {
    if (pending_.valid()) seconds_ += pending_.get();
  }
  double seconds() const { return seconds_; }

 private:
  double write_now(ChunkResults& chunk, const std::vector<std::string>& fits_names) {
    const auto start = Clock::now();
    const io::OutputRule fits_rule{ro_.overwrite || ro_.resume, plan_.inputs};
    for (std::size_t i = 0; i < fits_names.size(); ++i) {
      if (!chunk.tables[i]) continue;
      try {
        io::write_flux_points_fits(*chunk.tables[i], fits_names[i], fits_rule);
      } catch (const std::exception& e) {
        if (!is_per_source_fits_error(e)) throw;
        chunk.ok[i] = 0;
        chunk.tables[i].reset();
        chunk.errors[i] = std::string("its --fits-dir file could not be written: ") + e.what();
      }
    }
    std::lock_guard<std::mutex> lock(hdf5_mutex_);
    write_chunk_file(chunk, chunk_file_name(plan_.parts, chunk.begin, chunk.end),
                     plan_.fingerprint);
    return seconds_since(start);
  }

  const BatchRunOptions& ro_;
  const JobPlan& plan_;
  std::mutex& hdf5_mutex_;
  std::future<double> pending_;
  double seconds_ = 0;  // touched only by the thread that calls write() and finish()
};

// ---- progress
// ------------------------------------------------------------------------------------

// Reports stages and counts to options.on_progress (nothing when there is none).
class ProgressReporter {
 public:
  ProgressReporter(const BatchRunOptions& ro, BatchJob job) : ro_(ro), job_(std::move(job)) {}

  void set_total(std::int64_t total, std::int64_t resumed) {
    total_ = total;
    done_ = resumed;
  }
  // Starts the clock of the rates: only sources computed by this run count.
  void start_chunks() { start_ = Clock::now(); }
  void chunk_done(std::int64_t n) {
    done_ += n;
    computed_ += n;
  }
  // `per_chunk`: a stage of one chunk, reported only when options.progress is set.
  void enter(BatchStage stage, bool per_chunk = false) const {
    if (!ro_.on_progress || (per_chunk && !ro_.progress)) return;
    BatchProgress p;
    p.stage = stage;
    p.sources_done = done_;
    p.sources_total = total_;
    if (computed_ > 0) {
      const double rate = computed_ / std::max(seconds_since(start_), 1e-9);
      p.sources_per_second = rate * job_.ranks;
      p.flux_points_per_second = p.sources_per_second * job_.n_groups;
      p.eta_seconds = (total_ - done_) / std::max(rate, 1e-9);
    }
    p.job = &job_;
    ro_.on_progress(p);
  }

 private:
  const BatchRunOptions& ro_;
  BatchJob job_;
  std::int64_t total_ = 0, done_ = 0, computed_ = 0;
  Clock::time_point start_ = Clock::now();
};

// ---- stage: merge
// --------------------------------------------------------------------------------

// Rank 0, once every chunk file exists: merges them into the output (with the run's attributes),
// then removes the parts folder.
MergeResult merge_results(const BatchRunOptions& ro, const JobPlan& plan,
                          const CatalogReader& reader, const std::string& backend_name) {
  std::vector<std::string> files;
  for (const auto& [b, e] : plan.chunks) files.push_back(chunk_file_name(plan.parts, b, e));
  const EstimatorOptions& options = plan.options;
  ResultAttributes attrs;
  attrs.strings["catalog"] = ro.catalog;
  attrs.strings["sed_type"] = "likelihood";
  attrs.strings["energy_unit"] = "TeV";
  attrs.strings["selection_optional"] = selection_text(options);
  attrs.numbers["n_sigma_sensitivity"] = options.n_sigma_sensitivity;
  attrs.strings["stat_scan_zero_point"] =
      "absolute: stat_scan is the total fit statistic (Cash/WStat, -2 log L up to a constant, "
      "summed "
      "over the group's datasets) at each norm_scan value, as gammapy writes it; subtract the "
      "row's "
      "stat for the profile relative to the best fit";
  attrs.strings["backend"] = backend_name;
  attrs.numbers["n_sigma"] = options.solve.n_sigma;
  attrs.numbers["n_sigma_ul"] = options.solve.n_sigma_ul;
  attrs.numbers["sqrt_ts_threshold_ul"] = options.sqrt_ts_threshold_ul;
  attrs.arrays["energy_edges"] = options.energy_edges;
  const MergeResult merged = merge_chunk_files(
      files, ro.output, reader.n_sources(), plan.n_groups, reader.max_datasets_per_source(), attrs,
      plan.fingerprint, io::OutputRule{ro.overwrite, plan.inputs});
  fs::remove_all(plan.parts);
  return merged;
}

// --read-only: the floor a run is measured against: the same chunked reads, nothing else.
void read_only_run(const BatchRunOptions& ro, const JobPlan& plan, const CatalogReader& reader,
                   BatchRunSummary& summary) {
  std::int64_t bins = 0;
  for (std::size_t k : plan.mine) {
    const auto [begin, end] = plan.chunks[k];
    const std::vector<Source> sources = reader.read_sources(begin, end);
    std::vector<std::int64_t> rows;
    for (const Source& s : sources) rows.insert(rows.end(), s.datasets.begin(), s.datasets.end());
    for (const DatasetRead& r : reader.read_datasets(rows))
      bins += r.dataset ? static_cast<std::int64_t>(r.dataset->n_reco()) : 0;
    summary.n_ok += end - begin;
  }
  ro.processes.barrier();
  if (bins < 0) summary.n_errors = 1;  // keeps the reads from being optimised away
}

// Whether the backend solves on a device, so that overlapping its solve with the folding on the
// CPU adds no CPU threads (the CUDA backend's names start with "cuda").
bool solves_on_device(const Backend& backend) { return backend.name().rfind("cuda", 0) == 0; }

// ---- the chunk loop: read -> fold -> solve -> tables -> write
// ------------------------------------

// A chunk whose solve was submitted and not yet collected. The solve reads the chunk's batch in
// place: if the run stops early (an exception), the destructor waits for the solve before the
// batch goes away.
struct SolvingChunk {
  FoldedChunk folded;
  std::future<BatchResult> result;

  SolvingChunk(FoldedChunk f, std::future<BatchResult> r)
      : folded(std::move(f)), result(std::move(r)) {}
  SolvingChunk(SolvingChunk&&) = default;
  SolvingChunk& operator=(SolvingChunk&&) = delete;
  ~SolvingChunk() {
    if (result.valid()) result.wait();
  }
};

// Runs the chunks of `todo` through the stages. With `overlap` the solve of chunk k is collected
// only after chunk k + 1 is folded, and chunk k's tables are built while chunk k + 1 solves; the
// batch of each chunk is the same either way, and so are the results.
void run_chunks(const BatchRunOptions& ro, const JobPlan& plan, const CatalogReader& reader,
                const std::vector<std::size_t>& todo, const Backend& backend, bool overlap,
                ThreadPool& pool, ProgressReporter& progress, BatchRunSummary& summary,
                const FoldBackend* folder) {
  const int delay_ms = test_delay_ms();
  ChunkReader chunk_reader(reader);
  ChunkWriter writer(ro, plan, chunk_reader.hdf5_mutex());
  BatchStageSeconds& seconds = summary.stage_seconds;
  std::optional<SolvingChunk> solving;

  // Collects the chunk in flight: waits for its solve, builds its tables, hands it to the writer.
  const auto collect = [&] {
    SolvingChunk c = std::move(*solving);
    solving.reset();
    progress.enter(BatchStage::solve, true);
    auto start = Clock::now();
    const BatchResult result = c.result.get();
    seconds.solve += seconds_since(start);
    progress.enter(BatchStage::tables, true);
    start = Clock::now();
    ChunkResults tables = make_tables(c.folded, result, plan.options, plan.n_groups, pool);
    seconds.tables += seconds_since(start);
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    writer.write(std::move(tables), c.folded.input.sources);
    ++summary.chunks_done;
    progress.chunk_done(c.folded.range.second - c.folded.range.first);
    progress.enter(BatchStage::write, true);
  };

  if (!todo.empty()) chunk_reader.read_ahead(plan.chunks[todo[0]]);
  for (std::size_t t = 0; t < todo.size(); ++t) {
    progress.enter(BatchStage::read, true);
    ChunkInput input = chunk_reader.take();
    seconds.read += input.read_seconds;
    if (t + 1 < todo.size()) chunk_reader.read_ahead(plan.chunks[todo[t + 1]]);

    progress.enter(BatchStage::fold, true);
    FoldedChunk folded =
        fold_chunk(std::move(input), plan.chunks[todo[t]], plan.options, reader.n_components() > 0,
                   plan.reoptimize, pool, folder, ro.on_detail);
    seconds.fold += folded.fold_seconds;

    // The previous chunk's solve ran while this one was read and folded.
    if (solving) collect();
    std::future<BatchResult> result =
        backend.solve_async(folded.batch->as_view(), plan.options.solve);
    solving.emplace(std::move(folded), std::move(result));
    if (!overlap) collect();
  }
  if (solving) collect();
  writer.finish();
  seconds.write = writer.seconds();
}

}  // namespace

const char* stage_name(BatchStage stage) {
  switch (stage) {
    case BatchStage::plan:
      return "plan";
    case BatchStage::resume:
      return "resume";
    case BatchStage::read:
      return "read";
    case BatchStage::fold:
      return "fold";
    case BatchStage::solve:
      return "solve";
    case BatchStage::tables:
      return "tables";
    case BatchStage::write:
      return "write";
    case BatchStage::merge:
      return "merge";
    case BatchStage::done:
      return "done";
  }
  return "?";
}

std::string parts_folder(const std::string& output) { return output + ".parts"; }

BatchRunSummary run_batch(const BatchRunOptions& ro) {
  const auto t0 = Clock::now();
  const ProcessGroup& pg = ro.processes;
  CatalogReader reader(ro.catalog);
  const JobPlan plan = plan_job(ro, reader);
  std::unique_ptr<io::RunLock> run_lock;
  if (!ro.read_only && pg.rank == 0) run_lock = claim_output(ro, plan);

  const int workers = resolve_workers(ro.workers);
  BatchJob job;
  BackendOptions choice;
  choice.device = ro.backend;
  choice.workers = workers;
  choice.cuda.device = ro.cuda_device;
  const auto backend = make_backend(choice, &job.backend_why);
  const auto folder =
      choose_fold_backend(ro, solves_on_device(*backend), reader.n_components() > 0, &job.fold_why);
  // Folding and tables, one source per item. No HDF5 call happens inside these loops (the
  // library is not thread-safe); an exception in one is rethrown by parallel_for.
  ThreadPool pool(workers);
  BatchRunSummary summary;
  summary.backend = backend->name();
  summary.n_sources = reader.n_sources();

  job.n_sources = reader.n_sources();
  job.n_datasets = reader.n_datasets();
  job.n_groups = plan.n_groups;
  job.n_chunks = static_cast<std::int64_t>(plan.chunks.size());
  job.chunk_sources = ro.chunk_sources;
  job.backend = summary.backend;
  job.rank = pg.rank;
  job.ranks = pg.size;
  job.resuming = ro.resume;
  ProgressReporter progress(ro, job);

  if (ro.read_only) {
    read_only_run(ro, plan, reader, summary);
    summary.seconds = seconds_since(t0);
    return summary;
  }

  if (pg.rank == 0) prepare_parts_folder(ro, plan);
  progress.enter(BatchStage::plan);
  pg.barrier();

  const std::vector<std::size_t> todo = chunks_to_do(ro, plan);
  const auto sources_in = [&](const std::vector<std::size_t>& chunks) {
    std::int64_t n = 0;
    for (std::size_t k : chunks) n += plan.chunks[k].second - plan.chunks[k].first;
    return n;
  };
  summary.chunks_skipped = static_cast<std::int64_t>(plan.mine.size() - todo.size());
  progress.set_total(sources_in(plan.mine), sources_in(plan.mine) - sources_in(todo));
  progress.enter(BatchStage::resume);
  progress.start_chunks();

  const bool overlap = ro.overlap == Overlap::always ||
                       (ro.overlap == Overlap::device && solves_on_device(*backend));
  summary.overlapped = overlap && todo.size() > 1;
  run_chunks(ro, plan, reader, todo, *backend, overlap, pool, progress, summary, folder.get());

  pg.barrier();
  if (pg.rank == 0) {
    progress.enter(BatchStage::merge);
    const MergeResult merged = merge_results(ro, plan, reader, summary.backend);
    summary.n_ok = merged.n_ok;
    summary.first_failures = merged.first_failures;
    summary.n_errors = reader.n_sources() - summary.n_ok;
    summary.n_flux_points = summary.n_ok * plan.n_groups;
  }
  summary.seconds = seconds_since(t0);
  progress.enter(BatchStage::done);
  return summary;
}

}  // namespace fluxpoints::catalog
