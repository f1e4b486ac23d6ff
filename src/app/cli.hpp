#pragma once
// The command line of prism (CLI11): options, --help text built from the
// workload table, exit codes.
#include <optional>
#include <string>
#include <vector>

namespace prism::app {

constexpr int kExitDeck = 2;     // bad deck, bad command line, refused output or restart
constexpr int kExitRuntime = 1;  // failure while running or writing

struct Options {
  std::string deck, output, restart;
  std::vector<std::string> sets;
  bool check = false;
};

// Fills `opt`; returns the exit code when the process should stop now
// (--help, --version, a bad command line).
std::optional<int> parse_command_line(int argc, char** argv, Options& opt);

}  // namespace prism::app
