#pragma once
// Settings of the run itself ([run] section): seed, output path, overwrite.
// Every workload reads them; none owns them.
#include <cstdint>
#include <string>

namespace prism {
class Deck;

struct RunConfig {
  std::uint64_t seed = 0;
  std::string output;  // final HDF5 path
  bool overwrite = false;
};

// `cli_output` (from --output) wins over run.output; the default output is the
// deck's file name with .toml replaced by .h5, in the working directory.
RunConfig parse_run_config(Deck& deck, const std::string& cli_output);

}  // namespace prism
