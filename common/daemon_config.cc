#include "common/daemon_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdio>
#include <utility>
#include <memory>
#include <sstream>
#include <vector>

namespace dtask {

namespace {

/// Reads a YAML (so also JSON) map of option name -> scalar or list of scalars.
class YamlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return {}; }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    YAML::Node root;
    try {
      root = YAML::Load(input);
    } catch (const YAML::Exception& e) {
      throw CLI::ConfigError("not YAML or JSON: " + std::string(e.what()));
    }
    if (root.IsNull()) return {};
    if (!root.IsMap()) throw CLI::ConfigError("expected a map of option names to values");
    std::vector<CLI::ConfigItem> items;
    for (const auto& entry : root) {
      CLI::ConfigItem item;
      item.name = entry.first.as<std::string>();
      const YAML::Node& value = entry.second;
      if (value.IsScalar()) {
        item.inputs.push_back(value.as<std::string>());
      } else if (value.IsSequence()) {
        for (const auto& element : value) {
          if (!element.IsScalar()) throw CLI::ConfigError(item.name + ": expected a value or a list of values");
          item.inputs.push_back(element.as<std::string>());
        }
      } else {
        throw CLI::ConfigError(item.name + ": expected a value or a list of values");
      }
      items.push_back(std::move(item));
    }
    return items;
  }
};

}  // namespace

std::string DaemonConfig::env_name(const std::string& prefix, const std::string& option) {
  std::string name = prefix;
  for (char c : option) name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

DaemonConfig::DaemonConfig(CLI::App& app, std::string program, std::string env_prefix)
    : app_(app), program_(std::move(program)) {
  for (CLI::Option* option : app.get_options()) {
    if (option->get_lnames().empty() || option->get_lnames().front() == "help") continue;
    option->envname(env_name(env_prefix, option->get_lnames().front()));
  }
  config_ = app.set_config("--config", "", "Options from a YAML or JSON file: {option-name: value, ...}");
  app.config_formatter(std::make_shared<YamlConfig>());
  app.allow_config_extras(false);
}

std::optional<int> DaemonConfig::parse(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const bool from_file = config_ != nullptr && config_->count() > 0;
    if (from_file && (dynamic_cast<const CLI::ConfigError*>(&e) != nullptr ||
                      dynamic_cast<const CLI::FileError*>(&e) != nullptr)) {
      std::string why = e.what();
      const std::string unknown = "INI was not able to parse ";  // CLI11's words for a key no option has
      if (why.rfind(unknown, 0) == 0) why = "unknown option '" + why.substr(unknown.size()) + "' (see --help)";
      std::fprintf(stderr, "%s: --config %s: %s\n", program_.c_str(), config_->as<std::string>().c_str(), why.c_str());
      return 2;
    }
    if (from_file && e.get_exit_code() != 0) {
      // The value may have come from the file: say which file was read.
      std::fprintf(stderr, "%s: %s (options were also read from --config %s)\n", program_.c_str(), e.what(),
                   config_->as<std::string>().c_str());
      return e.get_exit_code();
    }
    return app_.exit(e);
  }
  return std::nullopt;
}

}  // namespace dtask
