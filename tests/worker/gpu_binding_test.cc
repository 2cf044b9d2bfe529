// dtask-worker --device: which values are refused and why, which
// CUDA_VISIBLE_DEVICES value binds the worker to the device, and what the
// binding reports when no device can be asked (a CPU-only build here).
#include "worker/gpu_binding.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

namespace dtask::worker {
namespace {

const ResourceList kOneGpu = {{"GPU", 1}};

/// Expects `text` to be refused with a message containing `why`.
void expect_refused(const std::string& text, const ResourceList& resources, const std::string& why) {
  auto index = parse_device_option(text, resources);
  ASSERT_FALSE(index.ok()) << "--device '" << text << "' was accepted";
  EXPECT_EQ(index.status().code(), StatusCode::kInvalid);
  EXPECT_NE(index.status().message().find(why), std::string::npos) << index.status().message();
}

/// CUDA_VISIBLE_DEVICES set (or unset) for one test, restored afterwards.
class ScopedVisibleDevices {
 public:
  explicit ScopedVisibleDevices(const char* value) {
    if (const char* old = ::getenv("CUDA_VISIBLE_DEVICES")) saved_ = old;
    if (value) {
      ::setenv("CUDA_VISIBLE_DEVICES", value, 1);
    } else {
      ::unsetenv("CUDA_VISIBLE_DEVICES");
    }
  }
  ~ScopedVisibleDevices() {
    if (saved_) {
      ::setenv("CUDA_VISIBLE_DEVICES", saved_->c_str(), 1);
    } else {
      ::unsetenv("CUDA_VISIBLE_DEVICES");
    }
  }

 private:
  std::optional<std::string> saved_;
};

// A decimal index from 0 on a worker with a GPU resource is taken.
TEST(GpuBindingTest, DeviceIndexIsTaken) {
  auto zero = parse_device_option("0", kOneGpu);
  ASSERT_TRUE(zero.ok()) << zero.status().message();
  EXPECT_EQ(*zero, 0u);
  auto seven = parse_device_option("7", {{"MEM", 2e9}, {"GPU", 0.5}});
  ASSERT_TRUE(seven.ok()) << seven.status().message();
  EXPECT_EQ(*seven, 7u);
}

// Negative, non-numeric, partly numeric and empty values, and a worker
// without a GPU resource, are refused with a message that says what to give.
TEST(GpuBindingTest, BadDeviceValuesAreRefused) {
  expect_refused("-1", kOneGpu, "--device -1 is negative: devices are numbered from 0");
  expect_refused("gpu0", kOneGpu, "--device 'gpu0' is not a device index (give a number from 0");
  expect_refused("1x", kOneGpu, "'1x' is not a device index");
  expect_refused("1.5", kOneGpu, "'1.5' is not a device index");
  expect_refused("", kOneGpu, "'' is not a device index");
  expect_refused("99999999999", kOneGpu, "out of range");
  expect_refused("0", {}, "this worker declares none: add --resources GPU=1");
  expect_refused("0", {{"MEM", 1e9}}, "add --resources GPU=1");
  expect_refused("0", {{"GPU", 0}}, "add --resources GPU=1");
}

// Unset, --device N makes CUDA_VISIBLE_DEVICES=N; set (by Slurm, say), N
// picks the N-th device it lists, whatever it names them by.
TEST(GpuBindingTest, VisibleDevicesNameTheBoundDevice) {
  EXPECT_EQ(cuda_visible_devices_for(0, nullptr).value_or("?"), "0");
  EXPECT_EQ(cuda_visible_devices_for(3, nullptr).value_or("?"), "3");
  EXPECT_EQ(cuda_visible_devices_for(0, "2,3").value_or("?"), "2");
  EXPECT_EQ(cuda_visible_devices_for(1, "2, 3").value_or("?"), "3");
  EXPECT_EQ(cuda_visible_devices_for(1, "GPU-aaaa,GPU-bbbb").value_or("?"), "GPU-bbbb");
  auto past_end = cuda_visible_devices_for(2, "2,3");
  ASSERT_FALSE(past_end.ok());
  EXPECT_NE(past_end.status().message().find("CUDA_VISIBLE_DEVICES=\"2,3\" lets this process see 2 devices"),
            std::string::npos)
      << past_end.status().message();
  auto none = cuda_visible_devices_for(0, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("see 0 devices"), std::string::npos) << none.status().message();
}

// Binding sets CUDA_VISIBLE_DEVICES and reports the index it was given; with
// no device to ask, the name stays empty and the reason is kept.
TEST(GpuBindingTest, BindingSetsTheEnvironmentAndKeepsTheIndex) {
  ScopedVisibleDevices inherited("4,5");
  auto binding = bind_to_gpu(1);
  ASSERT_TRUE(binding.ok()) << binding.status().message();
  EXPECT_EQ(binding->visible_devices, "5");
  ASSERT_NE(::getenv("CUDA_VISIBLE_DEVICES"), nullptr);
  EXPECT_STREQ(::getenv("CUDA_VISIBLE_DEVICES"), "5");
  EXPECT_EQ(binding->device.index, 1u);
  EXPECT_EQ(binding->device.name.empty(), !binding->no_device.empty());
  if (binding->device.name.empty()) {
    EXPECT_EQ(binding->device.memory, 0u);
  }

  ScopedVisibleDevices too_few("4");
  EXPECT_FALSE(bind_to_gpu(1).ok());
  EXPECT_STREQ(::getenv("CUDA_VISIBLE_DEVICES"), "4") << "a refused binding changed the environment";
}

}  // namespace
}  // namespace dtask::worker
