#pragma once
// Host-side handling of per-agent results that both forms of the policy
// workload (discrete and linear-Gaussian) share: [agent][step] device rows
// copied to the host, traces collected step-major turned agent-major, and
// per-step means over agents in agent order (the same on any number of
// ranks).
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <vector>

#include "core/mpi_context.hpp"

namespace prism::policy {

// Per agent and step, [agent][step], on rank 0 in agent order: the chosen
// policy's value (-G in the discrete form, G in the Gaussian one), F of
// q(s), H[q(pi)] and success.
struct StepRows {
  std::vector<double> chosen, free_energy, policy_entropy, success;
};

// The first n rows of a [agent][step] view, T steps each, as one host vector.
template <class View>
std::vector<double> host_rows(const View& v, std::int64_t n, std::int64_t T) {
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<double> out(std::size_t(n * T));
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t s = 0; s < T; ++s) out[a * T + s] = h(a, s);
  return out;
}

// The first n rows (T steps each) of four [agent][step] device views, gathered on rank 0.
template <class View>
StepRows gather_rows(const MpiContext& mpi, const View& chosen, const View& vfe, const View& entropy,
                     const View& success, std::int64_t n, std::int64_t T) {
  return {mpi.gather(host_rows(chosen, n, T)), mpi.gather(host_rows(vfe, n, T)),
          mpi.gather(host_rows(entropy, n, T)), mpi.gather(host_rows(success, n, T))};
}

// [step][agent][width] (as traces are collected, step by step) to [agent][step][width].
template <class Vector>
Vector agent_major(const Vector& v, std::int64_t T, std::int64_t agents, std::int64_t width) {
  Vector out(v.size());
  for (std::int64_t s = 0; s < T; ++s)
    for (std::int64_t a = 0; a < agents; ++a)
      for (std::int64_t k = 0; k < width; ++k) out[(a * T + s) * width + k] = v[(s * agents + a) * width + k];
  return out;
}

// Per step, sign x the mean over A agents of v [agent][step].
inline std::vector<double> mean_over_agents(const std::vector<double>& v, std::int64_t A, std::int64_t T,
                                            double sign = 1) {
  std::vector<double> m(std::size_t(T), 0.0);
  for (std::int64_t a = 0; a < A; ++a)
    for (std::int64_t s = 0; s < T; ++s) m[s] += sign * v[a * T + s] / double(A);
  return m;
}

}  // namespace prism::policy
