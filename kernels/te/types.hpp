#pragma once
// View aliases of the te workload.
#include <Kokkos_Core.hpp>
#include <cstdint>

namespace prism::te {

// Observations of one estimate, one row each: column 0 is X_t, columns
// 1..k the target's past X_past, columns k+1..k+l the source's past Y_past.
using Points = Kokkos::View<double**, Kokkos::LayoutRight>;
// Per observation: the radii the counts use (KSG 1: the joint-space
// distance to the K-th neighbour in column 0; KSG 2: the largest X_t,
// Y_past and X_past distances among the K neighbours in columns 1..3).
using Radii = Kokkos::View<double**, Kokkos::LayoutRight>;
// Per observation: n_xz, n_yz, n_z.
using Counts = Kokkos::View<std::int32_t**, Kokkos::LayoutRight>;

// Neighbours the search keeps per observation at most (te.K <= 64).
inline constexpr int kMaxNeighbours = 64;

}  // namespace prism::te
