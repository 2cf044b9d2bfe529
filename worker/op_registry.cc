#include "worker/op_registry.h"

#include <dlfcn.h>

namespace dtask {

Status OpRegistry::add(const std::string& name, OpFunction fn) {
  if (name.empty()) return Status::invalid("an op needs a name");
  if (!fn) return Status::invalid("op '" + name + "' has no function");
  if (!ops_.emplace(name, std::move(fn)).second) return Status::invalid("op '" + name + "' is already registered");
  return Status::success();
}

const OpFunction* OpRegistry::find(std::string_view name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, fn] : ops_) out.push_back(name);
  return out;
}

Status load_plugin(OpRegistry& registry, const std::string& path) {
  // RTLD_NODELETE: ops registered from the library must outlive any handle.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) return Status::io_error("cannot load plugin " + path + ": " + dlerror());
  using RegisterFn = void (*)(OpRegistry&);
  auto register_ops = reinterpret_cast<RegisterFn>(dlsym(handle, "dtask_register_ops"));
  if (register_ops == nullptr) {
    return Status::invalid("plugin " + path + " does not export dtask_register_ops(dtask::OpRegistry&)");
  }
  std::size_t before = registry.size();
  register_ops(registry);
  if (registry.size() == before) return Status::invalid("plugin " + path + " registered no ops");
  return Status::success();
}

}  // namespace dtask
