// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/catalog/batch_run.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "fluxpoints/thread_pool.hpp"
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
// own output, and neither HDF5 nor Kokkos.
void assemble_source(const Source& source, const std::vector<const DatasetRead*>& reads,
                     const EstimatorOptions& options, AssembledSource& out) {
  try {
    std::vector<datasets::SpectrumDataset> datasets;
    for (std::size_t k = 0; k < reads.size(); ++k) {
      if (!reads[k]->dataset)
        throw std::runtime_error("dataset " + std::to_string(source.datasets[k]) + ": " + reads[k]->error);
      out.dataset_names.push_back(reads[k]->dataset->name);
      datasets.push_back(*reads[k]->dataset);
      datasets.back().validate();
    }
    if (datasets.empty()) throw std::runtime_error("the source has no datasets");
    std::vector<models::SkyModel> sky;
    try {
      sky.push_back(make_sky_model(source));
    } catch (const std::exception& e) {
      throw std::runtime_error("reference model " + source.model.type + ": " + e.what());
    }
    out.problems = append_source_problems(out.batch, datasets, sky, 0, options);
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

// Appends `src` to `dst` and shifts the problem and segment indices of `problems` to match.
void append_batch(LikelihoodBatch& dst, const LikelihoodBatch& src, SourceProblems& problems) {
  const std::int64_t problem_offset = dst.n_problems();
  const std::int64_t segment_offset = dst.n_segments();
  for (std::int64_t p = 0; p < src.n_problems(); ++p) {
    dst.begin_problem(src.label(p));
    for (std::int64_t k = src.problem_segments[p]; k < src.problem_segments[p + 1]; ++k) {
      dst.begin_dataset(src.segment_kind[k]);
      const bool wstat = src.segment_kind[k] == StatKind::wstat;
      for (std::int64_t i = src.segment_bins[k]; i < src.segment_bins[k + 1]; ++i) {
        if (wstat)
          dst.add_wstat_bin(src.counts[i], src.counts_off[i], src.alpha[i], src.npred_ref[i], src.npred_other[i]);
        else
          dst.add_cash_bin(src.counts[i], src.npred_ref[i], src.npred_other[i]);
      }
    }
  }
  for (FluxPointGroup& g : problems.groups) {
    g.problem += problem_offset;
    g.first_segment += segment_offset;
  }
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What one chunk reads from the catalog.
struct ChunkInput {
  std::vector<Source> sources;
  std::vector<DatasetRead> reads;  // the sources' dataset rows, in order
};

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

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  const long s = std::lround(seconds);
  return s >= 3600 ? fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60)
                   : fmt::format("{}:{:02d}", s / 60, s % 60);
}

// Test hook: FLUXPOINTS_BATCH_TEST_DELAY_MS slows each chunk down so that tests can kill a run
// part-way through.
int test_delay_ms() {
  const char* v = std::getenv("FLUXPOINTS_BATCH_TEST_DELAY_MS");
  return v ? std::atoi(v) : 0;
}

}  // namespace

std::string parts_folder(const std::string& output) { return output + ".parts"; }

BatchRunSummary run_batch(const BatchRunOptions& ro) {
  const auto t0 = Clock::now();
  const ProcessGroup& pg = ro.processes;
  if (ro.chunk_sources < 1) throw std::invalid_argument("--chunk-sources must be >= 1");
  CatalogReader reader(ro.catalog);
  EstimatorOptions options;
  reader.apply_options(options);
  if (ro.override_options) ro.override_options(options);
  options.validate();
  options.solve.validate();

  // The output rule, checked by rank 0 before any work: one run per output (a lock held until
  // the end), an existing output only with --overwrite, never the catalog or a dataset file it
  // references.
  std::vector<std::string> inputs = reader.external_files();
  inputs.insert(inputs.begin(), ro.catalog);
  const io::OutputRule output_rule{ro.overwrite, inputs};
  std::optional<io::RunLock> run_lock;
  if (!ro.read_only && pg.rank == 0) {
    io::check_output(ro.output, io::OutputRule{true, inputs});  // folder, not a folder, not an input
    run_lock.emplace(ro.output + ".lock", ro.output);
    if (!run_lock->warning().empty())
      fmt::print(stderr, "fluxpoints batch: warning: {}\n", run_lock->warning());
    io::check_output(ro.output, output_rule);
    if (!ro.fits_dir.empty()) {
      const std::size_t existing = count_fits_files(ro.fits_dir);
      if (existing > 0 && !ro.overwrite && !ro.resume)
        throw io::OutputError("--fits-dir " + ro.fits_dir + " already holds " +
                                  std::to_string(existing) +
                                  " FITS files; use --overwrite to replace them, or another folder",
                              0);
      fs::create_directories(ro.fits_dir);
    }
  }
  const int workers = resolve_workers(ro.workers);
  std::string why;
  BackendOptions choice;
  choice.device = ro.backend;
  choice.workers = workers;
  choice.cuda.device = ro.cuda_device;
  const auto backend = make_backend(choice, &why);
  // Folding and tables, one source per item. No HDF5 call happens inside these loops (the
  // library is not thread-safe); an exception in one is rethrown here by parallel_for.
  ThreadPool pool(workers);
  BatchRunSummary summary;
  summary.backend = backend->name();
  summary.n_sources = reader.n_sources();
  const std::int64_t n_groups = static_cast<std::int64_t>(options.energy_edges.size()) - 1;
  const std::string fingerprint = job_fingerprint(ro.catalog, reader, options, ro.chunk_sources);
  const std::string parts = parts_folder(ro.output);

  // The chunk plan: fixed ranges of sources; chunk k belongs to rank k % size.
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks;
  for (std::int64_t b = 0; b < reader.n_sources(); b += ro.chunk_sources)
    chunks.emplace_back(b, std::min(reader.n_sources(), b + ro.chunk_sources));

  if (pg.rank == 0 && !ro.read_only) {
    if (!ro.resume && fs::exists(parts)) fs::remove_all(parts);
    fs::create_directories(parts);
    // A previous job's chunk files must match this one, or resuming would mix results.
    if (ro.resume) {
      for (const auto& entry : fs::directory_iterator(parts)) {
        const std::string p = entry.path().string();
        if (entry.path().extension() != ".h5") {
          fs::remove(entry.path());  // a temporary left by a killed writer
          continue;
        }
        ChunkFileInfo info;
        try {
          info = read_chunk_info(p);
        } catch (const std::exception&) {
          fs::remove(entry.path());  // unreadable: recompute that chunk
          continue;
        }
        if (info.fingerprint != fingerprint)
          throw std::runtime_error("--resume: " + p + " belongs to a different job (other catalog, options or "
                                   "--chunk-sources); remove " + parts + " or run without --resume");
      }
    }
    if (!ro.quiet)
      fmt::print(stderr,
                 "fluxpoints batch: {}; {} sources, {} datasets, {} energy groups, {} chunks of "
                 "{}, {}{}{}\n",
                 why, reader.n_sources(), reader.n_datasets(), n_groups, chunks.size(),
                 ro.chunk_sources, backend->name(),
                 pg.size > 1 ? fmt::format(" x {} ranks", pg.size) : "",
                 ro.resume ? " (resuming)" : "");
  }
  pg.barrier();

  if (ro.read_only) {
    // The floor a run is measured against: the same chunked reads, nothing else.
    std::int64_t bins = 0;
    for (std::size_t k = pg.rank; k < chunks.size(); k += pg.size) {
      const std::vector<Source> sources = reader.read_sources(chunks[k].first, chunks[k].second);
      std::vector<std::int64_t> rows;
      for (const Source& s : sources) rows.insert(rows.end(), s.datasets.begin(), s.datasets.end());
      for (const DatasetRead& r : reader.read_datasets(rows)) bins += r.dataset ? static_cast<std::int64_t>(r.dataset->n_reco()) : 0;
      summary.n_ok += chunks[k].second - chunks[k].first;
    }
    pg.barrier();
    summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (bins < 0) summary.n_errors = 1;  // keeps the reads from being optimised away
    return summary;
  }

  const int delay_ms = test_delay_ms();
  std::int64_t done_sources = 0, my_sources = 0;
  for (std::size_t k = pg.rank; k < chunks.size(); k += pg.size) my_sources += chunks[k].second - chunks[k].first;
  const auto t_loop = Clock::now();
  std::int64_t processed_sources = 0;

  // This rank's chunks still to do.
  std::vector<std::size_t> todo;
  for (std::size_t k = pg.rank; k < chunks.size(); k += pg.size) {
    if (ro.resume && fs::exists(chunk_file_name(parts, chunks[k].first, chunks[k].second))) {
      ++summary.chunks_skipped;
      done_sources += chunks[k].second - chunks[k].first;
    } else {
      todo.push_back(k);
    }
  }

  // Reading overlaps the work: while chunk i is folded, solved and written, a second thread reads
  // chunk i + 1. HDF5 is not thread-safe, so the two threads take turns in it through this mutex
  // (reads on the reader thread, chunk-file writes on this one). At most two chunks are in memory.
  std::mutex hdf5_mutex;
  const auto read_chunk = [&](std::size_t k) {
    std::lock_guard<std::mutex> lock(hdf5_mutex);
    const auto t_read = Clock::now();
    ChunkInput in;
    in.sources = reader.read_sources(chunks[k].first, chunks[k].second);
    std::vector<std::int64_t> rows;
    for (const Source& s : in.sources) rows.insert(rows.end(), s.datasets.begin(), s.datasets.end());
    in.reads = reader.read_datasets(rows);
    summary.stage_seconds[0] += seconds_since(t_read);  // under the mutex: one writer at a time
    return in;
  };
  std::future<ChunkInput> next_input;
  std::future<void> pending_write;
  if (!todo.empty()) next_input = std::async(std::launch::async, read_chunk, todo[0]);

  for (std::size_t t = 0; t < todo.size(); ++t) {
    const auto [begin, end] = chunks[todo[t]];
    const std::string chunk_path = chunk_file_name(parts, begin, end);
    const ChunkInput input = next_input.get();
    if (t + 1 < todo.size()) next_input = std::async(std::launch::async, read_chunk, todo[t + 1]);
    const std::vector<Source>& sources = input.sources;
    const std::int64_t n = end - begin;
    std::vector<std::vector<const DatasetRead*>> source_reads(n);
    std::size_t next = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::size_t d = 0; d < sources[i].datasets.size(); ++d) source_reads[i].push_back(&input.reads[next++]);

    // Fold and assemble, one source per task.
    std::vector<AssembledSource> assembled(n);
    auto t_stage = Clock::now();
    pool.parallel_for(n, 1, [&](std::int64_t i) { assemble_source(sources[i], source_reads[i], options, assembled[i]); });

    // One batch for the chunk, one solve.
    LikelihoodBatch batch;
    std::int64_t total_problems = 0, total_bins = 0;
    for (const AssembledSource& a : assembled) {
      total_problems += a.batch.n_problems();
      total_bins += a.batch.n_bins();
    }
    batch.reserve(total_problems, total_bins);
    for (std::int64_t i = 0; i < n; ++i)
      if (assembled[i].problems) append_batch(batch, assembled[i].batch, *assembled[i].problems);
    summary.stage_seconds[1] += seconds_since(t_stage);
    t_stage = Clock::now();
    const BatchResult result = backend->solve(batch, options.solve);
    summary.stage_seconds[2] += seconds_since(t_stage);
    t_stage = Clock::now();

    ChunkResults chunk;
    chunk.begin = begin;
    chunk.end = end;
    chunk.n_groups = n_groups;
    chunk.resize(n);
    pool.parallel_for(n, 1, [&](std::int64_t i) {
      AssembledSource& a = assembled[i];
      chunk.names[i] = sources[i].name;
      chunk.model_types[i] = sources[i].model.type;
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
    summary.stage_seconds[3] += seconds_since(t_stage);
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    // Writing overlaps the next chunk too: one write in flight at a time (its errors surface here
    // at the next chunk, or after the loop), on a thread that takes the HDF5 mutex for the chunk
    // file. FITS files (cfitsio) are written only by that thread.
    if (pending_write.valid()) pending_write.get();
    std::vector<std::string> fits_names;
    if (!ro.fits_dir.empty())
      for (std::int64_t i = 0; i < n; ++i) fits_names.push_back(fits_file_name(ro.fits_dir, begin + i, sources[i].name));
    pending_write = std::async(std::launch::async, [&, chunk = std::move(chunk), chunk_path,
                                                    fits_names = std::move(fits_names)]() mutable {
      const auto t_write = Clock::now();
      const io::OutputRule fits_rule{ro.overwrite || ro.resume, inputs};
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
      std::lock_guard<std::mutex> lock(hdf5_mutex);
      write_chunk_file(chunk, chunk_path, fingerprint);
      summary.stage_seconds[4] += seconds_since(t_write);
    });
    ++summary.chunks_done;
    done_sources += n;
    processed_sources += n;

    if (ro.progress && pg.rank == 0) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - t_loop).count();
      const double rate = processed_sources / std::max(elapsed, 1e-9);
      const double eta = (my_sources - done_sources) / std::max(rate, 1e-9);
      // Rank 0 reports its own share; with several ranks the rates are scaled by their number.
      const std::string who = pg.size > 1 ? fmt::format(" rank 0 of {}:", pg.size) : "";
      fmt::print(stderr, "{}fluxpoints batch:{} {}/{} sources ({:.1f}%), {:.1f} sources/s, {:.0f} flux points/s{}, ETA {}{}",
                 isatty(STDERR_FILENO) ? "\r" : "", who, done_sources, my_sources,
                 100.0 * done_sources / std::max<std::int64_t>(my_sources, 1), rate * pg.size,
                 rate * pg.size * n_groups, pg.size > 1 ? " (all ranks)" : "", format_duration(eta),
                 isatty(STDERR_FILENO) ? "" : "\n");
    }
  }
  if (pending_write.valid()) pending_write.get();
  if (ro.progress && pg.rank == 0 && isatty(STDERR_FILENO)) fmt::print(stderr, "\n");

  pg.barrier();
  if (pg.rank == 0) {
    std::vector<std::string> files;
    for (const auto& [b, e] : chunks) files.push_back(chunk_file_name(parts, b, e));
    ResultAttributes attrs;
    attrs.strings["catalog"] = ro.catalog;
    attrs.strings["sed_type"] = "likelihood";
    attrs.strings["energy_unit"] = "TeV";
    attrs.strings["selection_optional"] = selection_text(options);
    attrs.numbers["n_sigma_sensitivity"] = options.n_sigma_sensitivity;
    attrs.strings["stat_scan_zero_point"] =
        "absolute: stat_scan is the total fit statistic (Cash/WStat, -2 log L up to a constant, summed "
        "over the group's datasets) at each norm_scan value, as gammapy writes it; subtract the row's "
        "stat for the profile relative to the best fit";
    attrs.strings["backend"] = summary.backend;
    attrs.numbers["n_sigma"] = options.solve.n_sigma;
    attrs.numbers["n_sigma_ul"] = options.solve.n_sigma_ul;
    attrs.numbers["sqrt_ts_threshold_ul"] = options.sqrt_ts_threshold_ul;
    attrs.arrays["energy_edges"] = options.energy_edges;
    const MergeResult merged =
        merge_chunk_files(files, ro.output, reader.n_sources(), n_groups,
                          reader.max_datasets_per_source(), attrs, fingerprint, output_rule);
    summary.n_ok = merged.n_ok;
    summary.first_failures = merged.first_failures;
    summary.n_errors = reader.n_sources() - summary.n_ok;
    summary.n_flux_points = summary.n_ok * n_groups;
    fs::remove_all(parts);
  }
  summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return summary;
}

}  // namespace fluxpoints::catalog
