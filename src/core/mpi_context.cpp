#include "core/mpi_context.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace prism {

Block block_partition(std::int64_t n, int parts, int part) {
  const std::int64_t base = n / parts, extra = n % parts;
  Block b;
  b.count = base + (part < extra ? 1 : 0);
  b.begin = part * base + std::min<std::int64_t>(part, extra);
  return b;
}

namespace {
void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI call failed: ") + what);
}
int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (end && *end == '\0' && x >= 0) ? static_cast<int>(x) : -1;
}
template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<std::int64_t>() {
  return MPI_INT64_T;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}
template <>
MPI_Datatype mpi_type<std::int8_t>() {
  return MPI_INT8_T;
}
template <>
MPI_Datatype mpi_type<char>() {
  return MPI_CHAR;
}

template <class T>
std::vector<T> gather_impl(const std::vector<T>& mine, bool all, int size, int rank) {
  // Counts are int in MPI-3; fail loudly rather than truncate.
  if (mine.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::runtime_error("gather: a rank's part exceeds 2^31 elements");
  int count = static_cast<int>(mine.size());
  std::vector<int> counts(size), displs(size, 0);
  check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "Allgather(counts)");
  std::int64_t total = 0;
  for (int r = 0; r < size; ++r) {
    if (total > std::numeric_limits<int>::max())
      throw std::runtime_error("gather: total exceeds 2^31 elements");
    displs[r] = static_cast<int>(total);
    total += counts[r];
  }
  std::vector<T> out;
  if (all) {
    out.resize(static_cast<std::size_t>(total));
    check(MPI_Allgatherv(mine.data(), count, mpi_type<T>(), out.data(), counts.data(), displs.data(),
                         mpi_type<T>(), MPI_COMM_WORLD),
          "Allgatherv");
  } else {
    if (rank == 0) out.resize(static_cast<std::size_t>(total));
    check(MPI_Gatherv(mine.data(), count, mpi_type<T>(), out.data(), counts.data(), displs.data(),
                      mpi_type<T>(), 0, MPI_COMM_WORLD),
          "Gatherv");
  }
  return out;
}
}  // namespace

MpiContext::MpiContext(int* argc, char*** argv) {
  check(MPI_Init(argc, argv), "Init");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "Comm_size");
  local_rank_ = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
  if (local_rank_ < 0) local_rank_ = env_int("SLURM_LOCALID");
  if (local_rank_ < 0) local_rank_ = env_int("MPI_LOCALRANKID");
  if (local_rank_ < 0) {
    MPI_Comm node;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
          "Comm_split_type");
    check(MPI_Comm_rank(node, &local_rank_), "Comm_rank(node)");
    MPI_Comm_free(&node);
  }
}

MpiContext::~MpiContext() {
  MPI_Finalize();
}

std::string MpiContext::processor_name() const {
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  return std::string(name, static_cast<std::size_t>(len));
}

void MpiContext::barrier() const {
  check(MPI_Barrier(MPI_COMM_WORLD), "Barrier");
}
void MpiContext::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

std::vector<std::int64_t> MpiContext::allgather(const std::vector<std::int64_t>& mine) const {
  return gather_impl(mine, true, size_, rank_);
}
namespace {
template <class T>
std::vector<T> alltoallv_impl(const std::vector<T>& send, const std::vector<int>& counts, int size) {
  if (int(counts.size()) != size) throw std::invalid_argument("alltoallv: one count per rank");
  std::vector<int> recv_counts(std::size_t(size), 0), send_displs(std::size_t(size), 0),
      recv_displs(std::size_t(size), 0);
  check(MPI_Alltoall(counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, MPI_COMM_WORLD),
        "Alltoall(counts)");
  for (int r = 1; r < size; ++r) {
    send_displs[r] = send_displs[r - 1] + counts[r - 1];
    recv_displs[r] = recv_displs[r - 1] + recv_counts[r - 1];
  }
  std::vector<T> out(std::size_t(recv_displs[size - 1] + recv_counts[size - 1]));
  check(MPI_Alltoallv(send.data(), counts.data(), send_displs.data(), mpi_type<T>(), out.data(),
                      recv_counts.data(), recv_displs.data(), mpi_type<T>(), MPI_COMM_WORLD),
        "Alltoallv");
  return out;
}
}  // namespace
std::vector<double> MpiContext::alltoallv(const std::vector<double>& send,
                                          const std::vector<int>& counts) const {
  return alltoallv_impl(send, counts, size_);
}
std::vector<std::int64_t> MpiContext::alltoallv(const std::vector<std::int64_t>& send,
                                                const std::vector<int>& counts) const {
  return alltoallv_impl(send, counts, size_);
}
std::vector<double> MpiContext::allgather(const std::vector<double>& mine) const {
  return gather_impl(mine, true, size_, rank_);
}
void MpiContext::allreduce_sum(std::vector<double>& v) const {
  check(
      MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
      "Allreduce(double)");
}
void MpiContext::allreduce_sum(std::vector<std::int64_t>& v) const {
  check(
      MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD),
      "Allreduce(int64)");
}
std::vector<std::int64_t> MpiContext::gather(const std::vector<std::int64_t>& mine) const {
  return gather_impl(mine, false, size_, rank_);
}
std::vector<double> MpiContext::gather(const std::vector<double>& mine) const {
  return gather_impl(mine, false, size_, rank_);
}
std::vector<std::int8_t> MpiContext::gather(const std::vector<std::int8_t>& mine) const {
  return gather_impl(mine, false, size_, rank_);
}
std::vector<std::string> MpiContext::gather(const std::string& mine) const {
  const std::vector<char> chars(mine.begin(), mine.end());
  const auto all = gather_impl(chars, true, size_, rank_);
  std::vector<std::int64_t> len{static_cast<std::int64_t>(mine.size())};
  const auto lens = gather_impl(len, true, size_, rank_);
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (auto l : lens) {
    out.emplace_back(all.begin() + pos, all.begin() + pos + l);
    pos += l;
  }
  return out;
}

int MpiContext::broadcast(int value) const {
  check(MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD), "Bcast");
  return value;
}

int MpiContext::max(int value) const {
  int out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "Allreduce(max)");
  return out;
}

void MpiContext::allreduce_max(std::vector<double>& v) const {
  check(
      MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
      "Allreduce(max doubles)");
}

double MpiContext::max(double value) const {
  double out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "Allreduce(max double)");
  return out;
}

}  // namespace prism
