#pragma once
// Exact diagonalisation of small spin chains/lattices for the nqs tests:
// H applied on the fly in the full 2^N basis (bit i set = spin up), Lanczos
// for the ground-state energy, and exact expectation values of a given
// wave function.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

namespace prism::exact {

struct SpinModel {
  int N = 0;
  std::vector<int> bond_i, bond_j;
  std::vector<int> bond2_i, bond2_j;  // heisenberg: next-nearest neighbours, coupling J2
  bool tfim = true;
  double J = 1, h = 1,
         Delta = 1;  // tfim: -J sz sz - h sx; heisenberg: J (SxSx + SySy + Delta SzSz), S = sigma/2
  double J2 = 0;
};

inline double spin_of(std::uint64_t state, int i) {
  return ((state >> i) & 1) ? 1.0 : -1.0;
}

// Heisenberg bonds (i, j) with coupling c: c (SxSx + SySy + Delta SzSz) applied to v[s] into out.
inline void apply_exchange(const std::vector<int>& bi, const std::vector<int>& bj, double c, double Delta,
                           std::uint64_t s, double vs, std::vector<double>& out) {
  for (std::size_t b = 0; b < bi.size(); ++b) {
    if (spin_of(s, bi[b]) == spin_of(s, bj[b])) {
      out[s] += 0.25 * c * Delta * vs;
      continue;
    }
    out[s] -= 0.25 * c * Delta * vs;
    out[s ^ (std::uint64_t(1) << bi[b]) ^ (std::uint64_t(1) << bj[b])] += 0.5 * c * vs;
  }
}

inline void apply_h(const SpinModel& m, const std::vector<double>& v, std::vector<double>& out) {
  const std::uint64_t dim = std::uint64_t(1) << m.N;
  std::fill(out.begin(), out.end(), 0.0);
  for (std::uint64_t s = 0; s < dim; ++s) {
    if (v[s] == 0.0) continue;
    if (m.tfim) {
      double diag = 0;
      for (std::size_t b = 0; b < m.bond_i.size(); ++b)
        diag += spin_of(s, m.bond_i[b]) * spin_of(s, m.bond_j[b]);
      out[s] += -m.J * diag * v[s];
      for (int k = 0; k < m.N; ++k) out[s ^ (std::uint64_t(1) << k)] += -m.h * v[s];
    } else {
      apply_exchange(m.bond_i, m.bond_j, m.J, m.Delta, s, v[s], out);
      apply_exchange(m.bond2_i, m.bond2_j, m.J2, m.Delta, s, v[s], out);
    }
  }
}

// Smallest eigenvalue of a symmetric tridiagonal matrix by bisection (Sturm count).
inline double tridiagonal_min(const std::vector<double>& alpha, const std::vector<double>& beta) {
  const std::size_t n = alpha.size();
  double lo = 1e300, hi = -1e300;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = (i > 0 ? std::fabs(beta[i - 1]) : 0) + (i + 1 < n ? std::fabs(beta[i]) : 0);
    lo = std::min(lo, alpha[i] - r);
    hi = std::max(hi, alpha[i] + r);
  }
  auto below = [&](double x) {  // eigenvalues < x
    int count = 0;
    double d = 1;
    for (std::size_t i = 0; i < n; ++i) {
      d = alpha[i] - x - (i > 0 ? beta[i - 1] * beta[i - 1] / d : 0.0);
      if (d == 0) d = 1e-300;
      if (d < 0) ++count;
    }
    return count;
  };
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    (below(mid) >= 1 ? hi : lo) = mid;
  }
  return 0.5 * (lo + hi);
}

// Ground-state energy by Lanczos from a start vector restricted to `sector`
// (states for which sector(s) is true; H conserves it).
inline double lanczos_ground_energy(const SpinModel& m, const std::function<bool(std::uint64_t)>& sector,
                                    int steps = 300) {
  const std::uint64_t dim = std::uint64_t(1) << m.N;
  std::vector<double> v(dim, 0.0), w(dim), v_prev(dim, 0.0);
  double norm = 0;
  for (std::uint64_t s = 0; s < dim; ++s)
    if (sector(s)) {
      v[s] = 1.0 + 0.1 * std::sin(double(s) * 1.2345);  // generic start vector
      norm += v[s] * v[s];
    }
  for (auto& x : v) x /= std::sqrt(norm);
  std::vector<double> alpha, beta;
  double b = 0;
  for (int k = 0; k < steps; ++k) {
    apply_h(m, v, w);
    double a = 0;
    for (std::uint64_t s = 0; s < dim; ++s) a += v[s] * w[s];
    alpha.push_back(a);
    for (std::uint64_t s = 0; s < dim; ++s) w[s] -= a * v[s] + b * v_prev[s];
    b = 0;
    for (double x : w) b += x * x;
    b = std::sqrt(b);
    if (b < 1e-12) break;
    beta.push_back(b);
    v_prev.swap(v);
    for (std::uint64_t s = 0; s < dim; ++s) v[s] = w[s] / b;
  }
  beta.resize(alpha.size() > 0 ? alpha.size() - 1 : 0);
  return tridiagonal_min(alpha, beta);
}

// Ground state (energy and normalised vector in the full basis) by Lanczos
// with full reorthogonalisation, for bases small enough to keep every
// Lanczos vector; the Ritz vector of the lowest eigenvalue comes from
// inverse iteration on the tridiagonal matrix.
struct GroundState {
  double energy = 0;
  std::vector<double> psi;
};
inline GroundState lanczos_ground_state(const SpinModel& m, const std::function<bool(std::uint64_t)>& sector,
                                        int steps = 120) {
  const std::uint64_t dim = std::uint64_t(1) << m.N;
  std::vector<std::vector<double>> V;
  std::vector<double> v(dim, 0.0), w(dim);
  double norm = 0;
  for (std::uint64_t s = 0; s < dim; ++s)
    if (sector(s)) {
      v[s] = 1.0 + 0.1 * std::sin(double(s) * 1.2345);
      norm += v[s] * v[s];
    }
  for (auto& x : v) x /= std::sqrt(norm);
  std::vector<double> alpha, beta;
  for (int k = 0; k < steps; ++k) {
    V.push_back(v);
    apply_h(m, v, w);
    double a = 0;
    for (std::uint64_t s = 0; s < dim; ++s) a += v[s] * w[s];
    alpha.push_back(a);
    for (int pass = 0; pass < 2; ++pass)  // Gram-Schmidt twice against every earlier vector
      for (const auto& u : V) {
        double d = 0;
        for (std::uint64_t s = 0; s < dim; ++s) d += u[s] * w[s];
        for (std::uint64_t s = 0; s < dim; ++s) w[s] -= d * u[s];
      }
    double b = 0;
    for (double x : w) b += x * x;
    b = std::sqrt(b);
    if (b < 1e-10) break;
    beta.push_back(b);
    for (std::uint64_t s = 0; s < dim; ++s) v[s] = w[s] / b;
  }
  const std::size_t n = alpha.size();
  beta.resize(n - 1);
  GroundState g;
  g.energy = tridiagonal_min(alpha, beta);
  // Inverse iteration: (T - mu) y_new = y with mu just below the eigenvalue,
  // by the Thomas algorithm (no pivoting needed: T - mu is positive definite).
  const double mu = g.energy - 1e-9 * std::max(1.0, std::fabs(g.energy));
  std::vector<double> y(n, 1.0), c(n), d(n);
  for (int it = 0; it < 4; ++it) {
    c[0] = n > 1 ? beta[0] / (alpha[0] - mu) : 0.0;
    d[0] = y[0] / (alpha[0] - mu);
    for (std::size_t i = 1; i < n; ++i) {
      const double den = alpha[i] - mu - beta[i - 1] * c[i - 1];
      c[i] = i + 1 < n ? beta[i] / den : 0.0;
      d[i] = (y[i] - beta[i - 1] * d[i - 1]) / den;
    }
    y[n - 1] = d[n - 1];
    for (std::size_t i = n - 1; i-- > 0;) y[i] = d[i] - c[i] * y[i + 1];
    double yn = 0;
    for (double x : y) yn += x * x;
    for (auto& x : y) x /= std::sqrt(yn);
  }
  g.psi.assign(dim, 0.0);
  for (std::size_t k = 0; k < n; ++k)
    for (std::uint64_t s = 0; s < dim; ++s) g.psi[s] += y[k] * V[k][s];
  double pn = 0;
  for (double x : g.psi) pn += x * x;
  for (auto& x : g.psi) x /= std::sqrt(pn);
  return g;
}

// <psi|H|psi>/<psi|psi> for amplitudes psi (full basis).
inline double expectation(const SpinModel& m, const std::vector<double>& psi) {
  std::vector<double> hpsi(psi.size());
  apply_h(m, psi, hpsi);
  double num = 0, den = 0;
  for (std::size_t s = 0; s < psi.size(); ++s) {
    num += psi[s] * hpsi[s];
    den += psi[s] * psi[s];
  }
  return num / den;
}

// Closed form of the periodic TFIM chain -J sum sz sz - h sum sx (even-parity sector).
inline double tfim_chain_ground_energy(int N, double J, double h) {
  double e = 0;
  for (int m = 0; m < N; ++m) {
    const double k = M_PI * (2.0 * m + 1.0) / N;
    e -= std::sqrt(J * J + h * h - 2.0 * J * h * std::cos(k));
  }
  return e;
}

}  // namespace prism::exact
