#pragma once
// MPI world, node-local rank, block partitions and the few collectives the
// workloads need.  The only place besides h5_writer that talks to MPI.
#include <cstdint>
#include <string>
#include <vector>

namespace prism {

// A contiguous range [begin, begin + count) of n items for one part; the
// first n % parts parts get one extra item (uneven splits are fine).
struct Block {
  std::int64_t begin = 0;
  std::int64_t count = 0;
};
Block block_partition(std::int64_t n, int parts, int part);

class MpiContext {
 public:
  MpiContext(int* argc, char*** argv);  // MPI_Init
  ~MpiContext();                        // MPI_Finalize
  MpiContext(const MpiContext&) = delete;
  MpiContext& operator=(const MpiContext&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  // Rank within the node: OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, else a
  // split of the world by shared memory.
  int local_rank() const { return local_rank_; }
  std::string processor_name() const;

  void barrier() const;
  [[noreturn]] void abort(int code) const;
  // Every rank passes its part; every rank receives the concatenation in rank order.
  std::vector<std::int64_t> allgather(const std::vector<std::int64_t>& mine) const;
  // Rank 0 receives the concatenation in rank order; others get an empty vector.
  std::vector<double> allgather(const std::vector<double>& mine) const;
  std::vector<std::int64_t> gather(const std::vector<std::int64_t>& mine) const;
  // In-place element-wise sums over all ranks.
  void allreduce_sum(std::vector<double>& values) const;
  void allreduce_sum(std::vector<std::int64_t>& values) const;
  // In-place element-wise maxima over all ranks.
  void allreduce_max(std::vector<double>& values) const;
  std::vector<double> gather(const std::vector<double>& mine) const;
  std::vector<std::int8_t> gather(const std::vector<std::int8_t>& mine) const;
  std::vector<std::string> gather(const std::string& mine) const;
  // Personalised exchange: the first counts[0] entries of `send` go to rank
  // 0, the next counts[1] to rank 1, ...; returns what every rank sent here,
  // in rank order.
  std::vector<double> alltoallv(const std::vector<double>& send, const std::vector<int>& counts) const;
  std::vector<std::int64_t> alltoallv(const std::vector<std::int64_t>& send,
                                      const std::vector<int>& counts) const;
  // Rank 0's flag for everyone (to agree on an error decision).
  int broadcast(int value) const;
  int max(int value) const;
  double max(double value) const;

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace prism
