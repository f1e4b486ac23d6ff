#include "policy/gaussian.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "core/deck.hpp"
#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "kernels/policy/gaussian.hpp"
#include "policy/agent_rows.hpp"

namespace prism::policy {

namespace {
// Why a symmetric matrix is unusable as a covariance, or "".
std::string covariance_problem(const std::vector<double>& S, int n) {
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j) {
      const double a = S[i * n + j], b = S[j * n + i];
      if (std::fabs(a - b) > 1e-12 * std::max({std::fabs(a), std::fabs(b), 1e-300}))
        return "must be symmetric: entry [" + std::to_string(i) + "][" + std::to_string(j) + "] is " +
               std::to_string(a) + ", [" + std::to_string(j) + "][" + std::to_string(i) + "] is " +
               std::to_string(b);
    }
  std::vector<double> L(S.size());
  if (!std::isfinite(gauss::cholesky(S.data(), L.data(), n)))
    return "must be positive definite (its Cholesky factorisation fails)";
  return "";
}

}  // namespace

std::pair<std::string, std::string> first_problem(const GaussConfig& c) {
  const int n = c.n, k = c.k, d = c.d;
  if (n < 1 || k < 1 || d < 1 || n > kMaxGaussDim || k > kMaxGaussDim || d > kMaxGaussDim)
    return {"dynamics", "dimensions must be from 1 to " + std::to_string(kMaxGaussDim)};
  const std::pair<const char*, std::pair<const std::vector<double>*, std::size_t>> sizes[] = {
      {"dynamics", {&c.A, std::size_t(n * n)}},
      {"control_matrix", {&c.B, std::size_t(n * k)}},
      {"process_noise", {&c.Q, std::size_t(n * n)}},
      {"observation_matrix", {&c.C, std::size_t(d * n)}},
      {"observation_noise", {&c.R, std::size_t(d * d)}},
      {"preferred_mean", {&c.mu, std::size_t(d)}},
      {"preferred_covariance", {&c.Sigma, std::size_t(d * d)}},
      {"initial_mean", {&c.m0, std::size_t(n)}},
      {"initial_covariance", {&c.P0, std::size_t(n * n)}}};
  for (const auto& [key, v] : sizes) {
    if (v.first->size() != v.second)
      return {key, "has " + std::to_string(v.first->size()) + " entries, needs " + std::to_string(v.second)};
    for (double x : *v.first)
      if (!std::isfinite(x)) return {key, "entries must be finite"};
  }
  if (c.actions.empty() || c.actions.size() % std::size_t(k) != 0)
    return {"actions", "must be a non-empty list of actions of " + std::to_string(k) + " numbers each"};
  const std::pair<const char*, std::pair<const std::vector<double>*, int>> covariances[] = {
      {"process_noise", {&c.Q, n}},
      {"observation_noise", {&c.R, d}},
      {"preferred_covariance", {&c.Sigma, d}},
      {"initial_covariance", {&c.P0, n}}};
  for (const auto& [key, v] : covariances) {
    const auto why = covariance_problem(*v.first, v.second);
    if (!why.empty()) return {key, why};
  }
  double policies = c.constant_policies ? double(c.action_count())
                                        : std::pow(double(c.action_count()), double(c.policy_len));
  if (policies > 65536)
    return {"policy_len", "gives " + std::to_string(c.action_count()) + "^" + std::to_string(c.policy_len) +
                              " policies with policies = \"all\"; at most 65536"};
  return {"", ""};
}

void validate(const GaussConfig& c) {
  const auto [key, rule] = first_problem(c);
  if (!key.empty()) throw std::invalid_argument(key + ": " + rule);
}

GaussianPolicyWorkload::GaussianPolicyWorkload(GaussConfig cfg)
    : cfg_(std::move(cfg)), policies_(cfg_.policies()) {
  validate(cfg_);
}

void GaussianPolicyWorkload::run(RunContext& ctx) {
  const auto& mpi = ctx.mpi;
  const Block mine = block_partition(cfg_.agents, mpi.size(), mpi.rank());
  const std::int64_t n = mine.count, T = cfg_.steps, H = cfg_.policy_len;
  const std::int64_t P = std::int64_t(policies_.size()) / H;
  const int N = cfg_.n, D = cfg_.d;
  GaussSpec sp;
  sp.n = N;
  sp.k = cfg_.k;
  sp.d = D;
  sp.H = int(H);
  sp.P = P;
  sp.gamma = cfg_.gamma;
  sp.alpha = cfg_.alpha;
  sp.stochastic = cfg_.stochastic;
  sp.success_radius = cfg_.success_radius;
  std::vector<double> prm;
  auto append = [&](const std::vector<double>& v) {
    const std::int64_t at = std::int64_t(prm.size());
    prm.insert(prm.end(), v.begin(), v.end());
    return at;
  };
  auto factor = [](const std::vector<double>& S, int m, double* logdet) {
    std::vector<double> L(S.size());
    const double ld = gauss::cholesky(S.data(), L.data(), m);
    if (logdet) *logdet = ld;
    return L;
  };
  double logdet_R = 0;
  sp.a_at = append(cfg_.A);
  sp.b_at = append(cfg_.B);
  sp.q_at = append(cfg_.Q);
  sp.lq_at = append(factor(cfg_.Q, N, nullptr));
  sp.c_at = append(cfg_.C);
  sp.r_at = append(cfg_.R);
  sp.lr_at = append(factor(cfg_.R, D, &logdet_R));
  sp.mu_at = append(cfg_.mu);
  {
    // Sigma*^-1, column by column from its Cholesky factor.
    const auto L = factor(cfg_.Sigma, D, &sp.logdet_pref);
    std::vector<double> inv(std::size_t(D * D));
    for (int c = 0; c < D; ++c) {
      std::vector<double> e(std::size_t(D), 0.0);
      e[c] = 1;
      gauss::solve(L.data(), e.data(), D);
      for (int r = 0; r < D; ++r) inv[r * D + c] = e[r];
    }
    sp.sinv_at = append(inv);
  }
  sp.ambiguity = 0.5 * (D * std::log(2 * M_PI * M_E) + logdet_R);
  sp.m0_at = append(cfg_.m0);
  sp.p0_at = append(cfg_.P0);
  sp.l0_at = append(factor(cfg_.P0, N, nullptr));
  sp.u_at = append(cfg_.actions);

  const TracedRows traced_here(cfg_.trace_first, cfg_.trace_agents, mine.begin, n);
  const std::int64_t traced = traced_here.n;
  std::vector<double> t_mean, t_cov, t_world, t_obs, t_q, t_G;
  std::vector<std::int32_t> t_actions;
  {
    std::optional<Timers::Scope> init;
    init.emplace(ctx.timers, "init");
    Kokkos::View<double*> p("policy::gauss_params", prm.size());
    compat::copy_from_host(p, prm);
    Kokkos::View<int**, Kokkos::LayoutRight> pol("policy::gauss_policies", P, H);
    compat::copy_from_host(pol, policies_);
    const std::int64_t rows = std::max<std::int64_t>(n, 1);
    StepWindow window(cfg_.agents, n, traced_here, T);
    GaussStep step{sp,
                   p,
                   pol,
                   mine.begin,
                   0,
                   0,
                   ctx.run.seed,
                   GaussView("policy::mean", rows, N),
                   GaussView("policy::cov", rows, N * N),
                   GaussView("policy::world", rows, N),
                   GaussView("policy::obs", rows, D),
                   GaussView("policy::G", rows, P),
                   GaussView("policy::q_pi", rows, P),
                   GaussInt("policy::action", rows),
                   window.view(0),
                   window.view(1),
                   window.view(2),
                   window.view(3)};
    init.reset();
    auto t = ctx.timers.scope("steps");
    Progress progress("policy", T, "steps", ctx.show_progress && mpi.root());
    for (std::int64_t s = 0; s < T; ++s) {
      step.step = s;
      step.slot = window.slot(s);
      if (n > 0)
        Kokkos::parallel_for(
            "policy::gauss_step",
            Kokkos::RangePolicy<Kokkos::DefaultExecutionSpace, Kokkos::IndexType<std::int64_t>>(0, n), step);
      window.after_step(mpi, s);
      // Traces of this rank's traced agents: their rows only.
      if (traced > 0) {
        const auto host = [&traced_here](const auto& v) {
          return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                     Kokkos::subview(v, traced_here.range(), Kokkos::ALL));
        };
        const auto me = host(step.mean), co = host(step.cov), wo = host(step.world), ob = host(step.obs),
                   qp = host(step.q_pi), g = host(step.G);
        const auto ac = Kokkos::create_mirror_view_and_copy(
            Kokkos::HostSpace(), Kokkos::subview(step.action, traced_here.range()));
        for (std::int64_t a = 0; a < traced; ++a) {
          for (int k = 0; k < N; ++k) t_mean.push_back(me(a, k));
          for (int k = 0; k < N * N; ++k) t_cov.push_back(co(a, k));
          for (int k = 0; k < N; ++k) t_world.push_back(wo(a, k));
          for (int k = 0; k < D; ++k) t_obs.push_back(ob(a, k));
          for (std::int64_t k = 0; k < P; ++k) {
            t_q.push_back(qp(a, k));
            t_G.push_back(g(a, k));
          }
          t_actions.push_back(ac(a));
        }
      }
      progress.update(s + 1);
    }
    progress.finish();
    static_cast<StepRows&>(trace_) = window.traced_rows(mpi);
    means_ = window.means();
  }
  agent_steps_ = cfg_.agents * T;
  // Traces were collected step-major on each rank; to [agent][step][...] and to rank 0.
  auto reorder = [&](const auto& v, std::int64_t width) { return agent_major(v, T, traced, width); };
  trace_.mean = mpi.gather(reorder(t_mean, N));
  trace_.cov = mpi.gather(reorder(t_cov, N * N));
  trace_.world = mpi.gather(reorder(t_world, N));
  trace_.observations = mpi.gather(reorder(t_obs, D));
  trace_.q_pi = mpi.gather(reorder(t_q, P));
  trace_.G = mpi.gather(reorder(t_G, P));
  const auto acts = reorder(t_actions, 1);
  const auto all = mpi.gather(std::vector<std::int64_t>(acts.begin(), acts.end()));
  trace_.actions.assign(all.begin(), all.end());
  trace_.traced = TracedRows(cfg_.trace_first, cfg_.trace_agents, 0, cfg_.agents).n;  // over all ranks
}

void GaussianPolicyWorkload::write(H5Writer& out) const {
  const std::string g = "/policy";
  const std::int64_t T = cfg_.steps, A = cfg_.agents, H = cfg_.policy_len;
  const auto P = std::uint64_t(policies_.size()) / std::uint64_t(H);
  out.group(g);
  out.attribute(g, "model", "gaussian");
  out.attribute(g, "agents", A);
  out.attribute(g, "steps", T);
  out.attribute(g, "policy_len", H);
  out.attribute(g, "policies", std::int64_t(P));
  out.attribute(g, "gamma", cfg_.gamma);
  out.attribute(g, "alpha", cfg_.alpha);
  out.attribute(g, "action_selection", cfg_.stochastic ? "stochastic" : "deterministic");
  out.attribute(g, "policy_set", cfg_.constant_policies ? "constant" : "all");
  out.attribute(g, "success_radius", cfg_.success_radius);
  out.attribute(g, "traced_agents", trace_.traced);
  out.attribute(g, "traced_first", cfg_.trace_first);
  out.write(g + "/G_chosen_mean", means_.chosen);
  out.write(g + "/free_energy_mean", means_.free_energy);
  out.write(g + "/policy_entropy_mean", means_.policy_entropy);
  out.write(g + "/success_rate", means_.success);
  const auto n = std::uint64_t(trace_.traced), t = std::uint64_t(T), N = std::uint64_t(cfg_.n),
             D = std::uint64_t(cfg_.d);
  if (n > 0) {
    out.write(g + "/trace/belief_mean", trace_.mean, {n, t, N});
    out.write(g + "/trace/belief_covariance", trace_.cov, {n, t, N, N});
    out.write(g + "/trace/world", trace_.world, {n, t, N});
    out.write(g + "/trace/observations", trace_.observations, {n, t, D});
    out.write(g + "/trace/q_pi", trace_.q_pi, {n, t, P});
    out.write(g + "/trace/G", trace_.G, {n, t, P});
    out.write(g + "/trace/actions", trace_.actions, {n, t});
  }
  const auto K = std::uint64_t(cfg_.k);
  out.write(g + "/model/policies", policies_, {P, std::uint64_t(H)});
  out.write(g + "/model/actions", cfg_.actions, {std::uint64_t(cfg_.action_count()), K});
  out.write(g + "/model/dynamics", cfg_.A, {N, N});
  out.write(g + "/model/control_matrix", cfg_.B, {N, K});
  out.write(g + "/model/process_noise", cfg_.Q, {N, N});
  out.write(g + "/model/observation_matrix", cfg_.C, {D, N});
  out.write(g + "/model/observation_noise", cfg_.R, {D, D});
  out.write(g + "/model/preferred_mean", cfg_.mu);
  out.write(g + "/model/preferred_covariance", cfg_.Sigma, {D, D});
  out.write(g + "/model/initial_mean", cfg_.m0);
  out.write(g + "/model/initial_covariance", cfg_.P0, {N, N});
}

Throughput GaussianPolicyWorkload::throughput() const {
  return {"agent_steps", double(agent_steps_),
          "steps",       "agent_steps_per_s",
          1.0,           {{"policies", std::to_string(policies_.size() / std::size_t(cfg_.policy_len))}}};
}

void GaussianPolicyWorkload::print_summary(std::FILE* out) const {
  const std::int64_t T = cfg_.steps, A = cfg_.agents;
  std::fprintf(out,
               "\n%lld linear-Gaussian agents, %lld policies of %lld steps; per step: mean G of the chosen "
               "policy, mean F (= -ln p(o_t | o_<t)), mean H[q(pi)], success rate\n",
               static_cast<long long>(A),
               static_cast<long long>(policies_.size() / std::size_t(cfg_.policy_len)),
               static_cast<long long>(cfg_.policy_len));
  const auto &G = means_.chosen, &F = means_.free_energy, &H = means_.policy_entropy, &S = means_.success;
  for (std::int64_t s = 0; s < T && s < 50; ++s)
    std::fprintf(out, "  step %3lld  G %10.5f  F %10.5f  H %8.5f  success %.4f\n", static_cast<long long>(s),
                 G[s], F[s], H[s], S[s]);
}

std::unique_ptr<Workload> make_gaussian_workload(Deck& deck) {
  auto cfg = parse_gaussian(deck);
  const auto [key, rule] = first_problem(cfg);
  if (!key.empty()) deck.fail("policy", key, rule);
  return std::make_unique<GaussianPolicyWorkload>(std::move(cfg));
}

}  // namespace prism::policy
