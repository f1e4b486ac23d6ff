#pragma once
// The run's one HDF5 file: /metadata, /timings with the throughput, and the
// workload's group, written by rank 0 to PATH.tmp and renamed onto PATH.  A
// checkpoint is the same file written before the end; each write replaces
// the last one whole, so a killed run leaves the previous file intact.
#include <string>

#include "core/run_config.hpp"

namespace prism {
class Workload;
struct RunInfo;
struct Throughput;
struct TimingTable;

// Empty when the output may be written, else the reason it may not.
std::string output_refusal(const RunConfig& run);
// --restart FILE writing back into FILE: that file may be replaced.
bool same_existing_file(const std::string& a, const std::string& b);

class OutputFile {
 public:
  // `may_replace`: an existing file at the path may be replaced from the
  // first write on (run.overwrite, or a restart writing into its own file).
  OutputFile(const RunConfig& run, const RunInfo& info, bool may_replace, std::string fingerprint)
      : run_(run), info_(info), may_replace_(may_replace), fingerprint_(std::move(fingerprint)) {}

  // Rank 0.  `timings` and `throughput` are null for checkpoints mid-run.
  void write(const Workload& w, const TimingTable* timings, const Throughput* throughput);
  const std::string& path() const { return run_.output; }

 private:
  const RunConfig& run_;
  const RunInfo& info_;
  bool may_replace_;
  std::string fingerprint_;
};

// rate = count / slowest rank's seconds in the phase * scale (0 without time).
double throughput_rate(const Throughput& tp, const TimingTable& table);
double slowest_rank_seconds(const TimingTable& table, const std::string& phase);

}  // namespace prism
