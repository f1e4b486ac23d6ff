#pragma once
// What an nqs run produces (the optimisation history, the final parameters
// and the checkpoint), its /nqs group in the output file, and the read-back
// of that group for a restart.
#include <optional>
#include <string>
#include <vector>

#include "nqs/driver.hpp"

namespace prism {
class H5Reader;
class H5Writer;
}  // namespace prism

namespace prism::nqs {

struct Results {
  std::vector<IterationStats> history;
  std::vector<double> parameters;
  Checkpoint checkpoint;  // as of the end of history
  // The observables measured after the last iteration (nqs.observables_iterations).
  std::optional<ObservableSums> observables;
  std::string error;  // non-empty when the run stopped on a non-finite value
  bool interrupted = false;
};

void write_results(H5Writer& out, const Config& cfg, std::uint64_t seed, const Results& res);
// The history and checkpoint of a file whose fingerprint core has checked;
// throws std::runtime_error when a value does not fit `cfg`.
Results read_results(const H5Reader& in, const Config& cfg);

}  // namespace prism::nqs
