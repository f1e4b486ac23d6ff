#pragma once
// Per-edge geometry of the gnn potential, with derivatives: e3nn's real
// spherical harmonics ("component" normalisation, l <= 3, of the unit
// vector), and the Bessel radial basis times the polynomial cutoff envelope.
// Device and host code alike.
#include <Kokkos_Core.hpp>
#include <cmath>

#include "kernels/common/kokkos_compat.hpp"

namespace prism::gnn {

// A value with its gradient with respect to the unit vector's (x, y, z),
// each treated as independent: the harmonics are polynomials in them, so
// forward-mode derivatives come out of the same expressions.
template <class Real>
struct Dual3 {
  Real v, dx, dy, dz;
  KOKKOS_INLINE_FUNCTION Dual3 operator+(const Dual3& o) const {
    return {v + o.v, dx + o.dx, dy + o.dy, dz + o.dz};
  }
  KOKKOS_INLINE_FUNCTION Dual3 operator-(const Dual3& o) const {
    return {v - o.v, dx - o.dx, dy - o.dy, dz - o.dz};
  }
  KOKKOS_INLINE_FUNCTION Dual3 operator*(const Dual3& o) const {
    return {v * o.v, dx * o.v + v * o.dx, dy * o.v + v * o.dy, dz * o.v + v * o.dz};
  }
  KOKKOS_INLINE_FUNCTION Dual3 operator*(Real s) const { return {v * s, dx * s, dy * s, dz * s}; }
};

// Y[0 .. (lmax+1)^2) at d (any length > 0), and when `grad` is non-null
// grad[3 * n + a] = dY_n / dd_a, the derivative with respect to the
// un-normalised vector (the projection (I - u u^T) / |d| applied).
// e3nn's basis: y is the polar axis; l = 1 is sqrt(3) (x, y, z).
template <class Real>
KOKKOS_INLINE_FUNCTION void spherical_harmonics(int lmax, const Real d[3], Real* Y, Real* grad) {
  using D = Dual3<Real>;
  const Real r = kmath::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  const Real inv = Real(1) / r;
  const D x{d[0] * inv, 1, 0, 0}, y{d[1] * inv, 0, 1, 0}, z{d[2] * inv, 0, 0, 1};
  D out[16];
  out[0] = D{1, 0, 0, 0};
  int n = 1;
  if (lmax >= 1) {
    const Real s3 = kmath::sqrt(Real(3));
    out[1] = x * s3;
    out[2] = y * s3;
    out[3] = z * s3;
    n = 4;
  }
  if (lmax >= 2) {
    const Real s15 = kmath::sqrt(Real(15)), s5 = kmath::sqrt(Real(5));
    const D y2 = y * y, x2z2 = x * x + z * z;
    const D s20 = x * z * s15, s21 = x * y * s15, s22 = (y2 - x2z2 * Real(0.5)) * s5, s23 = y * z * s15,
            s24 = (z * z - x * x) * (s15 * Real(0.5));
    out[4] = s20;
    out[5] = s21;
    out[6] = s22;
    out[7] = s23;
    out[8] = s24;
    n = 9;
    if (lmax >= 3) {
      const Real a = kmath::sqrt(Real(42)) / 6, b = kmath::sqrt(Real(7)), c = kmath::sqrt(Real(168)) / 8;
      out[9] = (s20 * z + s24 * x) * a;
      out[10] = s20 * y * b;
      out[11] = (y2 * Real(4) - x2z2) * x * c;
      out[12] = y * (y2 * Real(2) - x2z2 * Real(3)) * (b * Real(0.5));
      out[13] = z * (y2 * Real(4) - x2z2) * c;
      out[14] = s24 * y * b;
      out[15] = (s24 * z - s20 * x) * a;
      n = 16;
    }
  }
  const Real u[3] = {x.v, y.v, z.v};
  for (int k = 0; k < n; ++k) {
    Y[k] = out[k].v;
    if (grad) {
      const Real g[3] = {out[k].dx, out[k].dy, out[k].dz};
      const Real gu = g[0] * u[0] + g[1] * u[1] + g[2] * u[2];
      for (int a2 = 0; a2 < 3; ++a2) grad[3 * k + a2] = (g[a2] - gu * u[a2]) * inv;
    }
  }
}

// B_n(r) = sqrt(2 / rc) sin(n pi r / rc) / r * u(r / rc) for one n >= 1, and
// dB_n/dr in *dB when non-null.  u(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2)
// x^(p+1) - p(p+1)/2 x^(p+2) for x < 1, else 0: smooth to second order at
// the cutoff.  One term per call, so the threads of a team share the basis.
template <class Real>
KOKKOS_INLINE_FUNCTION Real radial_term(int n, int p, Real rc, Real r, Real* dB) {
  const Real x = r / rc;
  Real u = 0, du = 0;
  if (x < 1) {
    Real xp = 1;
    for (int k = 0; k < p - 1; ++k) xp *= x;  // x^(p-1)
    const Real c0 = Real((p + 1) * (p + 2)) / 2, c1 = Real(p * (p + 2)), c2 = Real(p * (p + 1)) / 2;
    u = 1 - c0 * xp * x + c1 * xp * x * x - c2 * xp * x * x * x;
    du = (-c0 * p * xp + c1 * (p + 1) * xp * x - c2 * (p + 2) * xp * x * x) / rc;
  }
  const Real pi = Real(3.14159265358979323846);
  const Real pre = kmath::sqrt(Real(2) / rc);
  const Real a = n * pi / rc;
  const Real sn = kmath::sin(a * r);
  const Real f = pre * sn / r;
  if (dB) *dB = pre * (a * kmath::cos(a * r) * r - sn) / (r * r) * u + f * du;
  return f * u;
}

// All nb terms: B[n-1] (and dB[n-1] when dB is non-null), n = 1 .. nb.
template <class Real>
KOKKOS_INLINE_FUNCTION void radial_basis(int nb, int p, Real rc, Real r, Real* B, Real* dB) {
  for (int n = 1; n <= nb; ++n)
    B[n - 1] = radial_term(n, p, rc, r, dB ? dB + n - 1 : static_cast<Real*>(nullptr));
}

}  // namespace prism::gnn
