#include "nqs/observables.hpp"

#include <cmath>
#include <limits>

#include "core/h5_writer.hpp"
#include "kernels/nqs/observables.hpp"

namespace prism::nqs {

void ObservableSums::add(const std::vector<double>& x) {
  if (iterations == 0) {
    first = x;
    sum.assign(x.size(), 0.0);
    sum_squares.assign(x.size(), 0.0);
  }
  for (std::size_t k = 0; k < x.size(); ++k) {
    const double d = x[k] - first[k];
    sum[k] += d;
    sum_squares[k] += d * d;
  }
  ++iterations;
}

double ObservableSums::mean(std::size_t k) const {
  return first[k] + sum[k] / double(iterations);
}

double ObservableSums::error(std::size_t k) const {
  if (iterations < 2) return std::numeric_limits<double>::quiet_NaN();
  const double n = double(iterations), m = sum[k] / n;
  const double var = sum_squares[k] / n - m * m;
  return var > 0 ? std::sqrt(var / (n - 1)) : 0.0;
}

Observables::Observables(const Config& cfg)
    : cfg_(cfg),
      lat_(make_lattice(cfg)),
      N_(int(cfg.sites())),
      heisenberg_(cfg.hamiltonian == Hamiltonian::heisenberg) {
  const int N = N_;
  auto push = [&](ObservableKind k, int i, int j, double sign) {
    columns_.kind.push_back(static_cast<std::int8_t>(k));
    columns_.i.push_back(i);
    columns_.j.push_back(j);
    columns_.sign.push_back(sign);
  };
  for (int i = 0; i < N; ++i)
    for (int j = i + 1; j < N; ++j) push(ObservableKind::zz, i, j, 1.0);
  if (heisenberg_) {
    // With the Marshall rule the RBM is psi times (-1)^(up spins on sublattice 0):
    // exchanging two sites of different sublattices flips that sign.
    for (int i = 0; i < N; ++i)
      for (int j = i + 1; j < N; ++j)
        push(ObservableKind::exchange, i, j,
             cfg.marshall_sign && lat_.sublattice[i] != lat_.sublattice[j] ? -1.0 : 1.0);
  } else {
    for (int i = 0; i < N; ++i) push(ObservableKind::flip, i, i, 1.0);
  }

  const auto n = std::uint64_t(N), lx = std::uint64_t(cfg.Lx), ly = std::uint64_t(cfg.Ly);
  add("energy", "mean local energy <H>", {});
  add("energy_per_site", "<H> / N", {});
  add("szsz", "<S^z_i S^z_j> (S = sigma / 2)", {n, n});
  if (heisenberg_) add("spin_spin", "<S_i . S_j>", {n, n});
  if (!heisenberg_) {
    add("sigma_x", "<sigma^x_i>", {n});
    add("sigma_x_mean", "<sigma^x_i> averaged over sites", {});
    add("sigma_z_sigma_z_nearest", "<sigma^z_i sigma^z_j> averaged over nearest-neighbour bonds", {});
  } else {
    add("spin_spin_nearest", "<S_i . S_j> averaged over nearest-neighbour bonds", {});
  }
  if (cfg.periodic) {
    add("szsz_displacement", "<S^z_i S^z_(i+r)> averaged over i, indexed [ry][rx]", {ly, lx});
    if (heisenberg_)
      add("spin_spin_displacement", "<S_i . S_(i+r)> averaged over i, indexed [ry][rx]", {ly, lx});
  }
  add("structure_factor_zz",
      "(1/N) sum_ij cos(q . (r_i - r_j)) <S^z_i S^z_j>, q = 2 pi (nx / Lx, ny / Ly), indexed [ny][nx]",
      {ly, lx});
  if (heisenberg_) {
    add("structure_factor",
        "(1/N) sum_ij cos(q . (r_i - r_j)) <S_i . S_j>, q = 2 pi (nx / Lx, ny / Ly), indexed [ny][nx]",
        {ly, lx});
    if (lat_.bipartite)
      add("staggered_magnetisation_squared",
          "(1/N^2) sum_ij eps_i eps_j <S_i . S_j>, eps = +-1 by sublattice", {});
  }
}

std::size_t Observables::add(std::string name, std::string description, std::vector<std::uint64_t> shape) {
  Quantity q;
  q.name = std::move(name);
  q.description = std::move(description);
  q.shape = std::move(shape);
  q.offset = size_;
  for (auto d : q.shape) q.size *= std::size_t(d);
  size_ += q.size;
  quantities_.push_back(std::move(q));
  return quantities_.back().offset;
}

const Quantity* Observables::find(std::string_view name) const {
  for (const auto& q : quantities_)
    if (q.name == name) return &q;
  return nullptr;
}

std::size_t Observables::pair(int i, int j) const {
  // Row i of the upper triangle starts after rows 0..i-1, of N-1-r pairs each.
  const auto N = std::size_t(N_), a = std::size_t(i);
  return a * (2 * N - a - 1) / 2 + std::size_t(j - i - 1);
}

std::vector<double> Observables::derive(const std::vector<double>& m, double energy) const {
  const int N = N_, Lx = int(cfg_.Lx), Ly = int(cfg_.Ly);
  const std::size_t pairs = std::size_t(N) * (N - 1) / 2;
  std::vector<double> out(size_, 0.0);
  auto at = [&](const char* name) -> double* {
    const Quantity* q = find(name);
    return q ? out.data() + q->offset : nullptr;
  };
  at("energy")[0] = energy;
  at("energy_per_site")[0] = energy / double(N);

  // The correlation matrices, symmetric, with their exact diagonals.
  double* zz = at("szsz");
  double* ss = at("spin_spin");
  for (int i = 0; i < N; ++i) {
    zz[i * N + i] = 0.25;
    if (ss) ss[i * N + i] = 0.75;
    for (int j = i + 1; j < N; ++j) {
      const std::size_t p = pair(i, j);
      const double z = 0.25 * m[p];
      zz[i * N + j] = zz[j * N + i] = z;
      // S_i . S_j = S^z S^z + (S^+ S^- + S^- S^+) / 2
      if (ss) ss[i * N + j] = ss[j * N + i] = z + 0.5 * m[pairs + p];
    }
  }
  const std::size_t bonds = lat_.bond_i.size();
  if (!heisenberg_) {
    double* sx = at("sigma_x");
    double mean = 0;
    for (int i = 0; i < N; ++i) mean += sx[i] = m[pairs + std::size_t(i)];
    at("sigma_x_mean")[0] = mean / double(N);
    double nn = 0;
    for (std::size_t b = 0; b < bonds; ++b) nn += 4.0 * zz[lat_.bond_i[b] * N + lat_.bond_j[b]];
    at("sigma_z_sigma_z_nearest")[0] = bonds ? nn / double(bonds) : 0.0;
  } else {
    double nn = 0;
    for (std::size_t b = 0; b < bonds; ++b) nn += ss[lat_.bond_i[b] * N + lat_.bond_j[b]];
    at("spin_spin_nearest")[0] = bonds ? nn / double(bonds) : 0.0;
  }

  // Translation averages C(r) = (1/N) sum_i c(i, i + r) on periodic lattices,
  // and the structure factors: through C(r) there (N^2 work), directly on
  // open lattices (N^3).
  auto structure = [&](const double* c, const char* disp_name, const char* sq_name) {
    double* sq = at(sq_name);
    if (cfg_.periodic) {
      double* d = at(disp_name);
      for (int y = 0; y < Ly; ++y)
        for (int x = 0; x < Lx; ++x) {
          const int i = y * Lx + x;
          for (int ry = 0; ry < Ly; ++ry)
            for (int rx = 0; rx < Lx; ++rx) {
              const int j = ((y + ry) % Ly) * Lx + (x + rx) % Lx;
              d[ry * Lx + rx] += c[i * N + j];
            }
        }
      for (int r = 0; r < N; ++r) d[r] /= double(N);
      for (int ny = 0; ny < Ly; ++ny)
        for (int nx = 0; nx < Lx; ++nx) {
          double s = 0;
          for (int ry = 0; ry < Ly; ++ry)
            for (int rx = 0; rx < Lx; ++rx)
              s += std::cos(2 * M_PI * (double(nx * rx) / Lx + double(ny * ry) / Ly)) * d[ry * Lx + rx];
          sq[ny * Lx + nx] = s;
        }
      return;
    }
    std::vector<double> u(N), v(N), cu(N), cv(N);
    for (int ny = 0; ny < Ly; ++ny)
      for (int nx = 0; nx < Lx; ++nx) {
        for (int i = 0; i < N; ++i) {
          const double phase = 2 * M_PI * (double(nx * (i % Lx)) / Lx + double(ny * (i / Lx)) / Ly);
          u[i] = std::cos(phase);
          v[i] = std::sin(phase);
        }
        // cos(a - b) = cos a cos b + sin a sin b
        double s = 0;
        for (int i = 0; i < N; ++i) {
          double a = 0, b = 0;
          for (int j = 0; j < N; ++j) {
            a += c[i * N + j] * u[j];
            b += c[i * N + j] * v[j];
          }
          s += u[i] * a + v[i] * b;
        }
        sq[ny * Lx + nx] = s / double(N);
      }
  };
  structure(zz, "szsz_displacement", "structure_factor_zz");
  if (heisenberg_) {
    structure(ss, "spin_spin_displacement", "structure_factor");
    if (double* ms = at("staggered_magnetisation_squared")) {
      double s = 0;
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j)
          s += (lat_.sublattice[i] == lat_.sublattice[j] ? 1.0 : -1.0) * ss[i * N + j];
      ms[0] = s / (double(N) * double(N));
    }
  }
  return out;
}

void Observables::write(H5Writer& out, const ObservableSums& sums) const {
  const std::string g = "/nqs/observables";
  out.group(g);
  out.attribute(g, "iterations", sums.iterations);
  out.attribute(g, "samples_per_iteration", sums.samples_per_iteration);
  out.attribute(g, "errors", std::string("standard error of the mean over iterations (one bin each)"));
  for (const auto& q : quantities_) {
    std::vector<double> mean(q.size), err(q.size);
    for (std::size_t k = 0; k < q.size; ++k) {
      mean[k] = sums.mean(q.offset + k);
      err[k] = sums.error(q.offset + k);
    }
    const std::string path = g + "/" + q.name;
    if (q.shape.empty()) {
      out.write_scalar(path, mean[0]);
      out.write_scalar(path + "_err", err[0]);
    } else {
      out.write(path, mean, q.shape);
      out.write(path + "_err", err, q.shape);
    }
    out.attribute(path, "description", q.description);
  }
}

}  // namespace prism::nqs
