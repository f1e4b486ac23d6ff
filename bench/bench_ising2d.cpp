// Throughput of the ising2d Metropolis kernels: flips per nanosecond on one
// device for lattices of L^2 spins, multi-spin coded and generic
// (one byte per spin).  Appends one CSV row per (kernel, L) to --csv.
//
//   bench_ising2d [--L 16384,32768] [--sweeps 100] [--warmup 10] [--csv FILE]
#include <Kokkos_Core.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/thermo/metropolis.hpp"
#include "kernels/thermo/observables.hpp"

namespace {

using namespace prism::thermo;
using Exec = Kokkos::DefaultExecutionSpace;

Thresholds make_thresholds(int dim, double T) {
  Thresholds thr("bench::thresholds", 1, 2 * (4 * dim + 1));
  auto h = Kokkos::create_mirror_view(thr);
  fill_threshold_row(h, 0, dim, 1.0 / T, 1.0, 0.0, /*heat_bath=*/false);
  Kokkos::deep_copy(thr, h);
  return thr;
}

template <class F>
double time_sweeps(int warmup, int sweeps, F&& sweep) {
  for (int s = 0; s < warmup; ++s) sweep(s);
  Kokkos::fence();
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < sweeps; ++s) sweep(warmup + s);
  Kokkos::fence();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes{16384, 32768};
  int sweeps = 100, warmup = 10;
  std::string csv = "bench_ising2d.csv";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--L") {
      sizes.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string tok; std::getline(ss, tok, ',');) sizes.push_back(std::stoi(tok));
    } else if (a == "--sweeps") {
      sweeps = std::stoi(argv[i + 1]);
    } else if (a == "--warmup") {
      warmup = std::stoi(argv[i + 1]);
    } else if (a == "--csv") {
      csv = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: bench_ising2d [--L 16384,32768] [--sweeps N] [--warmup N] [--csv FILE]\n");
      return 2;
    }
  }
  Kokkos::initialize(argc, argv);
  {
    const std::string device = prism::compat::device_description();
    const std::string backend = prism::compat::backend_name();
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    const bool fresh = !std::ifstream(csv).good();
    std::ofstream out(csv, std::ios::app);
    if (fresh) out << "date,backend,device,kernel,L,sweeps,seconds,flips_per_ns\n";
    const double T = 2.269185;  // near T_c: the acceptance mix of a real run
    const auto thr = make_thresholds(2, T);
    for (int L : sizes) {
      const double flips = double(L) * L * sweeps;
      {
        PackedSpins words("bench::packed", 1, 2 * std::int64_t(L) * (L / 32));
        Kokkos::deep_copy(words, nibble_mask);
        const double s = time_sweeps(warmup, sweeps, [&](int k) {
          for (int c = 0; c < 2; ++c)
            sweep_multispin<2, false>(Exec(), words, PackedBonds(), thr, L, c, std::uint32_t(k), 42u, 0);
        });
        std::printf("%-10s %-9s L=%-6d %8.4f s  %9.2f flips/ns  (%s)\n", backend.c_str(), "multispin", L, s,
                    flips / s * 1e-9, device.c_str());
        out << date << "," << backend << ",\"" << device << "\",multispin," << L << "," << sweeps << "," << s
            << "," << flips / s * 1e-9 << std::endl;
        std::fflush(stdout);
      }
      {
        Spins spins("bench::spins", 1, std::int64_t(L) * L);
        Kokkos::deep_copy(spins, std::int8_t(1));
        Couplings couplings("bench::couplings", 2, std::int64_t(L) * L);
        Kokkos::deep_copy(couplings, std::int8_t(1));
        const Geometry geo{L, 2, std::int64_t(L) * L};
        const int n = std::max(1, sweeps / 4);
        const double s = time_sweeps(2, n, [&](int k) {
          for (int c = 0; c < 2; ++c)
            sweep_generic(Exec(), spins, couplings, thr, geo, c, std::uint32_t(k), 42u, 0);
        });
        const double f = double(L) * L * n;
        std::printf("%-10s %-9s L=%-6d %8.4f s  %9.2f flips/ns  (%s)\n", backend.c_str(), "generic", L, s,
                    f / s * 1e-9, device.c_str());
        out << date << "," << backend << ",\"" << device << "\",generic," << L << "," << n << "," << s << ","
            << f / s * 1e-9 << std::endl;
        std::fflush(stdout);
      }
    }
  }
  Kokkos::finalize();
  return 0;
}
