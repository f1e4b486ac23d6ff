#pragma once
// The run's one HDF5 file: /metadata, /timings with the throughput, and the
// workload's group, written by rank 0 to PATH.tmp and renamed onto PATH.  A
// checkpoint is the same file written before the end; each write replaces
// the last one whole, so a killed run leaves the previous file intact.
#include <cstdint>
#include <string>

#include "core/run_config.hpp"

namespace prism {
class Workload;
struct RunInfo;
struct Throughput;
struct TimingTable;

// Empty when the output may be written, else the reason it may not (never
// throws: odd paths, unsearchable directories, symlink loops, names too long
// and a symlink or directory at PATH.tmp are all reasons).
std::string output_refusal(const RunConfig& run);
// --restart FILE writing back into FILE: that file may be replaced.
bool same_existing_file(const std::string& a, const std::string& b);

class OutputFile {
 public:
  // `may_replace`: an existing file at the path may be replaced from the
  // first write on (run.overwrite, or a restart writing into its own file).
  OutputFile(const RunConfig& run, const RunInfo& info, bool may_replace, std::string fingerprint)
      : run_(run), info_(info), may_replace_(may_replace), fingerprint_(std::move(fingerprint)) {}
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Rank 0, at start-up: creates PATH.tmp (never through a symbolic link) and
  // holds an exclusive lock on it for the run, so that an unwritable target
  // fails in seconds rather than after the run, and two runs never write the
  // same file.  Throws std::runtime_error with the reason.
  void reserve();
  // Drops the reservation (and the empty .tmp): before an abort.
  void release();

  // Rank 0.  `timings` and `throughput` are null for checkpoints mid-run.
  void write(const Workload& w, const TimingTable* timings, const Throughput* throughput);
  // Rank 0, for a run that stopped on an error: a file already at the path
  // (an earlier checkpoint, or the file a restart came from) may hold a good
  // checkpoint, so it is kept and the results go to PATH.failed.h5 instead.
  // Returns the path written.
  std::string write_failed(const Workload& w, const TimingTable* timings, const Throughput* throughput);
  const std::string& path() const { return run_.output; }

 private:
  const RunConfig& run_;
  const RunInfo& info_;
  bool may_replace_;
  std::string fingerprint_;
  int lock_fd_ = -1;
  std::uint64_t lock_inode_ = 0;
  void write_to(const std::string& path, bool replace, const Workload& w, const TimingTable* timings,
                const Throughput* throughput);
};

// rate = count / slowest rank's seconds in the phase * scale (0 without time).
double throughput_rate(const Throughput& tp, const TimingTable& table);
double slowest_rank_seconds(const TimingTable& table, const std::string& phase);

}  // namespace prism
