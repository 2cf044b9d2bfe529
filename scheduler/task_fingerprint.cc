#include "scheduler/task_fingerprint.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace dtask::scheduler {

namespace {

/// Folds `part` into `seed` (splitmix64's finaliser on the sum: every input
/// bit reaches every output bit, so nearby inputs do not cancel out).
std::uint64_t fold_hash(std::uint64_t seed, std::uint64_t part) {
  std::uint64_t x = seed + 0x9e3779b97f4a7c15ULL + part;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_bytes(std::string_view bytes) {
  // Length first: "ab" + "c" and "a" + "bc" must not fold alike.
  return fold_hash(bytes.size(), std::hash<std::string_view>{}(bytes));
}

std::string_view bytes_of(const std::shared_ptr<const Buffer>& buffer) {
  if (!buffer) return {};
  return {reinterpret_cast<const char*>(buffer->data()), buffer->size()};
}

std::uint64_t hash_value(const Value& value) {
  // Each alternative's index is folded in, so 1, 1.0, true and "1" differ.
  const Value::Variant& v = value.variant();
  std::uint64_t h = fold_hash(0, v.index());
  if (const auto* b = std::get_if<bool>(&v)) return fold_hash(h, *b ? 1 : 0);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return fold_hash(h, static_cast<std::uint64_t>(*i));
  if (const auto* d = std::get_if<double>(&v)) return fold_hash(h, std::hash<double>{}(*d));
  if (const auto* s = std::get_if<std::string>(&v)) return fold_hash(h, hash_bytes(*s));
  if (const auto* bytes = std::get_if<Bytes>(&v)) return fold_hash(h, hash_bytes(bytes->view()));
  if (const auto* ref = std::get_if<TaskRef>(&v)) return fold_hash(h, hash_bytes(ref->key));
  if (const auto* array = std::get_if<NDArray>(&v)) {
    h = fold_hash(h, static_cast<std::uint64_t>(array->dtype));
    for (std::int64_t extent : array->shape) h = fold_hash(h, static_cast<std::uint64_t>(extent));
    return fold_hash(h, hash_bytes(bytes_of(array->buffer)));
  }
  if (const auto* list = std::get_if<ValueList>(&v)) {
    h = fold_hash(h, list->size());
    for (const Value& item : *list) h = fold_hash(h, hash_value(item));
  }
  return h;  // null: its index alone
}

}  // namespace

std::uint64_t task_fingerprint(const msg::TaskDef& def) {
  std::uint64_t h = hash_bytes(def.op);
  h = fold_hash(h, def.args.size());
  for (const Value& arg : def.args) h = fold_hash(h, hash_value(arg));
  // The scheduler keeps dependencies once each, in first-seen order, and a
  // journal snapshot rebuilds them from there: compare them as a set, of
  // their hashes (sorting a million integers is cheap; sorting a million
  // keys was a tenth of update_graph for a wide sum).
  std::vector<std::uint64_t> deps;
  deps.reserve(def.dependencies.size());
  for (const std::string& dep : def.dependencies) deps.push_back(hash_bytes(dep));
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  h = fold_hash(h, deps.size());
  for (std::uint64_t dep : deps) h = fold_hash(h, dep);
  return h == 0 ? 1 : h;
}

std::string redefinition_error(const TaskState& known, const msg::TaskDef& def) {
  std::string what = "key '" + def.key + "' already names ";
  if (known.is_scattered()) {
    what += "data scattered by a client, and this graph defines it as a task of op '" + def.op + "'";
  } else if (known.op() != def.op) {
    what += "a task of op '" + known.op() + "', and this graph defines it with op '" + def.op + "'";
  } else {
    what += "a task of op '" + known.op() + "' with other arguments or dependencies than this graph gives it";
  }
  return what + " (a key must always name the same computation: give a new definition a new key)";
}

}  // namespace dtask::scheduler
