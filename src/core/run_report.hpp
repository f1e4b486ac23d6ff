#pragma once
// The end of a run on the console and in the file: the final write, the
// workload's summary, the PERFORMANCE line, and what an interrupted or failed
// run tells its user.
#include <string>

namespace prism {
class MpiContext;
class OutputFile;
class Workload;
struct RunInfo;
struct TimingTable;

// Every rank passes its error ("" for none).  True when any rank failed; then
// rank 0 reports (or, if rank 0 did not fail, each failing rank) as
// "<prefix><error>".  Collective.
bool any_rank_failed(const MpiContext& mpi, const std::string& error, const char* prefix);

// Rank 0 writes the final file and prints; false when the workload stopped on
// an error (exit 1).  `resume_command` is printed after an interruption.
bool finish_run(const MpiContext& mpi, const Workload& w, OutputFile& output, const TimingTable& table,
                const RunInfo& info, const std::string& resume_command);

}  // namespace prism
