// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/catalog/batched_fold.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <utility>

#include "fluxpoints/datasets/fold.hpp"

namespace fluxpoints::catalog {

std::string BatchedFold::host_fold_note() const {
  std::string types;
  for (const std::string& t : no_closed_form_types) types += (types.empty() ? "" : ", ") + t;
  return std::to_string(n_no_closed_form) + " source" + (n_no_closed_form == 1 ? "" : "s") +
         " folded on the host: their model has no closed form the device can fold (" + types + ")";
}

std::shared_ptr<const FoldBackend> choose_fold_backend(const BatchRunOptions& options,
                                                       bool solves_on_device, bool field,
                                                       std::string* why) {
  const std::string& choice = options.fold;
  if (choice != "auto" && choice != "host" && choice != "device")
    throw std::invalid_argument("unknown fold choice '" + choice +
                                "' (expected auto, host or device)");
  std::shared_ptr<const FoldBackend> folder = options.fold_backend;
  std::string line;
  if (folder) {
    line = "fold: on the given backend " + folder->name();
  } else if (choice == "host" || (choice == "auto" && !solves_on_device)) {
    line = choice == "host" ? "fold on the host (requested)"
                            : "fold auto: on the host (the solve backend is the CPU)";
  } else {
    CudaConfig cuda;
    cuda.device = options.cuda_device;
    try {
      folder = make_fold_backend("device", cuda);
      line = "fold " + choice + ": on the device, " + folder->name();
    } catch (const std::runtime_error& e) {
      if (choice == "device") throw std::runtime_error(std::string("--fold device: ") + e.what());
      line = std::string("fold auto: on the host (") + e.what() + ")";
    }
  }
  if (folder && field) line += "; a field catalog (with components) is folded on the host";
  if (why) *why = line;
  return folder;
}

namespace {

// fold_sources for sources [begin, end): one set of fold arrays and one folder.fold call.
// predictions[i - begin] belongs to source i.
BatchedFold fold_range(const std::vector<Source>& sources,
                       const std::vector<std::vector<DatasetRead*>>& reads, std::size_t begin,
                       std::size_t end, const FoldBackend& folder) {
  BatchedFold out;
  out.predictions.resize(end - begin);
  // The datasets in one set of fold arrays; task t folds source_of[t]'s model.
  datasets::FoldArrays arrays;
  std::vector<FoldTask> tasks;
  std::vector<std::size_t> source_of;
  std::int64_t n_npred = 0;
  for (std::size_t i = begin; i < end; ++i) {
    bool readable = true;
    for (const DatasetRead* r : reads[i]) readable = readable && r->dataset && r->n_pixels == 1;
    if (!readable || reads[i].empty()) continue;
    std::optional<math::ClosedFormSpectrum> model;
    try {
      const models::SkyModel sky = make_sky_model(sources[i]);
      if (!sky.spectral) continue;
      model = sky.spectral->closed_form();
    } catch (const std::exception&) {
      continue;  // the host path reports it
    }
    if (!model) {
      ++out.n_no_closed_form;
      out.no_closed_form_types.insert(sources[i].model.type);
      continue;
    }
    std::vector<FoldTask> mine;
    std::int64_t mine_end = n_npred;  // taken only when every dataset of the source is
    try {
      for (const DatasetRead* r : reads[i]) {
        const std::int32_t k = arrays.add_dataset(*r->dataset);
        if (!math::has_analytic_integral(model->kind)) arrays.prepare_grid(k);
        mine.push_back(FoldTask{*model, k, mine_end});
        mine_end += static_cast<std::int64_t>(r->dataset->n_reco());
      }
    } catch (const std::exception&) {
      continue;  // a dataset the fold refuses: the host path reports it (its arrays stay unused)
    }
    n_npred = mine_end;
    tasks.insert(tasks.end(), mine.begin(), mine.end());
    source_of.insert(source_of.end(), mine.size(), i - begin);
  }
  if (tasks.empty()) return out;

  const std::vector<double> npred = folder.fold(arrays.view(), tasks);
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    const math::FoldDatasetView d = math::dataset_view(arrays.view(), tasks[t].dataset);
    const auto first = npred.begin() + tasks[t].npred_offset;
    DatasetPrediction p;
    p.source.assign(first, first + d.n_reco);
    p.other.assign(static_cast<std::size_t>(d.n_reco), 0.0);  // one model per source
    auto& mine = out.predictions[source_of[t]];
    if (!mine) mine.emplace();
    mine->push_back(std::move(p));
  }
  return out;
}

}  // namespace

BatchedFold fold_sources(const std::vector<Source>& sources,
                         const std::vector<std::vector<DatasetRead*>>& reads,
                         const FoldBackend& folder, ThreadPool& pool) {
  // Building the fold arrays costs about as much host time as a host fold: each worker builds
  // those of a contiguous slice of the sources and folds them with a call of its own.
  const std::size_t n = sources.size();
  const std::size_t slices =
      std::max<std::size_t>(1, std::min<std::size_t>(n, static_cast<std::size_t>(pool.workers())));
  std::vector<BatchedFold> parts(slices);
  pool.parallel_for(static_cast<std::int64_t>(slices), 1, [&](std::int64_t s) {
    const std::size_t k = static_cast<std::size_t>(s);
    parts[k] = fold_range(sources, reads, n * k / slices, n * (k + 1) / slices, folder);
  });
  BatchedFold out;
  for (BatchedFold& part : parts) {
    for (auto& p : part.predictions) out.predictions.push_back(std::move(p));
    out.n_no_closed_form += part.n_no_closed_form;
    out.no_closed_form_types.insert(part.no_closed_form_types.begin(),
                                    part.no_closed_form_types.end());
  }
  return out;
}

}  // namespace fluxpoints::catalog
