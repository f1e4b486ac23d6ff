// prism: one batch executable.  Command line, MPI and Kokkos lifetimes, the
// deck, dispatch to the workload, HDF5 output.  Nothing else lives here.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "core/deck.hpp"
#include "core/h5_writer.hpp"
#include "core/kokkos_compat.hpp"
#include "core/mpi_context.hpp"
#include "core/run_info.hpp"
#include "core/timers.hpp"
#include "nqs/driver.hpp"
#include "nqs/nqs_config.hpp"
#include "prism/version.hpp"
#include "thermo/driver.hpp"
#include "thermo/thermo_config.hpp"

namespace {

constexpr int kExitDeck = 2;     // bad deck, bad command line, refused output
constexpr int kExitRuntime = 1;  // failure while running or writing

// Set by SIGTERM/SIGUSR1 (Slurm's warning before a time limit or pre-emption);
// the nqs loop finishes its iteration, writes everything and exits cleanly.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
}

struct Options {
  std::string deck;
  std::string output;
  std::string restart;
  std::vector<std::string> sets;
  bool check = false;
};

const std::vector<std::string> kSections = {"run", "thermo", "nqs"};
const std::vector<std::string> kWorkloads = {"thermo", "nqs"};

// Returns the exit code if the process should stop now.
std::optional<int> parse_command_line(int argc, char** argv, Options& opt) {
  CLI::App app{
      "prism: GPU-parallel statistical physics and machine-learning workloads.\n"
      "Reads a TOML deck, runs its workload over MPI ranks (one per GPU) on Kokkos,\n"
      "and writes results and timings to one HDF5 file.  See README.md for the deck keys.",
      "prism"};
  app.set_version_flag("--version",
                       std::string("prism ") + prism::version + " (git " + prism::git_hash + ")");
  app.add_flag("--check", opt.check, "validate the deck (and overrides) and exit");
  app.add_option("--output", opt.output, "HDF5 output path (overrides run.output)");
  app.add_option("--restart", opt.restart, "continue an nqs run from the checkpoint in this HDF5 file");
  app.add_option("--set", opt.sets, "override a deck key: section.key=value (repeatable)")
      ->allow_extra_args(false);
  app.add_option("deck", opt.deck, "input deck (TOML)")->required();
  app.footer(
      "Examples:\n"
      "  prism inputs/quickstart.toml\n"
      "  mpirun -np 2 prism --set thermo.L=64 --output run.h5 inputs/quickstart.toml\n"
      "  prism --check inputs/ising2d_transition.toml\n"
      "Exit status: 0 success, 1 runtime failure, 2 bad deck or command line.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitDeck;
  }
  return std::nullopt;
}

struct Loaded {
  prism::Deck deck;
  prism::RunConfig run;
  std::string workload;
  std::optional<prism::thermo::Config> thermo;
  std::optional<prism::nqs::Config> nqs;
};

Loaded load_deck(const Options& opt, int ranks) {
  auto deck = prism::Deck::from_file(opt.deck);
  for (const auto& s : opt.sets) deck.apply_override(s);
  auto run = prism::parse_run_config(deck, opt.output);
  std::string workload;
  int workloads = 0;
  for (const auto& w : kWorkloads)
    if (deck.has_section(w)) {
      ++workloads;
      workload = w;
    }
  if (workloads != 1)
    throw prism::DeckError(opt.deck + ":1: the deck needs exactly one workload section ([thermo] or [nqs])");
  Loaded loaded{std::move(deck), std::move(run), workload, std::nullopt, std::nullopt};
  auto& d = loaded.deck;
  if (workload == "thermo") {
    loaded.thermo = prism::thermo::parse_config(d);
    if (loaded.thermo->replicas() < ranks)
      d.fail("thermo", "temperatures",
             std::to_string(loaded.thermo->replicas()) + " replicas cannot be spread over " +
                 std::to_string(ranks) + " ranks (each rank needs at least one replica)");
  } else {
    loaded.nqs = prism::nqs::parse_config(d);
    if (loaded.nqs->chains < ranks)
      d.fail("nqs", "chains",
             std::to_string(loaded.nqs->chains) + " chains cannot be spread over " + std::to_string(ranks) +
                 " ranks (each rank needs at least one chain)");
  }
  d.check_unknown(kSections);
  return loaded;
}

// --restart RUN.h5 writing back into RUN.h5: that file may be replaced.
bool restarting_in_place(const Options& opt, const prism::RunConfig& run) {
  namespace fs = std::filesystem;
  return !opt.restart.empty() && fs::exists(opt.restart) && fs::exists(run.output) &&
         fs::equivalent(opt.restart, run.output);
}

// Empty when the output may be written, else the reason it may not.
std::string output_refusal(const prism::RunConfig& run) {
  namespace fs = std::filesystem;
  const fs::path out(run.output);
  if (fs::exists(out) && !run.overwrite)
    return "output file '" + run.output +
           "' exists; refusing to overwrite it (pass --set run.overwrite=true or choose --output)";
  if (fs::is_directory(out)) return "output path '" + run.output + "' is a directory";
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) return "output directory '" + dir.string() + "' does not exist";
  if (access(dir.c_str(), W_OK) != 0) return "output directory '" + dir.string() + "' is not writable";
  return "";
}

double max_over_ranks(const prism::TimingTable& table, const std::string& phase) {
  for (std::size_t p = 0; p < table.phases.size(); ++p)
    if (table.phases[p] == phase)
      return *std::max_element(table.per_rank[p].begin(), table.per_rank[p].end());
  return 0.0;
}

int run_thermo(const prism::thermo::Config& cfg, const prism::RunConfig& run, const prism::MpiContext& mpi,
               prism::Timers& timers, prism::RunInfo& info) {
  prism::thermo::Results res;
  {
    auto t = timers.scope("total");
    res = prism::thermo::run(cfg, run.seed, mpi, timers, true);
  }
  info.end_time = prism::iso_time_now();
  const auto table = prism::gather_timings(mpi, timers);
  if (!mpi.root()) return 0;
  const double sweep_s = max_over_ranks(table, "sweep"), total_s = max_over_ranks(table, "total");
  const double flips_per_ns = sweep_s > 0 ? double(res.spin_updates) / sweep_s * 1e-9 : 0.0;
  prism::H5Writer out(run.output);
  prism::write_metadata(out, info);
  prism::write_timings(out, table);
  out.attribute("/timings", "flips_per_ns", flips_per_ns);
  out.attribute("/timings", "spin_updates", res.spin_updates);
  prism::thermo::write_results(out, cfg, run.seed, res);
  out.commit(run.overwrite);

  std::printf("\n%-8s %12s %12s %12s %12s %12s\n", "T", "E/N", "err", "C/N", "|M|/N", "chi/N");
  for (std::size_t t = 0; t < res.temperature.size(); ++t) {
    const auto& e = res.estimates[t];
    std::printf("%-8.4f %12.6f %12.2e %12.5f %12.6f %12.5f\n", res.temperature[t], e.energy_mean,
                e.energy_err, e.specific_heat, e.magnetization_abs_mean, e.susceptibility);
  }
  std::printf("\nwrote %s\n", run.output.c_str());
  std::printf(
      "PERFORMANCE workload=thermo ranks=%d backend=%s replicas=%lld sites=%lld sweeps=%lld "
      "total_s=%.4f sweep_s=%.4f spin_updates=%lld flips_per_ns=%.3f\n",
      mpi.size(), info.backend.c_str(), static_cast<long long>(cfg.replicas()),
      static_cast<long long>(cfg.sites()), static_cast<long long>(cfg.thermalization + cfg.sweeps), total_s,
      sweep_s, static_cast<long long>(res.spin_updates), flips_per_ns);
  std::fflush(stdout);
  return 0;
}

int run_nqs(const prism::nqs::Config& cfg, const prism::RunConfig& run, const prism::MpiContext& mpi,
            prism::Timers& timers, prism::RunInfo& info, const Options& opt) {
  // Restart: every rank reads the checkpoint; all agree before going on.
  std::optional<prism::nqs::Results> resume;
  std::string restart_error;
  if (!opt.restart.empty()) {
    try {
      resume = prism::nqs::read_results(opt.restart, cfg, run.seed);
    } catch (const std::exception& e) {
      restart_error = e.what();
    }
    if (mpi.max(restart_error.empty() ? 0 : 1)) {
      if (mpi.root())
        std::fprintf(stderr, "prism: cannot restart: %s\n",
                     restart_error.empty() ? "failed on another rank" : restart_error.c_str());
      return kExitDeck;
    }
    if (mpi.root())
      std::printf("restarting from %s at iteration %lld\n", opt.restart.c_str(),
                  static_cast<long long>(resume->checkpoint.next_iteration));
  }
  // Our own earlier checkpoints (and the file we restart from) may be replaced.
  bool replace_ok = run.overwrite || restarting_in_place(opt, run);
  auto write_file = [&](const prism::nqs::Results& r, const prism::TimingTable* table) {
    prism::H5Writer out(run.output);
    prism::write_metadata(out, info);
    if (table) prism::write_timings(out, *table);
    prism::nqs::write_results(out, cfg, run.seed, r);
    out.commit(replace_ok);
    replace_ok = true;
  };
  prism::nqs::RunHooks hooks;
  hooks.checkpoint_every = cfg.checkpoint_every;
  hooks.stop_requested = [] { return g_stop_signal != 0; };
  hooks.save = [&](const prism::nqs::Results& r) {
    info.end_time = prism::iso_time_now();
    write_file(r, nullptr);
  };

  prism::nqs::Results res;
  {
    auto t = timers.scope("total");
    res = prism::nqs::run(cfg, run.seed, mpi, timers, true, resume ? &*resume : nullptr, &hooks);
  }
  info.end_time = prism::iso_time_now();
  const auto table = prism::gather_timings(mpi, timers);
  if (!mpi.root()) return res.error.empty() ? 0 : kExitRuntime;
  const double sample_s = max_over_ranks(table, "sample"), total_s = max_over_ranks(table, "total");
  const std::size_t done_here = res.history.size() - (resume ? resume->history.size() : 0);
  const double samples = double(cfg.chains) * double(done_here) *
                         double(cfg.thermalization + cfg.samples_per_chain * cfg.sweeps_per_sample);
  write_file(res, &table);
  const std::size_t n = res.history.size();
  const std::size_t every = std::max<std::size_t>(1, n / 20);
  std::printf("\n%-10s %16s %12s %12s %8s %8s\n", "iteration", "E", "err", "var", "acc", "R-hat");
  for (std::size_t i = 0; i < n; ++i) {
    if (i % every != 0 && i + 1 != n) continue;
    const auto& h = res.history[i];
    std::printf("%-10zu %16.8f %12.2e %12.4e %8.3f %8.4f\n", i, h.energy_mean, h.energy_err,
                h.energy_variance, h.acceptance, h.r_hat);
  }
  if (cfg.reference_energy && *cfg.reference_energy != 0.0 && n > 0)
    std::printf("reference energy %.8f, relative error of the last iteration %.2e\n", *cfg.reference_energy,
                std::fabs((res.history.back().energy_mean - *cfg.reference_energy) / *cfg.reference_energy));
  std::printf("\nwrote %s\n", run.output.c_str());
  std::printf(
      "PERFORMANCE workload=nqs ranks=%d backend=%s sites=%lld parameters=%lld chains=%lld iterations=%zu "
      "total_s=%.4f sample_s=%.4f samples_per_s=%.4g\n",
      mpi.size(), info.backend.c_str(), static_cast<long long>(cfg.sites()),
      static_cast<long long>(cfg.parameters()), static_cast<long long>(cfg.chains), done_here, total_s,
      sample_s, sample_s > 0 ? samples / sample_s : 0.0);
  std::fflush(stdout);
  if (!res.error.empty()) {
    std::fprintf(stderr, "prism: error: nqs stopped: %s (results so far written to %s)\n", res.error.c_str(),
                 run.output.c_str());
    return kExitRuntime;
  }
  if (res.interrupted) {
    std::string overrides;  // the same overrides, quoted for the shell
    for (const auto& set : opt.sets) overrides += " --set '" + set + "'";
    std::printf(
        "prism: stopped by signal %d after iteration %lld of %lld; results so far and a checkpoint are in "
        "%s\n"
        "continue with: prism --restart %s --output %s%s %s\n",
        int(g_stop_signal), static_cast<long long>(res.checkpoint.next_iteration),
        static_cast<long long>(cfg.iterations), run.output.c_str(), run.output.c_str(), run.output.c_str(),
        overrides.c_str(), opt.deck.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (auto code = parse_command_line(argc, argv, opt)) return *code;

  prism::MpiContext mpi(&argc, &argv);
  // The deck is read and validated on every rank (the same file, the same
  // verdict), so every rank leaves together on an error.
  std::optional<Loaded> loaded;
  std::string deck_error;
  try {
    loaded.emplace(load_deck(opt, mpi.size()));
  } catch (const prism::DeckError& e) {
    deck_error = e.what();
  }
  // Ranks agree before anyone leaves: a deck unreadable on one node only
  // must not leave the others waiting in a collective.
  const int failed = deck_error.empty() ? 0 : 1;
  if (mpi.max(failed)) {
    // Rank 0 speaks for all when it failed too; otherwise each failing rank does.
    const int root_failed = mpi.broadcast(failed);
    if (failed && (mpi.root() || !root_failed))
      std::fprintf(stderr, "%s%s\n", mpi.root() ? "" : ("[rank " + std::to_string(mpi.rank()) + "] ").c_str(),
                   deck_error.c_str());
    return kExitDeck;
  }
  // nqs finishes its iteration on SIGTERM/SIGUSR1 (installed before Kokkos
  // starts and any checkpoint is read); thermo keeps the default, terminate:
  // its output is written only at the end, never half.
  if (loaded->nqs && !opt.check) {
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGUSR1, on_stop_signal);
  }
  if (opt.check) {
    if (mpi.root())
      std::printf("%s: deck OK (workload %s, output %s)\n", opt.deck.c_str(), loaded->workload.c_str(),
                  loaded->run.output.c_str());
    return 0;
  }
  if (!opt.restart.empty() && !loaded->nqs) {
    if (mpi.root()) std::fprintf(stderr, "prism: error: --restart applies to nqs decks only\n");
    return kExitDeck;
  }
  std::string refusal =
      mpi.root() && !restarting_in_place(opt, loaded->run) ? output_refusal(loaded->run) : "";
  if (mpi.broadcast(refusal.empty() ? 0 : 1)) {
    if (mpi.root()) std::fprintf(stderr, "prism: error: %s\n", refusal.c_str());
    return kExitDeck;
  }

  const int devices = prism::compat::visible_device_count();
  prism::compat::initialize(argc, argv, devices > 0 ? mpi.local_rank() % devices : 0);
  int status = 0;
  {
    const auto& run = loaded->run;
    prism::Timers timers;
    auto info = prism::collect_run_info(mpi, argc, argv, opt.deck, loaded->deck.text(),
                                        loaded->deck.resolved(), loaded->workload);
    if (mpi.root()) prism::print_banner(info);
    try {
      if (loaded->thermo)
        status = run_thermo(*loaded->thermo, run, mpi, timers, info);
      else
        status = run_nqs(*loaded->nqs, run, mpi, timers, info, opt);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "prism: error on rank %d: %s\n", mpi.rank(), e.what());
      std::fflush(stderr);
      mpi.abort(kExitRuntime);
    }
  }
  Kokkos::finalize();
  return status;
}
