#include "core/run_info.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "core/timers.hpp"
#include "kernels/common/kokkos_compat.hpp"
#include "prism/version.hpp"

namespace prism {

std::string iso_time_now() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

RunInfo collect_run_info(const MpiContext& mpi, int argc, char** argv, const std::string& deck_path,
                         const std::string& deck_text, const std::string& deck_resolved,
                         const std::string& workload) {
  RunInfo info;
  info.version = prism::version;
  info.git_hash = prism::git_hash;
  info.backend = compat::backend_name();
  info.device = compat::device_description();
  for (int i = 0; i < argc; ++i) info.command_line += (i ? " " : "") + std::string(argv[i]);
  info.deck_path = deck_path;
  info.deck_text = deck_text;
  info.deck_resolved = deck_resolved;
  info.start_time = iso_time_now();
  info.workload = workload;
  info.ranks = mpi.size();
  info.rank_devices = mpi.gather(mpi.processor_name() + ": " + info.device);
  return info;
}

void print_banner(const RunInfo& info) {
  std::printf("prism %s (git %s)\n", info.version.c_str(), info.git_hash.c_str());
  std::printf("  started   %s\n", info.start_time.c_str());
  std::printf("  command   %s\n", info.command_line.c_str());
  std::printf("  kokkos    %s backend, rank 0 on %s\n", info.backend.c_str(), info.device.c_str());
  std::printf("  ranks     %d\n", info.ranks);
  for (std::size_t r = 0; r < info.rank_devices.size() && r < 16; ++r)
    std::printf("    rank %zu  %s\n", r, info.rank_devices[r].c_str());
  if (info.rank_devices.size() > 16) std::printf("    ... %zu ranks in all\n", info.rank_devices.size());
  std::printf("  deck      %s (workload %s), resolved:\n", info.deck_path.c_str(), info.workload.c_str());
  std::string line;
  for (char c : info.deck_resolved) {
    if (c == '\n') {
      std::printf("    | %s\n", line.c_str());
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) std::printf("    | %s\n", line.c_str());
  std::fflush(stdout);
}

TimingTable gather_timings(const MpiContext& mpi, const Timers& timers) {
  TimingTable table;
  table.phases = timers.phases();
  for (const auto& phase : table.phases) {
    const auto all = mpi.gather(std::vector<double>{timers.seconds(phase)});
    table.per_rank.push_back(all);
  }
  return table;
}

void write_metadata(H5Writer& out, const RunInfo& info) {
  out.group("/metadata");
  out.attribute("/metadata", "version", info.version);
  out.attribute("/metadata", "git_hash", info.git_hash);
  out.attribute("/metadata", "kokkos_backend", info.backend);
  out.attribute("/metadata", "device", info.device);
  out.attribute("/metadata", "ranks", static_cast<std::int64_t>(info.ranks));
  out.attribute("/metadata", "command_line", info.command_line);
  out.attribute("/metadata", "deck_path", info.deck_path);
  out.attribute("/metadata", "deck", info.deck_text);
  out.attribute("/metadata", "deck_resolved", info.deck_resolved);
  out.attribute("/metadata", "workload", info.workload);
  out.attribute("/metadata", "start_time", info.start_time);
  out.attribute("/metadata", "end_time", info.end_time);
  std::string devices;
  for (const auto& d : info.rank_devices) devices += d + "\n";
  out.attribute("/metadata", "rank_devices", devices);
}

void write_timings(H5Writer& out, const TimingTable& table) {
  out.group("/timings");
  for (std::size_t p = 0; p < table.phases.size(); ++p) {
    const auto& v = table.per_rank[p];
    if (v.empty()) continue;
    double sum = 0;
    for (double x : v) sum += x;
    const std::string g = "/timings/" + table.phases[p];
    out.write_scalar(g + "/min", *std::min_element(v.begin(), v.end()));
    out.write_scalar(g + "/mean", sum / v.size());
    out.write_scalar(g + "/max", *std::max_element(v.begin(), v.end()));
    out.write(g + "/per_rank", v);
  }
}

}  // namespace prism
