#include "worker/op_registry.h"

#include <dlfcn.h>

namespace dtask {

Status OpRegistry::add(const std::string& name, OpFunction fn) {
  Status status = Status::success();
  if (name.empty()) {
    status = Status::invalid("an op needs a name");
  } else if (!fn) {
    status = Status::invalid("op '" + name + "' has no function");
  } else if (!ops_.emplace(name, std::move(fn)).second) {
    status = Status::invalid("op '" + name + "' is already registered");
  }
  if (!status.ok()) errors_.push_back(status.message());
  return status;
}

std::vector<std::string> OpRegistry::take_errors() {
  std::vector<std::string> out;
  out.swap(errors_);
  return out;
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
  using AbiVersionFn = std::uint32_t (*)();
  auto abi_version = reinterpret_cast<AbiVersionFn>(dlsym(handle, "dtask_plugin_abi_version"));
  if (abi_version == nullptr) {
    return Status::invalid("plugin " + path + " has no ABI version: add DTASK_PLUGIN_ABI to its source (see "
                           "worker/op_registry.h) and rebuild it against this dtask");
  }
  if (const std::uint32_t version = abi_version(); version != kPluginAbiVersion) {
    return Status::invalid("plugin " + path + " was built for plugin ABI " + std::to_string(version) +
                           ", this worker has ABI " + std::to_string(kPluginAbiVersion) + ": rebuild it against this dtask");
  }
  using RegisterFn = void (*)(OpRegistry&);
  auto register_ops = reinterpret_cast<RegisterFn>(dlsym(handle, "dtask_register_ops"));
  if (register_ops == nullptr) {
    return Status::invalid("plugin " + path + " does not export dtask_register_ops(dtask::OpRegistry&)");
  }
  (void)registry.take_errors();  // only this plugin's failures count below
  std::size_t before = registry.size();
  register_ops(registry);
  std::vector<std::string> errors = registry.take_errors();
  if (!errors.empty()) {
    std::string joined;
    for (const std::string& e : errors) joined += (joined.empty() ? "" : "; ") + e;
    return Status::invalid("plugin " + path + ": " + joined);
  }
  if (registry.size() == before) return Status::invalid("plugin " + path + " registered no ops");
  return Status::success();
}

}  // namespace dtask
