#include "gnn/model.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <tuple>

#include "core/h5_reader.hpp"

namespace prism::gnn {

Irreps parse_irreps(const std::string& text) {
  Irreps out;
  std::size_t at = 0;
  auto bad = [&](const std::string& why) {
    throw std::invalid_argument("irreps \"" + text + "\": " + why + " (expected e.g. \"8x0e+4x1o+2x2e\")");
  };
  while (at < text.size()) {
    std::size_t end = text.find('+', at);
    if (end == std::string::npos) end = text.size();
    std::string term = text.substr(at, end - at);
    term.erase(std::remove(term.begin(), term.end(), ' '), term.end());
    Irrep ir;
    ir.mul = 1;
    const auto x = term.find('x');
    try {
      if (x != std::string::npos) {
        std::size_t used = 0;
        ir.mul = std::stoi(term.substr(0, x), &used);
        if (used != x) bad("bad multiplicity in \"" + term + "\"");
        term = term.substr(x + 1);
      }
      if (term.size() < 2) bad("bad irrep \"" + term + "\"");
      std::size_t used = 0;
      ir.l = std::stoi(term.substr(0, term.size() - 1), &used);
      if (used != term.size() - 1) bad("bad irrep \"" + term + "\"");
    } catch (const std::logic_error&) {
      bad("bad term \"" + term + "\"");
    }
    const char p = term.back();
    if (p != 'e' && p != 'o') bad("parity must be e or o in \"" + term + "\"");
    ir.p = p == 'e' ? 1 : -1;
    if (ir.mul < 1 || ir.l < 0 || ir.l > 3) bad("needs multiplicities >= 1 and 0 <= l <= 3");
    out.push_back(ir);
    at = end + 1;
  }
  if (out.empty()) bad("empty");
  return out;
}

std::string irreps_string(const Irreps& irreps) {
  std::string s;
  for (const auto& ir : irreps) {
    if (!s.empty()) s += "+";
    s += std::to_string(ir.mul) + "x" + std::to_string(ir.l) + (ir.p > 0 ? "e" : "o");
  }
  return s;
}

int irreps_dim(const Irreps& irreps) {
  int d = 0;
  for (const auto& ir : irreps) d += ir.mul * ir.dim();
  return d;
}

std::vector<int> block_offsets(const Irreps& irreps) {
  std::vector<int> off;
  int d = 0;
  for (const auto& ir : irreps) {
    off.push_back(d);
    d += ir.mul * ir.dim();
  }
  return off;
}

Linear make_linear(const Irreps& in, const Irreps& out) {
  Linear lin;
  lin.in = in;
  lin.out = out;
  const auto in_off = block_offsets(in), out_off = block_offsets(out);
  for (std::size_t a = 0; a < in.size(); ++a)
    for (std::size_t b = 0; b < out.size(); ++b)
      if (in[a].same(out[b])) {
        LinearPath p;
        p.in_block = int(a);
        p.out_block = int(b);
        p.in_offset = in_off[a];
        p.out_offset = out_off[b];
        p.mul_in = in[a].mul;
        p.mul_out = out[b].mul;
        p.dim = in[a].dim();
        p.w_offset = lin.numel;
        lin.numel += std::int64_t(p.mul_in) * p.mul_out;
        lin.paths.push_back(p);
      }
  for (auto& p : lin.paths) {
    int fan_in = 0;
    for (const auto& q : lin.paths)
      if (q.out_block == p.out_block) fan_in += q.mul_in;
    p.alpha = 1.0 / std::sqrt(double(fan_in));
  }
  lin.weight.assign(lin.numel, 0.0);
  return lin;
}

namespace {
double factorial(int n) {
  double f = 1;
  for (int k = 2; k <= n; ++k) f *= k;
  return f;
}

// <j1 m1 j2 m2 | j3 m3> in the Condon-Shortley convention (Racah's formula).
double su2_cg(int j1, int m1, int j2, int m2, int j3, int m3) {
  if (m3 != m1 + m2) return 0;
  const double pre = std::sqrt((2 * j3 + 1) * factorial(j3 + j1 - j2) * factorial(j3 - j1 + j2) *
                               factorial(j1 + j2 - j3) / factorial(j1 + j2 + j3 + 1));
  const double norm = std::sqrt(factorial(j3 + m3) * factorial(j3 - m3) * factorial(j1 - m1) *
                                factorial(j1 + m1) * factorial(j2 - m2) * factorial(j2 + m2));
  double sum = 0;
  for (int k = 0; k <= j1 + j2 - j3; ++k) {
    const int a = j1 + j2 - j3 - k, b = j1 - m1 - k, c = j2 + m2 - k, d = j3 - j2 + m1 + k,
              e = j3 - j1 - m2 + k;
    if (a < 0 || b < 0 || c < 0 || d < 0 || e < 0) continue;
    sum += (k % 2 ? -1.0 : 1.0) /
           (factorial(k) * factorial(a) * factorial(b) * factorial(c) * factorial(d) * factorial(e));
  }
  return pre * norm * sum;
}

// e3nn's change of basis from real to complex harmonics of degree l, [2l+1][2l+1]
// (rows complex m, columns real index), with its overall factor (-i)^l that
// makes the coupling tensors real.
std::vector<std::complex<double>> real_to_complex(int l) {
  const int n = 2 * l + 1;
  const double s = 1 / std::sqrt(2.0);
  const std::complex<double> I(0, 1);
  std::vector<std::complex<double>> q(n * n);
  for (int m = -l; m < 0; ++m) {
    q[(l + m) * n + l - m] = s;
    q[(l + m) * n + l + m] = -I * s;
  }
  q[l * n + l] = 1;
  for (int m = 1; m <= l; ++m) {
    const double sign = m % 2 ? -1.0 : 1.0;
    q[(l + m) * n + l + m] = sign * s;
    q[(l + m) * n + l - m] = I * sign * s;
  }
  std::complex<double> f = 1;
  for (int k = 0; k < l; ++k) f *= -I;
  for (auto& v : q) v *= f;
  return q;
}
}  // namespace

std::vector<double> wigner_3j(int l1, int l2, int l3) {
  if (l3 < std::abs(l1 - l2) || l3 > l1 + l2)
    throw std::invalid_argument("wigner_3j: l1, l2, l3 violate the triangle rule");
  const int n1 = 2 * l1 + 1, n2 = 2 * l2 + 1, n3 = 2 * l3 + 1;
  const auto q1 = real_to_complex(l1), q2 = real_to_complex(l2), q3 = real_to_complex(l3);
  // C_real[a][b][c] = sum_{i,k,n} Q1[i][a] Q2[k][b] conj(Q3[n][c]) CG[i][k][n]
  std::vector<double> out(n1 * n2 * n3);
  double norm = 0;
  for (int a = 0; a < n1; ++a)
    for (int b = 0; b < n2; ++b)
      for (int c = 0; c < n3; ++c) {
        std::complex<double> sum = 0;
        for (int i = 0; i < n1; ++i)
          for (int k = 0; k < n2; ++k) {
            const int n = (i - l1) + (k - l2) + l3;  // m3 = m1 + m2
            if (n < 0 || n >= n3) continue;
            const double cg = su2_cg(l1, i - l1, l2, k - l2, l3, n - l3);
            if (cg != 0) sum += q1[i * n1 + a] * q2[k * n2 + b] * std::conj(q3[n * n3 + c]) * cg;
          }
        out[(a * n2 + b) * n3 + c] = sum.real();
        norm += sum.real() * sum.real();
      }
  norm = std::sqrt(norm);
  for (auto& v : out) {
    v /= norm;
    if (std::abs(v) < 1e-14) v = 0;  // exact zeros, so the sparse tables skip them
  }
  return out;
}

int Model::species_index(int z) const {
  const auto it = std::find(species.begin(), species.end(), z);
  return it == species.end() ? -1 : int(it - species.begin());
}

Model make_model(std::vector<int> species, double r_cut, int n_basis, int envelope_p, int lmax,
                 const std::string& hidden, std::vector<int> radial_hidden, int layers,
                 double avg_num_neighbors, const std::string& input) {
  Model m;
  m.species = std::move(species);
  m.r_cut = r_cut;
  m.n_basis = n_basis;
  m.envelope_p = envelope_p;
  m.lmax = lmax;
  m.radial_hidden = std::move(radial_hidden);
  m.avg_num_neighbors = avg_num_neighbors;
  m.hidden = parse_irreps(hidden);
  const int S = int(m.species.size()), C = m.hidden[0].mul;
  m.input = input.empty() ? Irreps{{C, 0, 1}} : parse_irreps(input);
  for (const auto& [irreps, text, what] :
       {std::tuple{&m.hidden, &hidden, "hidden"}, std::tuple{&m.input, &input, "input"}}) {
    for (std::size_t b = 1; b < irreps->size(); ++b) {
      const auto &x = (*irreps)[b - 1], &y = (*irreps)[b];
      if (x.l > y.l || (x.l == y.l && x.p >= y.p))
        throw std::invalid_argument(std::string(what) + " irreps \"" + *text +
                                    "\": blocks must be sorted by l, odd before even, each irrep once");
    }
    if ((*irreps)[0].l != 0 || (*irreps)[0].p != 1)
      throw std::invalid_argument(std::string(what) + " irreps \"" + *text + "\": need scalars (Cx0e) first");
  }
  for (int l = 0; l <= lmax; ++l) m.sh.push_back({1, l, l % 2 ? -1 : 1});
  m.embed = make_linear({{S, 0, 1}}, m.input);
  Irreps in = m.embed.out;
  Irreps scalars{m.hidden[0]}, gated(m.hidden.begin() + 1, m.hidden.end());
  int n_gates = 0;
  for (const auto& g : gated) n_gates += g.mul;
  for (int t = 0; t < layers; ++t) {
    Layer L;
    L.in = in;
    const auto in_off = block_offsets(in);
    for (std::size_t a = 0; a < in.size(); ++a)
      for (const auto& y : m.sh)
        for (int l3 = std::abs(in[a].l - y.l); l3 <= in[a].l + y.l; ++l3) {
          const int p3 = in[a].p * y.p;
          if (std::none_of(m.hidden.begin(), m.hidden.end(),
                           [&](const Irrep& h) { return h.l == l3 && h.p == p3; }))
            continue;
          TpPath p;
          p.in_block = int(a);
          p.l1 = in[a].l;
          p.l2 = y.l;
          p.l3 = l3;
          p.mul = in[a].mul;
          p.in_offset = in_off[a];
          p.sh_offset = y.l * y.l;
          p.out_offset = irreps_dim(L.tp_out);
          p.w_offset = L.tp_numel;
          p.path_weight =
              std::sqrt(double(2 * l3 + 1));  // e3nn "component" + "element": one path per output block
          L.tp_numel += p.mul;
          L.tp_out.push_back({p.mul, l3, p3});
          const auto w3j = wigner_3j(p.l1, p.l2, p.l3);
          p.cg_begin = int(L.cg.size());
          const int n2 = 2 * p.l2 + 1, n3 = 2 * l3 + 1;
          for (std::size_t x = 0; x < w3j.size(); ++x)
            if (w3j[x] != 0) L.cg.push_back({int(x) / (n2 * n3), int(x) / n3 % n2, int(x) % n3, w3j[x]});
          p.cg_end = int(L.cg.size());
          L.tp.push_back(p);
        }
    // Gate input as e3nn's Gate sorts it: the scalars and the gates merge
    // into one 0e block, then the gated blocks.
    L.scalars = C;
    L.gates = n_gates;
    L.gate_in.push_back({C + n_gates, 0, 1});
    L.gate_in.insert(L.gate_in.end(), gated.begin(), gated.end());
    L.out = scalars;
    L.out.insert(L.out.end(), gated.begin(), gated.end());
    L.radial_widths.push_back(n_basis);
    for (int h : m.radial_hidden) L.radial_widths.push_back(h);
    L.radial_widths.push_back(int(L.tp_numel));
    for (std::size_t k = 0; k + 1 < L.radial_widths.size(); ++k)
      L.radial.emplace_back(std::size_t(L.radial_widths[k]) * L.radial_widths[k + 1], 0.0);
    L.linear = make_linear(L.tp_out, L.gate_in);
    L.self = make_linear(in, L.gate_in);
    in = L.out;
    m.layers.push_back(std::move(L));
  }
  m.readout = make_linear(in, {{1, 0, 1}});
  m.shift.assign(S, 0.0);
  return m;
}

Model read_model(const std::string& path) {
  H5Reader in(path);
  auto fail = [&](const std::string& why) -> void { throw std::runtime_error(path + ": " + why); };
  if (!in.has_attribute("/", "format") || in.string_attribute("/", "format") != "prism-gnn-1")
    fail(
        "not a prism gnn weights file (its root attribute format is not \"prism-gnn-1\"; tools/gnn_e3nn.py "
        "writes one)");
  std::vector<int> species;
  for (auto z : in.int64_array_attribute("/", "species")) species.push_back(int(z));
  std::vector<int> radial_hidden;
  for (auto h : in.int64_array_attribute("/", "radial_hidden")) radial_hidden.push_back(int(h));
  Model m;
  try {
    m = make_model(species, in.double_attribute("/", "r_cut"), int(in.int64_attribute("/", "n_basis")),
                   int(in.int64_attribute("/", "envelope_p")), int(in.int64_attribute("/", "lmax")),
                   in.string_attribute("/", "hidden"), radial_hidden, int(in.int64_attribute("/", "layers")),
                   in.double_attribute("/", "avg_num_neighbors"),
                   in.has_attribute("/", "input") ? in.string_attribute("/", "input") : std::string());
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  m.path = path;
  if (m.species.empty() || m.r_cut <= 0 || m.n_basis < 1 || m.lmax < 0 || m.lmax > 3 || m.layers.empty() ||
      m.avg_num_neighbors <= 0)
    fail("needs species, r_cut > 0, n_basis >= 1, 0 <= lmax <= 3, layers >= 1 and avg_num_neighbors > 0");
  m.gate_silu_cst = in.double_attribute("/", "gate_silu_cst");
  m.gate_sigmoid_cst = in.double_attribute("/", "gate_sigmoid_cst");
  m.radial_silu_cst = in.double_attribute("/", "radial_silu_cst");
  auto take = [&](const std::string& name, std::vector<double>& into, std::vector<std::uint64_t> shape) {
    if (!in.exists(name)) fail("missing dataset " + name);
    if (in.shape(name) != shape) {
      std::string want;
      for (auto s : shape) want += (want.empty() ? "" : " x ") + std::to_string(s);
      fail("dataset " + name + " does not have the shape this architecture needs (" + want +
           "): the file's weights are of another architecture");
    }
    into = in.values<double>(name);
    for (double v : into)
      if (!std::isfinite(v)) fail("dataset " + name + " holds a non-finite weight");
  };
  take("/embed", m.embed.weight, {std::uint64_t(m.embed.numel)});
  for (std::size_t t = 0; t < m.layers.size(); ++t) {
    auto& L = m.layers[t];
    const std::string g = "/layer" + std::to_string(t);
    for (const auto& [attr, irreps] :
         {std::pair{"tp_irreps_out", &L.tp_out}, {"gate_irreps_in", &L.gate_in}, {"irreps_out", &L.out}})
      if (in.has_attribute(g, attr) && in.string_attribute(g, attr) != irreps_string(*irreps))
        fail(g + ":" + attr + " is \"" + in.string_attribute(g, attr) + "\" where this architecture has \"" +
             irreps_string(*irreps) + "\": the file's weights are of another architecture");
    for (std::size_t k = 0; k < L.radial.size(); ++k)
      take(g + "/radial" + std::to_string(k), L.radial[k],
           {std::uint64_t(L.radial_widths[k]), std::uint64_t(L.radial_widths[k + 1])});
    if (in.exists(g + "/radial" + std::to_string(L.radial.size())))
      fail(g + " has more radial layers than radial_hidden describes");
    take(g + "/linear", L.linear.weight, {std::uint64_t(L.linear.numel)});
    take(g + "/self", L.self.weight, {std::uint64_t(L.self.numel)});
  }
  if (in.exists("/layer" + std::to_string(m.layers.size())))
    fail("has more layer groups than its layers attribute says");
  take("/readout", m.readout.weight, {std::uint64_t(m.readout.numel)});
  take("/shift", m.shift, {std::uint64_t(m.species.size())});
  return m;
}

}  // namespace prism::gnn
