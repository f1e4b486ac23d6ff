#include "core/run_config.hpp"

#include <filesystem>
#include <limits>

#include "core/deck.hpp"

namespace prism {

RunConfig parse_run_config(Deck& deck, const std::string& cli_output) {
  RunConfig run;
  run.seed = static_cast<std::uint64_t>(
      deck.get_int("run", "seed", 12345, 0, std::numeric_limits<std::int64_t>::max()));
  std::filesystem::path stem = std::filesystem::path(deck.path()).stem();
  std::string fallback = (stem.empty() ? std::string("prism") : stem.string()) + ".h5";
  run.output = deck.get_string("run", "output", fallback);
  if (run.output.empty()) deck.fail("run", "output", "must not be empty");
  if (!cli_output.empty()) run.output = cli_output;
  run.overwrite = deck.get_bool("run", "overwrite", false);
  return run;
}

}  // namespace prism
