// The messages of proto/messages.capnp as plain C++ structs. Connections
// decode frames into these at once, so no code outside common/message_codec.cc
// touches Cap'n Proto readers (and its heavy headers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "dtask/resources.h"
#include "dtask/value.h"

namespace dtask {

// 2: task arguments name dependencies by index; 3: dependencies name their
// holders by index into the batch's addresses.
inline constexpr std::uint32_t kProtocolVersion = 3;

enum class PeerRole : std::uint8_t { kClient = 0, kWorker = 1, kPeer = 2 };

/// What a client learns about a key it wants.
enum class KeyOutcome : std::uint8_t { kMemory = 0, kErred = 1, kCancelled = 2, kLost = 3 };

/// What a worker reports besides computing, for the dashboard's task stream.
enum class ActivityKind : std::uint8_t { kTransfer = 0, kSpill = 1, kUnspill = 2 };

/// Run order: higher user priority first, then older submissions, then the
/// depth-first position in the graph (dask's (−user, generation, order)).
struct Priority {
  std::int32_t user = 0;
  std::uint64_t generation = 0;
  std::uint64_t order = 0;
  /// True when `this` should run before `other`.
  bool runs_before(const Priority& other) const {
    if (user != other.user) return user > other.user;
    if (generation != other.generation) return generation < other.generation;
    return order < other.order;
  }
};

namespace msg {

struct Handshake {
  std::uint32_t protocol_version = kProtocolVersion;
  PeerRole role = PeerRole::kClient;
  std::string name;
  std::string auth_token;
  /// A client's id for its lifetime: after a scheduler restart (--journal)
  /// the client reconnects with it and gets its futures back. Empty for workers.
  std::string session;
};
struct HandshakeReply {
  bool ok = true;
  std::string error;
  std::string server_name;
  std::string dashboard_address;  // "http://HOST:PORT/"; empty when the scheduler serves none
  /// The scheduler keeps a journal (--journal): clients and workers that lose
  /// it reconnect with back-off instead of giving up.
  bool resumable = false;
};

struct TaskDef {
  std::string key;
  std::string op;
  std::vector<Value> args;
  std::vector<std::string> dependencies;
  Priority priority;
  ResourceList resources;
  std::vector<std::string> workers;
  std::uint32_t retries = 0;
  bool allow_other_workers = false;
};
struct UpdateGraph {
  std::vector<TaskDef> tasks;
  std::vector<std::string> wanted_keys;
  /// More parts of this graph follow; the last part (more = false) brings
  /// wanted_keys. Parts come in dependency order.
  bool more = false;
};
struct KeyInfo {
  std::string key;
  std::uint64_t nbytes = 0;
  std::string type_name;
};
struct KeysScattered {
  std::string worker;
  std::vector<KeyInfo> keys;
};
struct ReleaseKeys {
  std::vector<std::string> keys;
};
struct CancelKeys {
  std::vector<std::string> keys;
};
struct InfoRequest {
  std::uint64_t request_id = 0;
};
struct InfoReply {
  std::uint64_t request_id = 0;
  std::string json;
};
struct KeyStatus {
  std::string key;
  KeyOutcome state = KeyOutcome::kMemory;
  std::vector<std::string> who_has;
  std::string op;
  std::string failed_key;
  std::string message;
  std::uint64_t nbytes = 0;
  std::string type_name;
  /// The result itself, when it was small enough to travel with its status
  /// (ComputeTask::inline_result): the client needs no fetch from a worker.
  std::optional<Value> value;
};
struct KeyStatusBatch {
  std::vector<KeyStatus> statuses;
};

/// The GPU a worker is bound to (dtask-worker --device). `name` is empty
/// (and `memory` 0) when the worker was built without CUDA or found no device.
struct GpuDevice {
  std::uint32_t index = 0;  // --device as given; inside the worker it is CUDA device 0
  std::string name;
  std::uint64_t memory = 0;  // bytes
  bool operator==(const GpuDevice&) const = default;
};
struct RegisterWorker {
  std::string name;
  std::string data_address;
  std::uint32_t nthreads = 1;
  std::uint64_t memory_limit = 0;
  ResourceList resources;
  /// Results the worker still holds when it re-registers with a restarted scheduler.
  std::vector<KeyInfo> held;
  /// Set only by a worker bound to one GPU.
  std::optional<GpuDevice> gpu;
};
struct WorkerRegistered {
  std::uint32_t heartbeat_interval_ms = 1000;
};
/// A dependency's holders, as indices into ComputeTaskBatch::holders. Up
/// to four inline: a task over a million inputs decodes no allocation per
/// input for them.
using HolderIndices = absl::InlinedVector<std::uint32_t, 4>;
struct DependencyLocation {
  std::string key;
  /// Where to fetch it from (none when the receiving worker holds it).
  HolderIndices who_has;
  std::uint64_t nbytes = 0;
};
struct ComputeTask {
  std::string key;
  std::string op;
  std::vector<Value> args;
  Priority priority;
  ResourceList resources;
  std::vector<DependencyLocation> dependencies;
  /// A client waits for this key: a result of at most kInlineResultBytes
  /// comes back in the report (TaskFinished::value) and on to the client
  /// with its status, which saves a sequential submit().result() the round
  /// trip of fetching it from the worker.
  bool inline_result = false;
};
/// Results up to this size travel inline (see ComputeTask::inline_result).
/// Small on purpose: the client keeps an inline value for as long as its
/// future lives, so a map over a million tasks keeps at most 1 GiB of them.
inline constexpr std::uint64_t kInlineResultBytes = 1024;
struct ComputeTaskBatch {
  std::vector<ComputeTask> tasks;
  /// The data addresses the dependencies' who_has name by index: each once
  /// per batch, not once per input (a million inputs name two workers).
  std::vector<std::string> holders;

  /// The index of `address` in holders, added if new (for building a batch).
  std::uint32_t holder_index(std::string_view address) {
    for (std::size_t i = 0; i < holders.size(); ++i) {
      if (holders[i] == address) return static_cast<std::uint32_t>(i);
    }
    holders.emplace_back(address);
    return static_cast<std::uint32_t>(holders.size() - 1);
  }
  /// The addresses of `dependency`'s holders.
  std::vector<std::string> holders_of(const DependencyLocation& dependency) const {
    std::vector<std::string> out;
    for (std::uint32_t index : dependency.who_has) out.push_back(holders.at(index));
    return out;
  }
};
struct TaskFinished {
  std::string key;
  std::uint64_t nbytes = 0;
  std::string type_name;
  double start_time = 0;
  double stop_time = 0;
  std::uint32_t thread = 0;  // executor thread index
  std::optional<Value> value;  // when inline_result was asked and the result is small
};
struct TaskErred {
  std::string key;
  std::string op;
  std::string message;
  double start_time = 0;
  double stop_time = 0;
  std::uint32_t thread = 0;
};
struct WorkerActivity {
  ActivityKind kind = ActivityKind::kTransfer;
  double start_time = 0;
  double stop_time = 0;
  std::uint64_t nbytes = 0;
};
/// A dependency of `key` could not be fetched from `holder`: the task is
/// rescheduled, not failed (see proto/messages.capnp).
struct TaskMissingData {
  std::string key;
  std::string dependency;
  std::string holder;
  std::string message;
};
struct KeyAcquired {
  std::string key;
  std::uint64_t nbytes = 0;
};
struct WorkerReport {
  std::vector<TaskFinished> finished;
  std::vector<TaskErred> erred;
  std::vector<WorkerActivity> activity;
  std::vector<TaskMissingData> missing;
  std::vector<KeyAcquired> acquired;
};
/// Graceful retire (see proto/messages.capnp): from a client naming workers,
/// or from a worker retiring itself (no names).
struct RetireWorkers {
  std::uint64_t request_id = 0;
  std::vector<std::string> workers;
};
struct RetireWorkersReply {
  std::uint64_t request_id = 0;
  std::vector<std::string> retired;
  std::string error;
};
/// Scheduler -> worker: fetch `keys` from `holder` and keep them.
struct AcquireReplicas {
  std::string holder;
  std::vector<std::string> keys;
};
struct CloseWorker {
  std::string reason;
};
/// Client -> a restarted scheduler, after its Handshake: every key the
/// client still holds futures for (see proto/messages.capnp).
struct ResumeSession {
  std::vector<std::string> keys;
};
struct Heartbeat {
  std::uint64_t managed_bytes = 0;  // result bytes in RAM
  std::uint64_t stored_keys = 0;    // in RAM or on disk
  std::uint32_t executing = 0;
  std::uint32_t ready_tasks = 0;
  std::uint64_t spilled_bytes = 0;  // result bytes spilled to disk
  std::uint64_t spilled_keys = 0;
  std::uint64_t process_memory = 0;  // resident set size of the worker process
  std::uint64_t memory_limit = 0;    // 0: unlimited
  bool paused = false;               // above the pause threshold: starting no tasks
};
struct FreeKeys {
  std::vector<std::string> keys;
};
/// Scheduler -> worker: give up these tasks if they have not started (work
/// stealing). `id` is echoed in the answer.
struct StealItem {
  std::string key;
  std::uint64_t id = 0;
};
struct StealRequest {
  std::vector<StealItem> items;
};
/// Worker -> scheduler: for each StealItem, whether the worker dropped the
/// task before starting it (stolen) or kept it (started, done or unknown).
struct StealAnswer {
  std::string key;
  std::uint64_t id = 0;
  bool stolen = false;
};
struct StealResponse {
  std::vector<StealAnswer> answers;
};

struct KeyValue {
  std::string key;
  bool found = false;
  Value value;
};
struct GetData {
  std::uint64_t request_id = 0;
  std::vector<std::string> keys;
};
struct DataReply {
  std::uint64_t request_id = 0;
  std::vector<KeyValue> values;
};
struct PutData {
  std::uint64_t request_id = 0;
  std::vector<KeyValue> values;
};
struct PutDataReply {
  std::uint64_t request_id = 0;
  bool ok = true;
  std::string error;
};

}  // namespace msg

/// One decoded message. The index of each alternative is its frame kind and
/// matches the union order in proto/messages.capnp.
using Message =
    std::variant<msg::Handshake, msg::HandshakeReply, msg::UpdateGraph, msg::KeysScattered, msg::ReleaseKeys,
                 msg::CancelKeys, msg::InfoRequest, msg::InfoReply, msg::KeyStatusBatch, msg::RegisterWorker,
                 msg::WorkerRegistered, msg::ComputeTaskBatch, msg::WorkerReport, msg::Heartbeat, msg::FreeKeys,
                 msg::GetData, msg::DataReply, msg::PutData, msg::PutDataReply, msg::RetireWorkers,
                 msg::RetireWorkersReply, msg::AcquireReplicas, msg::CloseWorker, msg::ResumeSession,
                 msg::StealRequest, msg::StealResponse>;

inline constexpr std::size_t kMessageKindCount = std::variant_size_v<Message>;

/// "UpdateGraph", "WorkerReport", ... for logs and errors.
const char* message_kind_name(std::size_t kind);

}  // namespace dtask
