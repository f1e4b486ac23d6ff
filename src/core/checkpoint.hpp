#pragma once
// Checkpoint/restart for any workload that opts in (Workload::restartable).
// A checkpoint is the workload's /<name>/checkpoint group in an output file,
// stamped with a fingerprint: every setting in effect for the workload's deck
// section (defaults included) and run.seed, minus the keys the workload lets
// change on restart.  A restart is refused unless the fingerprints agree, so
// that a continued run ends bitwise where an uninterrupted one would.
#include <cstdint>
#include <memory>
#include <string>

namespace prism {
class Deck;
class H5Reader;
class Workload;

std::string checkpoint_fingerprint(const Deck& deck, const Workload& w, std::uint64_t seed);

// Opens `path` and checks it holds a checkpoint of `w` with this
// fingerprint; throws std::runtime_error saying why not.
std::unique_ptr<H5Reader> open_checkpoint(const std::string& path, const Workload& w,
                                          const std::string& fingerprint);

}  // namespace prism
