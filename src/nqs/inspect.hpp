#pragma once
// A look inside a Vmc, for tests and benchmarks only: the recorded samples,
// the device's amplitude ratios and log-derivatives of one sample, the
// drift of the incrementally updated angles, which GPU sampler kernel runs,
// and fenced timings of the sampling kernels.  prism itself never uses it.
#include <array>
#include <cstdint>
#include <vector>

#include "nqs/driver.hpp"

namespace prism::nqs {

// Which GPU sampler kernel sample() runs: by the last acceptance rate
// (automatic, as prism runs), or forced.  Both store the same bits; host
// backends have only the plain one.
enum class Speculation { automatic, never, always };

class VmcInspector {
 public:
  explicit VmcInspector(Vmc& vmc) : vmc_(vmc) {}

  // This rank's samples after sample(): spins (samples x N, row-major) and
  // tanh(theta) (samples x M, row-major).
  std::vector<std::int8_t> sample_spins() const;
  std::vector<double> sample_tanh() const;
  // psi(s')/psi(s) for sample row `row` and every site's flip, on device
  // with the sampler's brackets.
  std::vector<double> flip_ratios(int row) const;
  // psi(s')/psi(s) for every bond's exchange (0 where the bond's spins are equal).
  std::vector<double> exchange_ratios(int row) const;
  // d log psi / d p for sample row `row`, as built for SR.
  std::vector<double> log_derivatives(int row) const;
  // Complex parameters: the imaginary parts of the last sample()'s local
  // energies (the real parts are what sample() returns).
  std::vector<double> local_energies_im() const;
  // This rank's chains: max |theta_incremental - theta_scratch| after sampling.
  double angle_drift() const;

  void set_speculation(Speculation s);
  bool speculated() const;  // the last sample() ran the speculative kernel
  // Fence after each sampling kernel and accumulate its seconds,
  // {angle refresh, chain sampling}, since profile_kernels(true).
  void profile_kernels(bool on);
  std::array<double, 2> kernel_seconds() const;

 private:
  Vmc& vmc_;
};

}  // namespace prism::nqs
