// nqs throughput: samples per second (one sample = one sweep of one chain,
// with its local energy), the rates of sweeps alone and of local energies
// alone, and seconds per SR iteration, for an RBM on the Lx x Ly Heisenberg
// model.  One MPI rank per GPU; chains are split.
//
//   bench_nqs [--L 10] [--alpha 2] [--chains 16384] [--sweeps 4] [--sr 3] [--csv FILE]
//             [--init-scale 0.01] [--precision double|float] [--sampler auto|plain|speculative]
//
// --sampler forces the GPU sampler kernel (auto: by the acceptance rate, as
// prism runs it); the CSV records the acceptance rate and the kernel used.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <string>

#include "core/mpi_context.hpp"
#include "core/timers.hpp"
#include "kernels/common/kokkos_compat.hpp"
#include "nqs/driver.hpp"
#include "nqs/inspect.hpp"

int main(int argc, char** argv) {
  int L = 10, sweeps = 4, sr = 3;
  double init_scale = 0.01;
  double alpha = 2;
  long chains = 16384;
  std::string csv = "bench_nqs.csv";
  std::string precision = "double";
  std::string sampler = "auto";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--L")
      L = std::stoi(argv[i + 1]);
    else if (a == "--alpha")
      alpha = std::stod(argv[i + 1]);
    else if (a == "--chains")
      chains = std::stol(argv[i + 1]);
    else if (a == "--sweeps")
      sweeps = std::stoi(argv[i + 1]);
    else if (a == "--sr")
      sr = std::stoi(argv[i + 1]);
    else if (a == "--csv")
      csv = argv[i + 1];
    else if (a == "--init-scale")
      init_scale = std::stod(argv[i + 1]);
    else if (a == "--precision" &&
             (std::string(argv[i + 1]) == "double" || std::string(argv[i + 1]) == "float"))
      precision = argv[i + 1];
    else if (a == "--sampler" && (std::string(argv[i + 1]) == "auto" || std::string(argv[i + 1]) == "plain" ||
                                  std::string(argv[i + 1]) == "speculative"))
      sampler = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: bench_nqs [--L 10] [--alpha 2] [--chains 16384] [--sweeps 4] [--sr 3] [--csv F]\n"
                   "                 [--init-scale 0.01] [--precision double|float]\n"
                   "                 [--sampler auto|plain|speculative]\n");
      return 2;
    }
  }
  prism::MpiContext mpi(&argc, &argv);
  const int devices = prism::compat::visible_device_count();
  prism::compat::initialize(argc, argv, devices > 0 ? mpi.local_rank() % devices : 0);
  {
    prism::nqs::Config c;
    c.hamiltonian = prism::nqs::Hamiltonian::heisenberg;
    c.lattice = prism::nqs::LatticeKind::square;
    c.Lx = c.Ly = L;
    c.alpha = alpha;
    c.chains = chains;
    c.thermalization = 0;
    c.sweeps_per_sample = 1;
    c.samples_per_chain = sweeps;
    c.init_scale = init_scale;
    c.cg_max_iterations = 100;
    c.precision = precision == "float" ? prism::nqs::Precision::single_precision
                                       : prism::nqs::Precision::double_precision;
    const int reps = 3;  // of the fenced profile
    const auto mode = sampler == "plain"         ? prism::nqs::Speculation::never
                      : sampler == "speculative" ? prism::nqs::Speculation::always
                                                 : prism::nqs::Speculation::automatic;
    // Seconds per sample() call of a fresh Vmc, averaged over enough calls
    // to fill about 0.25 s (at least 3; the same count on every rank) after
    // a warm-up call (first touch, kernel caches).  A call takes a few ms on
    // a GPU, so 3 calls alone gave rates that moved by 10 % between runs.
    const auto seconds_per_call = [&](prism::nqs::Vmc& vmc) {
      prism::nqs::VmcInspector(vmc).set_speculation(mode);
      const auto timed = [&](int first, int calls) {
        Kokkos::fence();
        mpi.barrier();
        const auto t0 = std::chrono::steady_clock::now();
        for (int r = first; r < first + calls; ++r) vmc.sample(r);
        Kokkos::fence();
        mpi.barrier();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / calls;
      };
      vmc.sample(0);
      const double guess = mpi.max(timed(1, 1));
      const int calls = int(std::clamp(std::ceil(0.25 / guess), 3.0, 1000.0));
      return timed(2, calls);
    };
    // Sweeps alone, as the JAX/NetKet figure counts them: the difference
    // between a call with T thermalisation sweeps before its one sample and
    // a call with none, so the one local energy and the fixed costs cancel.
    // Measured first, and freed before the main Vmc is built.
    const int T = 4 * sweeps;
    double sweep_s = 0;
    {
      prism::nqs::Config d = c;
      d.samples_per_chain = 1;
      d.thermalization = T;
      prism::nqs::Vmc with(d, 1, mpi);
      d.thermalization = 0;
      prism::nqs::Vmc without(d, 1, mpi);
      const double t_with = seconds_per_call(with), t_without = seconds_per_call(without);
      sweep_s = (t_with - t_without) / T;
      // With --sampler auto each object chooses from its own acceptance; a
      // difference of two kernels' timings would be meaningless.
      if (prism::nqs::VmcInspector(with).speculated() != prism::nqs::VmcInspector(without).speculated() &&
          mpi.root())
        std::fprintf(stderr,
                     "bench_nqs: warning: the sweep measurement mixed the two sampler kernels "
                     "(acceptance near the threshold); pass --sampler plain or speculative\n");
    }
    double samples_per_s = 0, sweeps_per_s = 0, energies_per_s = 0, acceptance = 0;
    bool speculated = false;
    {
      prism::nqs::Vmc vmc(c, 1, mpi);
      const double call_s = seconds_per_call(vmc);
      samples_per_s = double(chains) * sweeps / call_s;
      // Local energies: what a call costs beyond its sweeps (fixed costs of
      // the call included).  A difference lost in timing noise gives NaN.
      const double nan = std::numeric_limits<double>::quiet_NaN();
      sweeps_per_s = sweep_s > 0 ? double(chains) / sweep_s : nan;
      const double energy_s = call_s - sweeps * sweep_s;
      energies_per_s = sweep_s > 0 && energy_s > 0 ? double(chains) * sweeps / energy_s : nan;
      // Where the sampling time goes (separate, fenced runs).
      prism::nqs::VmcInspector look(vmc);
      look.profile_kernels(true);
      for (int r = 1; r <= reps; ++r) vmc.sample(r);
      const auto ks = look.kernel_seconds();
      look.profile_kernels(false);
      acceptance = vmc.acceptance();
      speculated = look.speculated();
      if (mpi.root())
        std::printf(
            "  per sample() call on rank 0: angle refresh %.3f ms, chain sampling %.3f ms, all %.3f ms\n"
            "  sweeps alone: %.4g samples/s; local energies: %.4g per s; acceptance %.3f, %s sampler\n",
            1e3 * ks[0] / reps, 1e3 * ks[1] / reps, 1e3 * call_s, sweeps_per_s, energies_per_s, acceptance,
            speculated ? "speculative" : "plain");
    }

    // SR on a fresh Vmc after one warm-up call, so that its energies do not
    // depend on how many calls the timings above took, and match on any
    // number of ranks.
    prism::nqs::Vmc vmc(c, 1, mpi);
    prism::nqs::VmcInspector(vmc).set_speculation(mode);
    vmc.sample(1);
    prism::Timers timers;
    double sr_s = 0;
    for (int r = 0; r < sr; ++r) {
      const auto t1 = std::chrono::steady_clock::now();
      const auto st = vmc.step(10 + r, timers);
      mpi.barrier();
      sr_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      if (mpi.root())
        std::printf("  SR iteration %d: E = %.6f, CG iterations %lld\n", r, st.energy_mean,
                    (long long)st.cg_iterations);
    }
    sr_s /= sr > 0 ? sr : 1;
    if (mpi.root()) {
      const std::string device = prism::compat::device_description();
      char date[32];
      const std::time_t now = std::time(nullptr);
      std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
      std::printf(
          "%s %s ranks=%d L=%d alpha=%g chains=%ld params=%lld: %.4g samples/s (sampling + local energies), "
          "%.4f s per SR iteration (%d samples), init_scale=%g, precision=%s\n",
          prism::compat::backend_name().c_str(), device.c_str(), mpi.size(), L, alpha, chains,
          (long long)c.parameters(), samples_per_s, sr_s, int(c.total_samples()), init_scale,
          precision.c_str());
      const bool fresh = !std::ifstream(csv).good();
      std::ofstream out(csv, std::ios::app);
      if (fresh)
        out << "date,backend,device,ranks,L,alpha,chains,parameters,init_scale,samples_per_s,"
               "sr_seconds,precision,sweeps_per_s,local_energies_per_s,acceptance,sampler\n";
      out << date << "," << prism::compat::backend_name() << ",\"" << device << "\"," << mpi.size() << ","
          << L << "," << alpha << "," << chains << "," << c.parameters() << "," << init_scale << ","
          << samples_per_s << "," << sr_s << "," << precision << "," << sweeps_per_s << "," << energies_per_s
          << "," << acceptance << "," << (speculated ? "speculative" : "plain") << "\n";
    }
  }
  Kokkos::finalize();
  return 0;
}
