#include "core/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/h5_writer.hpp"
#include "core/run_info.hpp"
#include "core/workload.hpp"

namespace prism {

namespace {
namespace fs = std::filesystem;

// The reason `path` cannot be a file we write, or "".
std::string path_problem(const std::string& path) {
  if (path.empty()) return "the output path is empty";
  if (path.size() >= PATH_MAX)
    return "output path is " + std::to_string(path.size()) + " characters long (at most " +
           std::to_string(PATH_MAX - 1) + ")";
  const std::string name = fs::path(path).filename().string();
  if (name.empty() || name == "." || name == "..") return "output path '" + path + "' names no file";
  if (name.size() + 4 > NAME_MAX)  // + ".tmp"
    return "output file name is " + std::to_string(name.size()) + " characters long (at most " +
           std::to_string(NAME_MAX - 4) + ", leaving room for .tmp)";
  return "";
}

std::string describe(const fs::filesystem_error& e, const std::string& path) {
  return "cannot use output path '" + path + "': " + e.code().message();
}
}  // namespace

std::string output_refusal(const RunConfig& run) {
  if (auto p = path_problem(run.output); !p.empty()) return p;
  try {
    const fs::path out(run.output);
    const fs::path tmp(run.output + ".tmp");
    const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
    if (!fs::is_directory(dir)) return "output directory '" + dir.string() + "' does not exist";
    if (access(dir.c_str(), W_OK | X_OK) != 0)
      return "output directory '" + dir.string() + "' is not writable (or not searchable)";
    const auto out_status = fs::symlink_status(out);
    if (fs::is_directory(fs::status(out))) return "output path '" + run.output + "' is a directory";
    if (fs::exists(out_status) && !run.overwrite)
      return "output file '" + run.output +
             "' exists; refusing to overwrite it (pass --set run.overwrite=true or choose --output)";
    const auto tmp_status = fs::symlink_status(tmp);
    if (fs::is_symlink(tmp_status))
      return "'" + tmp.string() +
             "' is a symbolic link; prism writes its output there first and will not follow it";
    if (fs::exists(tmp_status) && !fs::is_regular_file(tmp_status))
      return "'" + tmp.string() + "' exists and is not a regular file; prism writes its output there first";
  } catch (const fs::filesystem_error& e) {
    return describe(e, run.output);
  }
  return "";
}

bool same_existing_file(const std::string& a, const std::string& b) {
  if (a.empty() || !path_problem(b).empty()) return false;
  try {
    return fs::exists(a) && fs::exists(b) && fs::equivalent(a, b);
  } catch (const fs::filesystem_error&) {
    return false;
  }
}

OutputFile::~OutputFile() {
  release();
}

void OutputFile::reserve() {
  const std::string tmp = run_.output + ".tmp";
  // O_NOFOLLOW: a symbolic link planted at the .tmp path is an error, not a
  // way to make prism overwrite its target.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot create '" + tmp +
                             "' (where the output is written first): " + std::strerror(errno));
  // An open-file-description lock: HDF5 takes flock() locks of its own on
  // the files it creates, which this one neither blocks nor loses to.
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(err == EAGAIN || err == EACCES
                                 ? "another process is writing '" + tmp + "'"
                                 : "cannot lock '" + tmp + "': " + std::strerror(err));
  }
  struct stat st {};
  ::fstat(fd, &st);
  if (st.st_nlink != 1) {  // a hard link planted there: writing would change another file
    ::close(fd);
    throw std::runtime_error("'" + tmp + "' has other hard links; refusing to write through it");
  }
  release();
  lock_fd_ = fd;
  lock_inode_ = static_cast<std::uint64_t>(st.st_ino);
}

void OutputFile::release() {
  if (lock_fd_ < 0) return;
  // Remove the .tmp only while it is still the empty file we reserved.
  const std::string tmp = run_.output + ".tmp";
  struct stat st {};
  if (::lstat(tmp.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_ino) == lock_inode_ &&
      st.st_size == 0)
    ::unlink(tmp.c_str());
  ::close(lock_fd_);
  lock_fd_ = -1;
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
  write_to(run_.output, may_replace_, w, timings, tp);
  may_replace_ = true;           // later writes replace our own earlier one
  if (lock_fd_ >= 0) reserve();  // the next write's .tmp, locked again
}

std::string OutputFile::write_failed(const Workload& w, const TimingTable* timings, const Throughput* tp) {
  std::error_code ec;
  if (!fs::exists(run_.output, ec)) {
    write(w, timings, tp);
    return run_.output;
  }
  const std::string path = run_.output + ".failed.h5";
  write_to(path, true, w, timings, tp);
  return path;
}

void OutputFile::write_to(const std::string& path, bool replace, const Workload& w,
                          const TimingTable* timings, const Throughput* tp) {
  H5Writer out(path);
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
  out.commit(replace);
}

}  // namespace prism
