// Throughput of the thermo Metropolis kernels: flips per nanosecond on one
// device, multi-spin coded and generic (one byte per spin), for ising2d
// lattices of L^2 spins and for ising3d and ea3d (+-J) lattices of L3^3
// spins.  Appends one CSV row per (kernel, L) to --csv; the 3D kernels are
// named multispin_ising3d, generic_ea3d, ...
//
//   bench_ising2d [--L 16384,32768] [--L3 512] [--sweeps 100] [--warmup 10] [--csv FILE]
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
#include "kernels/common/philox.hpp"
#include "kernels/thermo/metropolis.hpp"
#include "kernels/thermo/observables.hpp"

namespace {

using namespace prism::thermo;
using Exec = Kokkos::DefaultExecutionSpace;

Thresholds make_thresholds(int dim, double T) {
  Thresholds thr("bench::thresholds", 1, threshold_columns(dim));
  auto h = Kokkos::create_mirror_view(thr);
  fill_threshold_row(h, 0, dim, 1.0 / T, 1.0, 0.0, /*heat_bath=*/false);
  Kokkos::deep_copy(thr, h);
  return thr;
}

// Bonds of a lattice: all +1, or +-1 at random for the glass (one fill for
// 2D and 3D).
Couplings make_couplings(int dim, std::int64_t sites, bool glass) {
  Couplings couplings("bench::couplings", dim, sites);
  Kokkos::parallel_for(
      "bench::couplings", RangePolicy64<Exec>(0, dim * sites), KOKKOS_LAMBDA(const std::int64_t t) {
        const std::int64_t d = t / sites, i = t - d * sites;
        const auto u =
            prism::rng::philox(7, std::uint32_t(i), std::uint32_t(i >> 32), 0, prism::rng::disorder);
        couplings(d, i) = !glass || (u.v[d] & 1u) ? 1 : -1;
      });
  return couplings;
}

// A hot start, as the peer's: every spin up or down at random.
void randomize(PackedSpins const& words) {
  Kokkos::parallel_for(
      "bench::hot_start", RangePolicy64<Exec>(0, words.extent(1)), KOKKOS_LAMBDA(const std::int64_t i) {
        const auto u = prism::rng::philox(3, std::uint32_t(i), std::uint32_t(i >> 32), 0, 0);
        words(0, i) = ((std::uint64_t(u.v[0]) << 32) | u.v[1]) & nibble_mask;
      });
}

void randomize(Spins const& spins) {
  Kokkos::parallel_for(
      "bench::hot_start", RangePolicy64<Exec>(0, spins.extent(1)), KOKKOS_LAMBDA(const std::int64_t i) {
        const auto u = prism::rng::philox(3, std::uint32_t(i), std::uint32_t(i >> 32), 1, 0);
        spins(0, i) = (u.v[0] & 1u) ? 1 : -1;
      });
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
  std::vector<int> sizes3;
  int sweeps = 100, warmup = 10;
  std::string csv = "bench_ising2d.csv";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--L" || a == "--L3") {
      auto& list = a == "--L" ? sizes : sizes3;
      list.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string tok; std::getline(ss, tok, ',');) list.push_back(std::stoi(tok));
    } else if (a == "--sweeps") {
      sweeps = std::stoi(argv[i + 1]);
    } else if (a == "--warmup") {
      warmup = std::stoi(argv[i + 1]);
    } else if (a == "--csv") {
      csv = argv[i + 1];
    } else {
      std::fprintf(
          stderr,
          "usage: bench_ising2d [--L 16384,32768] [--L3 512] [--sweeps N] [--warmup N] [--csv FILE]\n");
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
        randomize(words);
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
      // The generic kernel is timed up to 32768^2: at 65536^2 (2^32 bytes of
      // spins) its run did not finish on the H200, twice; not investigated.
      if (L > 32768) {
        std::printf("%-10s %-9s L=%-6d skipped (timed up to 32768^2)\n", backend.c_str(), "generic", L);
      } else {
        Spins spins("bench::spins", 1, std::int64_t(L) * L);
        randomize(spins);
        const Couplings couplings = make_couplings(2, std::int64_t(L) * L, false);
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
    // 3D: the ferromagnet at its T_c and the +-J glass near its T_c.
    for (int L : sizes3) {
      const std::int64_t sites = std::int64_t(L) * L * L;
      for (const bool glass : {false, true}) {
        const std::string model = glass ? "ea3d" : "ising3d";
        const auto thr3 = make_thresholds(3, glass ? 1.1 : 4.5115);
        const Couplings couplings = make_couplings(3, sites, glass);
        const auto report = [&](const char* kernel, int n, double s) {
          const double f = double(sites) * n;
          const std::string name = std::string(kernel) + "_" + model;
          std::printf("%-10s %-17s L=%-6d %8.4f s  %9.2f flips/ns  (%s)\n", backend.c_str(), name.c_str(), L,
                      s, f / s * 1e-9, device.c_str());
          out << date << "," << backend << ",\"" << device << "\"," << name << "," << L << "," << n << ","
              << s << "," << f / s * 1e-9 << std::endl;
          std::fflush(stdout);
        };
        {
          const std::int64_t color_words = std::int64_t(L) * L * (L / 32);
          PackedSpins words("bench::packed", 1, 2 * color_words);
          randomize(words);
          PackedBonds bonds("bench::bonds", 3, 2 * color_words);
          pack_multispin(Exec(), couplings, L, bonds);
          const double s = time_sweeps(warmup, sweeps, [&](int k) {
            for (int c = 0; c < 2; ++c) {
              if (glass)
                sweep_multispin<3, true>(Exec(), words, bonds, thr3, L, c, std::uint32_t(k), 42u, 0);
              else
                sweep_multispin<3, false>(Exec(), words, bonds, thr3, L, c, std::uint32_t(k), 42u, 0);
            }
          });
          report("multispin", sweeps, s);
        }
        {
          Spins spins("bench::spins", 1, sites);
          randomize(spins);
          const Geometry geo{L, 3, sites};
          const int n = std::max(1, sweeps / 4);
          const double s = time_sweeps(2, n, [&](int k) {
            for (int c = 0; c < 2; ++c)
              sweep_generic(Exec(), spins, couplings, thr3, geo, c, std::uint32_t(k), 42u, 0);
          });
          report("generic", n, s);
        }
      }
    }
  }
  Kokkos::finalize();
  return 0;
}
