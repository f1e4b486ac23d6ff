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
// process), sampled with Philox keyed by (seed, agent, step), so an agent's
// trajectory does not depend on which rank or thread runs it (draws 0-5:
// the factors' states, 6-13: the modalities' observations, 15: the action).
// One thread per agent; its working arrays are rows of [agent][...] views
// (scratch: log-likelihoods LL, ln q S, the rollout 2 S, joint weights).
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

namespace prism::policy {

inline constexpr int kMaxFactors = 6, kMaxModalities = 8;
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
  std::int64_t world_d_at[kMaxFactors] = {};  // the world's initial-state distribution
  std::int64_t e_at = 0, S = 0, LL = 0;       // E's offset; total states; total log-likelihood scratch
  std::int64_t max_joint = 0;                 // the largest joint of a modality
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

// The state of factor d in joint index j of modality m (first dependency slowest).
KOKKOS_INLINE_FUNCTION int state_of(Spec const& sp, int m, std::int64_t j, int k) {
  for (int i = sp.ndeps[m] - 1; i > k; --i) j /= sp.Ns[sp.deps[m][i]];
  return int(j % sp.Ns[sp.deps[m][k]]);
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

struct AgentStep {
  Spec sp;
  Params p;
  Policies policies;
  std::int64_t first_agent, step;
  std::uint64_t seed;
  // Per agent: beliefs q(s) and the prior of this step, scratch, the world's
  // state, observations, action; q(pi) and -G per policy.
  PerAgent qs, prior, scratch, q_pi, neg_efe;
  PerAgent qs_prev, learned;  // the last step's beliefs; learnt parameters (empty without learning)
  PerAgentInt world, obs, action;
  // Per agent and step: -G of the chosen policy, F of q(s), H[q(pi)], success.
  PerAgent chosen, vfe, entropy_pi, success;

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
  // prod_i q_{deps_i}(s_{deps_i}(j)) from the state vector `q` (a row of some view, offset s_at).
  template <class Row>
  KOKKOS_INLINE_FUNCTION double weight(Row const& q, std::int64_t base, int m, std::int64_t j,
                                       int skip) const {
    double w = 1;
    for (int k = sp.ndeps[m] - 1; k >= 0; --k) {
      const int d = sp.deps[m][k], n = sp.Ns[d];
      if (d != skip) w *= q(base + sp.s_at[d] + j % n);
      j /= n;
    }
    return w;
  }

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i) const {
    const std::int64_t agent = first_agent + i;
    // The world: its state at step 0 from D, else moved by the last action; then observations.
    for (int f = 0; f < sp.F; ++f) {
      const double u = uniform(seed, agent, step, std::uint32_t(f));
      int s;
      if (step == 0) {
        s = categorical(&p(sp.world_d_at[f]), sp.Ns[f], 1, u);
      } else {
        const int prev = world(i, f), a = action(i, f);
        s = categorical(&p(sp.b_at[f] + std::int64_t(prev) * sp.Nu[f] + a), sp.Ns[f],
                        std::int64_t(sp.Ns[f]) * sp.Nu[f], u);
      }
      world(i, f) = s;
    }
    for (int m = 0; m < sp.M; ++m) {
      std::int64_t j = 0;
      for (int k = 0; k < sp.ndeps[m]; ++k) j = j * sp.Ns[sp.deps[m][k]] + world(i, sp.deps[m][k]);
      const double u = uniform(seed, agent, step, 6 + std::uint32_t(m));
      obs(i, m) = categorical(&p(sp.a_at[m] + j), sp.No[m], sp.joint[m], u);
    }
    // The prior: D at step 0, else B(last action) q(s).
    for (int f = 0; f < sp.F; ++f)
      for (int s = 0; s < sp.Ns[f]; ++s) {
        double v = 0;
        if (step == 0)
          v = p(sp.d_at[f] + s);
        else
          for (int r = 0; r < sp.Ns[f]; ++r) v += B(i, f, s, r, action(i, f)) * qs(i, sp.s_at[f] + r);
        prior(i, sp.s_at[f] + s) = v;
      }
    infer_states(i);
    record_free_energy(i);
    evaluate_policies(i);
    // pymdp's online order: learning after policy inference, before the action.
    if (step > 0 && (sp.learn_A || sp.learn_B)) learn(i);
    choose(i, agent);
    for (std::int64_t s = 0; s < sp.S; ++s) qs_prev(i, s) = qs(i, s);
  }

  // pA_m += lr onehot(o_m) x prod q(s); pB_f += lr q_t(s') q_{t-1}(s) onehot(a_{t-1});
  // then A, B = the concentrations (clipped at eps) normalised over their first axis.
  KOKKOS_INLINE_FUNCTION void learn(std::int64_t i) const {
    auto q = Kokkos::subview(qs, i, Kokkos::ALL);
    if (sp.learn_A)
      for (int m = 0; m < sp.M; ++m) {
        const std::int64_t J = sp.joint[m];
        for (std::int64_t j = 0; j < J; ++j) {
          learned(i, sp.pa_at[m] + obs(i, m) * J + j) += sp.learning_rate * weight(q, 0, m, j, -1);
          double total = 0;
          for (int o = 0; o < sp.No[m]; ++o)
            total += kmath::fmax(learned(i, sp.pa_at[m] + o * J + j), kMinval);
          double h = 0;
          for (int o = 0; o < sp.No[m]; ++o) {
            const double a = kmath::fmax(learned(i, sp.pa_at[m] + o * J + j), kMinval) / total;
            learned(i, sp.la_at[m] + o * J + j) = a;
            h -= xlogx(a);
          }
          learned(i, sp.lha_at[m] + j) = h;
        }
      }
    if (sp.learn_B)
      for (int f = 0; f < sp.F; ++f) {
        const int n = sp.Ns[f], U = sp.Nu[f], a = action(i, f);
        for (int next = 0; next < n; ++next)
          for (int prev = 0; prev < n; ++prev)
            learned(i, sp.pb_at[f] + (std::int64_t(next) * n + prev) * U + a) +=
                sp.learning_rate * qs(i, sp.s_at[f] + next) * qs_prev(i, sp.s_at[f] + prev);
        for (int prev = 0; prev < n; ++prev)
          for (int u = 0; u < U; ++u) {
            double total = 0;
            for (int next = 0; next < n; ++next)
              total +=
                  kmath::fmax(learned(i, sp.pb_at[f] + (std::int64_t(next) * n + prev) * U + u), kMinval);
            for (int next = 0; next < n; ++next) {
              const std::int64_t k = (std::int64_t(next) * n + prev) * U + u;
              learned(i, sp.lb_at[f] + k) = kmath::fmax(learned(i, sp.pb_at[f] + k), kMinval) / total;
            }
          }
      }
  }

  // ln max(A_m[o_m, j], eps) into the scratch, per modality.
  KOKKOS_INLINE_FUNCTION void log_likelihoods(std::int64_t i) const {
    for (int m = 0; m < sp.M; ++m)
      for (std::int64_t j = 0; j < sp.joint[m]; ++j)
        scratch(i, sp.ll_at[m] + j) = log_stable(A(i, m, obs(i, m), j));
  }

  KOKKOS_INLINE_FUNCTION void softmax_into_qs(std::int64_t i, std::int64_t logq_at) const {
    for (int f = 0; f < sp.F; ++f) {
      double mx = scratch(i, logq_at + sp.s_at[f]);
      for (int s = 1; s < sp.Ns[f]; ++s) mx = kmath::fmax(mx, scratch(i, logq_at + sp.s_at[f] + s));
      double sum = 0;
      for (int s = 0; s < sp.Ns[f]; ++s) sum += kmath::exp(scratch(i, logq_at + sp.s_at[f] + s) - mx);
      for (int s = 0; s < sp.Ns[f]; ++s)
        qs(i, sp.s_at[f] + s) = kmath::exp(scratch(i, logq_at + sp.s_at[f] + s) - mx) / sum;
    }
  }

  KOKKOS_INLINE_FUNCTION void infer_states(std::int64_t i) const {
    log_likelihoods(i);
    const std::int64_t logq_at = sp.LL;  // scratch: ln q (S), then the rollout (2 S)
    if (sp.F == 1) {
      for (int s = 0; s < sp.Ns[0]; ++s) {
        double v = log_stable(prior(i, s));
        for (int m = 0; m < sp.M; ++m) v += scratch(i, sp.ll_at[m] + s);
        scratch(i, logq_at + s) = v;
      }
      softmax_into_qs(i, logq_at);
      return;
    }
    // Synchronous fixed-point iterations from uniform beliefs.
    for (int f = 0; f < sp.F; ++f)
      for (int s = 0; s < sp.Ns[f]; ++s) qs(i, sp.s_at[f] + s) = 1.0 / sp.Ns[f];
    const auto q = Kokkos::subview(qs, i, Kokkos::ALL);
    for (int it = 0; it < sp.num_iter; ++it) {
      for (int f = 0; f < sp.F; ++f)
        for (int s = 0; s < sp.Ns[f]; ++s)
          scratch(i, logq_at + sp.s_at[f] + s) = log_stable(prior(i, sp.s_at[f] + s));
      for (int m = 0; m < sp.M; ++m)
        for (int k = 0; k < sp.ndeps[m]; ++k) {
          const int f = sp.deps[m][k];
          for (std::int64_t j = 0; j < sp.joint[m]; ++j) {
            const double w = weight(q, 0, m, j, f);
            scratch(i, logq_at + sp.s_at[f] + state_of(sp, m, j, k)) += w * scratch(i, sp.ll_at[m] + j);
          }
        }
      softmax_into_qs(i, logq_at);
    }
  }

  // F = sum q ln q - sum q ln prior - sum_m E_q[ln A_m[o_m, .]].
  KOKKOS_INLINE_FUNCTION void record_free_energy(std::int64_t i) const {
    double f_energy = 0;
    for (std::int64_t s = 0; s < sp.S; ++s) {
      const double q = qs(i, s);
      f_energy += xlogx(q) - q * log_stable(prior(i, s));
    }
    auto q = Kokkos::subview(qs, i, Kokkos::ALL);
    for (int m = 0; m < sp.M; ++m)
      for (std::int64_t j = 0; j < sp.joint[m]; ++j)
        f_energy -= weight(q, 0, m, j, -1) * scratch(i, sp.ll_at[m] + j);
    vfe(i, step) = f_energy;
  }

  KOKKOS_INLINE_FUNCTION void evaluate_policies(std::int64_t i) const {
    auto row = Kokkos::subview(scratch, i, Kokkos::ALL);
    const std::int64_t cur = sp.LL + sp.S, next = cur + sp.S;
    double mx = -1e300;
    for (std::int64_t k = 0; k < sp.P; ++k) {
      for (std::int64_t s = 0; s < sp.S; ++s) row(cur + s) = qs(i, s);
      double value = 0;
      for (int t = 0; t < sp.T; ++t) {
        for (int f = 0; f < sp.F; ++f) {
          const int u = policies(k, t, f);
          for (int s = 0; s < sp.Ns[f]; ++s) {
            double v = 0;
            for (int r = 0; r < sp.Ns[f]; ++r) v += B(i, f, s, r, u) * row(cur + sp.s_at[f] + r);
            row(next + sp.s_at[f] + s) = v;
          }
        }
        for (int m = 0; m < sp.M; ++m) {
          // The predicted joint state's probabilities, once per modality and step.
          const std::int64_t w_at = sp.LL + 3 * sp.S;
          double h_expected = 0, h_outcomes = 0, utility = 0;
          for (std::int64_t j = 0; j < sp.joint[m]; ++j) {
            row(w_at + j) = weight(row, next, m, j, -1);
            h_expected += row(w_at + j) * HA(i, m, j);
          }
          for (int o = 0; o < sp.No[m]; ++o) {
            double qo = 0;
            for (std::int64_t j = 0; j < sp.joint[m]; ++j) qo += A(i, m, o, j) * row(w_at + j);
            h_outcomes -= xlogx(qo);
            utility += qo * p(sp.c_at[m] + o);
          }
          if (sp.use_info) value += h_outcomes - h_expected;
          if (sp.use_utility) value += utility;
        }
        for (std::int64_t s = 0; s < sp.S; ++s) row(cur + s) = row(next + s);
      }
      neg_efe(i, k) = value;
      const double logit = sp.gamma * value + log_stable(p(sp.e_at + k));
      q_pi(i, k) = logit;
      mx = logit > mx ? logit : mx;
    }
    double sum = 0;
    for (std::int64_t k = 0; k < sp.P; ++k) sum += kmath::exp(q_pi(i, k) - mx);
    double h = 0;
    for (std::int64_t k = 0; k < sp.P; ++k) {
      q_pi(i, k) = kmath::exp(q_pi(i, k) - mx) / sum;
      h -= xlogx(q_pi(i, k));
    }
    entropy_pi(i, step) = h;
  }

  KOKKOS_INLINE_FUNCTION void choose(std::int64_t i, std::int64_t agent) const {
    if (!sp.marginal) {
      std::int64_t best = 0;
      if (!sp.stochastic) {
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
      chosen(i, step) = neg_efe(i, best);
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
      chosen(i, step) = expected;  // marginal mode: E_q(pi)[-G]
    }
    success(i, step) =
        sp.success_modality >= 0 ? double(obs(i, sp.success_modality) == sp.success_outcome) : 0.0;
  }
};

}  // namespace prism::policy
