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
// window search visits candidates in order of that gap, outwards from i, and
// stops at the first gap above the radius: the sort is ascending and
// rounding monotone, so every later position has a gap at least as large,
// and z1_j - z1_i (j after i) is exactly |z1_i - z1_j|.
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/te/types.hpp"

namespace prism::te {

struct SubspaceDistances {
  double x, y, z;
};

// The K nearest candidates offered so far, by (joint distance, observation
// index): the order a search in observation order keeps among equal
// distances.  `at` is the sorted position, to revisit a neighbour.
template <int Cap>
struct Nearest {
  double best[Cap];
  std::int64_t who[Cap], at[Cap];
  int found = 0, K;
  KOKKOS_INLINE_FUNCTION explicit Nearest(int k) : K(k) {}
  KOKKOS_INLINE_FUNCTION bool full() const { return found == K; }
  KOKKOS_INLINE_FUNCTION double radius() const { return best[K - 1]; }
  KOKKOS_INLINE_FUNCTION void offer(double d, std::int64_t id, std::int64_t pos) {
    if (found == K && !(d < best[K - 1] || (d == best[K - 1] && id < who[K - 1]))) return;
    int m = found < K ? found++ : K - 1;
    while (m > 0 && (best[m - 1] > d || (best[m - 1] == d && who[m - 1] > id))) {
      best[m] = best[m - 1];
      who[m] = who[m - 1];
      at[m] = at[m - 1];
      --m;
    }
    best[m] = d;
    who[m] = id;
    at[m] = pos;
  }
};

// k = l = 1 (the default embedding): one coordinate per space, read through
// plain pointers.
struct ScalarGeometry {
  const double *X, *Z, *Y;
  double xi, zi, yi;
  KOKKOS_INLINE_FUNCTION ScalarGeometry(Shared const& shared, Sources const& sources, std::int64_t b,
                                        std::int64_t i) {
    const std::int64_t n = shared.extent(1);
    X = shared.data();
    Z = X + n;
    Y = sources.data() + b * n;
    xi = X[i];
    zi = Z[i];
    yi = Y[i];
  }
  KOKKOS_INLINE_FUNCTION double z1(std::int64_t j) const { return Z[j]; }
  KOKKOS_INLINE_FUNCTION SubspaceDistances distances(std::int64_t j) const {
    return {kmath::fabs(xi - X[j]), kmath::fabs(yi - Y[j]), kmath::fabs(zi - Z[j])};
  }
};

// Any k and l: max over the coordinates of each space.
struct GeneralGeometry {
  Shared shared;
  Sources sources;
  std::int64_t b, i;
  int k, l;
  KOKKOS_INLINE_FUNCTION GeneralGeometry(Shared const& s, Sources const& y, std::int64_t b_, std::int64_t i_)
      : shared(s), sources(y), b(b_), i(i_), k(int(s.extent(0)) - 1), l(int(y.extent(1))) {}
  KOKKOS_INLINE_FUNCTION double z1(std::int64_t j) const { return shared(1, j); }
  KOKKOS_INLINE_FUNCTION SubspaceDistances distances(std::int64_t j) const {
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
};

template <int Cap, class Geometry>
struct KsgCounts {
  Shared shared;
  Order order;
  Sources sources;
  Counts counts;
  std::int64_t n;
  int K, algorithm;
  bool window;

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t t) const {
    const std::int64_t b = t / n, i = t - b * n;
    const Geometry g(shared, sources, b, i);
    const double zi = g.z1(i);
    // The K nearest: candidates in order of their z1 gap, nearer side first.
    Nearest<Cap> near(K);
    std::int64_t lo = i - 1, hi = i + 1;
    while (lo >= 0 || hi < n) {
      const double gap_lo = lo >= 0 ? zi - g.z1(lo) : 0.0, gap_hi = hi < n ? g.z1(hi) - zi : 0.0;
      const bool up = hi < n && (lo < 0 || gap_hi <= gap_lo);
      // A gap equal to the K-th distance can still win a tie on the index.
      if (window && near.full() && (up ? gap_hi : gap_lo) > near.radius()) break;
      const std::int64_t j = up ? hi++ : lo--;
      const auto d = g.distances(j);
      double joint = d.x > d.y ? d.x : d.y;
      joint = joint > d.z ? joint : d.z;
      near.offer(joint, order(j), j);
    }
    std::int32_t nxz = 0, nyz = 0, nz = 0;
    if (algorithm == 1) {
      // Strictly inside the K-th joint distance.
      const double eps = near.radius();
      auto count = [&](std::int64_t j) {
        const auto d = g.distances(j);
        if (d.z < eps) {
          ++nz;
          nxz += d.x < eps;
          nyz += d.y < eps;
        }
      };
      for (std::int64_t j = i + 1; j < n && !(window && g.z1(j) - zi >= eps); ++j) count(j);
      for (std::int64_t j = i - 1; j >= 0 && !(window && zi - g.z1(j) >= eps); --j) count(j);
    } else {
      // Within the largest subspace distances among the K neighbours.
      double ex = 0, ey = 0, ez = 0;
      for (int m = 0; m < K; ++m) {
        const auto d = g.distances(near.at[m]);
        ex = d.x > ex ? d.x : ex;
        ey = d.y > ey ? d.y : ey;
        ez = d.z > ez ? d.z : ez;
      }
      auto count = [&](std::int64_t j) {
        const auto d = g.distances(j);
        if (d.z <= ez) {
          ++nz;
          nxz += d.x <= ex;
          nyz += d.y <= ey;
        }
      };
      for (std::int64_t j = i + 1; j < n && !(window && g.z1(j) - zi > ez); ++j) count(j);
      for (std::int64_t j = i - 1; j >= 0 && !(window && zi - g.z1(j) > ez); --j) count(j);
    }
    counts(b, 0, i) = nxz;
    counts(b, 1, i) = nyz;
    counts(b, 2, i) = nz;
  }
};

// Counts for the first `estimates` estimates of `sources`, on `space`.
template <class Exec>
void ksg_counts(Exec const& space, Search search, Shared const& shared, Order const& order,
                Sources const& sources, std::int64_t estimates, int K, int algorithm, Counts const& counts) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Shared::memory_space>::accessible,
                "te::ksg_counts: the observations must be reachable from the execution space");
  const std::int64_t n = shared.extent(1);
  const Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>> range(space, 0, estimates * n);
  const bool window = search == Search::window, scalar = shared.extent(0) == 2 && sources.extent(1) == 1;
  auto launch = [&](auto functor) { Kokkos::parallel_for("te::ksg_counts", range, functor); };
  // Small K (the usual 4) keeps the neighbour list short enough for registers.
  if (K <= 8 && scalar)
    launch(KsgCounts<8, ScalarGeometry>{shared, order, sources, counts, n, K, algorithm, window});
  else if (K <= 8)
    launch(KsgCounts<8, GeneralGeometry>{shared, order, sources, counts, n, K, algorithm, window});
  else
    launch(
        KsgCounts<kMaxNeighbours, GeneralGeometry>{shared, order, sources, counts, n, K, algorithm, window});
}

}  // namespace prism::te
