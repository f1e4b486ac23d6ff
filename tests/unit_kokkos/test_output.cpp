// The output file service: a failed run never replaces a file that may hold
// a good checkpoint, and writes where it is told otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/h5_reader.hpp"
#include "core/h5_writer.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "core/workload.hpp"

namespace prism {
namespace {

// A workload that only writes one number and an empty checkpoint group.
class Fake final : public Workload {
 public:
  double value = 1;
  std::string name() const override { return "fake"; }
  std::int64_t units() const override { return 1; }
  std::string units_key() const override { return "n"; }
  std::string units_name() const override { return "things"; }
  void run(RunContext&) override {}
  void write(H5Writer& out) const override {
    out.write("/fake/x", std::vector<double>{value});
    out.group("/fake/checkpoint");
  }
  Throughput throughput() const override { return {}; }
  void print_summary(std::FILE*) const override {}
  bool restartable() const override { return true; }
};

double stored(const std::string& path) {
  return H5Reader(path).values<double>("/fake/x").at(0);
}

TEST(OutputFile, AFailedRunKeepsTheEarlierFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("prism-output-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  RunConfig run;
  run.output = (dir / "run.h5").string();
  RunInfo info;
  Fake w;
  {
    OutputFile out(run, info, false, "fingerprint");
    out.reserve();
    // Nothing at the path yet: a failed run writes the path itself.
    w.value = 1;
    EXPECT_EQ(out.write_failed(w, nullptr, nullptr), run.output);
    EXPECT_EQ(stored(run.output), 1.0);
    EXPECT_EQ(H5Reader(run.output).string_attribute("/fake/checkpoint", "fingerprint"), "fingerprint");
    // A checkpoint is there now: the failed results go beside it.
    w.value = 2;
    EXPECT_EQ(out.write_failed(w, nullptr, nullptr), run.output + ".failed.h5");
    EXPECT_EQ(stored(run.output), 1.0);
    EXPECT_EQ(stored(run.output + ".failed.h5"), 2.0);
    // A successful write replaces the run's own earlier file.
    w.value = 3;
    out.write(w, nullptr, nullptr);
    EXPECT_EQ(stored(run.output), 3.0);
  }
  EXPECT_FALSE(std::filesystem::exists(run.output + ".tmp"));  // the reservation is gone with the file object
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace prism
