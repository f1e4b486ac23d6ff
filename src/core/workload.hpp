#pragma once
// The one interface every workload implements.  src/app/workloads.cpp holds
// the table of them; main.cpp loops over that table and names no workload.
//
// Life of a workload in a run (main.cpp):
//   make(deck)            parse and validate its deck section (all checks here)
//   units()               core checks units >= ranks and partitions them
//   restore(reader)       only with --restart, after core checked the fingerprint
//   run(ctx)              the work; collective over ctx.mpi
//   write(out)            rank 0: its /<name> group (and /<name>/checkpoint)
//   throughput(), print_summary(), status()
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace prism {
class Deck;
class H5Reader;
class H5Writer;
class MpiContext;
class Timers;
struct RunConfig;

// The work a run did, for the PERFORMANCE line and the /timings attributes:
// rate = count / (slowest rank's seconds in `phase`) * rate_scale.
struct Throughput {
  std::string work;         // what was counted: "spin_updates", "samples"
  double count = 0;         // done in this run, all ranks
  std::string phase;        // the timing phase the rate is taken over
  std::string rate_name;    // "flips_per_ns", "samples_per_s"
  double rate_scale = 1.0;  // 1e-9 for per ns
  // Further key=value fields of the PERFORMANCE line (sizes of the problem).
  std::vector<std::pair<std::string, std::string>> fields;
};

// How a run ended, beyond success.
struct RunStatus {
  std::string error;         // non-empty: stopped on a non-finite or failed value (exit 1)
  bool interrupted = false;  // stopped early by a signal; a checkpoint was written
  std::string position;      // "iteration 12 of 40": where an interrupted run stopped
};

// What core hands a workload's run().
struct RunContext {
  const MpiContext& mpi;
  const RunConfig& run;
  Timers& timers;
  bool show_progress = false;  // rank 0 prints progress lines
  // Collective: true on every rank when any rank was asked to stop
  // (SIGTERM/SIGUSR1).  Restartable workloads poll it between steps.
  std::function<bool()> stop_requested;
  // Collective: writes the output file as it stands (results so far and the
  // checkpoint) through write().  Call once the state is gathered on rank 0.
  std::function<void()> save;
};

class Workload {
 public:
  virtual ~Workload() = default;

  virtual std::string name() const = 0;  // deck section, HDF5 group, label prefix
  // Work units core spreads over ranks (replicas, chains, pairs, agents...),
  // the deck key that sets them (for the error when there are too few) and
  // their name in messages.
  virtual std::int64_t units() const = 0;
  virtual std::string units_key() const = 0;
  virtual std::string units_name() const = 0;

  virtual void run(RunContext& ctx) = 0;
  virtual void write(H5Writer& out) const = 0;           // rank 0, after run() or save()
  virtual Throughput throughput() const = 0;             // after run()
  virtual void print_summary(std::FILE* out) const = 0;  // rank 0, after run()
  virtual RunStatus status() const { return {}; }

  // Restart support.  A restartable workload writes /<name>/checkpoint in
  // write(); core stamps it with the fingerprint of the resolved deck and,
  // on --restart, checks the fingerprint before restore() is called on every
  // rank.  Keys in restart_free_keys() may differ between the two decks.
  virtual bool restartable() const { return false; }
  virtual std::vector<std::string> restart_free_keys() const { return {}; }
  // Returns where the run resumes ("iteration 10") for the restart message.
  virtual std::string restore(const H5Reader& in) {
    (void)in;
    return "";
  }
};

// One row of the workload table (src/app/workloads.cpp).
struct WorkloadEntry {
  const char* name;     // deck section
  const char* summary;  // one line for --help
  std::unique_ptr<Workload> (*make)(Deck& deck);
};

}  // namespace prism
