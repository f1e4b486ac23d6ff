#pragma once
// The lane evaluation of a policy step: the lanes of a warp (or fewer) per
// agent rather than a team, and the policy tree's predictions as dense
// matrix products across agents, for models without learning whose policy tree has
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

// Blocks of inference per multiprocessor the registers must allow: the
// kernel is a chain of short dependent steps per agent (draws, reductions),
// so what hides their latency is agents in flight; eight caps it at 64
// registers a thread, at the price of a few spills to L1.
#ifndef PRISM_LANES_INFER_BLOCKS
#define PRISM_LANES_INFER_BLOCKS 8
#endif

// The largest joint of a modality group's shared factors.
inline constexpr int kLaneShared = 8;

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
  // Inference's scratch: group g's ln A[o, .] sum at g_ll_at[g] (ll_width
  // in all); a shared factor f's marginal at sh_at[f] of a level's sh_width.
  std::int64_t g_ll_at[kMaxModalities] = {}, ll_width = 0;
  std::int64_t sh_at[kMaxFactors] = {}, sh_width = 0;
  // The lane scratch (per agent): beliefs, the groups' weights per level, a
  // 1, the nodes' terms of -G.
  std::int64_t q_at = 0, one_at = 0, nv_at = 0, width = 0;
  // Columns of group g at level t in Y: [g * T + t]; X's columns in all.
  Kokkos::View<const std::int64_t*> y_col;
  // Column c of X is q_c(x) w_t(j): the lane scratch's entries x_q(c) and
  // x_w(c) (looked up, so that Form does no index arithmetic per element).
  Kokkos::View<const std::int32_t*> x_q, x_w;
  std::int64_t x_cols = 0;
  // Per row: 1 for an outcome's information term -q ln q (with use_info), and
  // the coefficient of its value (C[o] with use_utility; -1 for an ambiguity
  // row with use_info).
  Kokkos::View<const double*> ci, cu;
  Kokkos::View<const double*> lna;  // ln max(A, eps): modality m's [o][j] at lna_at[m]
  // The products' M_t, group g's at level t from mall(m_at(g * T + t)):
  // K = xdim * jsh rows, the level's nodes times g_rows columns, LayoutLeft.
  Kokkos::View<const double*> mall;
  Kokkos::View<const std::int64_t*> m_at;
  std::int64_t lna_at[kMaxModalities] = {};
};

// Lanes: Infer (one warp per agent: the world, the prior, state inference,
// F, and each level's shared marginals and weights); then per chunk of agents
// Form (one thread per element of X), the GEMMs (on the host, PolicyWorkload), Terms (one thread per
// agent and node, agents fastest: each node's terms of -G from its rows of
// Y), or, for runs of few agents, Direct in their place (one warp per agent
// and node: its rows of Y and its terms, in one launch); Act (one warp per
// agent: -G along the tree, q(pi), the action).
struct AgentLanes {
  struct Infer {};
  struct Form {};
  struct Terms {};
  struct Direct {};
  struct Act {};
  using Matrix = Kokkos::View<double**, Kokkos::LayoutLeft>;
  AgentStep st;
  LanePlan lp;
  Kokkos::View<double**> L;  // lane scratch [agent][lp.width]
  std::int64_t agents = 0;   // this rank's
  Matrix X, Y;               // [chunk row][column]: the products' factors and results
  std::int64_t chunk = 0;    // rows of X and Y: a power of two, 2^chunk_log2
  int chunk_log2 = 0;
  std::int64_t first = 0;  // the agent of the chunk's row 0

  // Launched light-weight: the functor travels as a kernel argument.  Kokkos'
  // default for a functor this large copies it to constant memory, and each
  // such launch first waits on the host for the previous one to finish,
  // which a step of several launches and GEMMs cannot afford.
  template <class Tag>
  auto policy(const Kokkos::DefaultExecutionSpace& space) const {
    static_assert(std::is_same_v<Tag, Form> || std::is_same_v<Tag, Terms>);
    const std::int64_t n = chunk * (std::is_same_v<Tag, Form> ? lp.x_cols : st.sp.N);
    return Kokkos::Experimental::require(
        Kokkos::RangePolicy<Kokkos::DefaultExecutionSpace, Tag, Kokkos::IndexType<std::int64_t>>(space, 0, n),
        Kokkos::Experimental::WorkItemProperty::HintLightWeight);
  }

  // Infer: `width` lanes of a warp per agent (one thread on a host backend),
  // each agent with its working arrays in team scratch: the lanes share each
  // phase's states or joint states, so the fixed-point iterations read ln A
  // from shared memory, and the sums are each lane's in order, then a
  // butterfly within the agent's lanes (warp_group_sum), the same bits on
  // every rank.  Several agents per warp divide the latency of the serial
  // parts (drawing the world, the reductions) among them.
  static constexpr int kTeamThreads = compat::kHostBackend ? 1 : 128;
  // A warp per agent by default: 8 lanes (four agents per warp) measured no
  // faster from 16 384 agents on and slower below (docs/performance-notes.md).
  static constexpr int kDefaultWidth = compat::kHostBackend ? 1 : 32;
  int width = kDefaultWidth;  // lanes per agent: a power of two, at most kLanes
  // Team scratch above this goes to scratch level 1 (global memory).
  static constexpr std::size_t kInferSharedBytes = 40 * 1024;
  // The team scratch Infer and Act keep in shared memory: kInferSharedBytes,
  // and on a GPU at most its multiprocessor's shared memory over the
  // PRISM_LANES_INFER_BLOCKS blocks of Infer's launch bound (Kokkos refuses
  // a launch whose bound the scratch would break).  Set by shared_cap_here().
  std::size_t shared_cap = kInferSharedBytes;
  static std::size_t shared_cap_here() {
    const std::size_t per_sm = compat::shared_bytes_per_multiprocessor();
    return per_sm > 0 ? std::min(kInferSharedBytes, per_sm / PRISM_LANES_INFER_BLOCKS) : kInferSharedBytes;
  }
  // Threads of an Infer or Act team: kTeamThreads, halved down to a warp
  // while its agents' working arrays would not fit shared_cap (fewer
  // lanes per agent put more agents in a team).
  KOKKOS_INLINE_FUNCTION int team_threads() const {
    int threads = kTeamThreads;
    while (threads > kLanes &&
           std::size_t(threads / width) * std::size_t(infer_width()) * sizeof(double) > shared_cap)
      threads /= 2;
    return threads;
  }
  KOKKOS_INLINE_FUNCTION int team_agents() const { return team_threads() / width; }
  // An agent's working arrays, in doubles: q(s), ln prior, logits; then
  // the levels' marginals of the shared factors and the groups' ln A[o, .]
  // sums, which first hold the world's weights (S factors' then O
  // outcomes'); then the world's states (F) and observations (M).
  KOKKOS_INLINE_FUNCTION std::int64_t infer_width() const {
    const Spec& sp = st.sp;
    const std::int64_t levels = sp.T * lp.sh_width + lp.ll_width, world = sp.S + sp.O;
    return 3 * sp.S + (levels > world ? levels : world) + sp.F + sp.M;
  }
  KOKKOS_INLINE_FUNCTION std::size_t infer_bytes() const {
    return std::size_t(team_agents()) * std::size_t(infer_width()) * sizeof(double);
  }
  KOKKOS_INLINE_FUNCTION int infer_level() const { return infer_bytes() <= shared_cap ? 0 : 1; }
  auto infer_policy(const Kokkos::DefaultExecutionSpace& space) const {
    using Teams = Kokkos::TeamPolicy<Kokkos::DefaultExecutionSpace, Infer,
                                     Kokkos::LaunchBounds<kTeamThreads, PRISM_LANES_INFER_BLOCKS>,
                                     Kokkos::IndexType<std::int64_t>>;
    Teams teams(space, (agents + team_agents() - 1) / team_agents(), team_threads(), 1);
    teams.set_scratch_size(infer_level(), Kokkos::PerTeam(infer_bytes()));
    return Kokkos::Experimental::require(teams, Kokkos::Experimental::WorkItemProperty::HintLightWeight);
  }
  using InferMember = Kokkos::TeamPolicy<Kokkos::DefaultExecutionSpace>::member_type;

  // An agent's working arrays in team scratch; whether the lanes hold an
  // agent (the others of the last team only take part in the butterflies).
  struct Work {
    double *q, *lp, *acc, *sh, *ll, *state, *seen;
    bool active;
  };

  KOKKOS_INLINE_FUNCTION void operator()(Infer, const InferMember& team) const {
    const Spec& sp = st.sp;
    const int lane = team.team_rank() % width, slot = team.team_rank() / width;
    auto* base = static_cast<double*>(team.team_scratch(infer_level()).get_shmem(infer_bytes()));
    const std::int64_t agent = team.league_rank() * team_agents() + slot;
    const bool active = agent < agents;
    const std::int64_t i = active ? agent : 0;  // not read where not active
    double* row = base + slot * infer_width();
    double* state = row + infer_width() - sp.F - sp.M;
    const Work w{row,   row + sp.S,   row + 2 * sp.S, row + 3 * sp.S, row + 3 * sp.S + sp.T * lp.sh_width,
                 state, state + sp.F, active};
    sample_world(i, lane, w);
    // The last beliefs into w.q (free until inference starts), so that the
    // sums below read them from shared memory.
    for (std::int64_t k = lane; k < sp.S && st.step > 0; k += width)
      w.q[k] = active ? L(i, lp.q_at + k) : 0.0;
    warp_sync();
    // ln prior: D at step 0, else B(last action) q(s).
    for (std::int64_t k = lane; k < sp.S; k += width) {
      const int f = st.factor_of(k), n = sp.Ns[f], s = int(k - sp.s_at[f]);
      double v = 0;
      if (st.step == 0) {
        v = st.p(sp.d_at[f] + s);
      } else {
        const double* bt = &st.p(sp.bt_at[f] + std::int64_t(active ? st.action(i, f) : 0) * n * n + s);
        for (int r = 0; r < n; ++r) v += bt[std::int64_t(r) * n] * w.q[sp.s_at[f] + r];
      }
      w.lp[k] = log_stable(v);
    }
    // A group's ln A_m[o_m, .] summed over its modalities (they share the
    // dependencies): inference and F then read one array per group.
    for (int g = 0; g < lp.groups; ++g) {
      const int m0 = lp.g_mods[g][0];
      const std::int64_t J = sp.joint[m0];
      for (std::int64_t j = lane; j < J; j += width) {
        double v = 0;
        for (int k = 0; k < lp.g_nmods[g]; ++k) {
          const int m = lp.g_mods[g][k];
          v += lp.lna(lp.lna_at[m] + std::int64_t(w.seen[m]) * J + j);
        }
        w.ll[lp.g_ll_at[g] + j] = v;
      }
    }
    warp_sync();
    infer_states(lane, w);
    free_energy(i, lane, w);
    for (std::int64_t k = lane; k < sp.S && active; k += width) {
      L(i, lp.q_at + k) = w.q[k];
      st.qs(i, k) = w.q[k];
    }
    level_marginals(i, lane, w);
  }

  // The world, as AgentStep::sample_world draws it (the same weights summed
  // in the same order, so the same draws), with the lanes loading every
  // weight at once rather than one lane walking A's and B's columns in
  // global memory: the factors' weights, then lane f draws factor f; the
  // outcomes' weights at the drawn states, then lane m draws modality m.
  // The states and observations stay in w.state and w.seen.
  KOKKOS_INLINE_FUNCTION void sample_world(std::int64_t i, int lane, const Work& w) const {
    const Spec& sp = st.sp;
    const std::int64_t agent = st.first_agent + i;
    double* weight = w.sh;  // [S] per factor, then [O] per modality
    // Lanes without an agent read nothing of another agent (whose own lanes
    // may be writing it): their weights are zeros, never drawn from.
    for (std::int64_t k = lane; k < sp.S; k += width) {
      const int f = st.factor_of(k);
      std::int64_t stride = 1;
      weight[k] = w.active ? st.world_state_weights(i, f, stride)[(k - sp.s_at[f]) * stride] : 0.0;
    }
    warp_sync();
    for (int f = lane; f < sp.F; f += width) {
      const int s = categorical(weight + sp.s_at[f], sp.Ns[f], 1, st.state_uniform(agent, f));
      w.state[f] = s;
      if (w.active) st.world(i, f) = s;
    }
    warp_sync();
    double* outcome = weight + sp.S;
    for (std::int64_t k = lane; k < sp.O; k += width) {
      int m = 0;
      while (m + 1 < sp.M && k >= sp.o_at[m + 1]) ++m;
      const std::int64_t j = st.world_joint(m, [&](int f) { return w.state[f]; });
      outcome[k] = st.world_outcome_weights(m, j)[(k - sp.o_at[m]) * sp.joint[m]];
    }
    warp_sync();
    for (int m = lane; m < sp.M; m += width) {
      const int o = st.given.extent(0) > 0
                        ? st.given(st.step, m)
                        : categorical(outcome + sp.o_at[m], sp.No[m], 1, st.outcome_uniform(agent, m));
      w.seen[m] = o;
      if (w.active) st.obs(i, m) = o;
    }
    warp_sync();
  }

  // One element of X: column c (group g, level t, own state x, shared
  // joint state j) of the row of agent first + r, q_c(x) w_t(j) (zero past
  // the last agent).
  KOKKOS_INLINE_FUNCTION void operator()(Form, const std::int64_t k) const {
    const std::int64_t c = k >> chunk_log2, r = k & (chunk - 1), i = first + r;
    X(r, c) = i < agents ? L(i, lp.x_q(c)) * L(i, lp.x_w(c)) : 0.0;
  }

  // Adds row k's term of -G for its value y of Y: -y ln y for an outcome
  // (with use_info), then its coefficient times y (Terms and Direct, in the
  // same order).
  KOKKOS_INLINE_FUNCTION void add_row_term(double& value, std::int64_t k, double y) const {
    if (lp.ci(k) != 0) value -= xlogx(y);
    value += lp.cu(k) * y;
  }

  // A node's terms of -G from its predicted outcomes and ambiguities (Y).
  KOKKOS_INLINE_FUNCTION void operator()(Terms, const std::int64_t k) const {
    const std::int64_t node = k >> chunk_log2, r = k & (chunk - 1), i = first + r;
    if (i >= agents) return;
    int t = 0;
    while (node >= st.tree.level_at(t + 1)) ++t;
    const std::int64_t in_level = node - st.tree.level_at(t);
    double value = 0;
    for (int g = 0; g < lp.groups; ++g) {
      const int rows = lp.g_rows[g];
      const std::int64_t col = lp.y_col(g * st.sp.T + t) + in_level * rows;
      for (int o = 0; o < rows; ++o) add_row_term(value, lp.g_coef_at[g] + o, Y(r, col + o));
    }
    L(i, lp.nv_at + node) = value;
  }

  // Direct: a node's rows of Y and its terms of -G for one agent, one warp
  // per (agent, node), consecutive warps on one agent's nodes.  Few agents
  // leave the GEMMs of Form-GEMM-Terms almost no work and three launches
  // more; here each lane sums every kLanes-th element of X's row (formed on
  // the fly, as Form does) against kDirectRows of the node's columns of M
  // side by side (M's columns are contiguous, so a warp's loads are too),
  // then a butterfly per row.  The sums' order is fixed by the model alone,
  // so the bits do not depend on the ranks (they differ from the GEMMs' in
  // the last places, as lane_chunk's do).
  static constexpr int kDirectRows = 8;
  auto direct_policy(const Kokkos::DefaultExecutionSpace& space) const {
    using Teams = Kokkos::TeamPolicy<Kokkos::DefaultExecutionSpace, Direct, Kokkos::IndexType<std::int64_t>>;
    const std::int64_t items = agents * st.sp.N, per_team = kTeamThreads / kLanes;
    Teams teams(space, (items + per_team - 1) / per_team, kTeamThreads, 1);
    return Kokkos::Experimental::require(teams, Kokkos::Experimental::WorkItemProperty::HintLightWeight);
  }
  KOKKOS_INLINE_FUNCTION void operator()(Direct, const InferMember& team) const {
    const Spec& sp = st.sp;
    const int lane = team.team_rank() % kLanes;
    const std::int64_t item = team.league_rank() * (team.team_size() / kLanes) + team.team_rank() / kLanes;
    if (item >= agents * sp.N) return;  // the whole warp: its lanes share the item
    const std::int64_t i = item / sp.N, node = item - i * sp.N;
    int t = 0;
    while (node >= st.tree.level_at(t + 1)) ++t;
    const std::int64_t in_level = node - st.tree.level_at(t);
    double value = 0;
    for (int g = 0; g < lp.groups; ++g) {
      const int rows = lp.g_rows[g], jsh = lp.g_jsh[g];
      const std::int64_t K = std::int64_t(lp.g_xdim[g]) * jsh;
      const std::int64_t qx_at = lp.g_xdim[g] > 1 ? lp.q_at + sp.s_at[lp.own] : lp.one_at;
      const std::int64_t w_at = lp.g_w_at[g] + std::int64_t(t) * jsh;
      const double* M = lp.mall.data() + lp.m_at(g * sp.T + t) + in_level * rows * K;
      for (int o0 = 0; o0 < rows; o0 += kDirectRows) {
        const int here = rows - o0 < kDirectRows ? rows - o0 : kDirectRows;
        double y[kDirectRows] = {};
        for (std::int64_t k = lane; k < K; k += kLanes) {
          const std::int64_t x = k / jsh;
          const double xk = L(i, qx_at + x) * L(i, w_at + (k - x * jsh));
          const double* column = M + o0 * K + k;
#pragma unroll
          for (int u = 0; u < kDirectRows; ++u)
            if (u < here) y[u] += xk * column[u * K];
        }
#pragma unroll
        for (int u = 0; u < kDirectRows; ++u) y[u] = warp_group_sum(y[u], kLanes);
        for (int u = 0; u < here; ++u) add_row_term(value, lp.g_coef_at[g] + o0 + u, y[u]);
      }
    }
    if (lane == 0) L(i, lp.nv_at + node) = value;
  }

  // q = softmax of the logits, per factor.
  KOKKOS_INLINE_FUNCTION void softmax_factors(int lane, const Work& w) const {
    const Spec& sp = st.sp;
    for (int f = 0; f < sp.F; ++f) {
      double* a = w.acc + sp.s_at[f];
      // A factor of fewer states than lanes has them in its first `span`
      // lanes: the butterflies need only span those (the lanes beyond add
      // nothing, so the bits are those of the whole width).
      int span = 1;
      while (span < sp.Ns[f] && span < width) span *= 2;
      double mx = -1e300, sum = 0;
      for (int s = lane; s < sp.Ns[f]; s += width) mx = kmath::fmax(mx, a[s]);
      mx = warp_group_max(mx, span);
      for (int s = lane; s < sp.Ns[f]; s += width) {
        a[s] = kmath::exp(a[s] - mx);
        sum += a[s];
      }
      sum = warp_group_sum(sum, span);
      for (int s = lane; s < sp.Ns[f]; s += width) w.q[sp.s_at[f] + s] = a[s] / sum;
    }
    warp_sync();
  }

  // Exact Bayes for one factor; else num_iter synchronous fixed-point
  // sweeps from uniform beliefs (every factor's logits from the previous
  // sweep's beliefs), as AgentStep::infer_states.
  KOKKOS_INLINE_FUNCTION void infer_states(int lane, const Work& w) const {
    const Spec& sp = st.sp;
    if (sp.F == 1) {
      for (int s = lane; s < sp.Ns[0]; s += width) {
        double v = w.lp[s];
        for (int g = 0; g < lp.groups; ++g) v += w.ll[lp.g_ll_at[g] + s];
        w.acc[s] = v;
      }
      softmax_factors(lane, w);
      return;
    }
    for (std::int64_t k = lane; k < sp.S; k += width) w.q[k] = 1.0 / sp.Ns[st.factor_of(k)];
    warp_sync();
    for (int it = 0; it < sp.num_iter; ++it) {
      for (int f = 0; f < sp.F; ++f) {
        // Where the factor has fewer states than the warp has lanes, W
        // lanes share a state's sums over the other factor's states (lane
        // sub takes every W-th), combined by a butterfly within the group.
        const int n = sp.Ns[f], W = lanes_per_state(n, width);
        const int sub = lane % W, per_pass = width / W;
        for (int s0 = 0; s0 < n; s0 += per_pass) {
          const int s = s0 + lane / W;
          double v = 0;
          if (s < n) {
            if (sub == 0) v = w.lp[sp.s_at[f] + s];
            for (int g = 0; g < lp.groups; ++g) v += expected_log_likelihood(g, f, s, sub, W, w);
          }
          v = warp_group_sum(v, W);
          if (s < n && sub == 0) w.acc[sp.s_at[f] + s] = v;
        }
      }
      warp_sync();
      softmax_factors(lane, w);
    }
  }

  // Lane sub's share (of W) of E over the other dependencies' beliefs of
  // group g's ln A[o, .], with factor f in state s (0 if the group does not
  // depend on f).
  KOKKOS_INLINE_FUNCTION double expected_log_likelihood(int g, int f, int s, int sub, int W,
                                                        const Work& w) const {
    const Spec& sp = st.sp;
    const int m = lp.g_mods[g][0];
    const double* ll = w.ll + lp.g_ll_at[g];
    const int nd = sp.ndeps[m];
    double v = 0;
    for (int k = 0; k < nd; ++k) {
      if (sp.deps[m][k] != f) continue;
      if (nd == 1) {
        if (sub == 0) v += ll[s];
      } else if (nd == 2) {
        const int other = sp.deps[m][1 - k], n_other = sp.Ns[other];
        const std::int64_t step_s = k == 0 ? n_other : 1, step_o = k == 0 ? 1 : sp.Ns[f];
        const double* q = w.q + sp.s_at[other];
        for (int o = sub; o < n_other; o += W) v += q[o] * ll[s * step_s + o * step_o];
      } else if (sub == 0) {
        int preset[kMaxFactors] = {};
        preset[k] = s;
        for_joint(sp, m, 1u << k, preset, [&](std::int64_t j, const int* digit) {
          double x = ll[j];
          for (int r = nd - 1; r >= 0; --r)
            if (r != k) x *= w.q[sp.s_at[sp.deps[m][r]] + digit[r]];
          v += x;
        });
      }
    }
    return v;
  }

  // F = sum q ln q - sum q ln prior - sum_m E_q[ln A_m[o_m, .]].
  KOKKOS_INLINE_FUNCTION void free_energy(std::int64_t i, int lane, const Work& w) const {
    const Spec& sp = st.sp;
    double f_energy = 0;
    for (std::int64_t k = lane; k < sp.S; k += width) f_energy += xlogx(w.q[k]) - w.q[k] * w.lp[k];
    for (int g = 0; g < lp.groups; ++g) {
      const int m = lp.g_mods[g][0], nd = sp.ndeps[m];
      for (std::int64_t j = lane; j < sp.joint[m]; j += width) {
        double x = w.ll[lp.g_ll_at[g] + j];
        std::int64_t rest = j;
        for (int k = nd - 1; k >= 0; --k) {
          const int f = sp.deps[m][k];
          x *= w.q[sp.s_at[f] + rest % sp.Ns[f]];
          rest /= sp.Ns[f];
        }
        f_energy -= x;
      }
    }
    f_energy = warp_group_sum(f_energy, width);
    if (lane == 0 && w.active) st.vfe(i, st.slot) = f_energy;
  }

  // Each level's marginals of the shared factors (B of the level's control,
  // from the beliefs at the first level), and each group's w_t(j): their
  // product over the joint states of its shared dependencies (first slowest).
  KOKKOS_INLINE_FUNCTION void level_marginals(std::int64_t i, int lane, const Work& w) const {
    const Spec& sp = st.sp;
    const auto& tree = st.tree;
    if (lane == 0 && w.active) L(i, lp.one_at) = 1.0;
    for (int t = 0; t < sp.T; ++t) {
      const std::int64_t first = tree.level_at(t);
      double* to = w.sh + t * lp.sh_width;
      for (int f = 0; f < sp.F; ++f) {
        if (f == lp.own) continue;
        const int n = sp.Ns[f], u = tree.control(first, f);
        const double* bt = &st.p(sp.bt_at[f] + std::int64_t(u) * n * n);
        const double* from = t == 0 ? w.q + sp.s_at[f] : to - lp.sh_width + lp.sh_at[f];
        for (int next = lane; next < n; next += width) {
          double v = 0;
          for (int r = 0; r < n; ++r) v += bt[std::int64_t(r) * n + next] * from[r];
          to[lp.sh_at[f] + next] = v;
        }
      }
      warp_sync();
      for (int g = 0; g < lp.groups; ++g) {
        const int nsh = lp.g_nsh[g], jsh = lp.g_jsh[g];
        for (int j = lane; j < jsh; j += width) {
          double x = 1;
          int rest = j;
          for (int k = nsh - 1; k >= 0; --k) {
            const int f = lp.g_sh[g][k];
            x *= to[lp.sh_at[f] + rest % sp.Ns[f]];
            rest /= sp.Ns[f];
          }
          if (w.active) L(i, lp.g_w_at[g] + t * jsh + j) = x;
        }
      }
    }
  }

  // Act: `width` lanes per agent, as Infer: -G of every node along the
  // tree, q(pi) and the action.  L keeps agents fastest (Form and Terms
  // read and write it across agents), so an agent's nodes lie a row apart:
  // the team first copies its agents' nodes to scratch with consecutive
  // threads on consecutive agents (one sector for four agents, not one
  // each), and the lanes then work on the copy.
  // A row of act's scratch: the nodes, then the logits.
  KOKKOS_INLINE_FUNCTION std::int64_t act_width() const {
    return st.sp.N + st.sp.P;
  }
  KOKKOS_INLINE_FUNCTION std::size_t act_bytes() const {
    return std::size_t(team_agents()) * std::size_t(act_width()) * sizeof(double);
  }
  KOKKOS_INLINE_FUNCTION int act_level() const {
    return act_bytes() <= shared_cap ? 0 : 1;
  }
  auto act_policy(const Kokkos::DefaultExecutionSpace& space) const {
    using Teams = Kokkos::TeamPolicy<Kokkos::DefaultExecutionSpace, Act, Kokkos::IndexType<std::int64_t>>;
    Teams teams(space, (agents + team_agents() - 1) / team_agents(), team_threads(), 1);
    teams.set_scratch_size(act_level(), Kokkos::PerTeam(act_bytes()));
    return Kokkos::Experimental::require(teams, Kokkos::Experimental::WorkItemProperty::HintLightWeight);
  }

  KOKKOS_INLINE_FUNCTION void operator()(Act, const InferMember& team) const {
    const Spec& sp = st.sp;
    const int lane = team.team_rank() % width, slot = team.team_rank() / width, per_team = team_agents();
    const std::int64_t first_i = team.league_rank() * per_team, i = first_i + slot;
    auto* base = static_cast<double*>(team.team_scratch(act_level()).get_shmem(act_bytes()));
    for (std::int64_t k = team.team_rank(); k < per_team * sp.N; k += team.team_size()) {
      const std::int64_t a = k % per_team, node = k / per_team;
      if (first_i + a < agents) base[a * act_width() + node] = L(first_i + a, lp.nv_at + node);
    }
    team.team_barrier();
    double* nv = base + slot * act_width();
    double* pi = nv + sp.N;
    // Lanes without an agent (in the last team) take part in the butterflies only.
    const bool active = i < agents;
    // -G of a node: its parent's plus its own terms, level by level.
    for (int t = 1; t < sp.T; ++t) {
      for (std::int64_t node = st.tree.level_at(t) + lane; node < st.tree.level_at(t + 1) && active;
           node += width)
        nv[node] += nv[st.tree.parent(node)];
      warp_sync();
    }
    // q(pi) = softmax(gamma (-G) + ln E) from the leaves, its entropy and
    // its most probable policy.
    double mx = -1e300;
    for (std::int64_t k = lane; k < sp.P && active; k += width) {
      const double value = nv[st.tree.leaf(k)];
      st.neg_efe(i, k) = value;
      const double logit = sp.gamma * value + log_stable(st.p(sp.e_at + k));
      pi[k] = logit;
      mx = kmath::fmax(mx, logit);
    }
    mx = warp_group_max(mx, width);
    double sum = 0;
    for (std::int64_t k = lane; k < sp.P && active; k += width) {
      const double e = kmath::exp(pi[k] - mx);
      pi[k] = e;
      sum += e;
    }
    sum = warp_group_sum(sum, width);
    double h = 0, best_q = -1e300;
    std::int64_t best = sp.P;
    for (std::int64_t k = lane; k < sp.P && active; k += width) {
      const double q = pi[k] / sum;
      st.q_pi(i, k) = q;
      h -= xlogx(q);
      if (q > best_q) {
        best_q = q;
        best = k;
      }
    }
    h = warp_group_sum(h, width);
    warp_group_argmax(best_q, best, width);
    warp_sync();
    if (lane == 0 && active) {
      st.entropy_pi(i, st.slot) = h;
      st.choose(i, st.first_agent + i, best);
    }
  }
};

// The launches above pass the functor as a kernel argument, which Kokkos
// allows below 4 KiB together with its launch's own state; above that it
// would go through device memory, one more copy per launch.
static_assert(sizeof(AgentLanes) <= 3840, "AgentLanes: too large to travel as a kernel argument");

}  // namespace prism::policy
