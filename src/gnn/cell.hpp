#pragma once
// Host geometry of a periodic cell whose rows are the lattice vectors, shared
// by the neighbour search, the input checks and the spatial split.
#include <array>
#include <cmath>

namespace prism::gnn {

// inv with frac_a = sum_b x_b inv[3 b + a]; false when |det| <= min_det (no volume).
inline bool cell_inverse(const std::array<double, 9>& c, double inv[9], double min_det = 0.0) {
  const double det = c[0] * (c[4] * c[8] - c[5] * c[7]) - c[1] * (c[3] * c[8] - c[5] * c[6]) +
                     c[2] * (c[3] * c[7] - c[4] * c[6]);
  if (!(std::abs(det) > min_det)) return false;
  inv[0] = (c[4] * c[8] - c[5] * c[7]) / det;
  inv[1] = (c[2] * c[7] - c[1] * c[8]) / det;
  inv[2] = (c[1] * c[5] - c[2] * c[4]) / det;
  inv[3] = (c[5] * c[6] - c[3] * c[8]) / det;
  inv[4] = (c[0] * c[8] - c[2] * c[6]) / det;
  inv[5] = (c[2] * c[3] - c[0] * c[5]) / det;
  inv[6] = (c[3] * c[7] - c[4] * c[6]) / det;
  inv[7] = (c[1] * c[6] - c[0] * c[7]) / det;
  inv[8] = (c[0] * c[4] - c[1] * c[3]) / det;
  return true;
}

// Width of the cell across lattice direction a (the distance between the
// faces spanned by the other two vectors): 1 / |column a of inv|.
inline double cell_width(const double inv[9], int a) {
  return 1.0 / std::sqrt(inv[a] * inv[a] + inv[3 + a] * inv[3 + a] + inv[6 + a] * inv[6 + a]);
}

}  // namespace prism::gnn
