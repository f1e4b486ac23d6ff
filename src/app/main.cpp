// prism: one batch executable.  Command line, MPI and Kokkos lifetimes, and a
// loop over the workload table (app/workloads.cpp); no workload is named here.
#include <Kokkos_Core.hpp>
#include <cstdio>
#include <memory>
#include <optional>

#include "app/cli.hpp"
#include "app/workloads.hpp"
#include "core/checkpoint.hpp"
#include "core/deck.hpp"
#include "core/h5_reader.hpp"
#include "core/mpi_context.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "core/run_report.hpp"
#include "core/stop_signal.hpp"
#include "core/timers.hpp"
#include "kernels/common/kokkos_compat.hpp"
#include "prism/version.hpp"

namespace {

using prism::app::kExitDeck;
using prism::app::kExitRuntime;
using prism::app::Options;

struct Loaded {
  prism::Deck deck;
  prism::RunConfig run;
  std::unique_ptr<prism::Workload> workload;
  std::string fingerprint;
};

// Reads and validates the deck, and makes its workload (no Kokkos yet).
Loaded load(const Options& opt, int ranks) {
  auto deck = prism::Deck::from_file(opt.deck);
  for (const auto& s : opt.sets) deck.apply_override(s);
  auto run = prism::parse_run_config(deck, opt.output);
  std::vector<std::string> sections{"run"}, present;
  const prism::WorkloadEntry* entry = nullptr;
  for (const auto& w : prism::workload_table()) {
    sections.push_back(w.name);
    if (deck.has_section(w.name)) {
      present.push_back(w.name);
      entry = &w;
    }
  }
  if (present.size() != 1) {
    std::string known;
    for (std::size_t i = 1; i < sections.size(); ++i) known += (i > 1 ? ", [" : "[") + sections[i] + "]";
    throw prism::DeckError(opt.deck + ":1: the deck needs exactly one workload section (one of " + known +
                           "), found " + std::to_string(present.size()));
  }
  auto workload = entry->make(deck);
  if (workload->units() < ranks)
    deck.fail(workload->name(), workload->units_key(),
              std::to_string(workload->units()) + " " + workload->units_name() + " cannot be spread over " +
                  std::to_string(ranks) + " ranks (each rank needs at least one)");
  deck.check_unknown(sections);
  auto fingerprint = prism::checkpoint_fingerprint(deck, *workload, run.seed);
  return Loaded{std::move(deck), std::move(run), std::move(workload), std::move(fingerprint)};
}

// Only with --restart: the checkpoint fits this deck and is read back.
// Returns the error, or "" and sets `position` to where the run resumes.
std::string restore(prism::Workload& w, const Options& opt, const std::string& fingerprint,
                    std::string& position) {
  if (opt.restart.empty()) return "";
  if (!w.restartable()) return "--restart: the " + w.name() + " workload cannot be restarted";
  try {
    position = w.restore(*prism::open_checkpoint(opt.restart, w, fingerprint));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (auto code = prism::app::parse_command_line(argc, argv, opt)) return *code;

  prism::MpiContext mpi(&argc, &argv);
  // Every rank reads and judges the same deck, and all agree before anyone
  // leaves, so a deck unreadable on one node leaves no rank in a collective.
  std::optional<Loaded> loaded;
  std::string error;
  try {
    loaded.emplace(load(opt, mpi.size()));
  } catch (const prism::DeckError& e) {
    error = e.what();
  }
  if (prism::any_rank_failed(mpi, error, "")) return kExitDeck;
  auto& workload = *loaded->workload;
  const auto& run = loaded->run;
  const bool in_place = prism::same_existing_file(opt.restart, run.output);
  error = mpi.root() && !in_place ? prism::output_refusal(run) : "";
  if (prism::any_rank_failed(mpi, error, "prism: error: ")) return kExitDeck;
  // Every rank reads the checkpoint before anything starts.
  std::string position;
  error = restore(workload, opt, loaded->fingerprint, position);
  if (prism::any_rank_failed(mpi, error, "prism: cannot restart: ")) return kExitDeck;
  if (opt.check) {
    if (mpi.root())
      std::printf("%s: deck OK (workload %s, output %s%s)\n", opt.deck.c_str(), workload.name().c_str(),
                  run.output.c_str(), opt.restart.empty() ? "" : ", checkpoint OK");
    return 0;
  }
  // Before PATH.tmp exists and Kokkos starts, so a signal during start-up is
  // neither lost nor leaves a file behind.
  if (workload.restartable()) prism::install_stop_handlers();
  // Rank 0 creates and locks PATH.tmp now, so an unwritable target fails
  // before the run rather than after it.
  prism::RunInfo info;
  prism::OutputFile output(run, info, run.overwrite || in_place, loaded->fingerprint);
  error.clear();
  if (mpi.root()) try {
      output.reserve();
    } catch (const std::exception& e) {
      error = e.what();
    }
  if (prism::any_rank_failed(mpi, error, "prism: error: ")) return kExitDeck;
  // A workload that cannot stop early is ended by a signal, without its .tmp.
  if (!workload.restartable()) prism::install_cleanup_handlers(mpi.root() ? run.output + ".tmp" : "");

  const int devices = prism::compat::visible_device_count();
  prism::compat::initialize(argc, argv, devices > 0 ? mpi.local_rank() % devices : 0);
  int status = 0;
  {
    prism::Timers timers;
    info = prism::collect_run_info(mpi, argc, argv, opt.deck, loaded->deck.text(), loaded->deck.resolved(),
                                   workload.name());
    if (mpi.root()) prism::print_banner(info);
    if (!opt.restart.empty() && mpi.root())
      std::printf("restarting from %s at %s\n", opt.restart.c_str(), position.c_str());
    prism::RunContext ctx{mpi,
                          run,
                          timers,
                          true,
                          [&] { return mpi.max(prism::stop_signal() != 0 ? 1 : 0) != 0; },
                          [&] {
                            if (!mpi.root()) return;
                            info.end_time = prism::iso_time_now();
                            output.write(workload, nullptr, nullptr);
                          }};
    try {
      {
        auto t = timers.scope("total");
        workload.run(ctx);
      }
      info.end_time = prism::iso_time_now();
      const auto table = prism::gather_timings(mpi, timers);
      std::string overrides;  // the same overrides, quoted for the shell
      for (const auto& set : opt.sets) overrides += " --set '" + set + "'";
      const std::string resume_command =
          "prism --restart " + run.output + " --output " + run.output + overrides + " " + opt.deck;
      status = prism::finish_run(mpi, workload, output, table, info, resume_command) ? 0 : kExitRuntime;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "prism: error on rank %d: %s\n", mpi.rank(), e.what());
      std::fflush(stderr);
      output.release();
      mpi.abort(kExitRuntime);
    }
  }
  Kokkos::finalize();
  return status;
}
