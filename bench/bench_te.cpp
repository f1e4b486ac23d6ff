// Cost of transfer-entropy estimates (KSG 1, K = 4, k = l = 1) on the
// default execution space, by search: one TE per call (the latency a single
// pair sees, host preparation included), and a batch of shuffled-source
// surrogates of one pair (the throughput a TE matrix with surrogates sees).
// Data: x_t = (2/3) y_{t-1} + z_t, y and z i.i.d. N(0, 1).  One CSV row per
// (N, search, mode) to --csv.
//
//   bench_te [--n 1024,65536] [--search brute,window] [--surrogates 0] [--repeat 5] [--csv FILE]
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/host_threads.hpp"
#include "kernels/common/kokkos_compat.hpp"
#include "te/data.hpp"
#include "te/estimator.hpp"

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

// Median seconds of `repeat` calls of f after one warm-up.
template <class F>
double median_seconds(int repeat, F&& f) {
  f();
  std::vector<double> t;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string ns = "1024,65536", searches = "brute,window", csv = "bench_te.csv";
  int repeat = 5;
  std::int64_t surrogates = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--n")
      ns = argv[i + 1];
    else if (a == "--search")
      searches = argv[i + 1];
    else if (a == "--surrogates")
      surrogates = std::stoll(argv[i + 1]);
    else if (a == "--repeat")
      repeat = std::stoi(argv[i + 1]);
    else if (a == "--csv")
      csv = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: bench_te [--n 1024,65536] [--search brute,window] [--surrogates 0] [--repeat 5] "
                   "[--csv F]\n");
      return 2;
    }
  }
  Kokkos::initialize(argc, argv);
  {
    const std::string device = prism::compat::device_description();
    std::ifstream probe(csv);
    const bool fresh = !probe.good();
    std::ofstream out(csv, std::ios::app);
    if (fresh) out << "date,backend,device,observations,search,estimates,seconds,te,estimates_per_s\n";
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    for (const auto& n_text : split(ns))
      for (const auto& search : split(searches)) {
        prism::te::Config cfg;
        cfg.series = 2;
        cfg.coupling = 2.0 / 3.0;
        cfg.edges = {{0, 1}};
        cfg.length = std::stoll(n_text) + 1;
        cfg.search = search == "brute" ? prism::te::SearchChoice::brute : prism::te::SearchChoice::window;
        const auto data = prism::te::generate(cfg);
        const auto &y = data.values[0], &x = data.values[1];
        const std::int64_t count = std::max<std::int64_t>(1, surrogates);
        cfg.batch = count;
        prism::te::Estimator est(cfg, cfg.length, prism::host_cores());
        const std::int64_t n = est.observations();
        // Surrogate m: the source rows rotated by a member-dependent offset
        // (cheap to build; the search does not care how rows were permuted).
        auto source = [&](std::int64_t m, std::vector<double>& series, std::vector<std::int64_t>& rows) {
          series = y;
          if (surrogates == 0) return;
          rows.resize(n);
          for (std::int64_t r = 0; r < n; ++r) rows[r] = (r * 7919 + m * 104729 + 1) % n;
        };
        double te = 0;
        const double s = median_seconds(repeat, [&] { te = est.estimate(x, count, source)[0]; });
        std::printf(
            "N = %8lld  %-6s  %6lld estimate(s) per call  %10.3f ms  %12.1f estimates/s  TE %.6f  (%s)\n",
            static_cast<long long>(n), search.c_str(), static_cast<long long>(count), s * 1e3,
            double(count) / s, te, device.c_str());
        std::fflush(stdout);
        out << date << "," << prism::compat::backend_name() << ",\"" << device << "\"," << n << "," << search
            << "," << count << "," << s << "," << te << "," << double(count) / s << "\n";
      }
  }
  Kokkos::finalize();
  return 0;
}
