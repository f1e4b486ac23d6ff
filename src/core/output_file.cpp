#include "core/output_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/h5_writer.hpp"
#include "core/run_info.hpp"
#include "core/workload.hpp"

namespace prism {

std::string output_refusal(const RunConfig& run) {
  namespace fs = std::filesystem;
  const fs::path out(run.output);
  if (fs::exists(out) && !run.overwrite)
    return "output file '" + run.output +
           "' exists; refusing to overwrite it (pass --set run.overwrite=true or choose --output)";
  if (fs::is_directory(out)) return "output path '" + run.output + "' is a directory";
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) return "output directory '" + dir.string() + "' does not exist";
  if (access(dir.c_str(), W_OK) != 0) return "output directory '" + dir.string() + "' is not writable";
  return "";
}

bool same_existing_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  return !a.empty() && fs::exists(a) && fs::exists(b) && fs::equivalent(a, b);
}

double slowest_rank_seconds(const TimingTable& table, const std::string& phase) {
  for (std::size_t p = 0; p < table.phases.size(); ++p)
    if (table.phases[p] == phase && !table.per_rank[p].empty())
      return *std::max_element(table.per_rank[p].begin(), table.per_rank[p].end());
  return 0.0;
}

double throughput_rate(const Throughput& tp, const TimingTable& table) {
  const double s = slowest_rank_seconds(table, tp.phase);
  return s > 0 ? tp.count / s * tp.rate_scale : 0.0;
}

void OutputFile::write(const Workload& w, const TimingTable* timings, const Throughput* tp) {
  H5Writer out(run_.output);
  write_metadata(out, info_);
  if (timings) {
    write_timings(out, *timings);
    if (tp) {
      out.attribute("/timings", "work_name", tp->work);
      out.attribute("/timings", "work_count", tp->count);
      out.attribute("/timings", "work_phase", tp->phase);
      const double seconds = slowest_rank_seconds(*timings, tp->phase);
      out.attribute("/timings", "work_rate", seconds > 0 ? tp->count / seconds : 0.0);  // per second
      out.attribute("/timings", tp->rate_name, throughput_rate(*tp, *timings));
    }
  }
  w.write(out);
  const std::string checkpoint = "/" + w.name() + "/checkpoint";
  if (w.restartable() && out.exists(checkpoint)) out.attribute(checkpoint, "fingerprint", fingerprint_);
  out.commit(may_replace_);
  may_replace_ = true;  // later writes replace our own earlier one
}

}  // namespace prism
