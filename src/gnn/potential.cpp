#include "gnn/potential.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gnn/domain.hpp"
#include "kernels/common/kokkos_compat.hpp"
#include "kernels/gnn/layers.hpp"
#include "kernels/gnn/neighbours.hpp"

namespace prism::gnn {

namespace {
using Exec = Kokkos::DefaultExecutionSpace;
using Team = Kokkos::TeamPolicy<Exec>::member_type;
template <class Real>
using Rows = Kokkos::View<Real**, Kokkos::LayoutRight>;

template <class T, class V = Kokkos::View<T*>>
V upload(const std::string& label, const std::vector<T>& values) {
  V v(label, values.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t k = 0; k < values.size(); ++k) h(k) = values[k];
  Kokkos::deep_copy(v, h);
  return v;
}

template <int N>
Kokkos::View<int* [N]> upload_rows(const std::string& label, const std::vector<std::array<int, N>>& rows) {
  Kokkos::View<int* [N]> v(label, rows.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t k = 0; k < rows.size(); ++k)
    for (int a = 0; a < N; ++a) h(k, a) = rows[k][a];
  Kokkos::deep_copy(v, h);
  return v;
}

template <class Real>
std::vector<Real> cast(const std::vector<double>& v, double scale = 1.0) {
  std::vector<Real> out(v.size());
  for (std::size_t k = 0; k < v.size(); ++k) out[k] = Real(v[k] * scale);
  return out;
}

template <class Real>
DevLinear<Real> device_linear(const Linear& lin, const std::string& name) {
  DevLinear<Real> d;
  d.in_dim = irreps_dim(lin.in);
  d.out_dim = irreps_dim(lin.out);
  auto blocks = [](const Irreps& irreps, std::vector<int>& of_elem, std::vector<std::array<int, 4>>& info) {
    const auto off = block_offsets(irreps);
    for (std::size_t b = 0; b < irreps.size(); ++b) {
      info.push_back({off[b], irreps[b].dim(), irreps[b].mul, 0});
      for (int e = 0; e < irreps[b].mul * irreps[b].dim(); ++e) of_elem.push_back(int(b));
    }
  };
  std::vector<int> out_block, in_block;
  std::vector<std::array<int, 4>> out_info, in_info;
  blocks(lin.out, out_block, out_info);
  blocks(lin.in, in_block, in_info);
  std::vector<int> by_out, by_out_begin{0}, by_in, by_in_begin{0};
  for (std::size_t b = 0; b < lin.out.size(); ++b) {
    for (std::size_t p = 0; p < lin.paths.size(); ++p)
      if (lin.paths[p].out_block == int(b)) by_out.push_back(int(p));
    by_out_begin.push_back(int(by_out.size()));
  }
  for (std::size_t b = 0; b < lin.in.size(); ++b) {
    for (std::size_t p = 0; p < lin.paths.size(); ++p)
      if (lin.paths[p].in_block == int(b)) by_in.push_back(int(p));
    by_in_begin.push_back(int(by_in.size()));
  }
  std::vector<std::array<int, 6>> path;
  std::vector<Real> alpha;
  for (const auto& p : lin.paths) {
    path.push_back({p.in_offset, p.out_offset, p.mul_in, p.mul_out, p.dim, int(p.w_offset)});
    alpha.push_back(Real(p.alpha));
  }
  d.out_block = upload(name + "::out_block", out_block);
  d.out_info = upload_rows<4>(name + "::out_info", out_info);
  d.by_out_begin = upload(name + "::by_out_begin", by_out_begin);
  d.by_out = upload(name + "::by_out", by_out);
  d.in_block = upload(name + "::in_block", in_block);
  d.in_info = upload_rows<4>(name + "::in_info", in_info);
  d.by_in_begin = upload(name + "::by_in_begin", by_in_begin);
  d.by_in = upload(name + "::by_in", by_in);
  d.path = upload_rows<6>(name + "::path", path);
  d.alpha = upload(name + "::alpha", alpha);
  d.w = upload(name + "::w", cast<Real>(lin.weight));
  return d;
}

template <class Real>
DevLayer<Real> device_layer(const Layer& L, const std::string& name) {
  DevLayer<Real> d;
  d.in_dim = irreps_dim(L.in);
  d.tp_dim = irreps_dim(L.tp_out);
  d.gate_dim = irreps_dim(L.gate_in);
  d.out_dim = irreps_dim(L.out);
  d.numel = int(L.tp_numel);
  d.scalars = L.scalars;
  d.gates = L.gates;
  std::vector<std::array<int, 9>> tp;
  std::vector<Real> pw;
  std::vector<int> item_path;
  for (std::size_t p = 0; p < L.tp.size(); ++p) {
    const auto& t = L.tp[p];
    tp.push_back({t.in_offset, 2 * t.l1 + 1, t.sh_offset, t.out_offset, 2 * t.l3 + 1, int(t.w_offset),
                  t.cg_begin, t.cg_end, t.l2});
    pw.push_back(Real(t.path_weight));
    for (int u = 0; u < t.mul; ++u) item_path.push_back(int(p));
  }
  std::vector<std::array<int, 3>> cg_index;
  std::vector<double> cg;
  for (const auto& c : L.cg) {
    cg_index.push_back({c.i, c.j, c.k});
    cg.push_back(c.c);
  }
  std::vector<std::array<int, 2>> channel;
  std::vector<int> by_in, by_in_begin{0};
  for (std::size_t b = 0; b < L.in.size(); ++b) {
    for (int u = 0; u < L.in[b].mul; ++u) channel.push_back({int(b), u});
    for (std::size_t p = 0; p < L.tp.size(); ++p)
      if (L.tp[p].in_block == int(b)) by_in.push_back(int(p));
    by_in_begin.push_back(int(by_in.size()));
  }
  d.tp = upload_rows<9>(name + "::tp", tp);
  d.tp_weight = upload(name + "::tp_weight", pw);
  d.cg_index = upload_rows<3>(name + "::cg_index", cg_index);
  d.cg = upload(name + "::cg", cast<Real>(cg));
  d.item_path = upload(name + "::item_path", item_path);
  d.channel = upload_rows<2>(name + "::channel", channel);
  d.tp_by_in_begin = upload(name + "::tp_by_in_begin", by_in_begin);
  d.tp_by_in = upload(name + "::tp_by_in", by_in);
  d.radial_layers = int(L.radial.size());
  if (d.radial_layers + 1 > 8) throw std::invalid_argument("gnn: at most 6 hidden radial layers");
  std::vector<Real> radial, radial_t;
  int hidden_off = 0;
  for (int k = 0; k < d.radial_layers; ++k) {
    d.radial_width[k] = L.radial_widths[k];
    d.radial_offset[k] = int(radial.size());
    // e3nn's FullyConnectedNet divides each weight matrix by sqrt(fan-in).
    const auto w = cast<Real>(L.radial[k], 1.0 / std::sqrt(double(L.radial_widths[k])));
    radial.insert(radial.end(), w.begin(), w.end());
    const int nin = L.radial_widths[k], nout = L.radial_widths[k + 1];
    for (int o = 0; o < nout; ++o)
      for (int i = 0; i < nin; ++i) radial_t.push_back(w[std::size_t(i) * nout + o]);
    if (k >= 1 && k + 1 < d.radial_layers) hidden_off += L.radial_widths[k];
  }
  d.radial_width[d.radial_layers] = L.radial_widths.back();
  d.last_hidden_offset = d.radial_layers > 1 ? hidden_off : -1;
  d.radial = upload(name + "::radial", radial);
  d.radial_t = upload(name + "::radial_t", radial_t);
  // Gated elements: [scalars .. out_dim) of the output; gate g multiplies copy g.
  std::vector<int> gate_of;
  std::vector<std::array<int, 2>> gate_range;
  int gate = 0;
  for (std::size_t b = 1; b < L.out.size(); ++b)
    for (int u = 0; u < L.out[b].mul; ++u, ++gate) {
      gate_range.push_back({int(gate_of.size()), int(gate_of.size()) + L.out[b].dim()});
      for (int m = 0; m < L.out[b].dim(); ++m) gate_of.push_back(gate);
    }
  if (gate != L.gates) throw std::logic_error("gnn: gate count mismatch");
  d.gate_of = upload(name + "::gate_of", gate_of);
  d.gate_range = upload_rows<2>(name + "::gate_range", gate_range);
  d.linear = device_linear<Real>(L.linear, name + "::linear");
  d.self = device_linear<Real>(L.self, name + "::self");
  return d;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One team per atom with `scratch` bytes of team memory each.
Kokkos::TeamPolicy<Exec> team_policy(int atoms, int team, std::size_t scratch) {
  Kokkos::TeamPolicy<Exec> policy(atoms, team);
  policy.set_scratch_size(0, Kokkos::PerTeam(scratch));
  return policy;
}

// The views one layer's edge kernels read and write.
template <class Real>
struct LayerViews {
  Kokkos::View<std::int64_t*> atoms, row;  // the atoms this rank computes; CSR rows of the edges
  Kokkos::View<int*> nbr;
  Kokkos::View<Real*[3]> dvec, gedge;  // edge vectors; dE/dd per edge (backward)
  Rows<Real> hin, hout, zt;            // the layer's input and output features, its gate inputs
  Rows<Real> gm, ghin;                 // backward: dE/dm of every atom, dE/dh_in of this rank's atoms
  bool need_gh = false;                // backward: dE/dh_in wanted (not for the first layer)
};

// Tiles of NE edges (kForwardTile, or 1 where a tile does not fit the team
// memory): one team per atom, the layer's messages, the linears and the gate.
template <int NE, class Real>
void layer_forward(const DevCommon<Real>& c, const DevLayer<Real>& Ld, int team, int nown,
                   const LayerViews<Real>& v) {
  const auto atoms = v.atoms, row = v.row;
  const auto nbr = v.nbr;
  const auto dvec = v.dvec;
  const auto hin = v.hin, hout = v.hout, zt = v.zt;
  const std::size_t scratch = TileScratch<Real>::bytes(c, Ld, team, NE, false);
  const auto policy = team_policy(nown, team, scratch);
  Kokkos::parallel_for(
      "gnn::layer_forward", policy, KOKKOS_LAMBDA(const Team& m) {
        const std::int64_t i = atoms(m.league_rank());
        const TileScratch<Real> sc(m.team_scratch(0).get_shmem(scratch), c, Ld, team, NE, false);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.tp_dim), [&](int x) { sc.acc[x] = 0; });
        m.team_barrier();
        for (std::int64_t e0 = row(i); e0 < row(i + 1); e0 += NE) {
          const int ne = row(i + 1) - e0 < NE ? int(row(i + 1) - e0) : NE;
          edge_geometry<NE>(m, c, Ld, sc, dvec, hin, nbr, e0, ne, false);
          m.team_barrier();
          radial_hidden<NE, false>(m, c, Ld, sc);
          // Item q's message terms: each Clebsch-Gordan entry read once for
          // the whole tile, the tile's edges summed before the one update.
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.numel), [&](int q) {
            const int p = Ld.item_path(q);
            const int io = Ld.tp(p, 0), d1 = Ld.tp(p, 1), so = Ld.tp(p, 2), oo = Ld.tp(p, 3),
                      d3 = Ld.tp(p, 4);
            const int u = q - Ld.tp(p, 5);
            Real pw[NE];
            radial_out<NE, false>(Ld, sc, q, pw);
            for (int t = 0; t < NE; ++t) pw[t] *= Ld.tp_weight(p);
            for (int k = Ld.tp(p, 6); k < Ld.tp(p, 7); ++k) {
              Real hj[NE], y[NE];
              load_tile<NE>(sc.hj + (io + u * d1 + Ld.cg_index(k, 0)) * NE, hj);
              load_tile<NE>(sc.Y + (so + Ld.cg_index(k, 1)) * NE, y);
              Real sum = 0;
              for (int t = 0; t < NE; ++t) sum += pw[t] * hj[t] * y[t];
              sc.acc[oo + u * d3 + Ld.cg_index(k, 2)] += Ld.cg(k) * sum;
            }
          });
          m.team_barrier();
        }
        Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.tp_dim), [&](int x) { sc.acc[x] *= c.inv_avg; });
        m.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.gate_dim), [&](int o) {
          const Real v = Ld.linear.apply(o, sc.acc) + Ld.self.apply(o, &hin(i, 0));
          zt(i, o) = v;
          sc.vec[o] = v;
        });
        m.team_barrier();
        const int S = Ld.scalars, G = Ld.gates;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.out_dim), [&](int o) {
          if (o < S)
            hout(i, o) = c.silu_cst * silu(sc.vec[o]);
          else
            hout(i, o) = sc.vec[S + G + (o - S)] * c.sigmoid_cst * sigmoid(sc.vec[S + Ld.gate_of(o - S)]);
        });
      });
}

// The backward pass of one layer's edges, in tiles of NE edges: dE/dd per
// edge into gedge, and (need_gh) dE/dh_in of this rank's atoms into ghin.
template <int NE, class Real>
void layer_backward(const DevCommon<Real>& c, const DevLayer<Real>& Ld, int team, int nown,
                    const LayerViews<Real>& v) {
  const auto atoms = v.atoms, row = v.row;
  const auto nbr = v.nbr;
  const auto dvec = v.dvec, gedge = v.gedge;
  const auto hin = v.hin, gm = v.gm, ghin = v.ghin;
  const bool need_gh = v.need_gh;
  const std::size_t scratch = TileScratch<Real>::bytes(c, Ld, team, NE, true);
  const auto policy = team_policy(nown, team, scratch);
  const int nch = int(Ld.channel.extent(0));
  const int holders = Ld.numel < team ? Ld.numel : team;  // threads with dE/dY shares
  Kokkos::parallel_for(
      "gnn::layer_backward", policy, KOKKOS_LAMBDA(const Team& m) {
        const std::int64_t i = atoms(m.league_rank());
        const TileScratch<Real> sc(m.team_scratch(0).get_shmem(scratch), c, Ld, team, NE, true);
        const int nsh = c.n_sh;
        // This thread's shares of dE/dY, [harmonic][edge of the tile].
        Real* const gYmine = sc.gYpart + m.team_rank() * NE * nsh;
        if (need_gh)
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.in_dim), [&](int x) { sc.acc[x] = 0; });
        m.team_barrier();
        for (std::int64_t e0 = row(i); e0 < row(i + 1); e0 += NE) {
          const int ne = row(i + 1) - e0 < NE ? int(row(i + 1) - e0) : NE;
          edge_geometry<NE>(m, c, Ld, sc, dvec, hin, nbr, e0, ne, true);
          m.team_barrier();
          radial_hidden<NE, true>(m, c, Ld, sc);
          // Per weight q and edge: dE/dw_q, and this thread's share of dE/dY;
          // each Clebsch-Gordan entry read once for the tile.
          if (m.team_rank() < holders)
            for (int y = 0; y < nsh; ++y) {
              const Real zero[NE] = {};
              store_tile<NE>(gYmine + y * NE, zero);
            }
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.numel), [&](int q) {
            const int p = Ld.item_path(q);
            const int io = Ld.tp(p, 0), d1 = Ld.tp(p, 1), so = Ld.tp(p, 2), oo = Ld.tp(p, 3),
                      d3 = Ld.tp(p, 4);
            const int u = q - Ld.tp(p, 5);
            const Real pw = Ld.tp_weight(p) * c.inv_avg;
            Real w[NE], pww[NE], gw[NE];
            radial_out<NE, true>(Ld, sc, q, w);
            for (int t = 0; t < NE; ++t) {
              sc.w[t * Ld.numel + q] = w[t];
              pww[t] = pw * w[t];
              gw[t] = 0;
            }
            for (int k = Ld.tp(p, 6); k < Ld.tp(p, 7); ++k) {
              const Real A = Ld.cg(k) * gm(i, oo + u * d3 + Ld.cg_index(k, 2));
              const int y_at = (so + Ld.cg_index(k, 1)) * NE;
              Real hj[NE], y[NE], gy[NE];
              load_tile<NE>(sc.hj + (io + u * d1 + Ld.cg_index(k, 0)) * NE, hj);
              load_tile<NE>(sc.Y + y_at, y);
              load_tile<NE>(gYmine + y_at, gy);
              for (int t = 0; t < NE; ++t) {
                const Real a = A * hj[t];
                gw[t] += a * y[t];
                gy[t] += pww[t] * a;
              }
              store_tile<NE>(gYmine + y_at, gy);
            }
            for (int t = 0; t < NE; ++t) sc.gw[q * NE + t] = pw * gw[t];
          });
          m.team_barrier();
          // dE/dh_i through the reverse edge j <- i: same weights, harmonics of
          // parity (-1)^l2.  The neighbours' rows of dE/dm come into hj first
          // (the features staged there have been read by then), whole rows
          // instead of an entry at a time.
          if (need_gh) {
            stage_rows<NE>(m, sc.hj, gm, Ld.tp_dim, nbr, e0, ne);
            m.team_barrier();
            Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nch), [&](int ch) {
              const int b = Ld.channel(ch, 0), u = Ld.channel(ch, 1);
              for (int x = Ld.tp_by_in_begin(b); x < Ld.tp_by_in_begin(b + 1); ++x) {
                const int p = Ld.tp_by_in(x);
                const int io = Ld.tp(p, 0), d1 = Ld.tp(p, 1), so = Ld.tp(p, 2), oo = Ld.tp(p, 3),
                          d3 = Ld.tp(p, 4);
                const Real sign = Ld.tp(p, 8) % 2 ? Real(-1) : Real(1);
                Real pw[NE];  // zero past ne: the padded slots add nothing
                for (int t = 0; t < NE; ++t)
                  pw[t] = sign * Ld.tp_weight(p) * c.inv_avg * sc.w[t * Ld.numel + Ld.tp(p, 5) + u];
                for (int k = Ld.tp(p, 6); k < Ld.tp(p, 7); ++k) {
                  Real y[NE], g[NE];
                  load_tile<NE>(sc.Y + (so + Ld.cg_index(k, 1)) * NE, y);
                  load_tile<NE>(sc.hj + (oo + u * d3 + Ld.cg_index(k, 2)) * NE, g);
                  Real sum = 0;
                  for (int t = 0; t < NE; ++t) sum += pw[t] * y[t] * g[t];
                  sc.acc[io + u * d1 + Ld.cg_index(k, 0)] += Ld.cg(k) * sum;
                }
              }
            });
          }
          // Radial MLP backward, from dE/dw to dE/dB, for the tile's edges side by side.
          for (int k = Ld.radial_layers - 1; k >= 0; --k) {
            const int nin = Ld.radial_width[k], nout = Ld.radial_width[k + 1];
            const Real* WT = Ld.radial_t.data() + Ld.radial_offset[k];  // [out][in]: threads read along in
            int in_off = 0, out_off = 0;  // offsets of hidden layers k and k + 1 in pre/post
            for (int x = 1; x < k; ++x) in_off += Ld.radial_width[x];
            out_off = k >= 1 ? in_off + Ld.radial_width[k] : 0;
            const Real* gout = k == Ld.radial_layers - 1 ? sc.gw : sc.gpre + out_off * NE;
            const auto put = [&](int a, int t, Real g) {
              if (k == 0)
                sc.gB[a * NE + t] = g;
              else
                sc.gpre[(in_off + a) * NE + t] = g * c.radial_cst * silu_prime(sc.pre[(in_off + a) * NE + t]);
            };
            if (nin * NE <= 64) {
              // A narrow layer (the radial basis): one (unit, edge) per thread, so
              // that nin * NE threads share the work rather than nin (the same
              // sums in the same order: the same bits either way).
              Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nin * NE), [&](int x) {
                put(x / NE, x % NE, tile_dot<NE>(WT, x / NE, nin, gout, x % NE, nout));
              });
            } else {
              Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nin), [&](int a) {
                Real g[NE];
                tile_matvec<NE>(WT, a, nin, gout, nout, g);
                for (int t = 0; t < NE; ++t) put(a, t, g[t]);
              });
            }
            m.team_barrier();
          }
          // dE/dY summed over the threads' shares, one (harmonic, edge) per thread;
          // threads past the layer's weights took no item and hold zeros.
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, NE * nsh), [&](int x) {
            Real gy = 0;
            for (int th = 0; th < holders; ++th) gy += sc.gYpart[th * NE * nsh + x];
            sc.gY[x] = gy;
          });
          m.team_barrier();
          // dE/dd per edge and component: three threads per edge.
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, 3 * ne), [&](int x) {
            const int t = x / 3, a = x % 3;
            const std::int64_t e = e0 + t;
            const Real r = sc.r[t];
            Real gr = 0;
            for (int k = 0; k < c.n_basis; ++k) gr += sc.gB[k * NE + t] * sc.dB[t * c.n_basis + k];
            Real g = gr * dvec(e, a) / r;
            for (int y = 0; y < nsh; ++y) g += sc.gY[y * NE + t] * sc.dY[48 * t + 3 * y + a];
            gedge(e, a) += g;
          });
          m.team_barrier();
        }
        if (need_gh)
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.in_dim),
                               [&](int x) { ghin(i, x) += sc.acc[x]; });
      });
}

// The widest tile in {wide, 1} whose team memory fits the device (any on a
// host backend); 0 when not even one edge fits.
template <class Real>
int tile_that_fits(const DevCommon<Real>& c, const DevLayer<Real>& Ld, int team, int wide, bool backward,
                   std::size_t* need) {
  const std::size_t limit =
      compat::kHostBackend ? std::size_t(-1) : std::size_t(Kokkos::TeamPolicy<Exec>::scratch_size_max(0));
  for (int ne : {wide, 1}) {
    *need = TileScratch<Real>::bytes(c, Ld, team, ne, backward);
    if (*need <= limit) return ne;
  }
  return 0;
}
// Rows of a [local][width] device array sent to and received from the
// other ranks: send(k) is this rank's local row sent k-th (rank-major: the
// rows for rank 0 first), recv(k) the local row the k-th received value
// fills; the counts are per rank.  The values travel through the host in
// double (float values exactly), through buffers kept from one exchange
// to the next (grown to the widest rows).
struct Exchange {
  std::vector<int> send_counts, recv_counts;
  Kokkos::View<std::int64_t*> send, recv;
  Kokkos::View<double*> out, in;

  template <class V>
  void run(const MpiContext& mpi, const V& v, int width, const char* what) {
    using T = typename V::non_const_value_type;
    const std::int64_t ns = std::int64_t(send.extent(0)), nr = std::int64_t(recv.extent(0));
    if (std::int64_t(out.extent(0)) < ns * width)
      out = Kokkos::View<double*>(Kokkos::view_alloc("gnn::halo_send", Kokkos::WithoutInitializing),
                                  ns * width);
    if (std::int64_t(in.extent(0)) < nr * width)
      in = Kokkos::View<double*>(Kokkos::view_alloc("gnn::halo_recv", Kokkos::WithoutInitializing),
                                 nr * width);
    const auto from = send, to = recv;
    const auto sbuf = out, rbuf = in;
    Kokkos::parallel_for(
        "gnn::halo_pack", Kokkos::RangePolicy<Exec>(0, ns * width),
        KOKKOS_LAMBDA(std::int64_t k) { sbuf(k) = double(v(from(k / width), int(k % width))); });
    auto host = Kokkos::create_mirror_view_and_copy(
        Kokkos::HostSpace(), Kokkos::subview(out, std::make_pair(std::int64_t(0), ns * width)));
    std::vector<int> counts(send_counts);
    for (auto& c : counts) c *= width;
    const auto got = mpi.alltoallv(std::vector<double>(host.data(), host.data() + ns * width), counts);
    if (std::int64_t(got.size()) != nr * width)
      throw std::logic_error(std::string("gnn: the halo exchange of ") + what + " received " +
                             std::to_string(got.size()) + " values for " + std::to_string(nr * width));
    const auto used = Kokkos::subview(in, std::make_pair(std::int64_t(0), nr * width));
    auto hin = Kokkos::create_mirror_view(used);
    for (std::int64_t k = 0; k < nr * width; ++k) hin(k) = got[std::size_t(k)];
    Kokkos::deep_copy(used, hin);
    Kokkos::parallel_for(
        "gnn::halo_unpack", Kokkos::RangePolicy<Exec>(0, nr * width),
        KOKKOS_LAMBDA(std::int64_t k) { v(to(k / width), int(k % width)) = T(rbuf(k)); });
  }
};

// Flattens per-rank lists into an Exchange side.
void flatten(const std::vector<std::vector<std::int64_t>>& lists, std::vector<int>& counts,
             Kokkos::View<std::int64_t*>& rows, const std::string& label) {
  std::vector<std::int64_t> all;
  counts.clear();
  for (const auto& l : lists) {
    counts.push_back(int(l.size()));
    all.insert(all.end(), l.begin(), l.end());
  }
  rows = upload(label, all);
}
}  // namespace

template <class Real>
struct Potential<Real>::Device {
  DevCommon<Real> common;
  std::vector<DevLayer<Real>> layers;
  Kokkos::View<Real*> embed, readout,
      shift;  // embed [S][input scalars] and readout [C] with e3nn's 1/sqrt(fan-in) applied
  std::vector<int> forward_tile, backward_tile;  // edges per pass of each layer's kernels
};

template <class Real>
Potential<Real>::Potential(const Model& model, int team_size, int max_tile)
    : model_(model), dev_(std::make_unique<Device>()) {
  team_size_ = team_size > 0 ? team_size : (Kokkos::DefaultExecutionSpace().concurrency() > 1024 ? 64 : 1);
  if constexpr (std::is_same_v<Exec, Kokkos::DefaultHostExecutionSpace>) team_size_ = 1;
  auto& c = dev_->common;
  c.species = int(model.species.size());
  c.channels = model.hidden[0].mul;
  c.lmax = model.lmax;
  c.n_sh = (model.lmax + 1) * (model.lmax + 1);
  c.n_basis = model.n_basis;
  c.envelope_p = model.envelope_p;
  c.r_cut = Real(model.r_cut);
  c.inv_avg = Real(1.0 / model.avg_num_neighbors);
  c.silu_cst = Real(model.gate_silu_cst);
  c.sigmoid_cst = Real(model.gate_sigmoid_cst);
  c.radial_cst = Real(model.radial_silu_cst);
  for (std::size_t t = 0; t < model.layers.size(); ++t)
    dev_->layers.push_back(device_layer<Real>(model.layers[t], "gnn::layer" + std::to_string(t)));
  // Edges per pass: the widest tile whose team memory fits, one edge where
  // none does (max_tile 1 asks for one edge everywhere).
  for (std::size_t t = 0; t < dev_->layers.size(); ++t)
    for (const bool backward : {false, true}) {
      const int wide = backward ? kBackwardTile<Real> : kForwardTile<Real>;
      std::size_t need = 0;
      const int ne =
          tile_that_fits(c, dev_->layers[t], team_size_, max_tile == 1 ? 1 : wide, backward, &need);
      if (ne == 0)
        throw std::invalid_argument("gnn: layer " + std::to_string(t) + " of the model needs " +
                                    std::to_string(need) + " bytes of GPU team memory per atom " +
                                    (backward ? "for forces" : "for energies") +
                                    " even one edge at a time, more than the " +
                                    std::to_string(Kokkos::TeamPolicy<Exec>::scratch_size_max(0)) +
                                    " a team may take; a model with fewer features or radial units, or "
                                    "precision = \"float\", fits");
      (backward ? dev_->backward_tile : dev_->forward_tile).push_back(ne);
    }
  dev_->embed = upload("gnn::embed", cast<Real>(model.embed.weight, model.embed.paths[0].alpha));
  // The readout reads the scalar block only (the one 0e block of the last layer's output).
  std::vector<double> readout(c.channels, 0.0);
  for (const auto& p : model.readout.paths)
    for (int u = 0; u < p.mul_in; ++u)
      readout[p.in_offset + u] = model.readout.weight[p.w_offset + u] * p.alpha;
  dev_->readout = upload("gnn::readout", cast<Real>(readout));
  dev_->shift = upload("gnn::shift", cast<Real>(model.shift));
}

template <class Real>
Potential<Real>::~Potential() = default;

template <class Real>
Evaluation Potential<Real>::evaluate(const Structure& s, bool forces, bool keep_features,
                                     const Partition* part) const {
  Evaluation out;
  const std::int64_t n = s.atoms();
  const auto& c = dev_->common;
  const int C = c.channels, team = team_size_;
  auto t0 = std::chrono::steady_clock::now();

  if (part && keep_features) throw std::invalid_argument("gnn: features are kept for one rank only");
  // This rank's atoms (global indices, ascending): all, or with a partition
  // its own and their halo; owned: the local indices of its own.
  const int me = part ? part->mpi->rank() : 0, ranks = part ? part->mpi->size() : 1;
  std::vector<std::int64_t> local;
  if (part) {
    local = halo_atoms(s, part->owner, me, model_.r_cut);
  } else {
    local.resize(std::size_t(n));
    for (std::int64_t i = 0; i < n; ++i) local[std::size_t(i)] = i;
  }
  const std::int64_t nl_atoms = std::int64_t(local.size());
  out.local_atoms = nl_atoms;
  auto owner_of = [&](std::int64_t k) { return part ? part->owner[std::size_t(local[std::size_t(k)])] : 0; };
  std::vector<std::int64_t> owned_host;
  for (std::int64_t k = 0; k < nl_atoms; ++k)
    if (owner_of(k) == me) owned_host.push_back(k);
  Kokkos::View<double* [3]> pos("gnn::pos", nl_atoms);
  Kokkos::View<int*> species("gnn::species", nl_atoms);
  {
    auto hp = Kokkos::create_mirror_view(pos);
    auto hs = Kokkos::create_mirror_view(species);
    for (std::int64_t k = 0; k < nl_atoms; ++k) {
      const std::int64_t i = local[std::size_t(k)];
      for (int a = 0; a < 3; ++a) hp(k, a) = s.pos[3 * i + a];
      hs(k) = model_.species_index(s.z[i]);
      if (hs(k) < 0) throw std::invalid_argument("gnn: species not in the model");
    }
    Kokkos::deep_copy(pos, hp);
    Kokkos::deep_copy(species, hs);
  }
  const auto atoms = upload("gnn::owned", owned_host);
  const int nown = int(owned_host.size());
  const bool pbc = any_pbc(s);
  const NeighbourList nl = build_neighbours(pos, neighbour_frame(s.pos, s.cell, pbc, model_.r_cut));
  // The halo's rows (features, dE/dm) and the gradients of its edges to this
  // rank's atoms, from their owners, in ascending atom order on both sides:
  // a rank asks each owner for its halo atoms, and each owner answers in the
  // order asked.  Edges: an owner sends, atom by atom, the edges of its atoms
  // to the asking rank's atoms, in edge order; the asking rank walks the same
  // atoms' edges (its halo's, which include every edge to its own atoms) in
  // the same order.
  Exchange rows, edge_grads;
  std::int64_t owned_edges = nl.edges;
  if (part) {
    const auto& mpi = *part->mpi;
    using Lists = std::vector<std::vector<std::int64_t>>;
    Lists want(static_cast<std::size_t>(ranks)), recv(want), send(want);
    for (std::int64_t k = 0; k < nl_atoms; ++k)
      if (owner_of(k) != me) {
        want[std::size_t(owner_of(k))].push_back(local[std::size_t(k)]);
        recv[std::size_t(owner_of(k))].push_back(k);
      }
    std::vector<std::int64_t> asked, asked_counts;
    std::vector<int> counts, ones(static_cast<std::size_t>(ranks), 1);
    for (const auto& w : want) {
      counts.push_back(int(w.size()));
      asked.insert(asked.end(), w.begin(), w.end());
      asked_counts.push_back(std::int64_t(w.size()));
    }
    const auto from_each = mpi.alltoallv(asked_counts, ones);
    const auto ids = mpi.alltoallv(asked, counts);
    std::int64_t at = 0;
    for (int r = 0; r < ranks; ++r)
      for (std::int64_t k = 0; k < from_each[std::size_t(r)]; ++k, ++at) {
        const auto it = std::lower_bound(local.begin(), local.end(), ids[std::size_t(at)]);
        if (it == local.end() || *it != ids[std::size_t(at)] || part->owner[std::size_t(*it)] != me)
          throw std::logic_error("gnn: a rank asked for an atom this rank does not own");
        send[std::size_t(r)].push_back(std::int64_t(it - local.begin()));
      }
    flatten(send, rows.send_counts, rows.send, "gnn::halo_send_rows");
    flatten(recv, rows.recv_counts, rows.recv, "gnn::halo_recv_rows");
    auto hrow = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), nl.row);
    auto hnbr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), nl.nbr);
    for (auto& l : send) l.clear();
    for (auto& l : recv) l.clear();
    owned_edges = 0;
    for (std::int64_t k = 0; k < nl_atoms; ++k) {
      const int o = owner_of(k);
      if (o == me) owned_edges += hrow(k + 1) - hrow(k);
      for (std::int64_t e = hrow(k); e < hrow(k + 1); ++e) {
        const int on = owner_of(hnbr(e));
        if (o == me && on != me) send[std::size_t(on)].push_back(e);
        if (o != me && on == me) recv[std::size_t(o)].push_back(e);
      }
    }
    flatten(send, edge_grads.send_counts, edge_grads.send, "gnn::halo_send_edges");
    flatten(recv, edge_grads.recv_counts, edge_grads.recv, "gnn::halo_recv_edges");
  }
  out.edges = owned_edges;
  out.closest = nl.closest;
  out.closest_i = nl.closest_i >= 0 ? local[std::size_t(nl.closest_i)] : -1;
  out.closest_j = nl.closest_j >= 0 ? local[std::size_t(nl.closest_j)] : -1;
  if (part) {
    // Totals over the ranks; the closest pair is any rank's (each pair lies
    // within one rank's atoms and halo): the first rank's of the smallest.
    const auto& mpi = *part->mpi;
    out.edges = 0;
    for (auto e : mpi.allgather(std::vector<std::int64_t>{owned_edges})) out.edges += e;
    const auto close =
        mpi.allgather(std::vector<double>{out.closest, double(out.closest_i), double(out.closest_j)});
    for (std::size_t r = 0; r < close.size(); r += 3)
      if (r == 0 || close[r] < out.closest) {
        out.closest = close[r];
        out.closest_i = std::int64_t(close[r + 1]);
        out.closest_j = std::int64_t(close[r + 2]);
      }
  }
  Kokkos::View<Real* [3]> dvec("gnn::dvec", nl.edges);
  {
    auto d = nl.d;
    Kokkos::parallel_for(
        "gnn::edge_vectors", Kokkos::RangePolicy<Exec>(0, nl.edges), KOKKOS_LAMBDA(std::int64_t e) {
          for (int a = 0; a < 3; ++a) dvec(e, a) = Real(d(e, a));
        });
  }
  Kokkos::fence();
  out.seconds_neighbours = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();

  // Forward: h[0] the embedding, then every layer; z kept for the backward pass.
  const int L = int(dev_->layers.size());
  std::vector<Rows<Real>> h(L + 1), z(L);
  {
    // The embedding fills the input's scalar block; its other blocks (model.input) stay zero.
    const int Cin = model_.input[0].mul;
    h[0] = Rows<Real>("gnn::h0", nl_atoms, dev_->layers[0].in_dim);
    auto h0 = h[0];
    auto embed = dev_->embed;
    Kokkos::parallel_for(
        "gnn::embed", Kokkos::RangePolicy<Exec>(0, nl_atoms), KOKKOS_LAMBDA(std::int64_t i) {
          for (int w = 0; w < Cin; ++w) h0(i, w) = embed(species(i) * Cin + w);
        });
  }
  const auto row = nl.row;
  const auto nbr = nl.nbr;
  for (int t = 0; t < L; ++t) {
    const auto Ld = dev_->layers[t];
    h[t + 1] = Rows<Real>("gnn::h", nl_atoms, Ld.out_dim);
    z[t] = Rows<Real>("gnn::z", nl_atoms, Ld.gate_dim);
    const auto hin = h[t], hout = h[t + 1], zt = z[t];
    LayerViews<Real> v{atoms, row, nbr, dvec, {}, hin, hout, zt, {}, {}, false};
    if (dev_->forward_tile[t] == kForwardTile<Real>)
      layer_forward<kForwardTile<Real>>(c, Ld, team, nown, v);
    else
      layer_forward<1>(c, Ld, team, nown, v);
    // The next layer reads every neighbour's features: the halo's from their owners.
    if (part && t + 1 < L) rows.run(*part->mpi, hout, Ld.out_dim, "features");
  }
  // Per-atom values of this rank's atoms, [owned][width] on the host in
  // local order, as [n][width] for the whole structure on every rank.
  std::vector<std::int64_t> owned_ids;
  for (auto k : owned_host) owned_ids.push_back(local[std::size_t(k)]);
  auto whole = [&](const std::vector<double>& mine, int width) {
    if (!part) return mine;  // local order is atom order
    const auto v = part->mpi->allgather(mine);
    const auto ids = part->mpi->allgather(owned_ids);
    std::vector<double> all(std::size_t(n * width), 0.0);
    for (std::size_t k = 0; k < ids.size(); ++k)
      for (int w = 0; w < width; ++w) all[std::size_t(ids[k] * width + w)] = v[k * width + w];
    return all;
  };
  // Per-atom energies, summed on the host in atom order.
  Kokkos::View<double*> ei("gnn::atom_energy", nl_atoms);
  {
    auto hl = h[L];
    auto readout = dev_->readout;
    auto shift = dev_->shift;
    Kokkos::parallel_for(
        "gnn::readout", Kokkos::RangePolicy<Exec>(0, nown), KOKKOS_LAMBDA(std::int64_t k) {
          const std::int64_t i = atoms(k);
          Real e = 0;
          for (int w = 0; w < C; ++w) e += readout(w) * hl(i, w);
          ei(i) = double(e + shift(species(i)));
        });
    auto he = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ei);
    std::vector<double> mine;
    for (auto k : owned_host) mine.push_back(he(k));
    out.atom_energies = whole(mine, 1);
    out.energy = 0;
    for (double e : out.atom_energies) out.energy += e;
  }
  if (keep_features)
    for (int t = 1; t <= L; ++t) {
      auto hh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), h[t]);
      out.features.emplace_back(hh.data(), hh.data() + hh.size());
    }
  out.seconds_forward = seconds_since(t0);
  if (!forces) return out;
  t0 = std::chrono::steady_clock::now();

  // Backward.  gh = dE/dh of the current layer's output.
  Kokkos::View<Real* [3]> gedge("gnn::edge_gradient", nl.edges);
  Rows<Real> gh("gnn::gh", nl_atoms, dev_->layers[L - 1].out_dim);
  {
    auto readout = dev_->readout;
    Kokkos::parallel_for(
        "gnn::readout_backward", Kokkos::RangePolicy<Exec>(0, nl_atoms), KOKKOS_LAMBDA(std::int64_t i) {
          for (int w = 0; w < C; ++w) gh(i, w) = readout(w);
        });
  }
  for (int t = L - 1; t >= 0; --t) {
    const auto Ld = dev_->layers[t];
    const auto hin = h[t], zt = z[t];
    const bool need_gh = t > 0;  // the embedding does not depend on positions
    Rows<Real> gm("gnn::gm", nl_atoms, Ld.tp_dim), ghin("gnn::ghin", nl_atoms, need_gh ? Ld.in_dim : 0);
    {
      // Gate and the two linears, transposed, per atom.
      const std::size_t scratch = std::size_t(Ld.gate_dim + 1) * sizeof(Real);
      const auto policy = team_policy(nown, team, scratch);
      const auto ghl = gh;
      Kokkos::parallel_for(
          "gnn::gate_backward", policy, KOKKOS_LAMBDA(const Team& m) {
            const std::int64_t i = atoms(m.league_rank());
            Real* gz = static_cast<Real*>(m.team_scratch(0).get_shmem(scratch));
            const int S = Ld.scalars, G = Ld.gates;
            Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.gate_dim), [&](int o) {
              Real g;
              if (o < S) {
                g = ghl(i, o) * c.silu_cst * silu_prime(zt(i, o));
              } else if (o < S + G) {
                const int k = o - S;
                Real s = 0;
                for (int x = Ld.gate_range(k, 0); x < Ld.gate_range(k, 1); ++x)
                  s += ghl(i, S + x) * zt(i, S + G + x);
                const Real sg = sigmoid(zt(i, o));
                g = s * c.sigmoid_cst * sg * (1 - sg);
              } else {
                const int x = o - S - G;
                g = ghl(i, S + x) * c.sigmoid_cst * sigmoid(zt(i, S + Ld.gate_of(x)));
              }
              gz[o] = g;
            });
            m.team_barrier();
            Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.tp_dim),
                                 [&](int x) { gm(i, x) = Ld.linear.apply_t(x, gz); });
            if (need_gh)
              Kokkos::parallel_for(Kokkos::TeamThreadRange(m, Ld.in_dim),
                                   [&](int x) { ghin(i, x) = Ld.self.apply_t(x, gz); });
          });
    }
    {
      // The reverse-edge gather reads every neighbour's dE/dm: the halo's from their owners.
      if (part) rows.run(*part->mpi, gm, Ld.tp_dim, "dE/dm");
      LayerViews<Real> v{atoms, row, nbr, dvec, gedge, hin, {}, {}, gm, ghin, need_gh};
      if (dev_->backward_tile[t] == kBackwardTile<Real>)
        layer_backward<kBackwardTile<Real>>(c, Ld, team, nown, v);
      else
        layer_backward<1>(c, Ld, team, nown, v);
    }
    gh = ghin;
  }
  // F_k = sum over k's edges e of g(e) - g(rev e); virial -sum_e d_e (x) g_e per atom.
  // The reverse of an edge to a halo atom is that atom's: its owner's gradient.
  if (part) edge_grads.run(*part->mpi, gedge, 3, "edge gradients");
  Kokkos::View<double* [3]> f("gnn::forces", nl_atoms);
  Kokkos::View<double* [9]> vir("gnn::virial", nl_atoms);
  {
    const auto rev = nl.rev;
    const auto d = nl.d;
    Kokkos::parallel_for(
        "gnn::forces", Kokkos::RangePolicy<Exec>(0, nown), KOKKOS_LAMBDA(std::int64_t k) {
          const std::int64_t i = atoms(k);
          double fi[3] = {0, 0, 0}, v[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
          for (std::int64_t e = row(i); e < row(i + 1); ++e) {
            for (int a = 0; a < 3; ++a) fi[a] += double(gedge(e, a)) - double(gedge(rev(e), a));
            for (int a = 0; a < 3; ++a)
              for (int b = 0; b < 3; ++b) v[3 * a + b] -= d(e, a) * double(gedge(e, b));
          }
          for (int a = 0; a < 3; ++a) f(i, a) = fi[a];
          for (int k = 0; k < 9; ++k) vir(i, k) = v[k];
        });
  }
  auto hf = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f);
  auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vir);
  std::vector<double> mine_f, mine_v;
  for (auto k : owned_host) {  // indexed: the device layout may be column-major
    for (int a = 0; a < 3; ++a) mine_f.push_back(hf(k, a));
    for (int a = 0; a < 9; ++a) mine_v.push_back(hv(k, a));
  }
  out.forces = whole(mine_f, 3);
  const auto all_v = whole(mine_v, 9);
  for (std::int64_t i = 0; i < n; ++i)
    for (int k = 0; k < 9; ++k) out.virial[k] += all_v[std::size_t(9 * i + k)];
  out.seconds_backward = seconds_since(t0);
  return out;
}

template class Potential<float>;
template class Potential<double>;

}  // namespace prism::gnn
