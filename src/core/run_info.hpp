#pragma once
// What ran, where and when: the banner on stdout and /metadata and /timings
// in the HDF5 file.
#include <cstdint>
#include <string>
#include <vector>

namespace prism {
class MpiContext;
class Timers;
class H5Writer;

struct RunInfo {
  std::string version, git_hash, backend, device, command_line;
  std::string deck_path, deck_text, deck_resolved;
  std::string start_time, end_time;
  std::string workload;
  int ranks = 1;
  std::vector<std::string> rank_devices;  // "host: device" per rank
};

std::string iso_time_now();
RunInfo collect_run_info(const MpiContext& mpi, int argc, char** argv, const std::string& deck_path,
                         const std::string& deck_text, const std::string& deck_resolved,
                         const std::string& workload);
void print_banner(const RunInfo& info);

// Phase seconds of every rank, gathered on rank 0 (collective).
struct TimingTable {
  std::vector<std::string> phases;
  std::vector<std::vector<double>> per_rank;  // [phase][rank], rank 0 only
};
TimingTable gather_timings(const MpiContext& mpi, const Timers& timers);

void write_metadata(H5Writer& out, const RunInfo& info);
void write_timings(H5Writer& out, const TimingTable& table);

}  // namespace prism
