#pragma once
// View aliases of the te workload.  The observations of a batch of estimates
// that share one target are stored sorted by the target's first past
// coordinate (column 1), so that every neighbour of an observation lies in a
// contiguous window of sorted positions around it.
#include <Kokkos_Core.hpp>
#include <cstdint>

namespace prism::te {

// Columns every estimate of the batch shares, at sorted positions: row 0 is
// X_t, rows 1..k the target's past X_past.
using Shared = Kokkos::View<double**, Kokkos::LayoutRight>;
// The observation index of each sorted position (ties in distance are broken
// by this index, as a search in observation order would).
using Order = Kokkos::View<std::int64_t*>;
// Per estimate, at sorted positions: the source's past Y_past, [estimate][l][N].
using Sources = Kokkos::View<double***, Kokkos::LayoutRight>;
// Per estimate, at sorted positions: n_xz, n_yz, n_z, [estimate][3][N].
using Counts = Kokkos::View<std::int32_t***, Kokkos::LayoutRight>;

// Neighbours the search keeps per observation at most (te.K <= 64).
inline constexpr int kMaxNeighbours = 64;

// brute: every other observation is a candidate.  window: candidates are
// taken outwards from the observation in sorted order and the scan stops
// where the column-1 gap alone exceeds the radius; the counts are those of
// brute force, with far fewer candidates.
enum class Search { brute, window };

}  // namespace prism::te
