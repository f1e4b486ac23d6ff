#pragma once
// Exact results for the Ising model, computed by the tests themselves:
// enumeration of every configuration of small lattices, and Kaufman's
// closed-form partition function of the periodic L x L square lattice
// (B. Kaufman, Phys. Rev. 76, 1232 (1949); form of P. D. Beale,
// Phys. Rev. Lett. 76, 78 (1996)).
#include <cmath>
#include <cstdint>
#include <vector>

namespace prism::exact {

struct Thermo {
  double energy;          // <E>/N
  double specific_heat;   // beta^2 (<E^2> - <E>^2) / N
  double magnetization;   // <|M|>/N
  double susceptibility;  // beta (<M^2> - <|M|>^2) / N
};

// Enumerates 2^N states of a lattice with bonds (i, j, J_ij); E = -J sum J_ij s_i s_j - h sum s_i.
inline Thermo enumerate(int n_sites, const std::vector<std::int64_t>& bond_i,
                        const std::vector<std::int64_t>& bond_j, const std::vector<int>& bond_J, double J,
                        double h, double T) {
  const double beta = 1.0 / T;
  const std::uint64_t states = std::uint64_t(1) << n_sites;
  // Shift by the ground-state bound to keep the weights finite.
  const double shift = std::fabs(J) * double(bond_i.size()) + std::fabs(h) * n_sites;
  long double z = 0, se = 0, se2 = 0, sm = 0, sm2 = 0;
  for (std::uint64_t c = 0; c < states; ++c) {
    long double bonds = 0, mag = 0;
    for (int i = 0; i < n_sites; ++i) mag += ((c >> i) & 1) ? 1 : -1;
    for (std::size_t b = 0; b < bond_i.size(); ++b) {
      const int si = ((c >> bond_i[b]) & 1) ? 1 : -1, sj = ((c >> bond_j[b]) & 1) ? 1 : -1;
      bonds += bond_J[b] * si * sj;
    }
    const long double e = -J * bonds - h * mag;
    const long double w = std::exp(-beta * (e + shift));
    z += w;
    se += w * e;
    se2 += w * e * e;
    sm += w * std::fabs(mag);
    sm2 += w * mag * mag;
  }
  Thermo t;
  const long double E = se / z, E2 = se2 / z, M = sm / z, M2 = sm2 / z;
  t.energy = double(E / n_sites);
  t.specific_heat = double(beta * beta * (E2 - E * E) / n_sites);
  t.magnetization = double(M / n_sites);
  t.susceptibility = double(beta * (M2 - M * M) / n_sites);
  return t;
}

// Bonds of a periodic L^dim lattice in the order prism uses: from each site
// i to its +x, +y (+z) neighbour, coupling c[d * N + i].
inline void lattice_bonds(int L, int dim, const std::vector<std::int8_t>& c, std::vector<std::int64_t>& bi,
                          std::vector<std::int64_t>& bj, std::vector<int>& bJ) {
  const std::int64_t N = dim == 2 ? std::int64_t(L) * L : std::int64_t(L) * L * L;
  for (std::int64_t i = 0; i < N; ++i) {
    const int x = int(i % L), y = int((i / L) % L), z = int(i / (std::int64_t(L) * L));
    const std::int64_t nb[3] = {i - x + (x + 1) % L, i + std::int64_t((y + 1) % L - y) * L,
                                i + std::int64_t((z + 1) % L - z) * L * L};
    for (int d = 0; d < dim; ++d) {
      bi.push_back(i);
      bj.push_back(nb[d]);
      bJ.push_back(c.empty() ? 1 : c[d * N + i]);
    }
  }
}

// ln Z of the periodic L x L ferromagnet at coupling K = beta J, h = 0.
inline long double kaufman_log_z(int L, long double K) {
  const int m = L, n = L;
  const long double pi = 3.14159265358979323846264338327950288L;
  auto gamma = [&](int k) -> long double {
    if (k == 0) return 2 * K + std::log(std::tanh(K));
    const long double c = std::cosh(2 * K) / std::tanh(2 * K) - std::cos(pi * k / n);
    return std::acosh(c);
  };
  // log of the four products; the fourth can be negative (gamma_0 < 0 below T_c).
  long double s[4] = {0, 0, 0, 0};
  int sign4 = 1;
  for (int r = 0; r < n; ++r) {
    const long double g_odd = gamma(2 * r + 1), g_even = gamma(2 * r);
    s[0] += std::log(2 * std::cosh(0.5L * m * g_odd));
    s[1] += std::log(2 * std::sinh(0.5L * m * g_odd));
    s[2] += std::log(2 * std::cosh(0.5L * m * g_even));
    const long double sh = 2 * std::sinh(0.5L * m * g_even);
    if (sh < 0) sign4 = -sign4;
    s[3] += std::log(std::fabs(sh));
  }
  long double top = s[0];
  for (auto v : s) top = std::max(top, v);
  const long double sum =
      std::exp(s[0] - top) + std::exp(s[1] - top) + std::exp(s[2] - top) + sign4 * std::exp(s[3] - top);
  return std::log(0.5L) + 0.5L * m * n * std::log(2 * std::sinh(2 * K)) + top + std::log(sum);
}

// <E>/N and C/N of the periodic L x L ferromagnet (J = 1) from derivatives of ln Z in K.
inline Thermo kaufman(int L, double T) {
  const long double K = 1.0L / T, d = 1e-4L, N = (long double)L * L;
  const long double fp = kaufman_log_z(L, K + d), f0 = kaufman_log_z(L, K), fm = kaufman_log_z(L, K - d);
  Thermo t{};
  t.energy = double(-(fp - fm) / (2 * d) / N);
  t.specific_heat = double(K * K * (fp - 2 * f0 + fm) / (d * d) / N);
  return t;
}

// Onsager-Yang spontaneous magnetisation of the infinite square lattice.
inline double onsager_magnetization(double T) {
  const double Tc = 2.0 / std::log(1.0 + std::sqrt(2.0));
  if (T >= Tc) return 0.0;
  return std::pow(1.0 - std::pow(std::sinh(2.0 / T), -4.0), 0.125);
}

}  // namespace prism::exact
