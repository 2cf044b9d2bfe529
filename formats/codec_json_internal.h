// CodecConfig <-> nlohmann::json, for zarr_format.cc, which parses the
// whole .zarray with nlohmann and hands the "compressor" value here.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "dtask/status.h"
#include "formats/codec.h"

namespace dtask::formats::internal {

Result<CodecConfig> codec_from_json(const nlohmann::json& compressor, std::string_view what);
nlohmann::json codec_to_json(const CodecConfig& config);

}  // namespace dtask::formats::internal
