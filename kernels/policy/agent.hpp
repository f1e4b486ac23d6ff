#pragma once
// One step of a batch of active-inference agents on a discrete generative
// model, with pymdp 1.0's (JAX) conventions: every log is ln max(x, eps)
// with eps = 2^-52; state inference is exact for one hidden factor and a
// fixed number of synchronous mean-field (fixed-point) iterations from
// uniform beliefs for several; each policy is scored by its negative
// expected free energy -G = sum over its steps of the state information
// gain (entropy of the predicted outcomes minus the expected entropy of A)
// plus the expected utility (predicted outcomes . C), rolling the factor
// marginals forward without updating them; q(pi) = softmax(gamma (-G) +
// ln E); the action is the first step of the most probable (or a sampled)
// policy, or per factor the argmax (or a sample) of q(pi)'s marginal over
// first steps.  The world is the model's own A and B (the generative
// process) unless the model file gives it others, sampled with Philox keyed
// by (seed, agent, step), so an agent's trajectory does not depend on which
// rank or thread runs it (draws 0-5: the factors' states, 6-13: the
// modalities' observations, 15: the action).
// One team per agent.  The team's threads share each phase's independent
// items (states, joint states, outcomes, policy-tree nodes), and every sum
// is taken by one thread in a fixed order, so the bits do not depend on the
// team size (one thread on a host backend, a few warps on a GPU).  Policies
// are scored on their prefix tree: policies that begin with the same
// controls share the rollout and the -G terms of those steps, so each
// distinct prefix is evaluated once, level by level.  The agent's working
// arrays are rows of [agent][...] views (layout in Spec: log-likelihoods,
// ln q, and per tree node its factor marginals, predicted outcomes,
// expected ambiguity and accumulated -G).
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

namespace prism::policy {

inline constexpr int kMaxFactors = 6, kMaxModalities = 8;
// Nodes of one policy-tree tile: a warp's lanes read each element of B and
// of the contracted A once for this many nodes.
inline constexpr int kTile = 4;
inline constexpr int kLanes = warp_lanes<Kokkos::DefaultExecutionSpace>;
// Lanes that share one of n states' sums where n is below the `lanes` that
// work on them: the largest power of two W with W n <= lanes (1 on a host
// backend).
KOKKOS_INLINE_FUNCTION int lanes_per_state(int n, int lanes = kLanes) {
  int W = 1;
  while (2 * W * n <= lanes) W *= 2;
  return W;
}
// The largest team (threads per agent), and the team scratch a team may ask
// for (the 48 KB of shared memory a GPU block gets without opting in).
inline constexpr int kMaxTeam = 256;
inline constexpr std::int64_t kTeamScratchBytes = 48 * 1024;
// Teams of kMaxTeam threads per multiprocessor the registers must allow (0:
// no bound). Two caps the step at 128 registers a thread, just below what it
// asks for unbounded, so it does not spill and more warps fit; four forces
// spills to local memory (BENCHMARKS.md, policy).
#ifndef PRISM_POLICY_MIN_TEAMS
#define PRISM_POLICY_MIN_TEAMS 2
#endif
inline constexpr double kMinval = 2.220446049250313e-16;  // 2^-52, pymdp's MINVAL

// Sizes and offsets into one parameter vector (A, H[A], B, C, D, E) and
// into an agent's concatenated state vector.
struct Spec {
  int F = 0, M = 0, T = 1;  // factors, modalities, policy length
  std::int64_t P = 0;       // policies
  int Ns[kMaxFactors] = {}, Nu[kMaxFactors] = {}, No[kMaxModalities] = {};
  int ndeps[kMaxModalities] = {}, deps[kMaxModalities][kMaxFactors] = {};
  std::int64_t joint[kMaxModalities] = {};  // states of a modality's dependencies, jointly
  std::int64_t a_at[kMaxModalities] = {}, ha_at[kMaxModalities] = {}, c_at[kMaxModalities] = {};
  std::int64_t ll_at[kMaxModalities] = {};  // per-agent log-likelihood scratch
  std::int64_t b_at[kMaxFactors] = {}, d_at[kMaxFactors] = {}, s_at[kMaxFactors] = {};
  std::int64_t bt_at[kMaxFactors] = {};       // B transposed, [control][previous][next], for rollouts
  std::int64_t world_d_at[kMaxFactors] = {};  // the world's initial-state distribution
  // The world's transitions and likelihoods: B's and A's own offsets unless
  // the model file gives the world its own (/world_B<f>, /world_A<m>).
  std::int64_t world_b_at[kMaxFactors] = {}, world_a_at[kMaxModalities] = {};
  std::int64_t e_at = 0, S = 0, LL = 0;  // E's offset; total states; total log-likelihood scratch
  std::int64_t max_joint = 0;            // the largest joint of a modality
  // The policy tree: N nodes (distinct non-empty prefixes), level t (prefixes
  // of length t + 1) at nodes [level_at[t], level_at[t + 1]); outcomes of
  // modality m at o_at[m] of a node's O outcomes; scratch row offsets.
  std::int64_t N = 0, O = 0, o_at[kMaxModalities] = {};
  std::int64_t logq_at = 0, nq_at = 0, nqo_at = 0, nh_at = 0, nv_at = 0, row = 0;
  // Dirichlet learning of A and B (pymdp's rule): each agent's own A, H[A], B
  // and concentrations pA, pB, at these offsets of its row of `learned`.
  bool learn_A = false, learn_B = false;
  double learning_rate = 1.0;
  std::int64_t la_at[kMaxModalities] = {}, lha_at[kMaxModalities] = {}, pa_at[kMaxModalities] = {};
  std::int64_t lb_at[kMaxFactors] = {}, pb_at[kMaxFactors] = {};
  std::int64_t learned = 0;  // the row's length
  int num_iter = 16;
  double gamma = 1.0, alpha = 1.0;
  bool stochastic = false, marginal = false, use_utility = true, use_info = true;
  int success_modality = -1, success_outcome = 0;  // a task's "reward" observation, if any
};

using Params = Kokkos::View<double*>;
using Policies = Kokkos::View<int***, Kokkos::LayoutRight>;  // [policy][step][factor]
using PerAgent = Kokkos::View<double**, Kokkos::LayoutRight>;
using PerAgentInt = Kokkos::View<int**, Kokkos::LayoutRight>;

KOKKOS_INLINE_FUNCTION double log_stable(double x) {
  return kmath::log(x > kMinval ? x : kMinval);
}
KOKKOS_INLINE_FUNCTION double xlogx(double x) {
  return x == 0 ? 0.0 : x * log_stable(x);
}

// Index (0..n-1) drawn from weights w (need not sum to 1) at uniform u in [0, 1).
KOKKOS_INLINE_FUNCTION int categorical(const double* w, int n, std::int64_t stride, double u) {
  double total = 0;
  for (int k = 0; k < n; ++k) total += w[k * stride];
  double c = 0;
  for (int k = 0; k < n; ++k) {
    c += w[k * stride];
    if (u * total < c) return k;
  }
  return n - 1;
}

KOKKOS_INLINE_FUNCTION double uniform(std::uint64_t seed, std::int64_t agent, std::int64_t step,
                                      std::uint32_t what) {
  const auto d = rng::philox(seed, std::uint32_t(agent), std::uint32_t(agent >> 32),
                             std::uint32_t(step) << 4 | what, rng::policy_agents);
  return double(d.v[0]) * 0x1p-32;
}

// Visits the joint states j of modality m in ascending order, with the
// dependencies k whose bit is set in `fixed` held at preset[k] and the
// others running over all their states, calling fn(j, digits) with the
// states of its dependencies (first slowest).
template <class Fn>
KOKKOS_INLINE_FUNCTION void for_joint(Spec const& sp, int m, unsigned fixed, const int* preset, Fn&& fn) {
  const int nd = sp.ndeps[m];
  int digit[kMaxFactors] = {};
  std::int64_t stride[kMaxFactors] = {}, st = 1, j = 0;
  for (int k = nd - 1; k >= 0; --k) {
    stride[k] = st;
    st *= sp.Ns[sp.deps[m][k]];
    if (fixed >> k & 1u) {
      digit[k] = preset[k];
      j += digit[k] * stride[k];
    }
  }
  while (true) {
    fn(j, digit);
    int k = nd - 1;
    for (; k >= 0; --k) {
      if (fixed >> k & 1u) continue;
      if (++digit[k] < sp.Ns[sp.deps[m][k]]) {
        j += stride[k];
        break;
      }
      j -= stride[k] * (digit[k] - 1);
      digit[k] = 0;
    }
    if (k < 0) return;
  }
}

// Device views of the policy tree (built on the host by the workload).
struct PolicyTree {
  Kokkos::View<const int*> parent;                         // [node]: -1 for level 0 (parent: q(s))
  Kokkos::View<const int**, Kokkos::LayoutRight> control;  // [node][factor]: the control of its last step
  Kokkos::View<const int*> leaf;                           // [policy]: its node at the last level
  Kokkos::View<const std::int64_t*> level_at;              // [T + 1]
  // Per level, the factors whose marginal is the same at every node of the
  // level (bit f: every policy has given f the same controls so far); per
  // level and modality, the scratch offset of A and H[A] contracted over
  // those factors' marginals, [joint of the other dependencies][No + 1].
  Kokkos::View<const unsigned*> shared;                            // [T]
  Kokkos::View<const std::int64_t**, Kokkos::LayoutRight> ctr_at;  // [T][M + 1]
  // The tiled evaluation (AgentStep::score_tiles), where one factor `own` is
  // the only one whose marginal differs between the nodes of a level, at
  // every level, and B is the model's: per level, tiles of up to kTile nodes
  // with one control of `own`, at tile_at[t], their nodes in tile_node (-1
  // past a tile's end).  own = -1: the general evaluation.
  int own = -1;
  // With own >= 0: the largest level's contracted A and H[A], in doubles,
  // when they are kept in team scratch (0: in the agent's scratch row).
  std::int64_t ctr_scratch = 0;
  Kokkos::View<const std::int64_t*> tile_at;                 // [T + 1]
  Kokkos::View<const int**, Kokkos::LayoutRight> tile_node;  // [tile][kTile]
};

struct AgentStep {
  using Policy =
      Kokkos::TeamPolicy<Kokkos::DefaultExecutionSpace,
                         Kokkos::LaunchBounds<PRISM_POLICY_MIN_TEAMS ? kMaxTeam : 0, PRISM_POLICY_MIN_TEAMS>,
                         Kokkos::IndexType<std::int64_t>>;
  using Member = typename Policy::member_type;
  Spec sp;
  Params p;
  Policies policies;
  PolicyTree tree;
  Kokkos::View<const int**, Kokkos::LayoutRight>
      given;  // [step][modality]: replaces the world's draws if not empty
  std::int64_t first_agent, step;
  std::int64_t slot = 0;  // the step's column of chosen, vfe, entropy_pi, success
  std::uint64_t seed;
  // Per agent: beliefs q(s) and the prior of this step, scratch (Spec's
  // layout), the world's state, observations, action; q(pi) and -G per policy.
  PerAgent qs, prior, scratch, q_pi, neg_efe;
  PerAgent qs_prev, learned;  // the last step's beliefs; learnt parameters (empty without learning)
  PerAgentInt world, obs, action;
  // Per agent, for a window of steps (column slot): -G of the chosen policy,
  // F of q(s), H[q(pi)], success.
  PerAgent chosen, vfe, entropy_pi, success;

  // Teams: one thread on a host backend; on a GPU one warp when agents are
  // many (4096 and more), two from 256, eight below (the fastest of 32, 64,
  // 128 and 256 threads measured at 16 384, 1 024 and 1 agents on an H200,
  // docs/performance-notes.md). `team` > 0 overrides the choice (the deck's
  // policy.team_size); the results do not depend on it.
  // The tiled evaluation keeps in team scratch each warp's tile of node
  // marginals of the own factor and their parents' (2 kTile x Ns[own] per
  // warp), and the level's contracted A and H[A] where they fit.
  // Launched light-weight (the functor as a kernel argument, not copied to
  // constant memory behind a wait for the previous launch), so that steps
  // queue on the GPU without the host in between.
  auto policy(const Kokkos::DefaultExecutionSpace& space, std::int64_t agents, int team = 0) const {
    const int automatic = agents >= 4096 ? 32 : agents >= 256 ? 64 : 256;
    const int size = compat::kHostBackend ? 1 : team > 0 ? team : automatic;
    Policy pol(space, agents, size, 1);
    if (tree.own >= 0) pol.set_scratch_size(0, Kokkos::PerTeam(tile_scratch_bytes(size)));
    return Kokkos::Experimental::require(pol, Kokkos::Experimental::WorkItemProperty::HintLightWeight);
  }
  KOKKOS_INLINE_FUNCTION std::size_t tile_scratch_bytes(int team_size) const {
    const int warps = (team_size + kLanes - 1) / kLanes;
    if (tree.own < 0) return 0;
    return (std::size_t(warps) * 2 * kTile * std::size_t(sp.Ns[tree.own]) + std::size_t(tree.ctr_scratch)) *
           sizeof(double);
  }

  // The agent's model (its own copy when it learns); the world always uses p.
  KOKKOS_INLINE_FUNCTION double A(std::int64_t i, int m, int o, std::int64_t j) const {
    const std::int64_t k = o * sp.joint[m] + j;
    return sp.learn_A ? learned(i, sp.la_at[m] + k) : p(sp.a_at[m] + k);
  }
  KOKKOS_INLINE_FUNCTION double HA(std::int64_t i, int m, std::int64_t j) const {
    return sp.learn_A ? learned(i, sp.lha_at[m] + j) : p(sp.ha_at[m] + j);
  }
  KOKKOS_INLINE_FUNCTION double B(std::int64_t i, int f, int next, int prev, int u) const {
    const std::int64_t k = (std::int64_t(next) * sp.Ns[f] + prev) * sp.Nu[f] + u;
    return sp.learn_B ? learned(i, sp.lb_at[f] + k) : p(sp.b_at[f] + k);
  }
  // Which dependencies k of modality m belong to the factor set `factors` (bit f).
  KOKKOS_INLINE_FUNCTION unsigned dep_mask(int m, unsigned factors) const {
    unsigned mask = 0;
    for (int k = 0; k < sp.ndeps[m]; ++k)
      if (factors >> sp.deps[m][k] & 1u) mask |= 1u << k;
    return mask;
  }
  // prod over the dependencies k of modality m in `deps_mask` (last first) of
  // q(base + s_at[d] + state), for the dependency states `digit`.
  template <class Row>
  KOKKOS_INLINE_FUNCTION double weight(Row const& q, std::int64_t base, int m, const int* digit,
                                       unsigned deps_mask) const {
    double w = 1;
    for (int k = sp.ndeps[m] - 1; k >= 0; --k)
      if (deps_mask >> k & 1u) w *= q(base + sp.s_at[sp.deps[m][k]] + digit[k]);
    return w;
  }
  // The factor of state index s of the concatenated state vector.
  KOKKOS_INLINE_FUNCTION int factor_of(std::int64_t s) const {
    int f = 0;
    while (f + 1 < sp.F && s >= sp.s_at[f + 1]) ++f;
    return f;
  }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const std::int64_t i = team.league_rank(), agent = first_agent + i;
    Kokkos::single(Kokkos::PerTeam(team), [&]() { sample_world(i, agent); });
    team.team_barrier();
    // The prior: D at step 0, else B(last action) q(s); and ln A_m[o_m, .].
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, sp.S), [&](const std::int64_t k) {
      const int f = factor_of(k), s = int(k - sp.s_at[f]);
      double v = 0;
      if (step == 0)
        v = p(sp.d_at[f] + s);
      else
        for (int r = 0; r < sp.Ns[f]; ++r) v += B(i, f, s, r, action(i, f)) * qs(i, sp.s_at[f] + r);
      prior(i, k) = v;
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, sp.LL), [&](const std::int64_t k) {
      int m = 0;
      while (m + 1 < sp.M && k >= sp.ll_at[m + 1]) ++m;
      scratch(i, k) = log_stable(A(i, m, obs(i, m), k - sp.ll_at[m]));
    });
    team.team_barrier();
    infer_states(team, i);
    record_free_energy(team, i);
    evaluate_policies(team, i);
    // pymdp's online order: learning after policy inference, before the action.
    if (step > 0 && (sp.learn_A || sp.learn_B)) learn(team, i);
    Kokkos::single(Kokkos::PerTeam(team), [&]() { choose(i, agent); });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, sp.S),
                         [&](const std::int64_t s) { qs_prev(i, s) = qs(i, s); });
  }

  // The world's draws, shared by this team kernel and the lane one so that
  // both draw the same: factor f's next-state weights (D at step 0, else B's
  // column at the world's state and the last action), `stride` apart, and
  // modality m's outcome weights at joint state j of its dependencies
  // (stride joint[m]); the joint state from the dependencies' states
  // (state(f), first slowest); the uniforms of the draws.
  KOKKOS_INLINE_FUNCTION const double* world_state_weights(std::int64_t i, int f,
                                                           std::int64_t& stride) const {
    if (step == 0) {
      stride = 1;
      return &p(sp.world_d_at[f]);
    }
    stride = std::int64_t(sp.Ns[f]) * sp.Nu[f];
    return &p(sp.world_b_at[f] + std::int64_t(world(i, f)) * sp.Nu[f] + action(i, f));
  }
  KOKKOS_INLINE_FUNCTION const double* world_outcome_weights(int m, std::int64_t j) const {
    return &p(sp.world_a_at[m] + j);
  }
  template <class State>
  KOKKOS_INLINE_FUNCTION std::int64_t world_joint(int m, State&& state) const {
    std::int64_t j = 0;
    for (int k = 0; k < sp.ndeps[m]; ++k) j = j * sp.Ns[sp.deps[m][k]] + std::int64_t(state(sp.deps[m][k]));
    return j;
  }
  KOKKOS_INLINE_FUNCTION double state_uniform(std::int64_t agent, int f) const {
    return uniform(seed, agent, step, std::uint32_t(f));
  }
  KOKKOS_INLINE_FUNCTION double outcome_uniform(std::int64_t agent, int m) const {
    return uniform(seed, agent, step, 6 + std::uint32_t(m));
  }

  // The world: its state at step 0 from D, else moved by the last action; then observations.
  KOKKOS_INLINE_FUNCTION void sample_world(std::int64_t i, std::int64_t agent) const {
    for (int f = 0; f < sp.F; ++f) {
      std::int64_t stride = 1;
      const double* w = world_state_weights(i, f, stride);
      world(i, f) = categorical(w, sp.Ns[f], stride, state_uniform(agent, f));
    }
    for (int m = 0; m < sp.M; ++m) {
      const std::int64_t j = world_joint(m, [&](int f) { return world(i, f); });
      obs(i, m) = given.extent(0) > 0 ? given(step, m)
                                      : categorical(world_outcome_weights(m, j), sp.No[m], sp.joint[m],
                                                    outcome_uniform(agent, m));
    }
  }

  // pA_m += lr onehot(o_m) x prod q(s); pB_f += lr q_t(s') q_{t-1}(s) onehot(a_{t-1});
  // then A, B = the concentrations (clipped at eps) normalised over their first axis.
  KOKKOS_INLINE_FUNCTION void learn(const Member& team, std::int64_t i) const {
    auto q = Kokkos::subview(qs, i, Kokkos::ALL);
    for (int m = 0; m < sp.M && sp.learn_A; ++m) {
      const std::int64_t J = sp.joint[m];
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, J), [&](const std::int64_t j) {
        int digit[kMaxFactors];
        for (std::int64_t r = j, k = sp.ndeps[m] - 1; k >= 0; --k) {
          digit[k] = int(r % sp.Ns[sp.deps[m][k]]);
          r /= sp.Ns[sp.deps[m][k]];
        }
        learned(i, sp.pa_at[m] + obs(i, m) * J + j) += sp.learning_rate * weight(q, 0, m, digit, ~0u);
        double total = 0;
        for (int o = 0; o < sp.No[m]; ++o) total += kmath::fmax(learned(i, sp.pa_at[m] + o * J + j), kMinval);
        double h = 0;
        for (int o = 0; o < sp.No[m]; ++o) {
          const double a = kmath::fmax(learned(i, sp.pa_at[m] + o * J + j), kMinval) / total;
          learned(i, sp.la_at[m] + o * J + j) = a;
          h -= xlogx(a);
        }
        learned(i, sp.lha_at[m] + j) = h;
      });
    }
    for (int f = 0; f < sp.F && sp.learn_B; ++f) {
      const int n = sp.Ns[f], U = sp.Nu[f], a = action(i, f);
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, n), [&](const int prev) {
        for (int next = 0; next < n; ++next)
          learned(i, sp.pb_at[f] + (std::int64_t(next) * n + prev) * U + a) +=
              sp.learning_rate * qs(i, sp.s_at[f] + next) * qs_prev(i, sp.s_at[f] + prev);
        for (int u = 0; u < U; ++u) {
          double total = 0;
          for (int next = 0; next < n; ++next)
            total += kmath::fmax(learned(i, sp.pb_at[f] + (std::int64_t(next) * n + prev) * U + u), kMinval);
          for (int next = 0; next < n; ++next) {
            const std::int64_t k = (std::int64_t(next) * n + prev) * U + u;
            learned(i, sp.lb_at[f] + k) = kmath::fmax(learned(i, sp.pb_at[f] + k), kMinval) / total;
          }
        }
      });
    }
    team.team_barrier();
  }

  // q(s) = softmax of ln q in the scratch, per factor: one warp per factor,
  // its lanes sharing the states; the maximum and the sum are each lane's in
  // state order, then combined across the lanes (warp_max, warp_sum), so the
  // bits depend on the backend only, not on the team size (on a host
  // backend, one thread in state order).
  KOKKOS_INLINE_FUNCTION void softmax_into_qs(const Member& team, std::int64_t i) const {
    const int lane = team.team_rank() % kLanes, warp = team.team_rank() / kLanes;
    const int warps = (team.team_size() + kLanes - 1) / kLanes;
    for (int f = warp; f < sp.F; f += warps) {
      const std::int64_t at = sp.logq_at + sp.s_at[f];
      double mx = -1e300;
      for (int s = lane; s < sp.Ns[f]; s += kLanes) mx = kmath::fmax(mx, scratch(i, at + s));
      mx = warp_max(mx);
      double sum = 0;
      for (int s = lane; s < sp.Ns[f]; s += kLanes) {
        const double e = kmath::exp(scratch(i, at + s) - mx);
        scratch(i, at + s) = e;
        sum += e;
      }
      sum = warp_sum(sum);
      for (int s = lane; s < sp.Ns[f]; s += kLanes) qs(i, sp.s_at[f] + s) = scratch(i, at + s) / sum;
    }
    team.team_barrier();
  }

  KOKKOS_INLINE_FUNCTION void infer_states(const Member& team, std::int64_t i) const {
    const std::int64_t at = sp.logq_at;
    if (sp.F == 1) {
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, sp.Ns[0]), [&](const int s) {
        double v = log_stable(prior(i, s));
        for (int m = 0; m < sp.M; ++m) v += scratch(i, sp.ll_at[m] + s);
        scratch(i, at + s) = v;
      });
      team.team_barrier();
      softmax_into_qs(team, i);
      return;
    }
    // Synchronous fixed-point iterations from uniform beliefs: ln q_f(s) =
    // ln prior_f(s) + sum over the modalities on f of E_{q of the others}[ln A].
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, sp.S), [&](const std::int64_t k) {
      const int f = factor_of(k);
      qs(i, k) = 1.0 / sp.Ns[f];
    });
    team.team_barrier();
    const auto q = Kokkos::subview(qs, i, Kokkos::ALL);
    // One warp per factor; where the factor has fewer states than the warp
    // has lanes, W lanes share a state's sums over the other factor's states
    // (lane sub takes every W-th), combined by a butterfly within the group.
    // On a host backend (W = 1) the terms are added in the general walk's order.
    const int lane = team.team_rank() % kLanes, warp = team.team_rank() / kLanes;
    const int warps = (team.team_size() + kLanes - 1) / kLanes;
    for (int it = 0; it < sp.num_iter; ++it) {
      for (int f = warp; f < sp.F; f += warps) {
        const int n = sp.Ns[f], W = lanes_per_state(n);
        const int sub = lane % W, per_pass = kLanes / W;
        for (int s0 = 0; s0 < n; s0 += per_pass) {
          const int s = s0 + lane / W;
          double v = 0;
          if (s < n) {
            if (sub == 0) v = log_stable(prior(i, sp.s_at[f] + s));
            for (int m = 0; m < sp.M; ++m)
              for (int k = 0; k < sp.ndeps[m]; ++k) {
                if (sp.deps[m][k] != f) continue;
                if (sp.ndeps[m] == 2) {
                  // Two dependencies: the other's states in order, the same
                  // terms as the general walk below without its bookkeeping.
                  const int other = sp.deps[m][1 - k], n_other = sp.Ns[other];
                  const std::int64_t step_s = k == 0 ? n_other : 1, step_o = k == 0 ? 1 : n;
                  const std::int64_t at_ll = sp.ll_at[m] + s * step_s, at_q = sp.s_at[other];
                  for (int o = sub; o < n_other; o += W) v += q(at_q + o) * scratch(i, at_ll + o * step_o);
                  continue;
                }
                if (sub != 0) continue;
                int preset[kMaxFactors] = {};
                preset[k] = s;
                for_joint(sp, m, 1u << k, preset, [&](std::int64_t j, const int* digit) {
                  v += weight(q, 0, m, digit, ~(1u << k)) * scratch(i, sp.ll_at[m] + j);
                });
              }
          }
          v = warp_group_sum(v, W);
          if (s < n && sub == 0) scratch(i, at + sp.s_at[f] + s) = v;
        }
      }
      team.team_barrier();
      softmax_into_qs(team, i);
    }
  }

  // F = sum q ln q - sum q ln prior - sum_m E_q[ln A_m[o_m, .]]: the
  // first warp's lanes share the terms (each lane's in order, then
  // warp_sum; one thread in order on a host backend).
  KOKKOS_INLINE_FUNCTION void record_free_energy(const Member& team, std::int64_t i) const {
    if (team.team_rank() >= kLanes) return;
    const int lane = team.team_rank();
    auto q = Kokkos::subview(qs, i, Kokkos::ALL);
    double f_energy = 0;
    for (std::int64_t s = lane; s < sp.S; s += kLanes) {
      const double qv = qs(i, s);
      f_energy += xlogx(qv) - qv * log_stable(prior(i, s));
    }
    for (std::int64_t k = lane; k < sp.LL; k += kLanes) {
      int m = 0;
      while (m + 1 < sp.M && k >= sp.ll_at[m + 1]) ++m;
      int digit[kMaxFactors];
      for (int r = int(k - sp.ll_at[m]), d = sp.ndeps[m] - 1; d >= 0; --d) {
        digit[d] = r % sp.Ns[sp.deps[m][d]];
        r /= sp.Ns[sp.deps[m][d]];
      }
      f_energy -= weight(q, 0, m, digit, ~0u) * scratch(i, k);
    }
    f_energy = warp_sum(f_energy);
    if (lane == 0) vfe(i, slot) = f_energy;
  }

  // The tiled evaluation of level t (PolicyTree::own >= 0): each warp takes
  // one tile of nodes at a time.  Its lanes share the own factor's next
  // states, rolling every node of the tile out from its parent's marginal
  // with B of the tile's one control (each element of B read once for the
  // tile), then the tile's predicted outcomes and expected ambiguities from
  // the level's contracted A and H[A] (each element read once for the tile).
  // The lanes' terms of -G are summed by warp_sum, so a node's bits depend
  // on the backend only, not on the team size or the tile's other nodes.
  // `tiles`: the team's scratch (2 kTile marginals of the own factor per
  // warp); `ctr`: the level's contracted A and H[A] (modality m at
  // ctr_at(t, m) - ctr_at(t, 0)).
  KOKKOS_INLINE_FUNCTION void score_tiles(const Member& team, std::int64_t i, int t, double* tiles,
                                          const double* ctr) const {
    auto row = Kokkos::subview(scratch, i, Kokkos::ALL);
    const int c = tree.own, nc = sp.Ns[c];
    const std::int64_t S = sp.S, G = sp.O + sp.M, sc = sp.s_at[c];
    const int lane = team.team_rank() % kLanes, warp = team.team_rank() / kLanes;
    const int warps = (team.team_size() + kLanes - 1) / kLanes;
    double* q = tiles + std::int64_t(warp) * 2 * kTile * nc;
    double* from = q + kTile * nc;   // the parents' marginals, read by every lane
    const bool keep = t + 1 < sp.T;  // the last level's marginals are not needed again
    for (std::int64_t tile = tree.tile_at(t) + warp; tile < tree.tile_at(t + 1); tile += warps) {
      int node[kTile];
      for (int k = 0; k < kTile; ++k) {
        const int n = tree.tile_node(tile, k);
        node[k] = n;
        const int parent = tree.parent(n < 0 ? tree.tile_node(tile, 0) : n);
        const double* src = parent < 0 ? &qs(i, sc) : &row(sp.nq_at + parent * S + sc);
        for (int x = lane; x < nc; x += kLanes) from[k * nc + x] = src[x];
      }
      warp_sync();
      const int u = tree.control(node[0], c);
      const double* bt = &p(sp.bt_at[c] + std::int64_t(u) * nc * nc);
      for (int x0 = 0; x0 < nc; x0 += kLanes) {
        const int next = x0 + lane;
        if (next >= nc) break;
        double v[kTile] = {};
        for (int r = 0; r < nc; ++r) {
          const double b = bt[std::int64_t(r) * nc + next];
          for (int k = 0; k < kTile; ++k) v[k] += b * from[k * nc + r];
        }
        for (int k = 0; k < kTile; ++k) {
          q[k * nc + next] = v[k];
          if (keep && node[k] >= 0) row(sp.nq_at + node[k] * S + sc + next) = v[k];
        }
      }
      warp_sync();
      // Lane g: outcome g of the concatenated modalities (g < O), or modality
      // g - O's expected ambiguity; its terms of -G, summed over the lanes.
      double part[kTile] = {};
      for (std::int64_t g0 = 0; g0 < G; g0 += kLanes) {
        const std::int64_t g = g0 + lane;
        if (g >= G) break;
        int m = 0, r = 0;
        if (g < sp.O) {
          while (m + 1 < sp.M && g >= sp.o_at[m + 1]) ++m;
          r = int(g - sp.o_at[m]);
        } else {
          m = int(g - sp.O);
          r = sp.No[m];
        }
        const std::int64_t width = sp.No[m] + 1;
        const double* a = ctr + (tree.ctr_at(t, m) - tree.ctr_at(t, 0)) + r;
        double v[kTile] = {};
        if (dep_mask(m, 1u << c) != 0) {
          for (int x = 0; x < nc; ++x) {
            const double ax = a[x * width];
            for (int k = 0; k < kTile; ++k) v[k] += ax * q[k * nc + x];
          }
        } else {
          for (int k = 0; k < kTile; ++k) v[k] = a[0];
        }
        for (int k = 0; k < kTile; ++k) {
          if (g < sp.O) {
            if (sp.use_info) part[k] -= xlogx(v[k]);
            if (sp.use_utility) part[k] += v[k] * p(sp.c_at[m] + r);
          } else if (sp.use_info) {
            part[k] -= v[k];
          }
        }
      }
      for (int k = 0; k < kTile; ++k) {
        const double total = warp_sum(part[k]);
        if (lane == 0 && node[k] >= 0) {
          const int parent = tree.parent(node[k]);
          row(sp.nv_at + node[k]) = (parent < 0 ? 0.0 : row(sp.nv_at + parent)) + total;
        }
      }
      warp_sync();
    }
  }

  // -G of every tree node, level by level: the node's factor marginals (B of
  // its control times its parent's), its predicted outcomes and expected
  // ambiguity per modality, then -G = the parent's + this step's info gain
  // and utility; q(pi) from the leaves.
  KOKKOS_INLINE_FUNCTION void evaluate_policies(const Member& team, std::int64_t i) const {
    auto row = Kokkos::subview(scratch, i, Kokkos::ALL);
    const std::int64_t S = sp.S, O = sp.O, M = sp.M;
    double* tiles =
        tree.own < 0
            ? nullptr
            : static_cast<double*>(team.team_shmem().get_shmem(tile_scratch_bytes(team.team_size())));
    // The tiled evaluation's contracted A and H[A]: in team scratch after the
    // tiles where they fit, else in the scratch row.
    double* ctr_shared = tree.ctr_scratch > 0
                             ? tiles + (team.team_size() + kLanes - 1) / kLanes * 2 * kTile * sp.Ns[tree.own]
                             : nullptr;
    for (int t = 0; t < sp.T; ++t) {
      const std::int64_t first = tree.level_at(t), count = tree.level_at(t + 1) - first;
      // The tiled evaluation rolls out only the shared factors here, at the
      // level's first node (they are the same at every node of the level).
      const bool tiled = tree.own >= 0;
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tiled ? S : count * S), [&](const std::int64_t k) {
        // 32-bit division: a 64-bit one costs a GPU tens of instructions per item.
        const std::int64_t n = first + int(k) / int(S), s = int(k) % int(S);
        const int f = factor_of(s), u = tree.control(n, f), parent = tree.parent(n), ns = sp.Ns[f];
        if (f == tree.own) return;
        const int next = int(s - sp.s_at[f]);
        // The parent's marginal of f (q(s) itself at the first level), and
        // B[next][.][u] with neighbouring `next` at neighbouring addresses.
        const double* from = parent < 0 ? &qs(i, sp.s_at[f]) : &row(sp.nq_at + parent * S + sp.s_at[f]);
        double v = 0;
        if (sp.learn_B) {
          for (int r = 0; r < ns; ++r) v += B(i, f, next, r, u) * from[r];
        } else {
          const double* bt = &p(sp.bt_at[f] + std::int64_t(u) * ns * ns + next);
          for (int r = 0; r < ns; ++r) v += bt[std::int64_t(r) * ns] * from[r];
        }
        row(sp.nq_at + n * S + s) = v;
      });
      team.team_barrier();
      // A_m and H[A_m] contracted over the level's shared factors (the same
      // marginals at every node: those of its first node).
      const unsigned shared = tree.shared(t);
      const std::int64_t c0 = tree.ctr_at(t, 0);
      double* ctr = ctr_shared ? ctr_shared : &row(c0);
      // One item per modality and joint state jn of its own dependencies,
      // each computing its No[m] + 1 rows (r = No[m]: H[A]).
      std::int64_t items = 0;
      for (int m = 0; m < sp.M; ++m) items += (tree.ctr_at(t, m + 1) - tree.ctr_at(t, m)) / (sp.No[m] + 1);
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, items), [&](const std::int64_t k) {
        int m = 0;
        std::int64_t jn_item = k;
        for (;; ++m) {
          const std::int64_t here = (tree.ctr_at(t, m + 1) - tree.ctr_at(t, m)) / (sp.No[m] + 1);
          if (jn_item < here) break;
          jn_item -= here;
        }
        const int width = sp.No[m] + 1;
        double* out = ctr + (tree.ctr_at(t, m) - c0) + jn_item * width;
        int jn = int(jn_item);
        const unsigned own = dep_mask(m, ~shared), common = dep_mask(m, shared);
        int preset[kMaxFactors] = {};
        for (int d = sp.ndeps[m] - 1; d >= 0; --d)
          if (own >> d & 1u) {
            preset[d] = jn % sp.Ns[sp.deps[m][d]];
            jn /= sp.Ns[sp.deps[m][d]];
          }
        const std::int64_t base = sp.nq_at + first * S;
        if (common != 0 && (common & (common - 1)) == 0) {
          // One shared dependency: its states in order, the own ones fixed;
          // the same terms in the same order as the general walk below.
          std::int64_t j0 = 0, stride = 1, step_c = 0;
          int dc = 0;
          for (int d = sp.ndeps[m] - 1; d >= 0; --d) {
            if (common >> d & 1u) {
              dc = d;
              step_c = stride;
            } else {
              j0 += preset[d] * stride;
            }
            stride *= sp.Ns[sp.deps[m][d]];
          }
          const int fc = sp.deps[m][dc];
          const double* q = &row(base + sp.s_at[fc]);
          for (int r = 0; r < width; ++r) {
            double v = 0;
            for (int x = 0; x < sp.Ns[fc]; ++x) {
              const std::int64_t j = j0 + x * step_c;
              v += (r < sp.No[m] ? A(i, m, r, j) : HA(i, m, j)) * q[x];
            }
            out[r] = v;
          }
        } else {
          for (int r = 0; r < width; ++r) {
            double v = 0;
            for_joint(sp, m, own, preset, [&](std::int64_t j, const int* digit) {
              v += (r < sp.No[m] ? A(i, m, r, j) : HA(i, m, j)) * weight(row, base, m, digit, common);
            });
            out[r] = v;
          }
        }
      });
      team.team_barrier();
      if (tiled) {
        score_tiles(team, i, t, tiles, ctr);
        team.team_barrier();
        continue;
      }
      // Per node and modality: No[m] predicted outcomes and one expected ambiguity.
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, count * (O + M)), [&](const std::int64_t k) {
        const std::int64_t n = first + int(k) / int(O + M), r0 = int(k) % int(O + M);
        int m = 0;
        std::int64_t r = r0;
        if (r0 < O) {
          while (m + 1 < sp.M && r0 >= sp.o_at[m + 1]) ++m;
          r = r0 - sp.o_at[m];
        } else {
          m = int(r0 - O);
          r = sp.No[m];
        }
        const unsigned own = dep_mask(m, ~shared);
        const std::int64_t base = sp.nq_at + n * S, c = tree.ctr_at(t, m), width = sp.No[m] + 1;
        double v = 0;
        if ((own & (own - 1)) == 0) {
          // At most one own dependency: a dot product over its states, the
          // same terms in the same order as the general walk below.
          if (own == 0) {
            v += row(c + r) * 1.0;
          } else {
            int d = 0;
            while (!(own >> d & 1u)) ++d;
            const int f = sp.deps[m][d];
            const double *a = &row(c + r), *q = &row(base + sp.s_at[f]);
            for (int x = 0; x < sp.Ns[f]; ++x) v += a[x * width] * q[x];
          }
        } else {
          std::int64_t jn = 0;  // the visits run through the own dependencies' joint states in order
          const int zeros[kMaxFactors] = {};
          for_joint(sp, m, dep_mask(m, shared), zeros, [&](std::int64_t, const int* digit) {
            v += row(c + jn * width + r) * weight(row, base, m, digit, own);
            ++jn;
          });
        }
        if (r0 < O)
          row(sp.nqo_at + n * O + r0) = v;
        else
          row(sp.nh_at + n * M + m) = v;
      });
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, count), [&](const std::int64_t k) {
        const std::int64_t n = first + k;
        const int parent = tree.parent(n);
        double value = parent < 0 ? 0.0 : row(sp.nv_at + parent);
        for (int m = 0; m < sp.M; ++m) {
          double h_outcomes = 0, utility = 0;
          for (int o = 0; o < sp.No[m]; ++o) {
            const double qo = row(sp.nqo_at + n * O + sp.o_at[m] + o);
            h_outcomes -= xlogx(qo);
            utility += qo * p(sp.c_at[m] + o);
          }
          if (sp.use_info) value += h_outcomes - row(sp.nh_at + n * M + m);
          if (sp.use_utility) value += utility;
        }
        row(sp.nv_at + n) = value;
      });
      team.team_barrier();
    }
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, sp.P), [&](const std::int64_t k) {
      const double value = row(sp.nv_at + tree.leaf(k));
      neg_efe(i, k) = value;
      q_pi(i, k) = sp.gamma * value + log_stable(p(sp.e_at + k));
    });
    team.team_barrier();
    // q(pi) = softmax and its entropy, on the first warp: each lane's
    // policies in order, then combined across the lanes (one thread in
    // policy order on a host backend).
    if (team.team_rank() < kLanes) {
      const int lane = team.team_rank();
      double mx = -1e300;
      for (std::int64_t k = lane; k < sp.P; k += kLanes) mx = kmath::fmax(mx, q_pi(i, k));
      mx = warp_max(mx);
      double sum = 0;
      for (std::int64_t k = lane; k < sp.P; k += kLanes) {
        const double e = kmath::exp(q_pi(i, k) - mx);
        q_pi(i, k) = e;
        sum += e;
      }
      sum = warp_sum(sum);
      double h = 0;
      for (std::int64_t k = lane; k < sp.P; k += kLanes) {
        const double qk = q_pi(i, k) / sum;
        q_pi(i, k) = qk;
        h -= xlogx(qk);
      }
      h = warp_sum(h);
      if (lane == 0) entropy_pi(i, slot) = h;
    }
    team.team_barrier();
  }

  // `argmax`: the most probable policy (the first of equals), where the
  // caller has it already.
  KOKKOS_INLINE_FUNCTION void choose(std::int64_t i, std::int64_t agent, std::int64_t argmax = -1) const {
    if (!sp.marginal) {
      std::int64_t best = 0;
      if (!sp.stochastic && argmax >= 0) {
        best = argmax;
      } else if (!sp.stochastic) {
        for (std::int64_t k = 1; k < sp.P; ++k)
          if (q_pi(i, k) > q_pi(i, best)) best = k;
      } else {
        // k with probability q_pi^alpha / sum q_pi^alpha.
        double mx = -1e300;
        for (std::int64_t k = 0; k < sp.P; ++k) mx = kmath::fmax(mx, sp.alpha * log_stable(q_pi(i, k)));
        double total = 0;
        for (std::int64_t k = 0; k < sp.P; ++k) total += kmath::exp(sp.alpha * log_stable(q_pi(i, k)) - mx);
        const double u = uniform(seed, agent, step, 15) * total;
        double c = 0;
        best = sp.P - 1;
        for (std::int64_t k = 0; k < sp.P; ++k) {
          c += kmath::exp(sp.alpha * log_stable(q_pi(i, k)) - mx);
          if (u < c) {
            best = k;
            break;
          }
        }
      }
      for (int f = 0; f < sp.F; ++f) action(i, f) = policies(best, 0, f);
      chosen(i, slot) = neg_efe(i, best);
    } else {
      double expected = 0;
      for (int f = 0; f < sp.F; ++f) {
        double marg[64];
        const int n = sp.Nu[f] < 64 ? sp.Nu[f] : 64;
        for (int a = 0; a < n; ++a) marg[a] = 0;
        for (std::int64_t k = 0; k < sp.P; ++k) marg[policies(k, 0, f)] += q_pi(i, k);
        int best = 0;
        if (!sp.stochastic) {
          for (int a = 1; a < n; ++a)
            if (marg[a] > marg[best]) best = a;
        } else {
          for (int a = 0; a < n; ++a) marg[a] = kmath::pow(marg[a] > kMinval ? marg[a] : kMinval, sp.alpha);
          best = categorical(marg, n, 1, uniform(seed, agent, step, 15));
        }
        action(i, f) = best;
      }
      for (std::int64_t k = 0; k < sp.P; ++k) expected += q_pi(i, k) * neg_efe(i, k);
      chosen(i, slot) = expected;  // marginal mode: E_q(pi)[-G]
    }
    success(i, slot) =
        sp.success_modality >= 0 ? double(obs(i, sp.success_modality) == sp.success_outcome) : 0.0;
  }
};

}  // namespace prism::policy
