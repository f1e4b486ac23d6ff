#include "core/run_report.hpp"

#include <cstdio>

#include "core/mpi_context.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "core/stop_signal.hpp"
#include "core/workload.hpp"

namespace prism {

bool any_rank_failed(const MpiContext& mpi, const std::string& error, const char* prefix) {
  const int failed = error.empty() ? 0 : 1;
  if (!mpi.max(failed)) return false;
  const int root_failed = mpi.broadcast(failed);
  if (failed && (mpi.root() || !root_failed))
    std::fprintf(stderr, "%s%s%s\n", mpi.root() ? "" : ("[rank " + std::to_string(mpi.rank()) + "] ").c_str(),
                 prefix, error.c_str());
  return true;
}

namespace {
// One grep-able line with the numbers that are also in /timings.
void print_performance(const Workload& w, const Throughput& tp, const TimingTable& table,
                       const RunInfo& info) {
  std::string fields;
  for (const auto& [k, v] : tp.fields) fields += " " + k + "=" + v;
  std::printf("PERFORMANCE workload=%s ranks=%d backend=%s%s total_s=%.4f %s_s=%.4f %s=%.0f %s=%.4g\n",
              w.name().c_str(), info.ranks, info.backend.c_str(), fields.c_str(),
              slowest_rank_seconds(table, "total"), tp.phase.c_str(), slowest_rank_seconds(table, tp.phase),
              tp.work.c_str(), tp.count, tp.rate_name.c_str(), throughput_rate(tp, table));
}
}  // namespace

bool finish_run(const MpiContext& mpi, const Workload& w, OutputFile& output, const TimingTable& table,
                const RunInfo& info, const std::string& resume_command) {
  const auto tp = w.throughput();
  const auto st = w.status();
  if (!mpi.root()) return st.error.empty();
  const std::string written =
      st.error.empty() ? (output.write(w, &table, &tp), output.path()) : output.write_failed(w, &table, &tp);
  w.print_summary(stdout);
  std::printf("\nwrote %s\n", written.c_str());
  print_performance(w, tp, table, info);
  if (st.interrupted)
    std::printf(
        "prism: stopped by signal %d at %s; results so far and a checkpoint are in %s\n"
        "continue with: %s\n",
        stop_signal(), st.position.c_str(), output.path().c_str(), resume_command.c_str());
  std::fflush(stdout);
  if (!st.error.empty())
    std::fprintf(stderr, "prism: error: %s stopped: %s (results so far written to %s%s)\n", w.name().c_str(),
                 st.error.c_str(), written.c_str(),
                 written == output.path() ? "" : "; the earlier file and its checkpoint are kept");
  return st.error.empty();
}

}  // namespace prism
