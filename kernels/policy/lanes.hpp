#pragma once
// The lane evaluation of a policy step: threads per agent rather than a
// team per agent, and the policy tree's predictions as dense matrix
// products across agents, for models without learning whose policy tree has
// one own factor c (the tiled evaluation's condition, PolicyTree::own).  The
// same arithmetic as AgentStep up to the order of the sums, rearranged so
// that every agent applies the same matrices: a node n's marginal of c is
// P_n q_c, with P_n the product of B_c along the node's path (the same for
// every agent), and the other factors' marginals are the level's, so each
// predicted outcome (and each expected ambiguity) is
//   q_n(o) = sum_x sum_j q_c(x) w_t(j) M_n[x][j][o],
//   M_n[x][j][o] = sum_y A[o | c = y, others = j] P_n[y][x],
// with w_t(j) the product of the level's shared marginals over the joint
// state j of the modality's other factors.  For a level t and a group of
// modalities with the same dependencies this is one product
//   Y[agent][node, o] = X_t[agent][x, j] * M_t[x, j][node, o],
// with X_t[agent][x, j] = q_c(x) w_t(j): a GEMM (Kokkos Kernels, cuBLAS on a
// GPU) whose width is every node of the level times its outcomes, where
// AgentStep's team of one agent spends most of its instructions on indices
// and reductions.  The price: no prefix is shared (each node applies its own
// M_n, not B to its parent's marginal).  M_t is computed once per run on the
// host (HostLanes).  Agents go through the products in chunks of a fixed
// number of rows on every rank (the last zero-padded), so that the GEMM, and
// with it each agent's sums, has the same shape whatever the partition.
#include <type_traits>

#include "kernels/policy/agent.hpp"

namespace prism::policy {

// The largest joint of a modality group's shared factors.
inline constexpr int kLaneShared = 8;
// policy.evaluation = "auto" takes the lane evaluation on a GPU from this
// many agents (over all ranks) on: with fewer, the products are too narrow
// to fill a GPU and a team per agent finishes a step sooner.
inline constexpr std::int64_t kLanesMinAgents = 4096;

// The offsets of the lane evaluation.  Modalities with the same
// dependencies form a group; a group's rows are its modalities' outcomes,
// each modality followed by its expected-ambiguity row (H[A]).
struct LanePlan {
  int own = -1, groups = 0;
  int g_xdim[kMaxModalities] = {};  // Ns[own] if the group depends on it, else 1
  int g_jsh[kMaxModalities] = {};   // joint states of its other dependencies
  int g_rows[kMaxModalities] = {};
  int g_nmods[kMaxModalities] = {}, g_mods[kMaxModalities][kMaxModalities] = {};  // its modalities
  int g_nsh[kMaxModalities] = {},
      g_sh[kMaxModalities][kMaxFactors] = {};   // those dependencies, first slowest
  std::int64_t g_coef_at[kMaxModalities] = {};  // into ci, cu
  std::int64_t g_w_at[kMaxModalities] = {};     // lane scratch: the group's w_t at + t * jsh
  // The lane scratch (per agent): beliefs, ln prior, logits, ln A[o_m, .],
  // the shared marginals per level, the groups' weights per level, a 1, the
  // nodes' terms of -G (then their -G), the policies' logits.
  std::int64_t q_at = 0, lp_at = 0, acc_at = 0, ll_at = 0, sh_at = 0, one_at = 0, nv_at = 0, pi_at = 0,
               width = 0;
  // Columns of group g at level t in X (x_col) and Y (y_col): [g * T + t].
  Kokkos::View<const std::int64_t*> x_col, y_col;
  // Per row: 1 for an outcome's information term -q ln q (with use_info), and
  // the coefficient of its value (C[o] with use_utility; -1 for an ambiguity
  // row with use_info).
  Kokkos::View<const double*> ci, cu;
  Kokkos::View<const double*> lna;  // ln max(A, eps): modality m's [o][j] at lna_at[m]
  std::int64_t lna_at[kMaxModalities] = {};
};

// Lanes: Infer (one thread per agent: the world, the prior, state inference,
// F, and each level's shared marginals and weights); then per chunk of agents
// Form (X), the GEMMs (on the host, PolicyWorkload), Terms (one thread per
// agent and node, agents fastest: each node's terms of -G from its rows of
// Y); Act (one thread per agent: -G along the tree, q(pi), the action).
struct AgentLanes {
  struct Infer {};
  struct Form {};
  struct Terms {};
  struct Act {};
  using Matrix = Kokkos::View<double**, Kokkos::LayoutLeft>;
  AgentStep st;
  LanePlan lp;
  Kokkos::View<double**> L;  // lane scratch [agent][lp.width]
  std::int64_t agents = 0;   // this rank's
  Matrix X, Y;               // [chunk row][column]: the products' factors and results
  std::int64_t chunk = 0;    // rows of X and Y
  std::int64_t first = 0;    // the agent of the chunk's row 0

  // Launched light-weight: the functor travels as a kernel argument.  Kokkos'
  // default for a functor this large copies it to constant memory, and each
  // such launch first waits on the host for the previous one to finish,
  // which a step of several launches and GEMMs cannot afford.
  template <class Tag>
  auto policy(const Kokkos::DefaultExecutionSpace& space) const {
    const std::int64_t n = std::is_same_v<Tag, Form>    ? chunk * lp.groups * st.sp.T
                           : std::is_same_v<Tag, Terms> ? chunk * st.sp.N
                                                        : agents;
    return Kokkos::Experimental::require(
        Kokkos::RangePolicy<Kokkos::DefaultExecutionSpace, Tag, Kokkos::IndexType<std::int64_t>>(space, 0, n),
        Kokkos::Experimental::WorkItemProperty::HintLightWeight);
  }

  // Visits the joint states of `nd` factors of sizes n[] in ascending order
  // (the first slowest), calling fn(j, digits): for_joint's walk, for a set
  // of factors that is not a modality's dependencies.
  template <class Fn>
  KOKKOS_INLINE_FUNCTION static void for_digits(int nd, const int* n, Fn&& fn) {
    std::int64_t total = 1;
    for (int k = 0; k < nd; ++k) total *= n[k];
    int d[kMaxFactors] = {};
    for (std::int64_t j = 0; j < total; ++j) {
      fn(j, d);
      for (int k = nd - 1; k >= 0; --k) {
        if (++d[k] < n[k]) break;
        d[k] = 0;
      }
    }
  }

  KOKKOS_INLINE_FUNCTION void operator()(Infer, const std::int64_t i) const {
    const Spec& sp = st.sp;
    st.sample_world(i, st.first_agent + i);
    // ln prior: D at step 0, else B(last action) q(s); ln A_m[o_m, .].
    for (int f = 0; f < sp.F; ++f) {
      const int n = sp.Ns[f];
      for (int s = 0; s < n; ++s) {
        double v = 0;
        if (st.step == 0) {
          v = st.p(sp.d_at[f] + s);
        } else {
          const double* bt = &st.p(sp.bt_at[f] + std::int64_t(st.action(i, f)) * n * n + s);
          for (int r = 0; r < n; ++r) v += bt[std::int64_t(r) * n] * L(i, lp.q_at + sp.s_at[f] + r);
        }
        L(i, lp.lp_at + sp.s_at[f] + s) = log_stable(v);
      }
    }
    // A group's ln A_m[o_m, .] summed over its modalities (they share the
    // dependencies), at its first modality's place: inference and F then
    // read one array per group.
    for (int g = 0; g < lp.groups; ++g) {
      const int m0 = lp.g_mods[g][0];
      const std::int64_t J = sp.joint[m0];
      for (std::int64_t j = 0; j < J; ++j) {
        double v = 0;
        for (int k = 0; k < lp.g_nmods[g]; ++k) {
          const int m = lp.g_mods[g][k];
          v += lp.lna(lp.lna_at[m] + std::int64_t(st.obs(i, m)) * J + j);
        }
        L(i, lp.ll_at + sp.ll_at[m0] + j) = v;
      }
    }
    infer_states(i);
    free_energy(i);
    level_marginals(i);
  }

  // X's columns of one group and level (gt = g * T + t) in the row of agent
  // first + r: q_c(x) w_t(j) (zero past the last agent).
  KOKKOS_INLINE_FUNCTION void operator()(Form, const std::int64_t k) const {
    const std::int64_t gt = k / chunk, r = k - gt * chunk, i = first + r;
    const int T = st.sp.T, g = int(gt / T), t = int(gt - std::int64_t(g) * T);
    const int xdim = lp.g_xdim[g], jsh = lp.g_jsh[g];
    const std::int64_t qx_at = xdim > 1 ? lp.q_at + st.sp.s_at[lp.own] : lp.one_at, col = lp.x_col(gt);
    double w[kLaneShared];
    for (int j = 0; j < jsh; ++j) w[j] = i < agents ? L(i, lp.g_w_at[g] + t * jsh + j) : 0.0;
    for (int x = 0; x < xdim; ++x) {
      const double qx = i < agents ? L(i, qx_at + x) : 0.0;
      for (int j = 0; j < jsh; ++j) X(r, col + std::int64_t(x) * jsh + j) = qx * w[j];
    }
  }

  // A node's terms of -G from its predicted outcomes and ambiguities (Y).
  KOKKOS_INLINE_FUNCTION void operator()(Terms, const std::int64_t k) const {
    const std::int64_t node = k / chunk, r = k - node * chunk, i = first + r;
    if (i >= agents) return;
    int t = 0;
    while (node >= st.tree.level_at(t + 1)) ++t;
    const std::int64_t in_level = node - st.tree.level_at(t);
    double value = 0;
    for (int g = 0; g < lp.groups; ++g) {
      const int rows = lp.g_rows[g];
      const std::int64_t col = lp.y_col(g * st.sp.T + t) + in_level * rows;
      for (int o = 0; o < rows; ++o) {
        const double y = Y(r, col + o);
        if (lp.ci(lp.g_coef_at[g] + o) != 0) value -= xlogx(y);
        value += lp.cu(lp.g_coef_at[g] + o) * y;
      }
    }
    L(i, lp.nv_at + node) = value;
  }

  KOKKOS_INLINE_FUNCTION void operator()(Act, const std::int64_t i) const {
    // -G of a node: its parent's plus its own terms (nodes come after their parents).
    for (std::int64_t node = 0; node < st.sp.N; ++node) {
      const int parent = st.tree.parent(node);
      if (parent >= 0) L(i, lp.nv_at + node) += L(i, lp.nv_at + parent);
    }
    policy_posterior(i);
    st.choose(i, st.first_agent + i);
  }

  KOKKOS_INLINE_FUNCTION void softmax_factors(std::int64_t i) const {
    const Spec& sp = st.sp;
    for (int f = 0; f < sp.F; ++f) {
      const std::int64_t a = lp.acc_at + sp.s_at[f], q = lp.q_at + sp.s_at[f];
      double mx = -1e300, sum = 0;
      for (int s = 0; s < sp.Ns[f]; ++s) mx = kmath::fmax(mx, L(i, a + s));
      for (int s = 0; s < sp.Ns[f]; ++s) {
        const double e = kmath::exp(L(i, a + s) - mx);
        L(i, a + s) = e;
        sum += e;
      }
      for (int s = 0; s < sp.Ns[f]; ++s) L(i, q + s) = L(i, a + s) / sum;
    }
  }

  // Exact Bayes for one factor; else num_iter synchronous fixed-point
  // sweeps from uniform beliefs (every factor's logits from the previous
  // sweep's beliefs), as AgentStep::infer_states.
  KOKKOS_INLINE_FUNCTION void infer_states(std::int64_t i) const {
    const Spec& sp = st.sp;
    if (sp.F == 1) {
      for (int s = 0; s < sp.Ns[0]; ++s) {
        double v = L(i, lp.lp_at + s);
        for (int g = 0; g < lp.groups; ++g) v += L(i, lp.ll_at + sp.ll_at[lp.g_mods[g][0]] + s);
        L(i, lp.acc_at + s) = v;
      }
      softmax_factors(i);
    } else {
      for (int f = 0; f < sp.F; ++f)
        for (int s = 0; s < sp.Ns[f]; ++s) L(i, lp.q_at + sp.s_at[f] + s) = 1.0 / sp.Ns[f];
      for (int it = 0; it < sp.num_iter; ++it) {
        for (std::int64_t k = 0; k < sp.S; ++k) L(i, lp.acc_at + k) = L(i, lp.lp_at + k);
        for (int g = 0; g < lp.groups; ++g) add_expected_log_likelihood(i, lp.g_mods[g][0]);
        softmax_factors(i);
      }
    }
    for (std::int64_t k = 0; k < sp.S; ++k) st.qs(i, k) = L(i, lp.q_at + k);
  }

  // Adds to each dependency f of modality m: E over the other dependencies'
  // beliefs of the group's ln A[o, .] (at m's place), for every state of f.
  KOKKOS_INLINE_FUNCTION void add_expected_log_likelihood(std::int64_t i, int m) const {
    const Spec& sp = st.sp;
    const std::int64_t ll = lp.ll_at + sp.ll_at[m];
    const int nd = sp.ndeps[m];
    if (nd == 1) {
      const std::int64_t a = lp.acc_at + sp.s_at[sp.deps[m][0]];
      for (int s = 0; s < sp.Ns[sp.deps[m][0]]; ++s) L(i, a + s) += L(i, ll + s);
      return;
    }
    if (nd == 2) {
      const int f0 = sp.deps[m][0], f1 = sp.deps[m][1], n0 = sp.Ns[f0], n1 = sp.Ns[f1];
      const std::int64_t q0 = lp.q_at + sp.s_at[f0], q1 = lp.q_at + sp.s_at[f1];
      if (n1 <= kLaneShared) {
        // Both sums in one pass over ln A, the second factor's in registers
        // (each sum in the same order as the two passes below).
        double qb[kLaneShared], u[kLaneShared];
#ifdef KOKKOS_ENABLE_CUDA
#pragma unroll
#endif
        for (int b = 0; b < kLaneShared; ++b) {
          qb[b] = b < n1 ? L(i, q1 + b) : 0.0;
          u[b] = 0;
        }
        for (int a = 0; a < n0; ++a) {
          const double qa = L(i, q0 + a);
          double v = 0;
#ifdef KOKKOS_ENABLE_CUDA
#pragma unroll
#endif
          for (int b = 0; b < kLaneShared; ++b) {
            if (b >= n1) break;
            const double l = L(i, ll + std::int64_t(a) * n1 + b);
            v += l * qb[b];
            u[b] += l * qa;
          }
          L(i, lp.acc_at + sp.s_at[f0] + a) += v;
        }
#ifdef KOKKOS_ENABLE_CUDA
#pragma unroll
#endif
        for (int b = 0; b < kLaneShared; ++b)
          if (b < n1) L(i, lp.acc_at + sp.s_at[f1] + b) += u[b];
        return;
      }
      for (int a = 0; a < n0; ++a) {
        double v = 0;
        for (int b = 0; b < n1; ++b) v += L(i, ll + std::int64_t(a) * n1 + b) * L(i, q1 + b);
        L(i, lp.acc_at + sp.s_at[f0] + a) += v;
      }
      for (int b = 0; b < n1; ++b) {
        double v = 0;
        for (int a = 0; a < n0; ++a) v += L(i, ll + std::int64_t(a) * n1 + b) * L(i, q0 + a);
        L(i, lp.acc_at + sp.s_at[f1] + b) += v;
      }
      return;
    }
    for_joint(sp, m, 0u, nullptr, [&](std::int64_t j, const int* d) {
      const double l = L(i, ll + j);
      for (int k = 0; k < nd; ++k) {
        double w = l;
        for (int r = 0; r < nd; ++r)
          if (r != k) w *= L(i, lp.q_at + sp.s_at[sp.deps[m][r]] + d[r]);
        L(i, lp.acc_at + sp.s_at[sp.deps[m][k]] + d[k]) += w;
      }
    });
  }

  // F = sum q ln q - sum q ln prior - sum_m E_q[ln A_m[o_m, .]].
  KOKKOS_INLINE_FUNCTION void free_energy(std::int64_t i) const {
    const Spec& sp = st.sp;
    double f_energy = 0;
    for (std::int64_t k = 0; k < sp.S; ++k) {
      const double q = L(i, lp.q_at + k);
      f_energy += xlogx(q) - q * L(i, lp.lp_at + k);
    }
    for (int g = 0; g < lp.groups; ++g) {
      const int m = lp.g_mods[g][0];
      for_joint(sp, m, 0u, nullptr, [&](std::int64_t j, const int* d) {
        double w = L(i, lp.ll_at + sp.ll_at[m] + j);
        for (int k = 0; k < sp.ndeps[m]; ++k) w *= L(i, lp.q_at + sp.s_at[sp.deps[m][k]] + d[k]);
        f_energy -= w;
      });
    }
    st.vfe(i, st.step) = f_energy;
  }

  // Each level's marginals of the shared factors (B of the level's control,
  // from the beliefs at the first level), and each group's w_t(j): their
  // product over the joint states of its shared dependencies.
  KOKKOS_INLINE_FUNCTION void level_marginals(std::int64_t i) const {
    const Spec& sp = st.sp;
    const auto& tree = st.tree;
    L(i, lp.one_at) = 1.0;
    for (int t = 0; t < sp.T; ++t) {
      const std::int64_t first = tree.level_at(t);
      for (int f = 0; f < sp.F; ++f) {
        if (f == lp.own) continue;
        const int n = sp.Ns[f], u = tree.control(first, f);
        const std::int64_t from = (t == 0 ? lp.q_at : lp.sh_at + (t - 1) * sp.S) + sp.s_at[f];
        const std::int64_t to = lp.sh_at + t * sp.S + sp.s_at[f];
        const double* bt = &st.p(sp.bt_at[f] + std::int64_t(u) * n * n);
        for (int next = 0; next < n; ++next) {
          double v = 0;
          for (int r = 0; r < n; ++r) v += bt[std::int64_t(r) * n + next] * L(i, from + r);
          L(i, to + next) = v;
        }
      }
      for (int g = 0; g < lp.groups; ++g) {
        int n[kMaxFactors];
        for (int k = 0; k < lp.g_nsh[g]; ++k) n[k] = sp.Ns[lp.g_sh[g][k]];
        for_digits(lp.g_nsh[g], n, [&](std::int64_t j, const int* d) {
          double w = 1;
          for (int k = 0; k < lp.g_nsh[g]; ++k)
            w *= L(i, lp.sh_at + t * sp.S + sp.s_at[lp.g_sh[g][k]] + d[k]);
          L(i, lp.g_w_at[g] + t * lp.g_jsh[g] + j) = w;
        });
      }
    }
  }

  // q(pi) = softmax(gamma (-G) + ln E) from the leaves, and its entropy.
  KOKKOS_INLINE_FUNCTION void policy_posterior(std::int64_t i) const {
    const Spec& sp = st.sp;
    double mx = -1e300;
    for (std::int64_t k = 0; k < sp.P; ++k) {
      const double value = L(i, lp.nv_at + st.tree.leaf(k));
      st.neg_efe(i, k) = value;
      const double logit = sp.gamma * value + log_stable(st.p(sp.e_at + k));
      L(i, lp.pi_at + k) = logit;
      mx = kmath::fmax(mx, logit);
    }
    double sum = 0;
    for (std::int64_t k = 0; k < sp.P; ++k) {
      const double e = kmath::exp(L(i, lp.pi_at + k) - mx);
      L(i, lp.pi_at + k) = e;
      sum += e;
    }
    double h = 0;
    for (std::int64_t k = 0; k < sp.P; ++k) {
      const double q = L(i, lp.pi_at + k) / sum;
      st.q_pi(i, k) = q;
      h -= xlogx(q);
    }
    st.entropy_pi(i, st.step) = h;
  }
};

}  // namespace prism::policy
