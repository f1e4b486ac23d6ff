#include "core/deck.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace prism {

namespace {
// Shortest text that reads back as the same double.
std::string exact_text(double x) {
  std::ostringstream o;
  o.precision(17);
  o << x;
  return o.str();
}
}  // namespace

Deck::Deck() : table_(std::make_unique<toml::table>()) {}
Deck::Deck(Deck&&) noexcept = default;
Deck& Deck::operator=(Deck&&) noexcept = default;
Deck::~Deck() = default;

namespace {
// toml++ 3.3 reaches __builtin_unreachable (undefined behaviour) when it asks
// whether some non-ASCII characters outside strings are whitespace, so such
// characters, and NUL bytes, are refused before it sees the text: they may
// appear only inside quoted strings and comments.  Throws naming the line.
void check_characters(const std::string& text, const std::string& name) {
  enum { bare, comment, basic, literal } state = bare;
  bool multiline = false;
  std::size_t line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0) throw DeckError(name + ":" + std::to_string(line) + ": the deck holds a NUL byte");
    auto starts = [&](const char* q) { return text.compare(i, std::char_traits<char>::length(q), q) == 0; };
    if (c == '\n') {
      ++line;
      if (state == comment || (!multiline && state != bare)) state = bare;
      continue;
    }
    switch (state) {
      case bare:
        if (c == '#') {
          state = comment;
        } else if (c == '"' || c == '\'') {
          multiline = starts(c == '"' ? "\"\"\"" : "'''");
          state = c == '"' ? basic : literal;
          if (multiline) i += 2;
        } else if (c >= 0x80) {
          throw DeckError(name + ":" + std::to_string(line) +
                          ": a non-ASCII character outside a quoted string or comment");
        }
        break;
      case basic:
        if (c == '\\') {
          ++i;  // an escaped character, whatever it is
          if (i < text.size() && text[i] == '\n') ++line;
        } else if (c == '"' && (!multiline || starts("\"\"\""))) {
          state = bare;
          if (multiline) i += 2;
        }
        break;
      case literal:
        if (c == '\'' && (!multiline || starts("'''"))) {
          state = bare;
          if (multiline) i += 2;
        }
        break;
      case comment:
        break;
    }
  }
}
}  // namespace

Deck Deck::from_string(const std::string& text, const std::string& name) {
  check_characters(text, name);
  Deck deck;
  deck.path_ = name;
  deck.text_ = text;
  try {
    *deck.table_ = toml::parse(std::string_view(text), std::string_view(name));
  } catch (const toml::parse_error& err) {
    std::ostringstream msg;
    msg << name << ":" << err.source().begin.line << ": TOML syntax error: " << err.description();
    throw DeckError(msg.str());
  }
  return deck;
}

Deck Deck::from_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw DeckError(path + ":0: is a directory, not a deck");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DeckError(path + ":0: cannot open the deck for reading");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw DeckError(path + ":0: cannot read the deck");
  return from_string(buf.str(), path);
}

void Deck::apply_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  const auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq || dot == 0 || dot + 1 == eq)
    throw DeckError("--set " + assignment + ": expected section.key=value");
  const std::string section = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, eq - dot - 1);
  const std::string value = assignment.substr(eq + 1);
  if (value.find_first_of("\n\r") != std::string::npos)
    throw DeckError("--set " + section + "." + key + ": the value must be one line (it holds a line break)");
  check_characters("v = " + value, "--set " + section + "." + key);
  toml::table parsed;
  try {
    parsed = toml::parse(std::string_view("v = " + value), std::string_view("--set"));
  } catch (const toml::parse_error&) {
    parsed = toml::table{};
    parsed.insert("v", value);  // a bare word such as ising3d is a string
  }
  if (parsed.size() != 1)
    throw DeckError("--set " + section + "." + key + ": the value '" + value + "' is not one TOML value");
  auto* sec = table_->get_as<toml::table>(section);
  if (!sec) {
    table_->insert_or_assign(section, toml::table{});
    sec = table_->get_as<toml::table>(section);
  }
  sec->insert_or_assign(key, *parsed.get("v"));
  overridden_.insert(section + "." + key);
}

bool Deck::has_section(const std::string& section) const {
  return table_->get_as<toml::table>(section) != nullptr;
}

bool Deck::has(const std::string& section, const std::string& key) const {
  const auto* sec = table_->get_as<toml::table>(section);
  return sec && sec->get(key) != nullptr;
}

std::string Deck::get_path(const std::string& section, const std::string& key,
                           std::optional<std::string> fallback) {
  const std::string file = get_string(section, key, std::move(fallback));
  if (file.empty()) return file;
  const auto folder = std::filesystem::path(path_).parent_path();
  return std::filesystem::path(file).is_relative() && !folder.empty() ? (folder / file).string() : file;
}

std::vector<double> Deck::get_numbers(const std::string& section, const std::string& key,
                                      const std::string& what) {
  const auto* n = node(section, key);
  const auto* arr = n ? n->as_array() : nullptr;
  if (!arr) fail(section, key, "must be an array of " + what + "s");
  std::vector<double> out;
  for (const auto& item : *arr) {
    const auto v = item.value<double>();
    if (!v || !std::isfinite(*v)) fail(section, key, "every entry must be a finite " + what);
    out.push_back(*v);
  }
  record_values(section, key, out);
  return out;
}

Deck::Tensor Deck::get_tensor(const std::string& section, const std::string& key) {
  const auto* n = node(section, key);
  if (!n) fail(section, key, "is required here");
  Tensor t;
  // The shape from the first element at each depth; every other element must match it.
  for (const toml::node* at = n; at->is_array();) {
    const auto* arr = at->as_array();
    if (arr->empty()) fail(section, key, "an array here may not be empty");
    t.shape.push_back(arr->size());
    at = arr->get(0);
  }
  std::function<void(const toml::node&, std::size_t, const std::string&)> walk =
      [&](const toml::node& x, std::size_t depth, const std::string& index) {
        if (depth == t.shape.size()) {
          const auto v = x.value<double>();
          if (x.is_array() || !v || !std::isfinite(*v))
            fail(section, key,
                 "entry " + (index.empty() ? std::string("(the value)") : index) + " is not a finite number");
          t.values.push_back(*v);
          return;
        }
        const auto* arr = x.as_array();
        if (!arr || arr->size() != t.shape[depth])
          fail(section, key,
               "must be rectangular: " + (index.empty() ? std::string("the array") : "row " + index) +
                   " has " + (arr ? std::to_string(arr->size()) + " entries" : std::string("no array")) +
                   " where the first has " + std::to_string(t.shape[depth]));
        for (std::size_t k = 0; k < arr->size(); ++k)
          walk(*arr->get(k), depth + 1, index + "[" + std::to_string(k) + "]");
      };
  walk(*n, 0, "");
  return t;
}

std::string Deck::location(const std::string& section, const std::string& key) const {
  const std::string full = section + "." + key;
  if (overridden_.count(full)) return "--set " + full;
  std::size_t line = 0;
  if (const auto* sec = table_->get_as<toml::table>(section)) {
    if (const auto* n = sec->get(key))
      line = n->source().begin.line;
    else
      line = sec->source().begin.line;
  }
  return path_ + ":" + std::to_string(line);
}

void Deck::fail(const std::string& section, const std::string& key, const std::string& rule) const {
  throw DeckError(location(section, key) + ": key '" + section + "." + key + "': " + rule);
}

void Deck::only_with(const std::string& section, std::initializer_list<const char*> keys,
                     const std::string& condition) {
  for (const char* k : keys) only_with_[section + "." + k] = condition;
}

const toml::node* Deck::node(const std::string& section, const std::string& key) {
  used_.insert(section + "." + key);
  const auto* sec = table_->get_as<toml::table>(section);
  const toml::node* n = sec ? sec->get(key) : nullptr;
  // A union-typed key is recorded as written (its caller interprets it).
  std::ostringstream text;
  if (n) text << toml::toml_formatter(*n, toml::format_flags::none);
  record(section, key, n ? text.str() : "(absent)");
  return n;
}

void Deck::record(const std::string& section, const std::string& key, const std::string& value) {
  effective_[section + "." + key] = value;
}

void Deck::record_values(const std::string& section, const std::string& key,
                         const std::vector<double>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + exact_text(values[i]);
  record(section, key, text + "]");
}

std::string Deck::effective_settings(const std::string& section,
                                     const std::vector<std::string>& excluded) const {
  std::string out;
  const std::string prefix = section + ".";
  for (const auto& [full, value] : effective_) {
    if (full.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string key = full.substr(prefix.size());
    bool skip = false;
    for (const auto& e : excluded) skip = skip || e == key;
    if (!skip) out += key + " = " + value + "\n";
  }
  return out;
}

std::int64_t Deck::get_int(const std::string& section, const std::string& key,
                           std::optional<std::int64_t> fallback, std::int64_t min, std::int64_t max) {
  const auto* n = node(section, key);
  if (!n) {
    if (!fallback) fail(section, key, "required key is missing");
    record(section, key, std::to_string(*fallback));
    return *fallback;
  }
  std::int64_t value = 0;
  if (const auto* i = n->as_integer()) {
    value = i->get();
  } else if (const auto* f = n->as_floating_point(); f && std::isfinite(f->get()) &&
                                                     f->get() == std::floor(f->get()) &&
                                                     std::fabs(f->get()) < 9.0e15) {
    value = static_cast<std::int64_t>(f->get());  // 1e4 is a fine count
  } else {
    fail(section, key, "must be an integer");
  }
  if (value < min || value > max)
    fail(section, key,
         "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
             std::to_string(value));
  record(section, key, std::to_string(value));
  return value;
}

double Deck::get_double(const std::string& section, const std::string& key, std::optional<double> fallback,
                        std::optional<double> min, std::optional<double> max, bool min_exclusive) {
  const auto* n = node(section, key);
  if (!n) {
    if (!fallback) fail(section, key, "required key is missing");
    record(section, key, exact_text(*fallback));
    return *fallback;
  }
  double value = 0;
  if (const auto* f = n->as_floating_point())
    value = f->get();
  else if (const auto* i = n->as_integer())
    value = static_cast<double>(i->get());
  else
    fail(section, key, "must be a number");
  std::ostringstream v;
  v << value;
  if (!std::isfinite(value)) fail(section, key, "must be finite, got " + v.str());
  if (min && (min_exclusive ? value <= *min : value < *min)) {
    std::ostringstream r;
    r << "must be " << (min_exclusive ? "> " : ">= ") << *min << ", got " << v.str();
    fail(section, key, r.str());
  }
  if (max && value > *max) {
    std::ostringstream r;
    r << "must be <= " << *max << ", got " << v.str();
    fail(section, key, r.str());
  }
  record(section, key, exact_text(value));
  return value;
}

bool Deck::get_bool(const std::string& section, const std::string& key, std::optional<bool> fallback) {
  const auto* n = node(section, key);
  bool value = false;
  if (!n) {
    if (!fallback) fail(section, key, "required key is missing");
    value = *fallback;
  } else {
    const auto* b = n->as_boolean();
    if (!b) fail(section, key, "must be true or false");
    value = b->get();
  }
  record(section, key, value ? "true" : "false");
  return value;
}

std::string Deck::get_string(const std::string& section, const std::string& key,
                             std::optional<std::string> fallback, const std::vector<std::string>& choices) {
  const auto* n = node(section, key);
  std::string value;
  if (!n) {
    if (!fallback) fail(section, key, "required key is missing");
    value = *fallback;
  } else {
    const auto* s = n->as_string();
    if (!s) fail(section, key, "must be a string");
    value = s->get();
  }
  if (!choices.empty()) {
    bool ok = false;
    std::string list;
    for (const auto& c : choices) {
      ok = ok || c == value;
      list += (list.empty() ? "" : " | ") + c;
    }
    if (!ok) fail(section, key, "must be one of " + list + ", got '" + value + "'");
  }
  record(section, key, "'" + value + "'");
  return value;
}

void Deck::check_unknown(const std::vector<std::string>& known_sections) const {
  for (const auto& [name, sec_node] : *table_) {
    const std::string section(name.str());
    bool known = false;
    for (const auto& k : known_sections) known = known || k == section;
    const auto* sec = sec_node.as_table();
    if (!known || !sec) {
      std::string list;
      for (const auto& k : known_sections) list += (list.empty() ? "" : ", ") + k;
      // A section that only overrides made is reported at the first of them.
      std::string where = path_ + ":" + std::to_string(sec_node.source().begin.line);
      for (const auto& o : overridden_)
        if (o.rfind(section + ".", 0) == 0 && sec_node.source().begin.line == 0) {
          where = "--set " + o;
          break;
        }
      throw DeckError(where + ": section '" + section + "': unknown section (known: " + list + ")");
    }
    for (const auto& [key, value] : *sec) {
      const std::string full = section + "." + std::string(key.str());
      if (used_.count(full)) continue;
      const auto why = only_with_.find(full);
      fail(section, std::string(key.str()),
           why == only_with_.end() ? "unknown key"
                                   : "applies only with " + why->second + ", which this deck does not set");
    }
  }
}

std::string Deck::resolved() const {
  std::ostringstream out;
  out << toml::toml_formatter(*table_);
  return out.str();
}

}  // namespace prism
