#include "gnn/structures.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "core/h5_reader.hpp"

namespace prism::gnn {

namespace {

constexpr int max_z = 118;

// Index z holds element z; index 0 is unused so the table reads like the periodic table.
constexpr const char* symbols[max_z + 1] = {
    "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
    "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
    "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
    "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po",
    "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md",
    "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

// CIAAW standard atomic weights (recent revisions: Al, Sc, Mn, Y, Zr, Rh, Tb,
// Ho, Tm, Yb, Hf, Au), with IUPAC's conventional value where the standard
// weight is an interval (H, Li, B, C, N, O, Mg, Si, S, Cl, Ar, Br, Tl, Pb).
// Elements with no stable isotope and no standard weight get the mass number
// of their longest-lived known isotope (Tc-98, Pm-145, Po-209, ...): MD only
// needs a plausible mass for them.
constexpr double masses[max_z + 1] = {
    0,       1.008,        4.002602, 6.94,        9.0121831, 10.81,      12.011,  14.007,
    15.999,  18.998403162, 20.1797,  22.98976928, 24.305,    26.9815384, 28.085,  30.973761998,
    32.06,   35.45,        39.95,    39.0983,     40.078,    44.955907,  47.867,  50.9415,
    51.9961, 54.938043,    55.845,   58.933194,   58.6934,   63.546,     65.38,   69.723,
    72.630,  74.921595,    78.971,   79.904,      83.798,    85.4678,    87.62,   88.905838,
    91.222,  92.90637,     95.95,    98,          101.07,    102.90549,  106.42,  107.8682,
    112.414, 114.818,      118.710,  121.760,     127.60,    126.90447,  131.293, 132.90545196,
    137.327, 138.90547,    140.116,  140.90766,   144.242,   145,        150.36,  151.964,
    157.25,  158.925354,   162.500,  164.930329,  167.259,   168.934219, 173.045, 174.9668,
    178.486, 180.94788,    183.84,   186.207,     190.23,    192.217,    195.084, 196.966570,
    200.592, 204.38,       207.2,    208.98040,   209,       210,        222,     223,
    226,     227,          232.0377, 231.03588,   238.02891, 237,        244,     243,
    247,     247,          251,      252,         257,       258,        259,     266,
    267,     268,          269,      270,         269,       278,        281,     282,
    285,     286,          289,      290,         293,       294,        294};

// 0 for an unknown symbol, so the readers can name the line themselves.
int lookup_z(const std::string& symbol) {
  static const std::unordered_map<std::string, int> table = [] {
    std::unordered_map<std::string, int> t;
    for (int z = 1; z <= max_z; ++z) t.emplace(symbols[z], z);
    return t;
  }();
  const auto it = table.find(symbol);
  return it == table.end() ? 0 : it->second;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const std::size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// Whole-token parses: a trailing "abc" must not pass as a number.
bool parse_double(const std::string& t, double& v) {
  if (t.empty()) return false;
  char* end = nullptr;
  v = std::strtod(t.c_str(), &end);
  return *end == '\0';
}

bool parse_int(const std::string& t, long long& v) {
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtoll(t.c_str(), &end, 10);
  return *end == '\0' && errno == 0;
}

std::string join_shape(const std::vector<std::uint64_t>& shape) {
  std::string s;
  for (auto d : shape) {
    s += '[';
    s += std::to_string(d);
    s += ']';
  }
  return s.empty() ? "a scalar" : s;
}

const char* const axis_name[3] = {"a", "b", "c"};

// A periodic direction needs a lattice vector, and a fully periodic cell a
// volume; otherwise neighbour images are undefined.  `fail` adds the location.
template <class Fail>
void check_cell(const Structure& s, Fail&& fail) {
  const auto& c = s.cell;
  double norm[3];
  for (int d = 0; d < 3; ++d) {
    norm[d] = std::sqrt(c[3 * d] * c[3 * d] + c[3 * d + 1] * c[3 * d + 1] + c[3 * d + 2] * c[3 * d + 2]);
    if (s.pbc[d] && norm[d] == 0)
      fail(std::string("periodic along ") + axis_name[d] + " but lattice vector " + axis_name[d] +
           " is zero");
  }
  if (s.pbc[0] && s.pbc[1] && s.pbc[2]) {
    const double det = c[0] * (c[4] * c[8] - c[5] * c[7]) - c[1] * (c[3] * c[8] - c[5] * c[6]) +
                       c[2] * (c[3] * c[7] - c[4] * c[6]);
    if (std::abs(det) <= 1e-10 * norm[0] * norm[1] * norm[2])
      fail("the lattice vectors are (nearly) coplanar: the cell has no volume");
  }
}

// ---- extended XYZ ------------------------------------------------------

// One token of the comment line: "quoted with \" escapes", {braced} or bare
// up to whitespace (and up to '=' for a key).
std::string comment_token(const std::string& line, std::size_t& i, bool key, const std::string& where) {
  std::string out;
  if (line[i] == '"') {
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      out += line[i];
    }
    if (i == line.size()) throw std::runtime_error(where + "unterminated quote in the comment line");
    ++i;
    return out;
  }
  if (line[i] == '{') {
    const std::size_t close = line.find('}', i);
    if (close == std::string::npos) throw std::runtime_error(where + "unterminated '{' in the comment line");
    out = line.substr(i + 1, close - i - 1);
    i = close + 1;
    return out;
  }
  while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])) && !(key && line[i] == '='))
    out += line[i++];
  return out;
}

// key=value pairs in order; a bare key means key=T, as in ASE.
std::vector<std::pair<std::string, std::string>> comment_pairs(const std::string& line,
                                                               const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  auto skip = [&](std::size_t& i) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  std::size_t i = 0;
  for (skip(i); i < line.size(); skip(i)) {
    std::string key = comment_token(line, i, true, where);
    if (key.empty()) throw std::runtime_error(where + "a value without a key in the comment line");
    std::size_t j = i;
    skip(j);
    std::string value = "T";
    if (j < line.size() && line[j] == '=') {
      i = j + 1;
      skip(i);
      value = i < line.size() ? comment_token(line, i, false, where) : std::string();
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// ASE's spellings of a boolean, plus 1/0 (an integer array ASE casts to bool).
bool parse_bool(const std::string& t, bool& v) {
  if (t == "T" || t == "True" || t == "true" || t == "TRUE" || t == "1") return v = true, true;
  if (t == "F" || t == "False" || t == "false" || t == "FALSE" || t == "0") return v = false, true;
  return false;
}

// Where the columns an atom line needs sit among the columns Properties describes.
struct Columns {
  std::size_t total = 0;
  std::size_t species = 0, pos = 0;
  std::size_t forces = SIZE_MAX;  // reference forces (forces:R:3 or REF_forces:R:3), when given
  bool numbers = false;           // species column holds atomic numbers (Z:I:1)
};

Columns parse_properties(const std::string& value, const std::string& where) {
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t colon = value.find(':', start);
    parts.push_back(value.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() % 3 != 0)
    throw std::runtime_error(where + "Properties '" + value + "' is not name:type:columns triplets");
  Columns c;
  std::size_t species = SIZE_MAX, pos = SIZE_MAX, z = SIZE_MAX;
  bool z_ok = false;
  for (std::size_t k = 0; k < parts.size(); k += 3) {
    const std::string &name = parts[k], &type = parts[k + 1];
    long long n = 0;
    if (name.empty() || !(type == "S" || type == "R" || type == "I" || type == "L") ||
        !parse_int(parts[k + 2], n) || n < 1)
      throw std::runtime_error(where + "Properties entry '" + name + ":" + type + ":" + parts[k + 2] +
                               "' is not name:S|R|I|L:columns");
    const bool is_s1 = type == "S" && n == 1, is_r3 = type == "R" && n == 3;
    if ((name == "species" && !is_s1) || (name == "pos" && !is_r3))
      throw std::runtime_error(where + "Properties gives " + name + ":" + type + ":" + parts[k + 2] +
                               "; it must be " + name + (name == "pos" ? ":R:3" : ":S:1"));
    if ((name == "forces" || name == "REF_forces") && is_r3) c.forces = c.total;
    if (name == "species") species = c.total;
    if (name == "pos") pos = c.total;
    if (name == "Z") {  // checked below, only when it is used
      z = c.total;
      z_ok = type == "I" && n == 1;
    }
    c.total += std::size_t(n);
  }
  if (pos == SIZE_MAX) throw std::runtime_error(where + "Properties '" + value + "' has no pos:R:3 entry");
  if (species == SIZE_MAX) {
    if (z == SIZE_MAX)
      throw std::runtime_error(where + "Properties '" + value + "' has neither species:S:1 nor Z:I:1");
    if (!z_ok) throw std::runtime_error(where + "Properties gives Z, which must be Z:I:1");
    c.numbers = true;
    species = z;
  }
  c.species = species;
  c.pos = pos;
  return c;
}

class LineReader {
 public:
  explicit LineReader(const std::string& path) : path_(path), in_(path) {
    if (!in_) throw std::runtime_error(path + ": cannot open for reading");
  }
  bool next(std::string& line) {
    if (!std::getline(in_, line)) return false;
    ++number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // files written on Windows
    return true;
  }
  std::size_t number() const { return number_; }
  std::string where(std::size_t line) const { return path_ + ":" + std::to_string(line) + ": "; }
  std::string where() const { return where(number_); }

 private:
  std::string path_;
  std::ifstream in_;
  std::size_t number_ = 0;
};

}  // namespace

int atomic_number(const std::string& symbol) {
  const int z = lookup_z(symbol);
  if (z == 0) throw std::runtime_error("unknown element symbol '" + symbol + "'");
  return z;
}

const char* element_symbol(int z) {
  if (z < 1 || z > max_z) throw std::runtime_error("no element has atomic number " + std::to_string(z));
  return symbols[z];
}

double atomic_mass(int z) {
  if (z < 1 || z > max_z) throw std::runtime_error("no element has atomic number " + std::to_string(z));
  return masses[z];
}

std::vector<Structure> read_extxyz(const std::string& path) {
  LineReader in(path);
  std::vector<Structure> frames;
  std::string line;
  std::size_t blank_from = 0;  // first line of a run of blank lines where a count was due
  while (in.next(line)) {
    if (blank(line)) {
      if (blank_from == 0) blank_from = in.number();
      continue;
    }
    // Only trailing blank lines are allowed: ASE stops reading at the first one.
    if (blank_from != 0)
      throw std::runtime_error(in.where() + "text after the blank line " + std::to_string(blank_from) +
                               "; frames must follow one another without blank lines");
    const std::size_t count_line = in.number();
    const auto count_tokens = split_ws(line);
    long long n = -1;
    if (count_tokens.size() != 1 || !parse_int(count_tokens[0], n) || n < 0)
      throw std::runtime_error(in.where() + "expected a frame's atom count, found '" + line + "'" +
                               (frames.empty()
                                    ? std::string()
                                    : " (does the atom count of the frame before match its atom lines?)"));
    if (!in.next(line))
      throw std::runtime_error(in.where(count_line + 1) + "the file ends before the comment line of a frame");
    const std::string where = in.where();

    Structure s;
    s.name = "frame" + std::to_string(frames.size());
    std::string properties = "species:S:1:pos:R:3", lattice, pbc;
    bool has_lattice = false, has_pbc = false, has_properties = false;
    for (auto& [key, value] : comment_pairs(line, where)) {
      const std::string k = lower(key);
      auto once = [&](bool& seen, std::string& slot) {
        if (seen) throw std::runtime_error(where + "the comment line gives " + key + " twice");
        seen = true;
        slot = value;
      };
      if (k == "lattice")
        once(has_lattice, lattice);
      else if (k == "properties")
        once(has_properties, properties);
      else if (k == "pbc")
        once(has_pbc, pbc);
      else if (key == "name" && !value.empty())
        s.name = value;
      else if (k == "energy" || k == "ref_energy") {
        double e = 0;
        if (!parse_double(value, e) || !std::isfinite(e))
          throw std::runtime_error(where + key + " must be a finite number, found '" + value + "'");
        s.ref_energy = e;
      }
    }
    const Columns cols = parse_properties(properties, where);

    if (has_lattice) {
      std::string flat = lattice;
      std::replace(flat.begin(), flat.end(), ',', ' ');  // also the [[..], ..] spelling
      std::replace(flat.begin(), flat.end(), '[', ' ');
      std::replace(flat.begin(), flat.end(), ']', ' ');
      const auto t = split_ws(flat);
      if (t.size() != 9)
        throw std::runtime_error(where + "Lattice must be 9 numbers, found " + std::to_string(t.size()) +
                                 " in '" + lattice + "'");
      for (int k = 0; k < 9; ++k)
        if (!parse_double(t[k], s.cell[k]) || !std::isfinite(s.cell[k]))
          throw std::runtime_error(where + "Lattice must be 9 finite numbers; entry " +
                                   std::to_string(k + 1) + " is '" + t[k] + "'");
    }
    // ASE's rule: a Lattice without pbc means periodic in all three directions.
    s.pbc = {has_lattice, has_lattice, has_lattice};
    if (has_pbc) {
      const auto t = split_ws(pbc);
      bool v[3] = {};
      bool ok = t.size() == 1 || t.size() == 3;
      for (std::size_t k = 0; ok && k < t.size(); ++k) ok = parse_bool(t[k], v[k]);
      if (!ok)
        throw std::runtime_error(where + "pbc must be 1 or 3 of T/F (True/False, 1/0), found '" + pbc + "'");
      for (int d = 0; d < 3; ++d) s.pbc[d] = t.size() == 1 ? v[0] : v[d];
      for (int d = 0; d < 3; ++d)
        if (s.pbc[d] && !has_lattice)
          throw std::runtime_error(where + "pbc is true along " + axis_name[d] + " but there is no Lattice");
    }
    check_cell(s, [&](const std::string& rule) { throw std::runtime_error(where + rule); });

    // Grown line by line: a corrupt count must end in an error, not a huge allocation.
    const std::size_t expect = std::size_t(std::min<long long>(n, 1 << 20));
    s.z.reserve(expect);
    s.pos.reserve(3 * expect);
    for (long long a = 0; a < n; ++a) {
      if (!in.next(line))
        throw std::runtime_error(in.where(in.number() + 1) + "the file ends after " + std::to_string(a) +
                                 " of the " + std::to_string(n) + " atoms line " +
                                 std::to_string(count_line) + " announces");
      const auto t = split_ws(line);
      if (t.size() < cols.total)
        throw std::runtime_error(in.where() + "too few columns: " + std::to_string(t.size()) +
                                 " where Properties gives " + std::to_string(cols.total));
      if (t.size() > cols.total)
        throw std::runtime_error(in.where() + "too many columns: " + std::to_string(t.size()) +
                                 " where Properties gives " + std::to_string(cols.total));
      const std::string& sp = t[cols.species];
      long long z = 0;
      if (cols.numbers) {
        if (!parse_int(sp, z) || z < 1 || z > max_z)
          throw std::runtime_error(in.where() + "atomic number '" + sp + "' is not an integer in 1..118");
      } else if ((z = lookup_z(sp)) == 0) {
        throw std::runtime_error(in.where() + "unknown element symbol '" + sp + "'");
      }
      s.z.push_back(int(z));
      for (int d = 0; d < 3; ++d) {
        const std::string& x = t[cols.pos + d];
        double v = 0;
        if (!parse_double(x, v))
          throw std::runtime_error(in.where() + "coordinate " + std::string(1, "xyz"[d]) +
                                   " is not a number: '" + x + "'");
        if (!std::isfinite(v))
          throw std::runtime_error(in.where() + "coordinate " + std::string(1, "xyz"[d]) +
                                   " is not finite: '" + x + "'");
        s.pos.push_back(v);
      }
      for (int d = 0; d < 3 && cols.forces != SIZE_MAX; ++d) {
        double v = 0;
        if (!parse_double(t[cols.forces + d], v) || !std::isfinite(v))
          throw std::runtime_error(in.where() + "force component " + std::string(1, "xyz"[d]) +
                                   " is not a finite number: '" + t[cols.forces + d] + "'");
        s.ref_forces.push_back(v);
      }
    }
    frames.push_back(std::move(s));
  }
  if (frames.empty()) throw std::runtime_error(path + ":1: holds no frames");
  return frames;
}

std::vector<Structure> read_structures_h5(const std::string& path) {
  const H5Reader in(path);
  const std::string root = "/structures";
  if (!in.exists(root))
    throw std::runtime_error(path + ": " + root +
                             ": missing (structures are /structures/<name>/{pos,z,cell})");
  std::vector<Structure> out;
  for (const auto& name : in.members(root)) {
    const std::string g = root + "/" + name;
    auto fail = [&](const std::string& object, const std::string& rule) {
      throw std::runtime_error(path + ": " + g + object + ": " + rule);
    };
    Structure s;
    s.name = name;

    for (const char* d : {"/pos", "/z"})
      if (!in.exists(g + d)) fail(d, "missing dataset");
    const auto pos_shape = in.shape(g + "/pos");
    if (pos_shape.size() != 2 || pos_shape[1] != 3)
      fail("/pos", "shape must be [N][3], found " + join_shape(pos_shape));
    const std::size_t n = pos_shape[0];
    s.pos = in.values<double>(g + "/pos");
    for (std::size_t k = 0; k < s.pos.size(); ++k)
      if (!std::isfinite(s.pos[k]))
        fail("/pos", "atom " + std::to_string(k / 3) + " coordinate " + std::string(1, "xyz"[k % 3]) +
                         " is not finite");

    const auto z_shape = in.shape(g + "/z");
    if (z_shape.size() != 1 || z_shape[0] != n)
      fail("/z", "shape must be [" + std::to_string(n) + "] like pos, found " + join_shape(z_shape));
    const auto z = in.values<std::int64_t>(g + "/z");
    s.z.resize(n);
    for (std::size_t a = 0; a < n; ++a) {
      if (z[a] < 1 || z[a] > max_z)
        fail("/z", "atom " + std::to_string(a) + " has atomic number " + std::to_string(z[a]) +
                       ", not one of 1..118");
      s.z[a] = int(z[a]);
    }

    if (!in.has_attribute(g, "pbc")) fail("", "missing attribute pbc (0 or 1, or 3 of them)");
    const auto pbc = in.int64_array_attribute(g, "pbc");
    if ((pbc.size() != 1 && pbc.size() != 3) ||
        std::any_of(pbc.begin(), pbc.end(), [](std::int64_t v) { return v != 0 && v != 1; }))
      fail("", "attribute pbc must be 0 or 1, or 3 of them");
    for (int d = 0; d < 3; ++d) s.pbc[d] = pbc[pbc.size() == 1 ? 0 : d] == 1;

    if (in.exists(g + "/cell")) {
      const auto cell_shape = in.shape(g + "/cell");
      if (cell_shape != std::vector<std::uint64_t>{3, 3})
        fail("/cell", "shape must be [3][3], found " + join_shape(cell_shape));
      const auto cell = in.values<double>(g + "/cell");
      for (int k = 0; k < 9; ++k) {
        if (!std::isfinite(cell[k])) fail("/cell", "entry " + std::to_string(k) + " is not finite");
        s.cell[k] = cell[k];
      }
    } else if (s.pbc[0] || s.pbc[1] || s.pbc[2]) {
      fail("/cell", "missing dataset, needed because pbc is set");
    }
    check_cell(s, [&](const std::string& rule) { fail("/cell", rule); });
    if (in.exists(g + "/energy")) {
      const auto e = in.values<double>(g + "/energy");
      if (e.size() != 1 || !std::isfinite(e[0])) fail("/energy", "must be one finite number");
      s.ref_energy = e[0];
    }
    if (in.exists(g + "/forces")) {
      if (in.shape(g + "/forces") != std::vector<std::uint64_t>{n, 3})
        fail("/forces", "shape must be [" + std::to_string(n) + "][3] like pos");
      s.ref_forces = in.values<double>(g + "/forces");
      for (double f : s.ref_forces)
        if (!std::isfinite(f)) fail("/forces", "holds a non-finite force");
    }
    out.push_back(std::move(s));
  }
  if (out.empty()) throw std::runtime_error(path + ": " + root + ": holds no structures");
  return out;
}

std::vector<Structure> read_structures(const std::string& path) {
  const std::string ext = lower(std::filesystem::path(path).extension().string());
  if (ext == ".h5" || ext == ".hdf5") return read_structures_h5(path);
  if (ext == ".xyz" || ext == ".extxyz") return read_extxyz(path);
  throw std::runtime_error(path + ": unknown structure file type '" + ext +
                           "' (expected .xyz/.extxyz or .h5/.hdf5)");
}

Structure replicate(const Structure& s, std::array<int, 3> n) {
  for (int d = 0; d < 3; ++d) {
    if (n[d] < 1)
      throw std::runtime_error("replicate " + s.name + ": the repeat along " + axis_name[d] + " is " +
                               std::to_string(n[d]) + "; it must be at least 1");
    if (n[d] > 1 && !s.pbc[d])
      throw std::runtime_error("replicate " + s.name + ": cannot repeat along " + axis_name[d] +
                               ", which is not periodic");
  }
  // Overflow-safe size check: the images times the atoms must fit a vector of 3 doubles each.
  const std::size_t limit = std::vector<double>().max_size() / 3;
  std::size_t images = 1;
  for (int d = 0; d < 3; ++d) {
    if (images > limit / std::size_t(n[d]))
      throw std::runtime_error("replicate " + s.name + ": too many atoms");
    images *= std::size_t(n[d]);
  }
  const std::size_t atoms = s.z.size();
  if (atoms > 0 && images > limit / atoms)
    throw std::runtime_error("replicate " + s.name + ": too many atoms");

  Structure r;
  r.name = s.name;
  r.pbc = s.pbc;
  for (int k = 0; k < 9; ++k) r.cell[k] = s.cell[k] * n[k / 3];
  r.ref_energy = s.ref_energy * double(images);
  r.z.reserve(images * atoms);
  r.pos.reserve(3 * images * atoms);
  const auto& c = s.cell;
  for (int ia = 0; ia < n[0]; ++ia)
    for (int ib = 0; ib < n[1]; ++ib)
      for (int ic = 0; ic < n[2]; ++ic) {
        double shift[3];
        for (int d = 0; d < 3; ++d) shift[d] = ia * c[d] + ib * c[3 + d] + ic * c[6 + d];
        r.z.insert(r.z.end(), s.z.begin(), s.z.end());
        r.ref_forces.insert(r.ref_forces.end(), s.ref_forces.begin(), s.ref_forces.end());
        for (std::size_t i = 0; i < atoms; ++i)
          for (int d = 0; d < 3; ++d) r.pos.push_back(s.pos[3 * i + d] + shift[d]);
      }
  return r;
}

}  // namespace prism::gnn
