// One test main for every suite that touches Kokkos or MPI: initialises MPI
// then Kokkos, and silences the listeners of ranks other than 0 except for
// failures, so an MPI test prints one report.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>

#include "core/mpi_context.hpp"
#include "test_env.hpp"

namespace prism::test {
MpiContext* world = nullptr;
}

namespace {
class FailuresOnly : public ::testing::EmptyTestEventListener {
 public:
  explicit FailuresOnly(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank_, r.file_name() ? r.file_name() : "?",
                   r.line_number(), r.summary());
  }

 private:
  int rank_;
};
}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  prism::MpiContext mpi(&argc, &argv);
  prism::test::world = &mpi;
  Kokkos::initialize(argc, argv);
  if (!mpi.root()) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailuresOnly(mpi.rank()));
  }
  int rc = RUN_ALL_TESTS();
  Kokkos::finalize();
  rc = mpi.max(rc);
  return rc;
}
