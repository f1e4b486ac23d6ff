#pragma once
// The neighbour searches of the Kraskov-Stoegbauer-Grassberger estimators of
// conditional mutual information I(X_t ; Y_past | X_past), by brute force
// with the max norm in every space.  Distances are differences of doubles and
// comparisons, and the results are integer counts, so every backend and any
// thread count gives the same numbers as a host loop over the definition.
// Memory is O(observations): no N x N matrix.
//   ksg_radii   the K nearest neighbours of every observation in the joint space
//   ksg_counts  the neighbours inside those radii in the (X_t, X_past),
//               (Y_past, X_past) and X_past spaces
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/te/types.hpp"

namespace prism::te {

// Max-norm distances of observations i and j in the three subspaces:
// x = X_t (column 0), z = X_past (columns 1..k), y = Y_past (k+1..k+l).
struct SubspaceDistances {
  double x, y, z;
};
KOKKOS_INLINE_FUNCTION SubspaceDistances distances(Points const& p, int k, int l, std::int64_t i,
                                                   std::int64_t j) {
  SubspaceDistances d{kmath::fabs(p(i, 0) - p(j, 0)), 0.0, 0.0};
  for (int c = 1; c <= k; ++c) {
    const double v = kmath::fabs(p(i, c) - p(j, c));
    d.z = v > d.z ? v : d.z;
  }
  for (int c = k + 1; c <= k + l; ++c) {
    const double v = kmath::fabs(p(i, c) - p(j, c));
    d.y = v > d.y ? v : d.y;
  }
  return d;
}

KOKKOS_INLINE_FUNCTION double max3(double a, double b, double c) {
  const double m = a > b ? a : b;
  return m > c ? m : c;
}

// For every observation i: the K nearest other observations in the joint
// space (max norm; among equal distances the lower index first).  KSG 1
// keeps the K-th distance; KSG 2 the largest x, y and z distances among the
// K neighbours.
template <class Exec>
void ksg_radii(Exec const& space, Points const& p, int k, int l, int K, int algorithm, Radii const& radii) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Points::memory_space>::accessible,
                "te::ksg_radii: points must be reachable from the execution space");
  const std::int64_t n = p.extent(0);
  Kokkos::parallel_for(
      "te::ksg_radii", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, n),
      KOKKOS_LAMBDA(const std::int64_t i) {
        double best[kMaxNeighbours];
        std::int64_t who[kMaxNeighbours];
        int found = 0;
        for (std::int64_t j = 0; j < n; ++j) {
          if (j == i) continue;
          const auto d = distances(p, k, l, i, j);
          const double joint = max3(d.x, d.y, d.z);
          if (found == K && !(joint < best[K - 1])) continue;
          // Insert, keeping the list sorted; a tie stays behind the earlier index.
          int at = found < K ? found++ : K - 1;
          while (at > 0 && best[at - 1] > joint) {
            best[at] = best[at - 1];
            who[at] = who[at - 1];
            --at;
          }
          best[at] = joint;
          who[at] = j;
        }
        if (algorithm == 1) {
          radii(i, 0) = best[K - 1];
          return;
        }
        double ex = 0, ey = 0, ez = 0;
        for (int m = 0; m < K; ++m) {
          const auto d = distances(p, k, l, i, who[m]);
          ex = d.x > ex ? d.x : ex;
          ey = d.y > ey ? d.y : ey;
          ez = d.z > ez ? d.z : ez;
        }
        radii(i, 0) = best[K - 1];
        radii(i, 1) = ex;
        radii(i, 2) = ey;
        radii(i, 3) = ez;
      });
}

// For every observation i, the other observations inside its radii:
// KSG 1 counts distances strictly below the joint radius in the (x, z),
// (y, z) and z spaces; KSG 2 counts those within (<=) the subspace radii.
template <class Exec>
void ksg_counts(Exec const& space, Points const& p, int k, int l, int algorithm, Radii const& radii,
                Counts const& counts) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Points::memory_space>::accessible,
                "te::ksg_counts: points must be reachable from the execution space");
  const std::int64_t n = p.extent(0);
  Kokkos::parallel_for(
      "te::ksg_counts", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, n),
      KOKKOS_LAMBDA(const std::int64_t i) {
        std::int32_t nxz = 0, nyz = 0, nz = 0;
        if (algorithm == 1) {
          const double eps = radii(i, 0);
          for (std::int64_t j = 0; j < n; ++j) {
            if (j == i) continue;
            const auto d = distances(p, k, l, i, j);
            if (d.z < eps) {
              ++nz;
              nxz += d.x < eps;
              nyz += d.y < eps;
            }
          }
        } else {
          const double ex = radii(i, 1), ey = radii(i, 2), ez = radii(i, 3);
          for (std::int64_t j = 0; j < n; ++j) {
            if (j == i) continue;
            const auto d = distances(p, k, l, i, j);
            if (d.z <= ez) {
              ++nz;
              nxz += d.x <= ex;
              nyz += d.y <= ey;
            }
          }
        }
        counts(i, 0) = nxz;
        counts(i, 1) = nyz;
        counts(i, 2) = nz;
      });
}

}  // namespace prism::te
