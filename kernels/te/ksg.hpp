#pragma once
// The neighbour counts of the Kraskov-Stoegbauer-Grassberger estimators of
// conditional mutual information I(X_t ; Y_past | X_past), max norm in every
// space, for a batch of estimates sharing one target.  One thread per
// (estimate, observation): it finds the K nearest neighbours in the joint
// space, then counts the observations inside the radii in the (X_t, X_past),
// (Y_past, X_past) and X_past spaces.  Distances are differences of doubles
// and comparisons, the results integers, so every backend, thread count and
// search gives the counts of a host loop over the definition.  Memory is
// O(observations) per estimate: no N x N matrix.
//
// Every space contains X_past, so a neighbour j of i within radius r has
// |z1_j - z1_i| <= r for the first past coordinate z1, the sort key.  The
// window search walks outwards from i in sorted order and stops at the first
// gap above the radius: because the sort is ascending and rounding is
// monotone, every later position has a gap at least as large.
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/te/types.hpp"

namespace prism::te {

struct SubspaceDistances {
  double x, y, z;
};

template <int Cap>
struct KsgCounts {
  Shared shared;
  Order order;
  Sources sources;
  Counts counts;
  std::int64_t n;
  int k, l, K, algorithm;
  bool window;

  // Max-norm distances of sorted positions i and j of estimate b in the x =
  // X_t, y = Y_past and z = X_past spaces.
  KOKKOS_INLINE_FUNCTION SubspaceDistances distances(std::int64_t b, std::int64_t i, std::int64_t j) const {
    SubspaceDistances d{kmath::fabs(shared(0, i) - shared(0, j)), 0.0, 0.0};
    for (int c = 1; c <= k; ++c) {
      const double v = kmath::fabs(shared(c, i) - shared(c, j));
      d.z = v > d.z ? v : d.z;
    }
    for (int c = 0; c < l; ++c) {
      const double v = kmath::fabs(sources(b, c, i) - sources(b, c, j));
      d.y = v > d.y ? v : d.y;
    }
    return d;
  }

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t t) const {
    const std::int64_t b = t / n, i = t % n;
    const double zi = shared(1, i);
    // The K nearest by (joint distance, observation index), sorted.
    double best[Cap];
    std::int64_t who[Cap], at_pos[Cap];
    int found = 0;
    auto consider = [&](std::int64_t j) {
      const auto d = distances(b, i, j);
      double joint = d.x > d.y ? d.x : d.y;
      joint = joint > d.z ? joint : d.z;
      const std::int64_t id = order(j);
      if (found == K && !(joint < best[K - 1] || (joint == best[K - 1] && id < who[K - 1]))) return;
      int at = found < K ? found++ : K - 1;
      while (at > 0 && (best[at - 1] > joint || (best[at - 1] == joint && who[at - 1] > id))) {
        best[at] = best[at - 1];
        who[at] = who[at - 1];
        at_pos[at] = at_pos[at - 1];
        --at;
      }
      best[at] = joint;
      who[at] = id;
      at_pos[at] = j;
    };
    // A gap equal to the K-th distance can still win a tie on the index.
    for (std::int64_t j = i + 1; j < n; ++j) {
      if (window && found == K && shared(1, j) - zi > best[K - 1]) break;
      consider(j);
    }
    for (std::int64_t j = i - 1; j >= 0; --j) {
      if (window && found == K && zi - shared(1, j) > best[K - 1]) break;
      consider(j);
    }
    std::int32_t nxz = 0, nyz = 0, nz = 0;
    if (algorithm == 1) {
      // Strictly inside the K-th joint distance.
      const double eps = best[K - 1];
      auto count = [&](std::int64_t j) {
        const auto d = distances(b, i, j);
        if (d.z < eps) {
          ++nz;
          nxz += d.x < eps;
          nyz += d.y < eps;
        }
      };
      for (std::int64_t j = i + 1; j < n && !(window && shared(1, j) - zi >= eps); ++j) count(j);
      for (std::int64_t j = i - 1; j >= 0 && !(window && zi - shared(1, j) >= eps); --j) count(j);
    } else {
      // Within the largest subspace distances among the K neighbours.
      double ex = 0, ey = 0, ez = 0;
      for (int m = 0; m < K; ++m) {
        const auto d = distances(b, i, at_pos[m]);
        ex = d.x > ex ? d.x : ex;
        ey = d.y > ey ? d.y : ey;
        ez = d.z > ez ? d.z : ez;
      }
      auto count = [&](std::int64_t j) {
        const auto d = distances(b, i, j);
        if (d.z <= ez) {
          ++nz;
          nxz += d.x <= ex;
          nyz += d.y <= ey;
        }
      };
      for (std::int64_t j = i + 1; j < n && !(window && shared(1, j) - zi > ez); ++j) count(j);
      for (std::int64_t j = i - 1; j >= 0 && !(window && zi - shared(1, j) > ez); --j) count(j);
    }
    counts(b, 0, i) = nxz;
    counts(b, 1, i) = nyz;
    counts(b, 2, i) = nz;
  }
};

// Counts for the first `estimates` estimates of `sources`, on `space`.
template <class Exec>
void ksg_counts(Exec const& space, Search search, Shared const& shared, Order const& order,
                Sources const& sources, std::int64_t estimates, int k, int l, int K, int algorithm,
                Counts const& counts) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Shared::memory_space>::accessible,
                "te::ksg_counts: the observations must be reachable from the execution space");
  const std::int64_t n = shared.extent(1);
  const Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>> range(space, 0, estimates * n);
  const bool window = search == Search::window;
  // Small K (the usual 4) keeps the neighbour list short enough for registers.
  if (K <= 8)
    Kokkos::parallel_for("te::ksg_counts", range,
                         KsgCounts<8>{shared, order, sources, counts, n, k, l, K, algorithm, window});
  else
    Kokkos::parallel_for("te::ksg_counts", range,
                         KsgCounts<kMaxNeighbours>{shared, order, sources, counts, n, k, l, K, algorithm, window});
}

}  // namespace prism::te
