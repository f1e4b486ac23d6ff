// The gnn potential against e3nn and against its own definition: harmonics
// and coupling tables, equality with the PyTorch/e3nn model of
// tools/gnn_e3nn.py (tests/reference/gnn), forces as the gradient of the
// energy, E(3) invariance, periodic images.  Runs on the default execution
// space (a GPU in a CUDA build).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/h5_reader.hpp"
#include "core/mpi_context.hpp"
#include "gnn/domain.hpp"
#include "gnn/model.hpp"
#include "gnn/potential.hpp"
#include "gnn/structures.hpp"
#include "gnn/workload.hpp"
#include "kernels/gnn/geometry.hpp"
#include "test_env.hpp"

namespace prism::gnn {
namespace {

const std::string kRef = std::string(PRISM_SOURCE_DIR) + "/tests/reference/gnn/";

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

TEST(GnnMath, SphericalHarmonicsEqualE3nn) {
  H5Reader ref(kRef + "reference.h5");
  const auto vec = ref.values<double>("/sh/vectors");
  const auto val = ref.values<double>("/sh/values");
  const std::size_t n = vec.size() / 3;
  ASSERT_EQ(val.size(), n * 16);
  for (std::size_t k = 0; k < n; ++k) {
    double Y[16];
    spherical_harmonics(3, &vec[3 * k], Y, static_cast<double*>(nullptr));
    for (int m = 0; m < 16; ++m)
      EXPECT_NEAR(Y[m], val[16 * k + m], 1e-13) << "vector " << k << " component " << m;
  }
}

TEST(GnnMath, HarmonicsGradientsAreDerivatives) {
  std::mt19937_64 gen(3);
  std::normal_distribution<double> g;
  for (int trial = 0; trial < 10; ++trial) {
    double d[3] = {g(gen), g(gen), g(gen)}, Y[16], G[48];
    spherical_harmonics(3, d, Y, G);
    for (int a = 0; a < 3; ++a) {
      const double h = 1e-6;
      double dp[3] = {d[0], d[1], d[2]}, dm[3] = {d[0], d[1], d[2]}, Yp[16], Ym[16];
      dp[a] += h;
      dm[a] -= h;
      spherical_harmonics(3, dp, Yp, static_cast<double*>(nullptr));
      spherical_harmonics(3, dm, Ym, static_cast<double*>(nullptr));
      for (int m = 0; m < 16; ++m) EXPECT_NEAR(G[3 * m + a], (Yp[m] - Ym[m]) / (2 * h), 1e-7);
    }
    double B[8], dB[8];
    const double r = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) * 0.8, h = 1e-6;
    radial_basis(8, 6, 4.0, r, B, dB);
    double Bp[8], Bm[8];
    radial_basis(8, 6, 4.0, r + h, Bp, static_cast<double*>(nullptr));
    radial_basis(8, 6, 4.0, r - h, Bm, static_cast<double*>(nullptr));
    for (int k = 0; k < 8; ++k) EXPECT_NEAR(dB[k], (Bp[k] - Bm[k]) / (2 * h), 1e-6 * (1 + std::abs(dB[k])));
  }
}

TEST(GnnMath, ClebschGordanEqualE3nnAndAreOrthogonal) {
  H5Reader ref(kRef + "reference.h5");
  int tables = 0;
  for (int l1 = 0; l1 <= 3; ++l1)
    for (int l2 = 0; l2 <= 3; ++l2)
      for (int l3 = std::abs(l1 - l2); l3 <= std::min(l1 + l2, 3); ++l3) {
        const auto want = ref.values<double>("/w3j/" + std::to_string(l1) + "_" + std::to_string(l2) + "_" +
                                             std::to_string(l3));
        const auto got = wigner_3j(l1, l2, l3);
        ASSERT_EQ(got.size(), want.size());
        for (std::size_t x = 0; x < got.size(); ++x)
          EXPECT_NEAR(got[x], want[x], 1e-14) << l1 << " " << l2 << " " << l3 << " entry " << x;
        // Orthogonality: sum_ij C_ijk C_ijk' = delta_kk' / (2 l3 + 1).
        const int n12 = (2 * l1 + 1) * (2 * l2 + 1), n3 = 2 * l3 + 1;
        for (int k = 0; k < n3; ++k)
          for (int k2 = 0; k2 < n3; ++k2) {
            double s = 0;
            for (int ij = 0; ij < n12; ++ij) s += got[ij * n3 + k] * got[ij * n3 + k2];
            EXPECT_NEAR(s, k == k2 ? 1.0 / n3 : 0.0, 1e-14);
          }
        ++tables;
      }
  EXPECT_EQ(tables, 34);
}

std::vector<Structure> reference_structures() {
  return read_structures_h5(kRef + "reference.h5");
}

// max_tile 1: one edge per pass of a team (the kernels' fallback where a
// tile does not fit the team memory); 0: the default tiles, whose short
// last tiles (an atom's edges are rarely a multiple) are padded.
template <class Real>
void expect_equal_to_e3nn(double tol_energy, double tol_force, const std::string& tag, int max_tile) {
  const Model model = read_model(kRef + "model.h5");
  Potential<Real> pot(model, 0, max_tile);
  H5Reader ref(kRef + "reference.h5");
  for (const auto& s : reference_structures()) {
    SCOPED_TRACE(s.name + tag + (max_tile == 1 ? ", one edge per pass" : ", tiles"));
    const std::string g = "/structures/" + s.name + "/";
    const auto ev = pot.evaluate(s, true, true);
    EXPECT_EQ(ev.edges, ref.values<std::int64_t>(g + "n_edges" + tag)[0]);
    const double e = ref.values<double>(g + "energy" + tag)[0];
    EXPECT_NEAR(ev.energy, e, tol_energy * std::abs(e));
    const auto f = ref.values<double>(g + "forces" + tag);
    // The structure reader takes the group's energy and forces as the reference values.
    EXPECT_EQ(s.ref_energy, ref.values<double>(g + "energy")[0]);
    EXPECT_EQ(s.ref_forces, ref.values<double>(g + "forces"));
    const double fs = max_abs(f);
    ASSERT_EQ(ev.forces.size(), f.size());
    for (std::size_t x = 0; x < f.size(); ++x)
      EXPECT_NEAR(ev.forces[x], f[x], tol_force * fs) << "force " << x;
    const auto ae = ref.values<double>(g + "atom_energies" + tag);
    for (std::size_t i = 0; i < ae.size(); ++i)
      EXPECT_NEAR(ev.atom_energies[i], ae[i], tol_energy * (1 + std::abs(ae[i])));
    const auto v = ref.values<double>(g + "virial" + tag);
    const double vs = max_abs(v);
    for (int k = 0; k < 9; ++k) EXPECT_NEAR(ev.virial[k], v[k], tol_force * vs) << "virial " << k;
    if (tag.empty())
      for (std::size_t t = 0; t < ev.features.size(); ++t) {
        const auto h = ref.values<double>(g + "features" + std::to_string(t));
        ASSERT_EQ(h.size(), ev.features[t].size());
        for (std::size_t x = 0; x < h.size(); ++x)
          ASSERT_NEAR(ev.features[t][x], h[x], 1e-11) << "layer " << t;
      }
  }
}

TEST(GnnModel, DoubleEqualsE3nn) {
  for (const int max_tile : {0, 1}) expect_equal_to_e3nn<double>(1e-10, 1e-10, "", max_tile);
}

TEST(GnnModel, FloatEqualsE3nnFloat32) {
  for (const int max_tile : {0, 1}) expect_equal_to_e3nn<float>(1e-5, 1e-5, "_f32", max_tile);
}

// Forces against central differences of the energy, for the structures of
// at most 8 atoms.
void expect_forces_are_minus_the_gradient(const Model& model) {
  Potential<double> pot(model);
  for (const auto& s : reference_structures()) {
    if (s.atoms() > 8) continue;
    SCOPED_TRACE(s.name);
    const auto ev = pot.evaluate(s, true);
    const double fs = max_abs(ev.forces);
    for (std::int64_t i = 0; i < s.atoms(); ++i)
      for (int a = 0; a < 3; ++a) {
        const double h = 1e-4;
        Structure p = s, m = s;
        p.pos[3 * i + a] += h;
        m.pos[3 * i + a] -= h;
        const double fd = -(pot.evaluate(p, false).energy - pot.evaluate(m, false).energy) / (2 * h);
        EXPECT_NEAR(ev.forces[3 * i + a], fd, 1e-7 * fs) << "atom " << i << " axis " << a;
      }
  }
}

TEST(GnnModel, ForcesAreMinusTheEnergyGradient) {
  expect_forces_are_minus_the_gradient(read_model(kRef + "model.h5"));
}

// A random orthogonal matrix (a rotation, or with reflect a rotation times -1).
std::array<double, 9> random_orthogonal(std::uint64_t seed, bool reflect) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> g;
  double q[4] = {g(gen), g(gen), g(gen), g(gen)};
  const double n = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  for (double& x : q) x /= n;
  const double w = q[0], x = q[1], y = q[2], z = q[3];
  std::array<double, 9> R{1 - 2 * (y * y + z * z), 2 * (x * y - z * w),     2 * (x * z + y * w),
                          2 * (x * y + z * w),     1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                          2 * (x * z - y * w),     2 * (y * z + x * w),     1 - 2 * (x * x + y * y)};
  if (reflect)
    for (double& v : R) v = -v;
  return R;
}

// Row vectors times R^T: x' = R x.
std::vector<double> transform(const std::vector<double>& v, const std::array<double, 9>& R,
                              const double t[3]) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size() / 3; ++i)
    for (int a = 0; a < 3; ++a) {
      out[3 * i + a] = t[a];
      for (int b = 0; b < 3; ++b) out[3 * i + a] += R[3 * a + b] * v[3 * i + b];
    }
  return out;
}

// Rotations, reflections and translations leave the energy unchanged and
// rotate the forces; a permutation of the atoms permutes them.
void expect_e3_equivariance(const Model& model) {
  Potential<double> pot(model);
  for (const auto& s : reference_structures()) {
    SCOPED_TRACE(s.name);
    const auto ev = pot.evaluate(s, true);
    const double fs = max_abs(ev.forces);
    for (int reflect = 0; reflect < 2; ++reflect) {
      const auto R = random_orthogonal(11 + reflect, reflect);
      const double shift[3] = {0.37, -1.2, 2.5}, none[3] = {0, 0, 0};
      Structure r = s;
      r.pos = transform(s.pos, R, shift);
      if (s.pbc[0]) {
        const std::vector<double> cell(s.cell.begin(), s.cell.end());
        const auto rc = transform(cell, R, none);
        std::copy(rc.begin(), rc.end(), r.cell.begin());
      }
      const auto er = pot.evaluate(r, true);
      EXPECT_EQ(er.edges, ev.edges);
      EXPECT_NEAR(er.energy, ev.energy, 1e-12 * std::abs(ev.energy));
      const auto fr = transform(ev.forces, R, none);
      for (std::size_t x = 0; x < fr.size(); ++x) EXPECT_NEAR(er.forces[x], fr[x], 1e-12 * fs);
    }
    // A permutation of the atoms permutes the forces.
    Structure p = s;
    const std::int64_t n = s.atoms();
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t from = (i * 11 + 3) % n;  // a permutation: no n here is a multiple of 11
      p.z[i] = s.z[from];
      for (int a = 0; a < 3; ++a) p.pos[3 * i + a] = s.pos[3 * from + a];
    }
    ASSERT_NE(n % 11, 0);
    const auto ep = pot.evaluate(p, true);
    EXPECT_NEAR(ep.energy, ev.energy, 1e-12 * std::abs(ev.energy));
    for (std::int64_t i = 0; i < n; ++i)
      for (int a = 0; a < 3; ++a)
        EXPECT_NEAR(ep.forces[3 * i + a], ev.forces[3 * ((i * 11 + 3) % n) + a], 1e-12 * fs);
  }
}

TEST(GnnModel, EnergyInvariantForcesEquivariantUnderE3) {
  expect_e3_equivariance(read_model(kRef + "model.h5"));
}

// A model with l_max = 3 (the reference files stop at 2): harmonics up to
// l = 3, features up to 3o, random weights.  Equivariance needs every
// coupling table and harmonic of l = 3 right, and the forces every
// gradient of them.
TEST(GnnModel, LmaxThreeModelIsEquivariantAndConservative) {
  const Model ref = read_model(kRef + "model.h5");
  Model m = make_model(ref.species, ref.r_cut, ref.n_basis, ref.envelope_p, 3, "6x0e+3x1o+2x2e+2x3o", {12}, 2,
                       ref.avg_num_neighbors);
  ASSERT_EQ(m.sh.back().l, 3);
  std::mt19937_64 gen(21);
  std::normal_distribution<double> g;
  auto fill = [&](std::vector<double>& v) {
    for (auto& x : v) x = g(gen);
  };
  fill(m.embed.weight);
  fill(m.readout.weight);
  fill(m.shift);
  for (auto& L : m.layers) {
    for (auto& r : L.radial) fill(r);
    fill(L.linear.weight);
    fill(L.self.weight);
    bool has_l3 = false;
    for (const auto& p : L.tp) has_l3 = has_l3 || p.l2 == 3 || p.l3 == 3;
    EXPECT_TRUE(has_l3);
  }
  m.gate_silu_cst = ref.gate_silu_cst;
  m.gate_sigmoid_cst = ref.gate_sigmoid_cst;
  m.radial_silu_cst = ref.radial_silu_cst;
  expect_e3_equivariance(m);
  expect_forces_are_minus_the_gradient(m);
}

TEST(GnnModel, SupercellHasEightTimesTheEnergyAndTheSameForces) {
  const Model model = read_model(kRef + "model.h5");
  Potential<double> pot(model);
  for (const auto& s : reference_structures()) {
    if (!s.pbc[0]) continue;
    SCOPED_TRACE(s.name);
    const auto ev = pot.evaluate(s, true);
    const Structure big = replicate(s, {2, 2, 2});
    const auto eb = pot.evaluate(big, true);
    EXPECT_EQ(eb.edges, 8 * ev.edges);
    EXPECT_NEAR(eb.energy, 8 * ev.energy, 1e-12 * std::abs(8 * ev.energy));
    const double fs = max_abs(ev.forces);
    const std::int64_t n = s.atoms();
    // Every copy's atom equals the original's (replicate keeps atom order within each image).
    for (std::int64_t c = 0; c < 8; ++c)
      for (std::int64_t i = 0; i < n; ++i)
        for (int a = 0; a < 3; ++a)
          EXPECT_NEAR(eb.forces[3 * (c * n + i) + a], ev.forces[3 * i + a], 1e-12 * fs);
    for (int k = 0; k < 9; ++k)
      EXPECT_NEAR(eb.virial[k], 8 * ev.virial[k], 1e-11 * (1 + std::abs(8 * ev.virial[k])));
  }
}

// Layer t of a model written out on the host from the definitions
// (docs/gnn.md), for a structure without periodic images, from the layer's
// input features h [atom][in_dim] (the embedding for t = 0): every ordered
// pair within r_cut is an edge i <- j with d = r_j - r_i; harmonics, Bessel
// basis and radial MLP per edge; each path's dense coupling table
// (wigner_3j); the linears path by path; the gate.  Returns [atom][out_dim].
std::vector<double> host_layer(const Model& m, std::size_t t, const Structure& s, std::vector<double> h) {
  const Layer& L = m.layers[t];
  const std::int64_t n = s.atoms();
  const int in_dim = irreps_dim(L.in), tp_dim = irreps_dim(L.tp_out), gate_dim = irreps_dim(L.gate_in);
  std::vector<double> msg(std::size_t(n * tp_dim), 0.0);
  if (t == 0) {
    const int C = m.input[0].mul;
    h.assign(std::size_t(n * in_dim), 0.0);
    for (std::int64_t i = 0; i < n; ++i)
      for (int w = 0; w < C; ++w)
        h[i * in_dim + w] =
            m.embed.weight[std::size_t(m.species_index(s.z[i]) * C + w)] * m.embed.paths[0].alpha;
  }
  auto silu = [](double x) { return x / (1 + std::exp(-x)); };
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const double d[3] = {s.pos[3 * j] - s.pos[3 * i], s.pos[3 * j + 1] - s.pos[3 * i + 1],
                           s.pos[3 * j + 2] - s.pos[3 * i + 2]};
      const double r = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
      if (i == j || r >= m.r_cut) continue;
      double Y[16];
      spherical_harmonics<double>(m.lmax, d, Y, nullptr);
      std::vector<double> x(std::size_t(m.n_basis));
      for (int k = 0; k < m.n_basis; ++k)
        x[k] = radial_term<double>(k + 1, m.envelope_p, m.r_cut, r, nullptr);
      for (std::size_t k = 0; k < L.radial.size(); ++k) {  // e3nn's FullyConnectedNet
        const int nin = L.radial_widths[k], nout = L.radial_widths[k + 1];
        std::vector<double> y(std::size_t(nout), 0.0);
        for (int o = 0; o < nout; ++o) {
          for (int a = 0; a < nin; ++a) y[o] += x[a] * L.radial[k][std::size_t(a * nout + o)];
          y[o] /= std::sqrt(double(nin));
          if (k + 1 < L.radial.size()) y[o] = m.radial_silu_cst * silu(y[o]);
        }
        x = y;
      }
      for (const auto& p : L.tp) {
        const auto cg = wigner_3j(p.l1, p.l2, p.l3);
        const int d1 = 2 * p.l1 + 1, d2 = 2 * p.l2 + 1, d3 = 2 * p.l3 + 1;
        for (int u = 0; u < p.mul; ++u)
          for (int a = 0; a < d1; ++a)
            for (int b = 0; b < d2; ++b)
              for (int c = 0; c < d3; ++c)
                msg[i * tp_dim + p.out_offset + u * d3 + c] +=
                    p.path_weight * x[std::size_t(p.w_offset + u)] * cg[std::size_t((a * d2 + b) * d3 + c)] *
                    h[j * in_dim + p.in_offset + u * d1 + a] * Y[p.sh_offset + b] / m.avg_num_neighbors;
      }
    }
  auto apply = [](const Linear& lin, const double* in, std::vector<double>& out) {
    for (const auto& p : lin.paths)
      for (int v = 0; v < p.mul_out; ++v)
        for (int k = 0; k < p.dim; ++k) {
          double sum = 0;
          for (int u = 0; u < p.mul_in; ++u)
            sum += in[p.in_offset + u * p.dim + k] * lin.weight[std::size_t(p.w_offset + u * p.mul_out + v)];
          out[std::size_t(p.out_offset + v * p.dim + k)] += p.alpha * sum;
        }
  };
  const int S = L.scalars, G = L.gates, out_dim = irreps_dim(L.out);
  std::vector<double> out(std::size_t(n * out_dim));
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> z(std::size_t(gate_dim), 0.0);
    apply(L.linear, &msg[i * tp_dim], z);
    apply(L.self, &h[i * in_dim], z);
    for (int o = 0; o < S; ++o) out[i * out_dim + o] = m.gate_silu_cst * silu(z[o]);
    int at = S, gate = 0;
    for (std::size_t b = 1; b < L.out.size(); ++b)
      for (int u = 0; u < L.out[b].mul; ++u, ++gate)
        for (int k = 0; k < L.out[b].dim(); ++k, ++at)
          out[i * out_dim + at] = z[S + G + (at - S)] * m.gate_sigmoid_cst / (1 + std::exp(-z[S + gate]));
  }
  return out;
}

// Each tensor-product path of each layer alone (the radial weights of the
// layer's other paths zeroed) against the host evaluation of the
// definitions, to 1e-12: that layer's features on the open cluster, from
// its input features (the layer before's, as computed).  With every path of
// the layer zeroed the features change, so each path contributes.  The
// second layer has every path of the model (inputs of l = 0, 1, 2).
TEST(GnnModel, EachTensorProductPathEqualsTheHostDefinition) {
  const Model model = read_model(kRef + "model.h5");
  Structure cluster;
  for (const auto& s : reference_structures())
    if (!s.pbc[0]) cluster = s;
  ASSERT_GT(cluster.atoms(), 0);
  int tested = 0;
  for (std::size_t t = 0; t < model.layers.size(); ++t) {
    const Layer& L = model.layers[t];
    const std::size_t last = L.radial.size() - 1;
    const int rows = L.radial_widths[last], numel = int(L.tp_numel);
    auto only = [&](int keep) {  // keep -1: no path of layer t
      Model m = model;
      for (int r = 0; r < rows; ++r)
        for (int q = 0; q < numel; ++q) {
          const auto& p = L.tp[std::size_t(keep < 0 ? 0 : keep)];
          if (!(keep >= 0 && q >= p.w_offset && q < p.w_offset + p.mul))
            m.layers[t].radial[last][std::size_t(r * numel + q)] = 0;
        }
      return m;
    };
    const auto none = Potential<double>(only(-1)).evaluate(cluster, false, true).features[t];
    for (std::size_t p = 0; p < L.tp.size(); ++p, ++tested) {
      SCOPED_TRACE("layer " + std::to_string(t) + ", path " + std::to_string(p) + ": l1 " +
                   std::to_string(L.tp[p].l1) + " x l2 " + std::to_string(L.tp[p].l2) + " -> l3 " +
                   std::to_string(L.tp[p].l3));
      const Model m = only(int(p));
      const auto ev = Potential<double>(m).evaluate(cluster, false, true);
      const auto want = host_layer(m, t, cluster, t ? ev.features[t - 1] : std::vector<double>{});
      const auto& got = ev.features[t];
      ASSERT_EQ(got.size(), want.size());
      double scale = 0, moved = 0;
      for (std::size_t x = 0; x < got.size(); ++x) {
        scale = std::max(scale, std::abs(want[x]));
        moved = std::max(moved, std::abs(got[x] - none[x]));
      }
      for (std::size_t x = 0; x < got.size(); ++x)
        EXPECT_NEAR(got[x], want[x], 1e-12 * scale) << "feature " << x;
      EXPECT_GT(moved, 1e-6 * scale) << "the path changes nothing";
    }
  }
  EXPECT_GT(tested, int(model.layers[0].tp.size()));
}

// A first layer whose input is wider than the embedding's scalars (the
// shape of a layer deep in a network, as bench_gnn's single-layer
// comparison uses): the embedding leaves the extra blocks zero, so with the
// reference model's weights in the matching slots (each linear path's
// weights rescaled for its wider fan-in) and any weights in the others, the
// energies and forces are the reference model's.  Fails if the first layer's
// extra input blocks are read from the wrong place, left uninitialised, or
// shift the weights of the scalar paths.
TEST(GnnModel, WiderFirstInputOfZeroBlocksIsTheSameModel) {
  const Model a = read_model(kRef + "model.h5");
  const std::string wide = irreps_string(a.input) + "+3x1o+2x2e";
  Model b = make_model(a.species, a.r_cut, a.n_basis, a.envelope_p, a.lmax, irreps_string(a.hidden),
                       a.radial_hidden, int(a.layers.size()), a.avg_num_neighbors, wide);
  ASSERT_EQ(irreps_string(b.layers[0].in), irreps_string(parse_irreps(wide)));
  ASSERT_GT(b.layers[0].tp_numel, a.layers[0].tp_numel);
  b.gate_silu_cst = a.gate_silu_cst;
  b.gate_sigmoid_cst = a.gate_sigmoid_cst;
  b.radial_silu_cst = a.radial_silu_cst;
  b.embed.weight = a.embed.weight;
  b.readout.weight = a.readout.weight;
  b.shift = a.shift;
  std::mt19937_64 gen(5);
  std::uniform_real_distribution<double> any(-1, 1);
  // Paths of the same (input block, output block) carry A's weights; others random.
  auto copy_linear = [&](const Linear& from, Linear& to) {
    for (auto& w : to.weight) w = any(gen);
    for (const auto& q : to.paths)
      for (const auto& p : from.paths)
        if (p.in_block == q.in_block && p.out_block == q.out_block) {
          ASSERT_EQ(p.mul_in * p.mul_out, q.mul_in * q.mul_out);
          for (int x = 0; x < p.mul_in * p.mul_out; ++x)
            to.weight[q.w_offset + x] = from.weight[p.w_offset + x] * p.alpha / q.alpha;
        }
  };
  for (std::size_t t = 0; t < a.layers.size(); ++t) {
    const Layer& la = a.layers[t];
    Layer& lb = b.layers[t];
    const std::size_t last = la.radial.size() - 1;
    for (std::size_t k = 0; k < last; ++k) lb.radial[k] = la.radial[k];
    // The last radial layer: A's paths are the first columns (the paths come input block first).
    const int rows = la.radial_widths[last], na = int(la.tp_numel), nb = int(lb.tp_numel);
    for (int r = 0; r < rows; ++r)
      for (int q = 0; q < nb; ++q)
        lb.radial[last][std::size_t(r) * nb + q] =
            q < na ? la.radial[last][std::size_t(r) * na + q] : any(gen);
    copy_linear(la.linear, lb.linear);
    copy_linear(la.self, lb.self);
  }
  Potential<double> pa(a), pb(b);
  for (const auto& s : reference_structures()) {
    SCOPED_TRACE(s.name);
    const auto ea = pa.evaluate(s, true), eb = pb.evaluate(s, true);
    EXPECT_NEAR(eb.energy, ea.energy, 1e-12 * std::abs(ea.energy));
    const double fs = max_abs(ea.forces);
    ASSERT_EQ(eb.forces.size(), ea.forces.size());
    for (std::size_t x = 0; x < ea.forces.size(); ++x) EXPECT_NEAR(eb.forces[x], ea.forces[x], 1e-12 * fs);
  }
  // The input's blocks are checked like the hidden ones.
  EXPECT_THROW(make_model(a.species, a.r_cut, a.n_basis, a.envelope_p, a.lmax, irreps_string(a.hidden),
                          a.radial_hidden, 1, a.avg_num_neighbors, "3x1o+8x0e"),
               std::invalid_argument);
}

TEST(GnnModel, ClosestPairFindsImagesAndOpenBoundaries) {
  for (const auto& s : reference_structures()) {
    const auto far = closest_pair(s, 0.5);
    EXPECT_EQ(far.i, -1) << s.name;
    // Brute force over images -1..1 (enough for these cells at 3 Angstrom).
    double best = 1e9;
    const int reach = s.pbc[0] ? 2 : 0;
    for (std::int64_t i = 0; i < s.atoms(); ++i)
      for (std::int64_t j = 0; j < s.atoms(); ++j)
        for (int a = -reach; a <= reach; ++a)
          for (int b = -reach; b <= reach; ++b)
            for (int c = -reach; c <= reach; ++c) {
              if (i == j && !a && !b && !c) continue;
              double r2 = 0;
              for (int k = 0; k < 3; ++k) {
                const double d = s.pos[3 * j + k] + a * s.cell[k] + b * s.cell[3 + k] + c * s.cell[6 + k] -
                                 s.pos[3 * i + k];
                r2 += d * d;
              }
              best = std::min(best, std::sqrt(r2));
            }
    const auto near = closest_pair(s, 3.0);
    ASSERT_GE(near.i, 0) << s.name;
    EXPECT_NEAR(near.distance, best, 1e-12) << s.name;
  }
}

// decompose = "space": slabs of equal atom count, and each rank's halo holds
// every atom within r_cut of one of its own (brute force over images), yet
// not the whole structure where the slabs are thick enough.
TEST(GnnModel, HaloHoldsEveryNeighbourOfASlab) {
  const double rc = 4.0;
  int proper = 0;
  for (const auto& ref : reference_structures()) {
    const Structure s = ref.pbc[0] ? replicate(ref, {5, 1, 1}) : ref;
    const std::int64_t n = s.atoms();
    const int reach = s.pbc[0] ? 1 : 0;  // cells of these structures are wider than r_cut
    for (int parts : {2, 3, 4}) {
      SCOPED_TRACE(s.name + " on " + std::to_string(parts) + " ranks");
      const auto owner = slab_owners(s, parts);
      for (int p = 0; p < parts; ++p) {
        const auto local = halo_atoms(s, owner, p, rc);
        ASSERT_TRUE(std::is_sorted(local.begin(), local.end()));
        std::vector<char> held(std::size_t(n), 0);
        for (auto i : local) held[std::size_t(i)] = 1;
        std::int64_t own = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          if (owner[std::size_t(i)] != p) continue;
          ++own;
          ASSERT_TRUE(held[std::size_t(i)]) << "own atom " << i;
          for (std::int64_t j = 0; j < n; ++j)
            for (int a = -reach; a <= reach; ++a)
              for (int b = -reach; b <= reach; ++b)
                for (int c = -reach; c <= reach; ++c) {
                  double r2 = 0;
                  for (int k = 0; k < 3; ++k) {
                    const double d = s.pos[3 * j + k] + a * s.cell[k] + b * s.cell[3 + k] +
                                     c * s.cell[6 + k] - s.pos[3 * i + k];
                    r2 += d * d;
                  }
                  if (r2 < rc * rc) ASSERT_TRUE(held[std::size_t(j)]) << "atom " << i << " neighbour " << j;
                }
        }
        EXPECT_LE(std::abs(own - n / parts), 1);
        if (std::int64_t(local.size()) < n) ++proper;
      }
    }
  }
  EXPECT_GT(proper, 0);
}

// NVE with velocity Verlet conserves the total energy only if the forces are
// the energy's gradient: the drift stays within a bound that shrinks as dt^2.
TEST(GnnModel, NveConservesEnergy) {
  std::vector<double> worst;
  for (double dt : {0.5, 0.25}) {
    Config cfg;
    cfg.model = kRef + "model.h5";
    cfg.mode = Mode::md;
    cfg.md_steps = std::int64_t(250 / dt);  // 250 fs
    cfg.md_dt = dt;
    cfg.md_every = 1;
    cfg.md_temperature = 300;
    std::vector<Structure> one;
    for (const auto& s : reference_structures())
      if (s.name == "cubic") one.push_back(s);
    GnnWorkload w(cfg, read_model(cfg.model), one);
    test::run_workload(w, 7);
    if (!test::world->root()) return;
    const auto& r = w.results()[0];
    ASSERT_EQ(r.md_potential.size(), std::size_t(cfg.md_steps + 1));
    const double e0 = r.md_potential[0] + r.md_kinetic[0];
    double dev = 0, kin = 0;
    for (std::size_t t = 0; t < r.md_potential.size(); ++t) {
      dev = std::max(dev, std::abs(r.md_potential[t] + r.md_kinetic[t] - e0));
      kin += r.md_kinetic[t];
    }
    // The atoms move: kinetic energy of order (3/2) N kT, exchanged with the potential energy.
    EXPECT_GT(kin / double(r.md_kinetic.size()), 0.2 * 1.5 * 24 * 8.617333262e-5 * 300);
    worst.push_back(dev / 24);
  }
  std::printf("NVE, 24 atoms, 250 fs: largest |E - E0| per atom %.3g eV (dt 0.5 fs), %.3g eV (dt 0.25 fs)\n",
              worst[0], worst[1]);
  EXPECT_LT(worst[1], 2e-5);            // the stated bound, eV per atom over 1000 steps of 0.25 fs
  EXPECT_LT(worst[1], 0.5 * worst[0]);  // second order: about a quarter when dt halves
}

}  // namespace
}  // namespace prism::gnn
