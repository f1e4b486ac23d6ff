#include "policy/workload.hpp"

#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "core/deck.hpp"
#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "kernels/policy/agent.hpp"
#include "kernels/policy/lanes.hpp"
#include "policy/agent_rows.hpp"
#include "policy/gaussian.hpp"

namespace prism::policy {

PolicyWorkload::PolicyWorkload(Config cfg, Model model) : cfg_(std::move(cfg)), model_(std::move(model)) {}

static_assert(kMaxTeam == 256, "policy.team_size's bound in policy_config.cpp");

namespace {
// The policies' prefix tree: level t holds the distinct prefixes of length
// t + 1 in order of first appearance; a node's parent is its prefix one step
// shorter, its control the last step's.
struct HostTree {
  std::vector<int> parent, control, leaf;
  std::vector<std::int64_t> level_at;
  std::vector<unsigned> shared;      // per level: factors with one marginal across the level
  std::vector<std::int64_t> ctr_at;  // [level][modality + 1]: scratch offsets of the contractions
  int own = -1;                      // PolicyTree::own
  std::vector<std::int64_t> tile_at;
  std::vector<int> tile_node;
};

// The one factor whose marginal differs between the nodes of a level, at
// every level (-1: none, or several).
int own_factor(const HostTree& tr, int F) {
  const unsigned all = (1u << F) - 1u;
  if (tr.shared.empty()) return -1;
  const unsigned own = all & ~tr.shared[0];
  if (own == 0 || (own & (own - 1)) != 0) return -1;
  for (unsigned s : tr.shared)
    if ((all & ~s) != own) return -1;
  return lowest_set_bit(own);
}

// Why a model may not take the tiled evaluation (plan_tiles' conditions).
constexpr const char* kTiledCondition =
    "it needs policies that differ in one factor's controls only, that factor's B not learnt "
    "(learn_B = false), and the factor's states within the team scratch";

// The tiled evaluation's tiles (PolicyTree): where one factor is the only
// one not shared at every level and B is not learnt, each level's nodes
// grouped by that factor's control, kTile at a time.
void plan_tiles(HostTree& tr, const Model& m, bool learn_B, bool general) {
  tr.own = -1;
  if (learn_B || general) return;
  const int F = int(m.Ns.size()), T = int(tr.shared.size()), c = own_factor(tr, F);
  if (c < 0) return;
  // Every warp of the largest team needs its tiles' marginals in team scratch.
  if (kMaxTeam / 32 * 2 * kTile * m.Ns[std::size_t(c)] * std::int64_t(sizeof(double)) > kTeamScratchBytes / 2)
    return;
  tr.own = c;
  tr.tile_at = {0};
  for (int t = 0; t < T; ++t) {
    for (std::int64_t u = 0; u < m.Nu[std::size_t(c)]; ++u) {
      std::vector<int> nodes;
      for (std::int64_t n = tr.level_at[std::size_t(t)]; n < tr.level_at[std::size_t(t) + 1]; ++n)
        if (tr.control[std::size_t(n * F + c)] == u) nodes.push_back(int(n));
      for (std::size_t k = 0; k < nodes.size(); k += kTile)
        for (std::size_t j = k; j < k + kTile; ++j) tr.tile_node.push_back(j < nodes.size() ? nodes[j] : -1);
    }
    tr.tile_at.push_back(std::int64_t(tr.tile_node.size() / kTile));
  }
}

HostTree policy_tree(const Model& m) {
  const std::int64_t P = m.policy_count(), T = m.policy_len, F = std::int64_t(m.Ns.size());
  HostTree tr;
  std::vector<int> node_of(std::size_t(P), -1);  // each policy's node at the current level
  tr.level_at.push_back(0);
  for (std::int64_t t = 0; t < T; ++t) {
    std::map<std::pair<int, std::vector<std::int64_t>>, int> index;  // (parent, control) -> node
    for (std::int64_t k = 0; k < P; ++k) {
      const auto* c = &m.policies[std::size_t((k * T + t) * F)];
      const std::pair<int, std::vector<std::int64_t>> key{node_of[k], {c, c + F}};
      auto [it, fresh] = index.emplace(key, int(tr.parent.size()));
      if (fresh) {
        tr.parent.push_back(node_of[k]);
        tr.control.insert(tr.control.end(), c, c + F);
      }
      node_of[k] = it->second;
    }
    tr.level_at.push_back(std::int64_t(tr.parent.size()));
    // Shared at level t: shared at t - 1 and one control across the level.
    unsigned shared = t == 0 ? (1u << F) - 1u : tr.shared.back();
    for (std::int64_t f = 0; f < F; ++f)
      for (std::int64_t n = tr.level_at[t]; n < tr.level_at[t + 1]; ++n)
        if (tr.control[n * F + f] != tr.control[tr.level_at[t] * F + f]) shared &= ~(1u << f);
    tr.shared.push_back(shared);
  }
  tr.leaf = node_of;
  return tr;
}

// The lane evaluation's plan (LanePlan) and its host arrays.
struct HostLanes {
  LanePlan plan;
  std::vector<double> ci, cu, lna;
  std::vector<std::int64_t> x_col, y_col;  // [g * T + t]
  std::vector<std::int32_t> x_q, x_w;      // per column of X (LanePlan)
  // M_t per group and level, column-major [x, j][node of the level, row].
  std::vector<std::vector<double>> mats;
  std::vector<std::int64_t> mat_rows, mat_cols;
  std::int64_t x_cols = 0, y_cols = 0;
};

// The largest M_n of the lane evaluation, in doubles (all nodes together).
constexpr std::int64_t kLaneMatrixMax = std::int64_t(1) << 24;
// Rows of the lane evaluation's products per chunk of agents (lane_step in run):
// enough on a GPU for GEMMs that fill it, few on a host, where lanes is
// only taken when asked for; and the most X and Y of a chunk may take.
constexpr std::int64_t kLaneChunkDevice = 16384, kLaneChunkHost = 64;
constexpr std::int64_t kLaneChunkBytes = std::int64_t(1) << 30;
// Runs of at most this many agents take the direct products (AgentLanes::
// Direct) by default: below it the GEMMs have too little work for their launches.
constexpr std::int64_t kDirectAgents = 16;

// Modality groups of the lane evaluation: modalities with the same dependencies.
std::vector<std::vector<int>> modality_groups(const Model& m) {
  std::vector<std::vector<int>> groups;
  for (int o = 0; o < int(m.No.size()); ++o) {
    auto same = std::find_if(groups.begin(), groups.end(), [&](const std::vector<int>& g) {
      return m.deps[std::size_t(g[0])] == m.deps[std::size_t(o)];
    });
    if (same == groups.end())
      groups.push_back({o});
    else
      same->push_back(o);
  }
  return groups;
}

// A modality group's shape in the lane evaluation: its rows (each
// modality's outcomes and its H[A] row), the states of the own factor c it
// depends on (1 if none), and the joint states of its other dependencies.
struct GroupShape {
  std::int64_t rows = 0, xdim = 1, jsh = 1;
};
GroupShape group_shape(const Model& m, const std::vector<int>& group, int c) {
  GroupShape shape;
  for (int o : group) shape.rows += m.No[std::size_t(o)] + 1;
  for (auto d : m.deps[std::size_t(group[0])]) (d == c ? shape.xdim : shape.jsh) *= m.Ns[std::size_t(d)];
  return shape;
}

// Empty if the lane evaluation applies to this model and these settings,
// else why not.
std::string lanes_unsupported(const Model& m, const Config& cfg, const HostTree& tr) {
  if (cfg.learn_A || cfg.learn_B) return "agents that learn A or B have models of their own";
  const int F = int(m.Ns.size()), c = own_factor(tr, F);
  if (c < 0) return "it needs policies that differ in one factor's controls only";
  std::int64_t size = 0;
  for (const auto& g : modality_groups(m)) {
    const GroupShape shape = group_shape(m, g, c);
    if (shape.jsh > kLaneShared)
      return "a modality depends on " + std::to_string(shape.jsh) +
             " joint states of the uncontrolled factors (at most " + std::to_string(kLaneShared) + ")";
    size += shape.rows * shape.xdim * shape.jsh;
  }
  if (size * std::int64_t(tr.parent.size()) > kLaneMatrixMax)
    return "its matrices per policy-tree node would take more than " +
           std::to_string(kLaneMatrixMax * 8 >> 20) + " MB";
  return {};
}

// M_t per modality group and level (columns: M_n of each node of the
// level), the offsets of LanePlan, and the per-agent scratch layout.
HostLanes plan_lanes(const Model& m, const Config& cfg, const HostTree& tr, const Spec& sp) {
  HostLanes h;
  LanePlan& lp = h.plan;
  const int F = sp.F, c = own_factor(tr, F), nc = sp.Ns[c];
  const std::int64_t N = sp.N;
  const auto groups = modality_groups(m);
  lp.own = c;
  lp.groups = int(groups.size());
  lp.q_at = 0;
  for (int f = 0; f < F; ++f)
    if (f != c) {
      lp.sh_at[f] = lp.sh_width;
      lp.sh_width += sp.Ns[f];
    }
  std::int64_t at = sp.S;
  for (int o = 0; o < sp.M; ++o) {
    lp.lna_at[o] = std::int64_t(h.lna.size());
    for (double a : m.A[std::size_t(o)]) h.lna.push_back(std::log(std::max(a, kMinval)));
  }
  // P_n: B of the own factor multiplied along the node's path, [y][x].
  std::vector<std::vector<double>> path(static_cast<std::size_t>(N));
  const auto& Bc = m.B[std::size_t(c)];
  const std::int64_t U = m.Nu[std::size_t(c)];
  for (std::int64_t n = 0; n < N; ++n) {
    const int parent = tr.parent[std::size_t(n)];
    const std::int64_t u = tr.control[std::size_t(n * F + c)];
    auto& P = path[std::size_t(n)];
    P.assign(std::size_t(nc) * nc, 0.0);
    for (int y = 0; y < nc; ++y)
      for (int z = 0; z < nc; ++z) {
        const double b = Bc[std::size_t((std::int64_t(y) * nc + z) * U + u)];
        if (parent < 0) {
          P[std::size_t(y * nc + z)] += b;
          continue;
        }
        const auto& Q = path[std::size_t(parent)];
        for (int x = 0; x < nc; ++x) P[std::size_t(y * nc + x)] += b * Q[std::size_t(z * nc + x)];
      }
  }
  const int T = sp.T;
  h.x_col.resize(std::size_t(lp.groups * T));
  h.y_col.resize(h.x_col.size());
  for (int g = 0; g < lp.groups; ++g) {
    const GroupShape shape = group_shape(m, groups[std::size_t(g)], c);
    const std::int64_t rows = shape.rows;
    lp.g_rows[g] = int(rows);
    lp.g_xdim[g] = int(shape.xdim);
    lp.g_jsh[g] = int(shape.jsh);
    for (int o : groups[std::size_t(g)]) lp.g_mods[g][lp.g_nmods[g]++] = o;
    for (auto d : m.deps[std::size_t(groups[std::size_t(g)][0])])
      if (d != c) lp.g_sh[g][lp.g_nsh[g]++] = int(d);
    lp.g_ll_at[g] = lp.ll_width;
    lp.ll_width += sp.joint[groups[std::size_t(g)][0]];
    lp.g_coef_at[g] = std::int64_t(h.ci.size());
    lp.g_w_at[g] = at;
    at += sp.T * lp.g_jsh[g];
    // Per row: the modality and outcome (No: the expected-ambiguity row).
    for (int o : groups[std::size_t(g)])
      for (std::int64_t r = 0; r <= m.No[std::size_t(o)]; ++r) {
        const bool outcome = r < m.No[std::size_t(o)];
        h.ci.push_back(outcome && cfg.use_states_info_gain ? 1.0 : 0.0);
        h.cu.push_back(outcome ? (cfg.use_utility ? m.C[std::size_t(o)][std::size_t(r)] : 0.0)
                               : (cfg.use_states_info_gain ? -1.0 : 0.0));
      }
    const std::int64_t K = shape.xdim * shape.jsh;
    for (int t = 0; t < T; ++t) {
      const std::int64_t nodes = tr.level_at[std::size_t(t) + 1] - tr.level_at[std::size_t(t)];
      h.x_col[std::size_t(g * T + t)] = h.x_cols;
      h.y_col[std::size_t(g * T + t)] = h.y_cols;
      h.x_cols += K;
      h.y_cols += nodes * rows;
      h.mat_rows.push_back(K);
      h.mat_cols.push_back(nodes * rows);
      h.mats.emplace_back(std::size_t(K * nodes * rows), 0.0);
    }
  }
  lp.x_cols = h.x_cols;
  lp.one_at = at;
  lp.nv_at = at + 1;
  lp.width = lp.nv_at + N;
  // X's columns in the order of x_col (groups, levels, then x and j).
  for (int g = 0; g < lp.groups; ++g)
    for (int t = 0; t < T; ++t)
      for (int x = 0; x < lp.g_xdim[g]; ++x)
        for (int j = 0; j < lp.g_jsh[g]; ++j) {
          const std::int64_t qx_at = lp.g_xdim[g] > 1 ? lp.q_at + sp.s_at[lp.own] : lp.one_at;
          h.x_q.push_back(std::int32_t(qx_at + x));
          h.x_w.push_back(std::int32_t(lp.g_w_at[g] + std::int64_t(t) * lp.g_jsh[g] + j));
        }
  for (int t = 0; t < T; ++t)
    for (std::int64_t n = tr.level_at[std::size_t(t)]; n < tr.level_at[std::size_t(t) + 1]; ++n)
      for (int g = 0; g < lp.groups; ++g) {
        auto& mat = h.mats[std::size_t(g * T + t)];
        const auto& deps = m.deps[std::size_t(groups[std::size_t(g)][0])];
        const int xdim = lp.g_xdim[g], jsh = lp.g_jsh[g];
        const std::int64_t K = std::int64_t(xdim) * jsh, in_level = n - tr.level_at[std::size_t(t)];
        std::int64_t row = 0;
        for (int o : groups[std::size_t(g)]) {
          const std::int64_t J = m.joint(o), No = m.No[std::size_t(o)];
          const auto& A = m.A[std::size_t(o)];
          for (std::int64_t r = 0; r <= No; ++r, ++row) {
            // A[r | c = y, others = the digits of js] (r = No: H[A] of that column).
            auto a_of = [&](std::int64_t y, std::int64_t js) {
              std::int64_t j = 0;
              std::int64_t rest = js, scale = jsh;
              for (auto d : deps) {
                std::int64_t digit;
                if (d == c) {
                  digit = y;
                } else {
                  scale /= m.Ns[std::size_t(d)];
                  digit = rest / scale;
                  rest %= scale;
                }
                j = j * m.Ns[std::size_t(d)] + digit;
              }
              if (r < No) return A[std::size_t(r * J + j)];
              double hsum = 0;
              for (std::int64_t k = 0; k < No; ++k) hsum -= xlogx(A[std::size_t(k * J + j)]);
              return hsum;
            };
            const std::int64_t column = in_level * lp.g_rows[g] + row;
            for (int x = 0; x < xdim; ++x)
              for (int js = 0; js < jsh; ++js) {
                double v = 0;
                if (xdim == 1) {
                  v = a_of(0, js);
                } else {
                  for (int y = 0; y < nc; ++y)
                    v += a_of(y, js) * path[std::size_t(n)][std::size_t(y * nc + x)];
                }
                mat[std::size_t(column * K + std::int64_t(x) * jsh + js)] = v;
              }
          }
        }
      }
  return h;
}
// The parameter vector and its offsets.
// The parameter vector, the offsets into it and into an agent's scratch row
// (which depend on the policy tree: its contraction offsets go into tr).
Spec make_spec(const Config& cfg, const Model& m, HostTree& tr, std::vector<double>& params) {
  Spec sp;
  sp.F = int(m.Ns.size());
  sp.M = int(m.No.size());
  sp.T = int(m.policy_len);
  sp.P = m.policy_count();
  sp.num_iter = int(cfg.num_iter);
  sp.gamma = cfg.gamma;
  sp.alpha = cfg.alpha;
  sp.stochastic = cfg.stochastic;
  sp.marginal = cfg.marginal;
  sp.use_utility = cfg.use_utility;
  sp.use_info = cfg.use_states_info_gain;
  sp.success_modality = m.success_modality;
  sp.success_outcome = m.success_outcome;
  auto append = [&](const std::vector<double>& v) {
    const std::int64_t at = std::int64_t(params.size());
    params.insert(params.end(), v.begin(), v.end());
    return at;
  };
  std::int64_t ll = 0;
  for (int o = 0; o < sp.M; ++o) {
    sp.No[o] = int(m.No[o]);
    sp.ndeps[o] = int(m.deps[o].size());
    for (int k = 0; k < sp.ndeps[o]; ++k) sp.deps[o][k] = int(m.deps[o][k]);
    sp.joint[o] = m.joint(o);
    sp.a_at[o] = append(m.A[o]);
    std::vector<double> h(std::size_t(sp.joint[o]), 0.0);  // H[A_m(. | s)]
    for (std::int64_t j = 0; j < sp.joint[o]; ++j)
      for (std::int64_t k = 0; k < m.No[o]; ++k) h[j] -= xlogx(m.A[o][k * sp.joint[o] + j]);
    sp.ha_at[o] = append(h);
    sp.c_at[o] = append(m.C[o]);
    sp.ll_at[o] = ll;
    ll += sp.joint[o];
    sp.max_joint = std::max(sp.max_joint, sp.joint[o]);
  }
  std::int64_t s_at = 0;
  for (int f = 0; f < sp.F; ++f) {
    sp.Ns[f] = int(m.Ns[f]);
    sp.Nu[f] = int(m.Nu[f]);
    sp.b_at[f] = append(m.B[f]);
    std::vector<double> bt(m.B[f].size());
    for (std::int64_t next = 0; next < sp.Ns[f]; ++next)
      for (std::int64_t prev = 0; prev < sp.Ns[f]; ++prev)
        for (std::int64_t u = 0; u < sp.Nu[f]; ++u)
          bt[(u * sp.Ns[f] + prev) * sp.Ns[f] + next] = m.B[f][(next * sp.Ns[f] + prev) * sp.Nu[f] + u];
    sp.bt_at[f] = append(bt);
    sp.d_at[f] = append(m.D[f]);
    sp.s_at[f] = s_at;
    s_at += m.Ns[f];
  }
  // The world starts where the model believes, and moves and emits as the
  // model expects, unless the model file says otherwise.
  for (int f = 0; f < sp.F; ++f) {
    sp.world_d_at[f] = append(m.world_D.empty() ? m.D[f] : m.world_D[f]);
    sp.world_b_at[f] =
        std::size_t(f) < m.world_B.size() && !m.world_B[f].empty() ? append(m.world_B[f]) : sp.b_at[f];
  }
  for (int o = 0; o < sp.M; ++o)
    sp.world_a_at[o] =
        std::size_t(o) < m.world_A.size() && !m.world_A[o].empty() ? append(m.world_A[o]) : sp.a_at[o];
  sp.e_at = append(m.E);
  sp.S = s_at;
  sp.LL = ll;
  // Each agent's learnt A, H[A], pA and B, pB (offsets into its row of `learned`).
  sp.learn_A = cfg.learn_A;
  sp.learn_B = cfg.learn_B;
  sp.learning_rate = cfg.learning_rate;
  std::int64_t at = 0;
  for (int o = 0; o < sp.M && sp.learn_A; ++o) {
    const std::int64_t size = sp.No[o] * sp.joint[o];
    sp.la_at[o] = at;
    sp.pa_at[o] = at + size;
    sp.lha_at[o] = at + 2 * size;
    at += 2 * size + sp.joint[o];
  }
  for (int f = 0; f < sp.F && sp.learn_B; ++f) {
    const std::int64_t size = std::int64_t(sp.Ns[f]) * sp.Ns[f] * sp.Nu[f];
    sp.lb_at[f] = at;
    sp.pb_at[f] = at + size;
    at += 2 * size;
  }
  sp.learned = at;
  for (int o = 0; o < sp.M; ++o) {
    sp.o_at[o] = sp.O;
    sp.O += sp.No[o];
  }
  sp.N = std::int64_t(tr.parent.size());
  sp.logq_at = sp.LL;
  sp.nq_at = sp.logq_at + sp.S;
  sp.nqo_at = sp.nq_at + sp.N * sp.S;
  sp.nh_at = sp.nqo_at + sp.N * sp.O;
  sp.nv_at = sp.nh_at + sp.N * sp.M;
  // Per level and modality: A and H[A] contracted over the level's shared factors.
  std::int64_t row = sp.nv_at + sp.N;
  tr.ctr_at.clear();
  for (std::int64_t t = 0; t < sp.T; ++t)
    for (int o = 0; o <= sp.M; ++o) {
      tr.ctr_at.push_back(row);
      if (o == sp.M) break;
      std::int64_t own = 1;
      for (int k = 0; k < sp.ndeps[o]; ++k)
        if (!(tr.shared[t] >> sp.deps[o][k] & 1u)) own *= sp.Ns[sp.deps[o][k]];
      row += own * (sp.No[o] + 1);
    }
  sp.row = row;
  return sp;
}

}  // namespace

void PolicyWorkload::run(RunContext& ctx) {
  const auto& mpi = ctx.mpi;
  const Block mine = block_partition(cfg_.agents, mpi.size(), mpi.rank());
  const std::int64_t n = mine.count, T = cfg_.steps;
  std::vector<double> host_params;
  HostTree host_tree = policy_tree(model_);
  plan_tiles(host_tree, model_, cfg_.learn_B, cfg_.evaluation == Config::Evaluation::general);
  const Spec sp = make_spec(cfg_, model_, host_tree, host_params);
  // The lane evaluation where it is asked for, or by default on a GPU for
  // many agents (counted over all ranks, so that every rank takes the same
  // path and the results do not depend on the rank count).
  const std::string lanes_why_not = lanes_unsupported(model_, cfg_, host_tree);
  if (cfg_.evaluation == Config::Evaluation::lanes && !lanes_why_not.empty())
    throw std::invalid_argument("policy.evaluation = \"lanes\" does not apply: " + lanes_why_not);
  if (cfg_.evaluation == Config::Evaluation::tiled && host_tree.own < 0)
    throw std::invalid_argument("policy.evaluation = \"tiled\" does not apply: " +
                                std::string(kTiledCondition));
  // "auto": the lane evaluation wherever it applies on a GPU (it measured
  // faster than the tiled one from one agent on); on a host, where its
  // products run on few cores, the tiled one.
  const bool lanes =
      cfg_.evaluation == Config::Evaluation::lanes ||
      (cfg_.evaluation == Config::Evaluation::automatic && lanes_why_not.empty() && !compat::kHostBackend);
  evaluation_ = lanes ? "lanes" : host_tree.own >= 0 ? "tiled" : "general";
  const bool direct =
      lanes && (cfg_.lane_products == Config::Products::direct ||
                (cfg_.lane_products == Config::Products::automatic && cfg_.agents <= kDirectAgents));
  lane_products_ = !lanes ? "" : direct ? "direct" : "gemm";
  // The tiled evaluation's contracted A and H[A] go to team scratch where the
  // largest level's fit beside the largest team's tiles.
  std::int64_t ctr_scratch = 0;
  if (host_tree.own >= 0) {
    for (std::int64_t t = 0; t < sp.T; ++t)
      ctr_scratch = std::max(ctr_scratch, host_tree.ctr_at[std::size_t(t * (sp.M + 1) + sp.M)] -
                                              host_tree.ctr_at[std::size_t(t * (sp.M + 1))]);
    const std::int64_t tiles = kMaxTeam / 32 * 2 * kTile * sp.Ns[host_tree.own];
    if ((tiles + ctr_scratch) * std::int64_t(sizeof(double)) > kTeamScratchBytes) ctr_scratch = 0;
  }
  const TracedRows traced_here(cfg_.trace_first, cfg_.trace_agents, mine.begin, n);
  const std::int64_t traced = traced_here.n;
  std::vector<double> beliefs, q_pi, neg_efe;
  std::vector<std::int32_t> actions, observations, world;
  {
    // The model, the policies and the agents' arrays on the device.
    std::optional<Timers::Scope> init;
    init.emplace(ctx.timers, "init");
    Params p("policy::params", host_params.size());
    compat::copy_from_host(p, host_params);
    Policies pol("policy::policies", sp.P, sp.T, sp.F);
    compat::copy_from_host(pol, model_.policies);
    Kokkos::View<int**, Kokkos::LayoutRight> given("policy::given_obs", model_.given_steps, sp.M);
    compat::copy_from_host(given, model_.given_obs);
    auto to_device = [](const std::string& label, const auto& v) {
      Kokkos::View<typename std::decay_t<decltype(v)>::value_type*> d(label, v.size());
      compat::copy_from_host(d, v);
      return d;
    };
    PolicyTree tree;
    tree.parent = to_device("policy::tree_parent", host_tree.parent);
    tree.leaf = to_device("policy::tree_leaf", host_tree.leaf);
    tree.level_at = to_device("policy::tree_level_at", host_tree.level_at);
    tree.shared = to_device("policy::tree_shared", host_tree.shared);
    Kokkos::View<std::int64_t**, Kokkos::LayoutRight> ctr_at("policy::tree_ctr_at", sp.T, sp.M + 1);
    compat::copy_from_host(ctr_at, host_tree.ctr_at);
    tree.ctr_at = ctr_at;
    Kokkos::View<int**, Kokkos::LayoutRight> control("policy::tree_control", sp.N, sp.F);
    compat::copy_from_host(control, host_tree.control);
    tree.control = control;
    tree.own = host_tree.own;
    tree.ctr_scratch = ctr_scratch;
    if (tree.own >= 0) {
      tree.tile_at = to_device("policy::tile_at", host_tree.tile_at);
      Kokkos::View<int**, Kokkos::LayoutRight> tile_node("policy::tile_node",
                                                         host_tree.tile_node.size() / kTile, kTile);
      compat::copy_from_host(tile_node, host_tree.tile_node);
      tree.tile_node = tile_node;
    }
    const std::int64_t rows = std::max<std::int64_t>(n, 1);
    StepWindow window(cfg_.agents, n, traced_here, T);
    AgentStep step{sp,
                   p,
                   pol,
                   tree,
                   given,
                   mine.begin,
                   0,
                   0,
                   ctx.run.seed,
                   PerAgent("policy::qs", rows, sp.S),
                   PerAgent("policy::prior", rows, sp.S),
                   PerAgent("policy::scratch", lanes ? 0 : rows, sp.row),
                   PerAgent("policy::q_pi", rows, sp.P),
                   PerAgent("policy::neg_efe", rows, sp.P),
                   PerAgent("policy::qs_prev", rows, sp.S),
                   PerAgent("policy::learned", sp.learned > 0 ? rows : 0, sp.learned),
                   PerAgentInt("policy::world", rows, sp.F),
                   PerAgentInt("policy::obs", rows, sp.M),
                   PerAgentInt("policy::action", rows, sp.F),
                   window.view(0),
                   window.view(1),
                   window.view(2),
                   window.view(3)};
    if (sp.learned > 0) {
      // Every agent starts from the model: A, B, and concentrations c A, c B.
      auto learned = step.learned;
      const double c = cfg_.prior_concentration;
      Kokkos::parallel_for(
          "policy::learn_init",
          Kokkos::RangePolicy<Kokkos::DefaultExecutionSpace, Kokkos::IndexType<std::int64_t>>(0, n),
          KOKKOS_LAMBDA(const std::int64_t i) {
            for (int o = 0; o < sp.M && sp.learn_A; ++o) {
              const std::int64_t size = sp.No[o] * sp.joint[o];
              for (std::int64_t k = 0; k < size; ++k) {
                learned(i, sp.la_at[o] + k) = p(sp.a_at[o] + k);
                learned(i, sp.pa_at[o] + k) = c * p(sp.a_at[o] + k);
              }
              for (std::int64_t j = 0; j < sp.joint[o]; ++j)
                learned(i, sp.lha_at[o] + j) = p(sp.ha_at[o] + j);
            }
            for (int f = 0; f < sp.F && sp.learn_B; ++f) {
              const std::int64_t size = std::int64_t(sp.Ns[f]) * sp.Ns[f] * sp.Nu[f];
              for (std::int64_t k = 0; k < size; ++k) {
                learned(i, sp.lb_at[f] + k) = p(sp.b_at[f] + k);
                learned(i, sp.pb_at[f] + k) = c * p(sp.b_at[f] + k);
              }
            }
          });
    }
    AgentLanes lane{step, {}, {}, n};
    // M_t per group and level, [g * T + t], in one allocation (lp.mall).
    using Unmanaged = Kokkos::View<double**, Kokkos::LayoutLeft, Kokkos::DefaultExecutionSpace::memory_space,
                                   Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
    std::vector<Unmanaged> mats;
    HostLanes h;  // its x_col, y_col place the GEMMs
    if (lanes) {
      h = plan_lanes(model_, cfg_, host_tree, sp);
      lane.lp = h.plan;
      lane.lp.ci = to_device("policy::lanes_ci", h.ci);
      lane.lp.cu = to_device("policy::lanes_cu", h.cu);
      lane.lp.lna = to_device("policy::lanes_lna", h.lna);
      lane.lp.x_q = to_device("policy::lanes_x_q", h.x_q);
      lane.lp.x_w = to_device("policy::lanes_x_w", h.x_w);
      lane.lp.y_col = to_device("policy::lanes_y_col", h.y_col);
      // h.mats are column-major already: M_t's columns one after another.
      std::vector<std::int64_t> m_at;
      std::vector<double> all;
      for (const auto& M : h.mats) {
        m_at.push_back(std::int64_t(all.size()));
        all.insert(all.end(), M.begin(), M.end());
      }
      h.mats.clear();
      const auto mall = to_device("policy::lanes_M", all);
      for (std::size_t k = 0; k < m_at.size(); ++k)
        mats.emplace_back(mall.data() + m_at[k], h.mat_rows[k], h.mat_cols[k]);
      lane.lp.mall = mall;
      lane.lp.m_at = to_device("policy::lanes_m_at", m_at);
      lane.L = Kokkos::View<double**>("policy::lanes_scratch", rows, lane.lp.width);
      // The same chunk on every rank (the GEMMs' shape, hence each agent's
      // sums, independent of the partition): a function of the model and the
      // run's agents only; halved while X and Y would pass kLaneChunkBytes or
      // while half would still hold every agent of the run.
      std::int64_t chunk = cfg_.lane_chunk > 0    ? cfg_.lane_chunk
                           : compat::kHostBackend ? kLaneChunkHost
                                                  : kLaneChunkDevice;
      while (chunk > 32 && (chunk * (h.x_cols + h.y_cols) * std::int64_t(sizeof(double)) > kLaneChunkBytes ||
                            chunk / 2 >= cfg_.agents))
        chunk /= 2;
      lane.chunk = chunk;
      lane.chunk_log2 = std::countr_zero(std::uint64_t(chunk));  // chunk is a power of two
      if (cfg_.lane_width > 0 && !compat::kHostBackend) lane.width = int(cfg_.lane_width);
      lane.shared_cap = AgentLanes::shared_cap_here();
      if (!direct) {
        lane.X = AgentLanes::Matrix("policy::lanes_X", chunk, h.x_cols);
        lane.Y = AgentLanes::Matrix("policy::lanes_Y", chunk, h.y_cols);
      }
    }
    // One step of the lane evaluation (AgentLanes): Infer, per chunk of
    // agents Form, X_t M_t per group and level, Terms; then Act.
    auto products = [&]() {
      for (int g = 0; g < lane.lp.groups; ++g)
        for (int t = 0; t < sp.T; ++t) {
          const auto& M = mats[std::size_t(g * sp.T + t)];
          const std::int64_t xc = h.x_col[std::size_t(g * sp.T + t)], yc = h.y_col[std::size_t(g * sp.T + t)];
          auto Xg = Kokkos::subview(lane.X, Kokkos::ALL, std::make_pair(xc, xc + std::int64_t(M.extent(0))));
          auto Yg = Kokkos::subview(lane.Y, Kokkos::ALL, std::make_pair(yc, yc + std::int64_t(M.extent(1))));
          KokkosBlas::gemm("N", "N", 1.0, Xg, M, 0.0, Yg);
        }
    };
    // With profile_phases, each phase between two fences and on its own timer.
    auto phase = [&](const char* name, auto&& launch) {
      if (!cfg_.profile_phases) return launch();
      auto t = ctx.timers.scope(name);
      launch();
    };
    auto lane_step = [&](const Kokkos::DefaultExecutionSpace& space) {
      phase("infer", [&] { Kokkos::parallel_for("policy::lanes_infer", lane.infer_policy(space), lane); });
      phase("evaluate", [&] {
        if (direct) {
          Kokkos::parallel_for("policy::lanes_direct", lane.direct_policy(space), lane);
          return;
        }
        for (std::int64_t first = 0; first < n; first += lane.chunk) {
          lane.first = first;
          Kokkos::parallel_for("policy::lanes_form", lane.policy<AgentLanes::Form>(space), lane);
          products();
          Kokkos::parallel_for("policy::lanes_terms", lane.policy<AgentLanes::Terms>(space), lane);
        }
      });
      phase("act", [&] { Kokkos::parallel_for("policy::lanes_act", lane.act_policy(space), lane); });
    };
    // The GEMM library's one-time start (its handle, its kernels' loading)
    // belongs to the set-up, not to the first timed step.
    if (lanes && !direct && n > 0) {
      products();
      Kokkos::fence();
    }
    init.reset();
    auto t = ctx.timers.scope("steps");
    Progress progress("policy", T, "steps", ctx.show_progress && mpi.root());
    for (std::int64_t s = 0; s < T; ++s) {
      step.step = s;
      lane.st.step = s;
      step.slot = lane.st.slot = window.slot(s);
      const Kokkos::DefaultExecutionSpace space;
      if (n > 0 && lanes) {
        lane_step(space);
      } else if (n > 0) {
        phase("step", [&] {
          Kokkos::parallel_for("policy::step", step.policy(space, n, int(cfg_.team_size)), step);
        });
      }
      window.after_step(mpi, s);
      // Traces of this rank's traced agents: their rows only.
      if (traced > 0) {
        const auto host = [&traced_here](const auto& v) {
          return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                     Kokkos::subview(v, traced_here.range(), Kokkos::ALL));
        };
        const auto qs = host(step.qs), qp = host(step.q_pi), ne = host(step.neg_efe);
        const auto ac = host(step.action), ob = host(step.obs), wo = host(step.world);
        for (std::int64_t a = 0; a < traced; ++a) {
          for (std::int64_t k = 0; k < sp.S; ++k) beliefs.push_back(qs(a, k));
          for (std::int64_t k = 0; k < sp.P; ++k) {
            q_pi.push_back(qp(a, k));
            neg_efe.push_back(ne(a, k));
          }
          for (int f = 0; f < sp.F; ++f) actions.push_back(ac(a, f));
          for (int f = 0; f < sp.F; ++f) world.push_back(wo(a, f));
          for (int o = 0; o < sp.M; ++o) observations.push_back(ob(a, o));
        }
      }
      progress.update(s + 1);
    }
    progress.finish();
    static_cast<StepRows&>(trace_) = window.traced_rows(mpi);
    means_ = window.means();
  }
  agent_steps_ = cfg_.agents * T;
  // To rank 0 in agent order.  Traces are collected step-major per rank; reorder to [agent][step].
  auto reorder = [&](const auto& v, std::int64_t width) { return agent_major(v, T, traced, width); };
  trace_.beliefs = mpi.gather(reorder(beliefs, sp.S));
  trace_.q_pi = mpi.gather(reorder(q_pi, sp.P));
  trace_.neg_efe = mpi.gather(reorder(neg_efe, sp.P));
  auto ints = [&](const std::vector<std::int32_t>& v, std::int64_t width) {
    const auto r = reorder(v, width);
    std::vector<std::int64_t> wide(r.begin(), r.end());
    const auto all = mpi.gather(wide);
    return std::vector<std::int32_t>(all.begin(), all.end());
  };
  trace_.actions = ints(actions, sp.F);
  trace_.world = ints(world, sp.F);
  trace_.observations = ints(observations, sp.M);
  trace_.traced = TracedRows(cfg_.trace_first, cfg_.trace_agents, 0, cfg_.agents).n;  // over all ranks
  // The marginals from the gathered q(pi), summed over the policies in
  // their order, as the device sums them for marginal sampling.
  const std::int64_t P = model_.policy_count(), F = std::int64_t(model_.Nu.size());
  const std::int64_t U = std::accumulate(model_.Nu.begin(), model_.Nu.end(), std::int64_t(0));
  trace_.action_marginals.assign(trace_.q_pi.size() / std::size_t(P) * std::size_t(U), 0.0);
  for (std::size_t row = 0; row < trace_.q_pi.size() / std::size_t(P); ++row)
    for (std::int64_t k = 0; k < P; ++k)
      for (std::int64_t f = 0, at = 0; f < F; at += model_.Nu[f], ++f)
        trace_.action_marginals[row * std::size_t(U) +
                                std::size_t(at + model_.policies[(k * model_.policy_len) * F + f])] +=
            trace_.q_pi[row * std::size_t(P) + std::size_t(k)];
}

void PolicyWorkload::write(H5Writer& out) const {
  const std::string g = "/policy";
  const std::int64_t T = cfg_.steps, A = cfg_.agents,
                     S = std::int64_t(trace_.beliefs.size()) / std::max<std::int64_t>(1, trace_.traced * T);
  out.group(g);
  out.attribute(g, "model", "discrete");
  out.attribute(g, "task",
                cfg_.task == Task::tmaze           ? "tmaze"
                : cfg_.task == Task::grid          ? "grid"
                : cfg_.task == Task::random        ? "random"
                : cfg_.task == Task::inline_arrays ? "inline"
                                                   : "hdf5");
  out.attribute(g, "agents", A);
  out.attribute(g, "steps", T);
  out.attribute(g, "policy_len", model_.policy_len);
  out.attribute(g, "policies", model_.policy_count());
  out.attribute(g, "gamma", cfg_.gamma);
  out.attribute(g, "alpha", cfg_.alpha);
  out.attribute(g, "action_selection", cfg_.stochastic ? "stochastic" : "deterministic");
  out.attribute(g, "sampling_mode", cfg_.marginal ? "marginal" : "full");
  out.attribute(g, "num_iter", cfg_.num_iter);
  out.attribute(g, "evaluation", evaluation_);
  if (!lane_products_.empty()) out.attribute(g, "lane_products", lane_products_);
  out.attribute(g, "traced_agents", trace_.traced);
  out.attribute(g, "traced_first", cfg_.trace_first);
  const auto means = step_means();
  out.write(g + "/G_chosen_mean", means.G);
  out.write(g + "/free_energy_mean", means.F);
  out.write(g + "/policy_entropy_mean", means.H);
  if (model_.success_modality >= 0) out.write(g + "/success_rate", means.success);
  const auto n = std::uint64_t(trace_.traced), t = std::uint64_t(T), P = std::uint64_t(model_.policy_count());
  if (n > 0) {
    out.write(g + "/trace/beliefs", trace_.beliefs, {n, t, std::uint64_t(S)});
    out.write(g + "/trace/q_pi", trace_.q_pi, {n, t, P});
    std::vector<double> G(trace_.neg_efe.size());
    for (std::size_t k = 0; k < G.size(); ++k) G[k] = -trace_.neg_efe[k];
    out.write(g + "/trace/G", G, {n, t, P});
    const auto F = std::uint64_t(model_.Ns.size()), M = std::uint64_t(model_.No.size());
    const auto U = std::uint64_t(std::accumulate(model_.Nu.begin(), model_.Nu.end(), std::int64_t(0)));
    out.write(g + "/trace/action_marginals", trace_.action_marginals, {n, t, U});
    out.write(g + "/trace/actions", trace_.actions, {n, t, F});
    out.write(g + "/trace/world", trace_.world, {n, t, F});
    out.write(g + "/trace/observations", trace_.observations, {n, t, M});
  }
  out.write(g + "/model/policies", model_.policies,
            {P, std::uint64_t(model_.policy_len), std::uint64_t(model_.Ns.size())});
  for (std::size_t o = 0; o < model_.A.size(); ++o) {
    out.write(g + "/model/A" + std::to_string(o), model_.A[o]);
    out.write(g + "/model/C" + std::to_string(o), model_.C[o]);
  }
  for (std::size_t f = 0; f < model_.B.size(); ++f) {
    out.write(g + "/model/B" + std::to_string(f), model_.B[f]);
    out.write(g + "/model/D" + std::to_string(f), model_.D[f]);
  }
  out.write(g + "/model/E", model_.E);
}

PolicyWorkload::StepMeans PolicyWorkload::step_means() const {
  // The kernels keep -G of the chosen policy.
  std::vector<double> G(means_.chosen.size());
  for (std::size_t s = 0; s < G.size(); ++s) G[s] = -means_.chosen[s];
  return {G, means_.free_energy, means_.policy_entropy, means_.success};
}

Throughput PolicyWorkload::throughput() const {
  return {"agent_steps", double(agent_steps_),
          "steps",       "agent_steps_per_s",
          1.0,           {{"policies", std::to_string(model_.policy_count())}}};
}

void PolicyWorkload::print_summary(std::FILE* out) const {
  const std::int64_t T = cfg_.steps, A = cfg_.agents;
  std::fprintf(
      out, "\n%lld agents, %lld policies; per step: mean G of the chosen policy, mean F, mean H[q(pi)]%s\n",
      static_cast<long long>(A), static_cast<long long>(model_.policy_count()),
      model_.success_modality >= 0 ? ", success rate" : "");
  const auto means = step_means();
  for (std::int64_t s = 0; s < T && s < 50; ++s) {
    std::fprintf(out, "  step %3lld  G %10.5f  F %10.5f  H %8.5f", static_cast<long long>(s), means.G[s],
                 means.F[s], means.H[s]);
    if (model_.success_modality >= 0) std::fprintf(out, "  success %.4f", means.success[s]);
    std::fprintf(out, "\n");
  }
}

std::string lane_evaluation_unsupported(const Model& m, const Config& cfg) {
  return lanes_unsupported(m, cfg, policy_tree(m));
}

bool tiled_evaluation_applies(const Model& m, const Config& cfg) {
  HostTree tr = policy_tree(m);
  plan_tiles(tr, m, cfg.learn_B, false);
  return tr.own >= 0;
}

std::unique_ptr<Workload> make_workload(Deck& deck) {
  if (deck.get_string("policy", "model", "discrete", {"discrete", "gaussian"}) == "gaussian")
    return make_gaussian_workload(deck);
  auto cfg = parse_config(deck);
  Model m;
  try {
    m = cfg.task == Task::tmaze           ? tmaze(cfg)
        : cfg.task == Task::grid          ? grid(cfg)
        : cfg.task == Task::random        ? random_model(cfg)
        : cfg.task == Task::inline_arrays ? inline_model(deck, cfg)
                                          : read_model(cfg);
    validate(m);
  } catch (const DeckError&) {
    throw;  // an inline array's rule, already at its key
  } catch (const std::exception& e) {
    deck.fail("policy", cfg.task == Task::hdf5 ? "file" : "task", e.what());
  }
  if (m.given_steps > 0 && cfg.steps > m.given_steps)
    deck.fail("policy", "steps",
              "the model's recorded observations cover " + std::to_string(m.given_steps) +
                  " steps, fewer than " + std::to_string(cfg.steps));
  if (cfg.evaluation == Config::Evaluation::lanes) {
    const auto why_not = lane_evaluation_unsupported(m, cfg);
    if (!why_not.empty())
      deck.fail("policy", "evaluation", "\"lanes\" does not apply to this model: " + why_not);
  }
  if (cfg.evaluation == Config::Evaluation::tiled && !tiled_evaluation_applies(m, cfg))
    deck.fail("policy", "evaluation",
              "\"tiled\" does not apply to this model: " + std::string(kTiledCondition));
  return std::make_unique<PolicyWorkload>(std::move(cfg), std::move(m));
}

}  // namespace prism::policy
