#include "app/cli.hpp"

#include <CLI/CLI.hpp>

#include "app/workloads.hpp"
#include "prism/version.hpp"

namespace prism::app {

std::optional<int> parse_command_line(int argc, char** argv, Options& opt) {
  std::string workloads;
  for (const auto& w : prism::workload_table())
    workloads += std::string("  [") + w.name + "]  " + w.summary + "\n";
  CLI::App app{
      "prism: GPU-parallel statistical physics and machine-learning workloads.\n"
      "Reads a TOML deck with a [run] section and one workload section, runs it over MPI\n"
      "ranks (one per GPU) on Kokkos, and writes results and timings to one HDF5 file.\n"
      "Workloads:\n" +
          workloads + "See README.md for the deck keys and docs/<workload>.md for how each works.",
      "prism"};
  app.set_version_flag("--version",
                       std::string("prism ") + prism::version + " (git " + prism::git_hash + ")");
  app.add_flag("--check", opt.check,
               "validate the deck (and overrides, and --restart's checkpoint) and exit");
  auto* output = app.add_option("--output", opt.output, "HDF5 output path (overrides run.output)");
  app.add_option("--restart", opt.restart, "continue a run from the checkpoint in this HDF5 file");
  app.add_option("--set", opt.sets, "override a deck key: section.key=value (repeatable)")
      ->allow_extra_args(false);
  app.add_option("deck", opt.deck, "input deck (TOML)")->required();
  app.footer(
      "Examples:\n"
      "  prism inputs/quickstart.toml\n"
      "  mpirun -np 2 prism --set thermo.L=64 --output run.h5 inputs/quickstart.toml\n"
      "  prism --check inputs/ising2d_transition.toml\n"
      "  prism --restart run.h5 --output run.h5 inputs/nqs_tfim_chain.toml\n"
      "Signals: SIGTERM or SIGUSR1 make a restartable workload finish its step, write its results\n"
      "and a checkpoint, and exit 0.\n"
      "Exit status: 0 success, 1 runtime failure, 2 bad deck, command line, output path or restart.");
  try {
    app.parse(argc, argv);
    if (output->count() > 0 && opt.output.empty())
      throw CLI::ValidationError("--output", "the output path is empty");
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

}  // namespace prism::app
