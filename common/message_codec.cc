#include "common/message_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/cpu_clock.h"
#include "messages.capnp.h"

namespace dtask {

namespace {

// ---------------------------------------------------------------- encoding --

kj::StringPtr text(const std::string& s) { return kj::StringPtr(s.c_str(), s.size()); }

/// Collects the Buffers a message refers to; their index is the slice number.
struct BulkWriter {
  std::vector<std::shared_ptr<const Buffer>> slices;
  std::uint32_t add(const std::shared_ptr<const Buffer>& buffer) {
    slices.push_back(buffer ? buffer : Buffer::allocate(0));
    return static_cast<std::uint32_t>(slices.size() - 1);
  }
};

/// A task's dependencies' keys, which its arguments name by index
/// (Value.dependencyRef) on the wire: `count` of them, the j-th `key_of(j)`.
struct DependencyKeys {
  std::size_t count = 0;
  std::function<const std::string&(std::size_t)> key_of;
};

/// Which of a task's dependencies a TaskRef argument names, so that it
/// travels as that index (Value.dependencyRef) instead of as the key a second
/// time: a sum over a million inputs lists every input's key among its
/// dependencies and again in its arguments, and the copy was half of its
/// message. Arguments usually name the dependencies in their order, so a
/// cursor answers most lookups with one comparison; a table of the keys is
/// made only when it misses on a long list.
class DependencyIndex {
 public:
  explicit DependencyIndex(const DependencyKeys& deps) : deps_(deps) {}

  /// The index of the dependency named `key`, or none.
  std::optional<std::uint32_t> find(const std::string& key) {
    std::optional<std::size_t> at;
    if (next_ < deps_.count && deps_.key_of(next_) == key) {
      at = next_;
    } else {
      at = search(key);
    }
    if (!at) return std::nullopt;
    next_ = *at + 1;
    return static_cast<std::uint32_t>(*at);
  }

 private:
  std::optional<std::size_t> search(const std::string& key) {
    constexpr std::size_t kScanned = 16;
    if (deps_.count <= kScanned) {
      for (std::size_t j = 0; j < deps_.count; ++j) {
        if (deps_.key_of(j) == key) return j;
      }
      return std::nullopt;
    }
    if (table_.empty()) {
      table_.reserve(deps_.count);
      for (std::size_t j = 0; j < deps_.count; ++j) table_.try_emplace(std::string_view(deps_.key_of(j)), j);
    }
    auto it = table_.find(std::string_view(key));
    if (it == table_.end()) return std::nullopt;
    return it->second;
  }

  const DependencyKeys& deps_;
  std::size_t next_ = 0;
  absl::flat_hash_map<std::string_view, std::size_t> table_;
};

/// `refs`: the enclosing task's dependencies, when encoding its arguments.
void encode_value(wire::Value::Builder out, const Value& value, BulkWriter& bulk, DependencyIndex* refs = nullptr);

void encode_values(capnp::List<wire::Value>::Builder out, const std::vector<Value>& values, BulkWriter& bulk,
                   DependencyIndex* refs = nullptr) {
  for (unsigned i = 0; i < values.size(); ++i) encode_value(out[i], values[i], bulk, refs);
}

/// A task's arguments, naming its dependencies by index.
void encode_args(capnp::List<wire::Value>::Builder out, const std::vector<Value>& args, BulkWriter& bulk,
                 const DependencyKeys& deps) {
  if (deps.count == 0) return encode_values(out, args, bulk);
  DependencyIndex refs(deps);
  encode_values(out, args, bulk, &refs);
}

void encode_value(wire::Value::Builder out, const Value& value, BulkWriter& bulk, DependencyIndex* refs) {
  const auto& v = value.variant();
  switch (v.index()) {
    case 0: out.setNull(); break;
    case 1: out.setBoolean(std::get<bool>(v)); break;
    case 2: out.setInt64(std::get<std::int64_t>(v)); break;
    case 3: out.setFloat64(std::get<double>(v)); break;
    case 4: out.setText(text(std::get<std::string>(v))); break;
    case 5: out.setBytes(bulk.add(std::get<Bytes>(v).buffer)); break;
    case 6: {
      const NDArray& a = std::get<NDArray>(v);
      auto array = out.initArray();
      array.setDtype(static_cast<std::uint8_t>(a.dtype));
      auto shape = array.initShape(static_cast<unsigned>(a.shape.size()));
      for (unsigned i = 0; i < a.shape.size(); ++i) shape.set(i, a.shape[i]);
      array.setBulk(bulk.add(a.buffer));
      break;
    }
    case 7: {
      const ValueList& list = std::get<ValueList>(v);
      encode_values(out.initList(static_cast<unsigned>(list.size())), list, bulk, refs);
      break;
    }
    case 8: {
      const std::string& key = std::get<TaskRef>(v).key;
      std::optional<std::uint32_t> dependency = refs != nullptr ? refs->find(key) : std::nullopt;
      if (dependency) {
        out.setDependencyRef(*dependency);
      } else {
        out.setTaskRef(text(key));
      }
      break;
    }
  }
}

void encode_strings(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& strings) {
  for (unsigned i = 0; i < strings.size(); ++i) out.set(i, text(strings[i]));
}

void encode_key_infos(capnp::List<wire::KeyInfo>::Builder out, const std::vector<msg::KeyInfo>& keys) {
  for (unsigned i = 0; i < keys.size(); ++i) {
    out[i].setKey(text(keys[i].key));
    out[i].setNbytes(keys[i].nbytes);
    out[i].setTypeName(text(keys[i].type_name));
  }
}

void encode_resources(capnp::List<wire::Resource>::Builder out, const ResourceList& resources) {
  for (unsigned i = 0; i < resources.size(); ++i) {
    out[i].setName(text(resources[i].first));
    out[i].setAmount(resources[i].second);
  }
}

void encode_priority(wire::Priority::Builder out, const Priority& p) {
  out.setUser(p.user);
  out.setGeneration(p.generation);
  out.setOrder(p.order);
}

void encode_key_values(capnp::List<wire::KeyValue>::Builder out, const std::vector<msg::KeyValue>& values,
                       BulkWriter& bulk) {
  for (unsigned i = 0; i < values.size(); ++i) {
    out[i].setKey(text(values[i].key));
    out[i].setFound(values[i].found);
    encode_value(out[i].initValue(), values[i].value, bulk);
  }
}

unsigned size_of(const auto& container) { return static_cast<unsigned>(container.size()); }

/// A batch's holder addresses while it is encoded: each once, in the order
/// first named; the dependencies name them by index.
class HolderTable {
 public:
  std::uint32_t index_of(const std::string& address) {
    auto [it, added] = indices_.try_emplace(address, static_cast<std::uint32_t>(addresses_.size()));
    if (added) addresses_.push_back(&address);
    return it->second;
  }
  void encode(capnp::List<capnp::Text>::Builder out) const {
    for (unsigned i = 0; i < out.size(); ++i) out.set(i, text(*addresses_[i]));
  }
  unsigned size() const { return static_cast<unsigned>(addresses_.size()); }

 private:
  // Views of the source's strings, which outlive the encoding.
  absl::flat_hash_map<std::string_view, std::uint32_t> indices_;
  std::vector<const std::string*> addresses_;
};

void encode_compute_batch(wire::Message::Builder root, const ComputeTaskSource& source, BulkWriter& bulk) {
  auto batch = root.initComputeTaskBatch();
  auto tasks = batch.initTasks(static_cast<unsigned>(source.size()));
  HolderTable holders;
  for (unsigned i = 0; i < tasks.size(); ++i) {
    const ComputeTaskSource::Task t = source.task(i);
    auto out = tasks[i];
    out.setKey(text(t.key));
    out.setOp(text(t.op));
    encode_args(out.initArgs(size_of(t.args)), t.args, bulk,
                {t.dependency_count, [&](std::size_t j) -> const std::string& { return source.dependency_key(i, j); }});
    encode_priority(out.initPriority(), t.priority);
    encode_resources(out.initResources(size_of(t.resources)), t.resources);
    auto deps = out.initDependencies(static_cast<unsigned>(t.dependency_count));
    for (unsigned j = 0; j < deps.size(); ++j) {
      const ComputeTaskSource::Dependency dep = source.dependency(i, j);
      deps[j].setKey(text(dep.key));
      auto who_has = deps[j].initWhoHas(static_cast<unsigned>(dep.holder_count));
      for (unsigned k = 0; k < who_has.size(); ++k) who_has.set(k, holders.index_of(source.holder(i, j, k)));
      deps[j].setNbytes(dep.nbytes);
    }
    out.setInlineResult(t.inline_result);
  }
  holders.encode(batch.initHolders(holders.size()));
}

/// A msg::ComputeTaskBatch seen as a ComputeTaskSource.
class MessageComputeTasks final : public ComputeTaskSource {
 public:
  explicit MessageComputeTasks(const msg::ComputeTaskBatch& batch) : tasks_(batch.tasks), holders_(batch.holders) {}
  std::size_t size() const override { return tasks_.size(); }
  Task task(std::size_t i) const override {
    const msg::ComputeTask& t = tasks_[i];
    return {t.key, t.op, t.args, t.priority, t.resources, t.dependencies.size(), t.inline_result};
  }
  Dependency dependency(std::size_t i, std::size_t j) const override {
    const msg::DependencyLocation& dep = tasks_[i].dependencies[j];
    return {dep.key, dep.nbytes, dep.who_has.size()};
  }
  const std::string& dependency_key(std::size_t i, std::size_t j) const override {
    return tasks_[i].dependencies[j].key;
  }
  const std::string& holder(std::size_t i, std::size_t j, std::size_t k) const override {
    return holders_.at(tasks_[i].dependencies[j].who_has[k]);
  }

 private:
  const std::vector<msg::ComputeTask>& tasks_;
  const std::vector<std::string>& holders_;
};

/// One overload per message kind: fills the union member of `root`.
struct Encoder {
  wire::Message::Builder root;
  BulkWriter& bulk;

  void operator()(const msg::Handshake& m) {
    auto out = root.initHandshake();
    out.setProtocolVersion(m.protocol_version);
    out.setRole(static_cast<std::uint8_t>(m.role));
    out.setName(text(m.name));
    out.setAuthToken(text(m.auth_token));
    out.setSession(text(m.session));
  }
  void operator()(const msg::HandshakeReply& m) {
    auto out = root.initHandshakeReply();
    out.setOk(m.ok);
    out.setError(text(m.error));
    out.setServerName(text(m.server_name));
    out.setDashboardAddress(text(m.dashboard_address));
    out.setResumable(m.resumable);
  }
  void operator()(const msg::UpdateGraph& m) {
    auto out = root.initUpdateGraph();
    auto tasks = out.initTasks(size_of(m.tasks));
    for (unsigned i = 0; i < m.tasks.size(); ++i) {
      const msg::TaskDef& t = m.tasks[i];
      auto task = tasks[i];
      task.setKey(text(t.key));
      task.setOp(text(t.op));
      encode_args(task.initArgs(size_of(t.args)), t.args, bulk,
                  {t.dependencies.size(), [&](std::size_t j) -> const std::string& { return t.dependencies[j]; }});
      encode_strings(task.initDependencies(size_of(t.dependencies)), t.dependencies);
      encode_priority(task.initPriority(), t.priority);
      encode_resources(task.initResources(size_of(t.resources)), t.resources);
      encode_strings(task.initWorkers(size_of(t.workers)), t.workers);
      task.setRetries(t.retries);
      task.setAllowOtherWorkers(t.allow_other_workers);
    }
    encode_strings(out.initWantedKeys(size_of(m.wanted_keys)), m.wanted_keys);
    out.setMore(m.more);
  }
  void operator()(const msg::KeysScattered& m) {
    auto out = root.initKeysScattered();
    out.setWorker(text(m.worker));
    encode_key_infos(out.initKeys(size_of(m.keys)), m.keys);
  }
  void operator()(const msg::ReleaseKeys& m) {
    encode_strings(root.initReleaseKeys().initKeys(size_of(m.keys)), m.keys);
  }
  void operator()(const msg::CancelKeys& m) {
    encode_strings(root.initCancelKeys().initKeys(size_of(m.keys)), m.keys);
  }
  void operator()(const msg::InfoRequest& m) { root.initInfoRequest().setRequestId(m.request_id); }
  void operator()(const msg::InfoReply& m) {
    auto out = root.initInfoReply();
    out.setRequestId(m.request_id);
    out.setJson(text(m.json));
  }
  void operator()(const msg::KeyStatusBatch& m) {
    auto statuses = root.initKeyStatusBatch().initStatuses(size_of(m.statuses));
    for (unsigned i = 0; i < m.statuses.size(); ++i) {
      const msg::KeyStatus& s = m.statuses[i];
      auto out = statuses[i];
      out.setKey(text(s.key));
      out.setState(static_cast<std::uint8_t>(s.state));
      encode_strings(out.initWhoHas(size_of(s.who_has)), s.who_has);
      out.setOp(text(s.op));
      out.setFailedKey(text(s.failed_key));
      out.setMessage(text(s.message));
      out.setNbytes(s.nbytes);
      out.setTypeName(text(s.type_name));
      if (s.value) encode_value(out.initValue(), *s.value, bulk);
    }
  }
  void operator()(const msg::RegisterWorker& m) {
    auto out = root.initRegisterWorker();
    out.setName(text(m.name));
    out.setDataAddress(text(m.data_address));
    out.setNthreads(m.nthreads);
    out.setMemoryLimit(m.memory_limit);
    encode_resources(out.initResources(size_of(m.resources)), m.resources);
    encode_key_infos(out.initHeld(size_of(m.held)), m.held);
    if (m.gpu) {
      auto gpu = out.initGpu();
      gpu.setIndex(m.gpu->index);
      gpu.setName(text(m.gpu->name));
      gpu.setMemory(m.gpu->memory);
    }
  }
  void operator()(const msg::WorkerRegistered& m) {
    root.initWorkerRegistered().setHeartbeatIntervalMs(m.heartbeat_interval_ms);
  }
  // (encode_frame sends a ComputeTaskBatch through encode_compute_tasks, sized first.)
  void operator()(const msg::ComputeTaskBatch& m) { encode_compute_batch(root, MessageComputeTasks(m), bulk); }
  void operator()(const msg::WorkerReport& m) {
    auto out = root.initWorkerReport();
    auto finished = out.initFinished(size_of(m.finished));
    for (unsigned i = 0; i < m.finished.size(); ++i) {
      const msg::TaskFinished& f = m.finished[i];
      finished[i].setKey(text(f.key));
      finished[i].setNbytes(f.nbytes);
      finished[i].setTypeName(text(f.type_name));
      finished[i].setStartTime(f.start_time);
      finished[i].setStopTime(f.stop_time);
      finished[i].setThread(f.thread);
      if (f.value) encode_value(finished[i].initValue(), *f.value, bulk);
    }
    auto erred = out.initErred(size_of(m.erred));
    for (unsigned i = 0; i < m.erred.size(); ++i) {
      erred[i].setKey(text(m.erred[i].key));
      erred[i].setOp(text(m.erred[i].op));
      erred[i].setMessage(text(m.erred[i].message));
      erred[i].setStartTime(m.erred[i].start_time);
      erred[i].setStopTime(m.erred[i].stop_time);
      erred[i].setThread(m.erred[i].thread);
    }
    auto activity = out.initActivity(size_of(m.activity));
    for (unsigned i = 0; i < m.activity.size(); ++i) {
      const msg::WorkerActivity& a = m.activity[i];
      activity[i].setKind(static_cast<std::uint8_t>(a.kind));
      activity[i].setStartTime(a.start_time);
      activity[i].setStopTime(a.stop_time);
      activity[i].setNbytes(a.nbytes);
    }
    auto missing = out.initMissing(size_of(m.missing));
    for (unsigned i = 0; i < m.missing.size(); ++i) {
      missing[i].setKey(text(m.missing[i].key));
      missing[i].setDependency(text(m.missing[i].dependency));
      missing[i].setHolder(text(m.missing[i].holder));
      missing[i].setMessage(text(m.missing[i].message));
    }
    auto acquired = out.initAcquired(size_of(m.acquired));
    for (unsigned i = 0; i < m.acquired.size(); ++i) {
      acquired[i].setKey(text(m.acquired[i].key));
      acquired[i].setNbytes(m.acquired[i].nbytes);
    }
  }
  void operator()(const msg::RetireWorkers& m) {
    auto out = root.initRetireWorkers();
    out.setRequestId(m.request_id);
    encode_strings(out.initWorkers(size_of(m.workers)), m.workers);
  }
  void operator()(const msg::RetireWorkersReply& m) {
    auto out = root.initRetireWorkersReply();
    out.setRequestId(m.request_id);
    encode_strings(out.initRetired(size_of(m.retired)), m.retired);
    out.setError(text(m.error));
  }
  void operator()(const msg::AcquireReplicas& m) {
    auto out = root.initAcquireReplicas();
    out.setHolder(text(m.holder));
    encode_strings(out.initKeys(size_of(m.keys)), m.keys);
  }
  void operator()(const msg::CloseWorker& m) { root.initCloseWorker().setReason(text(m.reason)); }
  void operator()(const msg::StealRequest& m) {
    auto items = root.initStealRequest().initItems(size_of(m.items));
    for (unsigned i = 0; i < m.items.size(); ++i) {
      items[i].setKey(text(m.items[i].key));
      items[i].setId(m.items[i].id);
    }
  }
  void operator()(const msg::StealResponse& m) {
    auto answers = root.initStealResponse().initAnswers(size_of(m.answers));
    for (unsigned i = 0; i < m.answers.size(); ++i) {
      answers[i].setKey(text(m.answers[i].key));
      answers[i].setId(m.answers[i].id);
      answers[i].setStolen(m.answers[i].stolen);
    }
  }
  void operator()(const msg::ResumeSession& m) {
    encode_strings(root.initResumeSession().initKeys(size_of(m.keys)), m.keys);
  }
  void operator()(const msg::Heartbeat& m) {
    auto out = root.initHeartbeat();
    out.setManagedBytes(m.managed_bytes);
    out.setStoredKeys(m.stored_keys);
    out.setExecuting(m.executing);
    out.setReadyTasks(m.ready_tasks);
    out.setSpilledBytes(m.spilled_bytes);
    out.setSpilledKeys(m.spilled_keys);
    out.setProcessMemory(m.process_memory);
    out.setMemoryLimit(m.memory_limit);
    out.setPaused(m.paused);
  }
  void operator()(const msg::FreeKeys& m) { encode_strings(root.initFreeKeys().initKeys(size_of(m.keys)), m.keys); }
  void operator()(const msg::GetData& m) {
    auto out = root.initGetData();
    out.setRequestId(m.request_id);
    encode_strings(out.initKeys(size_of(m.keys)), m.keys);
  }
  void operator()(const msg::DataReply& m) {
    auto out = root.initDataReply();
    out.setRequestId(m.request_id);
    encode_key_values(out.initValues(size_of(m.values)), m.values, bulk);
  }
  void operator()(const msg::PutData& m) {
    auto out = root.initPutData();
    out.setRequestId(m.request_id);
    encode_key_values(out.initValues(size_of(m.values)), m.values, bulk);
  }
  void operator()(const msg::PutDataReply& m) {
    auto out = root.initPutDataReply();
    out.setRequestId(m.request_id);
    out.setOk(m.ok);
    out.setError(text(m.error));
  }
};

// ---- first segment sizes
// A message built in many segments reaches most items of a big list
// through far pointers: a landing pad more per item on the wire, and a
// mutex taken for each as it is read (Cap'n Proto locks its segment table
// for every segment but the first). The messages that grow with a graph
// are sized up front to fit one segment; an estimate too small only means
// more segments, and pages of one too big are never touched.

/// Words of a Text: its bytes and the NUL, rounded up.
std::size_t words_of(const std::string& text) { return text.size() / sizeof(capnp::word) + 1; }

/// Words of a List(Text): a pointer and the text of each.
std::size_t words_of(const std::vector<std::string>& texts) {
  std::size_t words = 1 + texts.size();
  for (const std::string& text : texts) words += words_of(text);
  return words;
}

constexpr std::size_t kValueWords = 3;  // wire::Value: two data words and a pointer

std::size_t payload_words(const Value& value);

/// Words of a List(Value): each Value inline, and what it points to.
std::size_t words_of(const std::vector<Value>& values) {
  std::size_t words = 1 + kValueWords * values.size();
  for (const Value& value : values) words += payload_words(value);
  return words;
}

/// Words a Value points to outside its own three.
std::size_t payload_words(const Value& value) {
  const Value::Variant& v = value.variant();
  if (const auto* text = std::get_if<std::string>(&v)) return words_of(*text);
  if (const auto* ref = std::get_if<TaskRef>(&v)) return words_of(ref->key);  // none when it names a dependency
  if (const auto* list = std::get_if<ValueList>(&v)) return words_of(*list);
  if (const auto* array = std::get_if<NDArray>(&v)) return 2 + array->shape.size();
  return 0;
}

constexpr std::size_t kTaskWords = 24;  // a task's struct, priority and resources, roughly

/// Words the builder starts with for `message`: its whole size for the
/// messages that grow with a graph, the usual first segment for the rest.
unsigned first_segment_words(std::size_t estimate) {
  constexpr std::size_t kMostWords = std::size_t{1} << 26;  // 512 MiB, the largest message a daemon takes
  return static_cast<unsigned>(
      std::clamp<std::size_t>(estimate + 64, capnp::SUGGESTED_FIRST_SEGMENT_WORDS, kMostWords));
}

unsigned first_segment_words(const ComputeTaskSource& tasks) {
  std::size_t words = 1;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const ComputeTaskSource::Task t = tasks.task(i);
    words += kTaskWords + words_of(t.key) + words_of(t.op) + words_of(t.args) + 1;
    // Each dependency: its struct, its key and one word of whoHas (two
    // holders; more only spill into a next segment). dependency() would also
    // count the holders to send, which the encoding does again.
    for (std::size_t j = 0; j < t.dependency_count; ++j) words += 3 + words_of(tasks.dependency_key(i, j)) + 1;
  }
  return first_segment_words(words);
}

unsigned first_segment_words(const Message& message) {
  std::size_t words = 0;
  if (const auto* graph = std::get_if<msg::UpdateGraph>(&message)) {
    words = 1 + words_of(graph->wanted_keys);
    for (const msg::TaskDef& task : graph->tasks) {
      words += kTaskWords + words_of(task.key) + words_of(task.op) + words_of(task.args) +
               words_of(task.dependencies) + words_of(task.workers);
    }
  } else if (const auto* free = std::get_if<msg::FreeKeys>(&message)) {
    words = words_of(free->keys);
  } else if (const auto* release = std::get_if<msg::ReleaseKeys>(&message)) {
    words = words_of(release->keys);
  }
  return first_segment_words(words);
}

/// Everything an EncodedFrame's pieces point into.
struct FrameStorage {
  explicit FrameStorage(unsigned first_segment_words = capnp::SUGGESTED_FIRST_SEGMENT_WORDS)
      : builder(first_segment_words) {}
  capnp::MallocMessageBuilder builder;
  std::array<std::byte, kFrameHeaderSize> header{};
  std::vector<std::uint32_t> segment_table;
  std::vector<std::uint64_t> bulk_table;
  std::vector<std::shared_ptr<const Buffer>> bulk;
  std::array<std::byte, kBulkAlignment> zeros{};
};

template <typename T>
void store(std::byte* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// ---------------------------------------------------------------- decoding --

/// Bulk slices of a received frame, checked on every use.
struct BulkReader {
  std::shared_ptr<const Buffer> bulk;
  std::vector<std::uint64_t> offsets;
  const std::vector<std::uint64_t>& lengths;

  Result<std::shared_ptr<const Buffer>> slice(std::uint32_t index) const {
    if (index >= lengths.size()) {
      return Status::invalid("value refers to bulk slice " + std::to_string(index) + " of " +
                             std::to_string(lengths.size()));
    }
    return Buffer::slice(bulk, bulk->data() + offsets[index], lengths[index]);
  }
};

std::string str(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

std::vector<std::string> strings(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (auto t : list) out.push_back(str(t));
  return out;
}

std::vector<msg::KeyInfo> key_infos(capnp::List<wire::KeyInfo>::Reader list) {
  std::vector<msg::KeyInfo> out;
  out.reserve(list.size());
  for (auto k : list) out.push_back({str(k.getKey()), k.getNbytes(), str(k.getTypeName())});
  return out;
}

ResourceList resources(capnp::List<wire::Resource>::Reader list) {
  ResourceList out;
  for (auto r : list) out.emplace_back(str(r.getName()), r.getAmount());
  return out;
}

Priority priority(wire::Priority::Reader p) { return {p.getUser(), p.getGeneration(), p.getOrder()}; }

/// `deps`: the enclosing task's dependencies, when decoding its arguments
/// (null elsewhere, where a dependency reference is refused).
Result<Value> decode_value(wire::Value::Reader in, const BulkReader& bulk, const DependencyKeys* deps = nullptr);

Result<std::vector<Value>> decode_values(capnp::List<wire::Value>::Reader in, const BulkReader& bulk,
                                         const DependencyKeys* deps = nullptr) {
  std::vector<Value> out;
  out.reserve(in.size());
  for (auto v : in) {
    DTASK_ASSIGN_OR_RETURN(Value value, decode_value(v, bulk, deps));
    out.push_back(std::move(value));
  }
  return out;
}

Result<Value> decode_array(wire::NdArray::Reader in, const BulkReader& bulk) {
  if (in.getDtype() >= kDTypeCount) return Status::invalid("unknown dtype " + std::to_string(in.getDtype()));
  NDArray array;
  array.dtype = static_cast<DType>(in.getDtype());
  std::uint64_t elements = 1;
  for (std::int64_t d : in.getShape()) {
    if (d < 0) return Status::invalid("negative array dimension " + std::to_string(d));
    // Guard the product against overflow before comparing with the payload.
    if (d != 0 && elements > (std::uint64_t{1} << 62) / static_cast<std::uint64_t>(d)) {
      return Status::invalid("array shape overflows");
    }
    elements *= static_cast<std::uint64_t>(d);
    array.shape.push_back(d);
  }
  DTASK_ASSIGN_OR_RETURN(array.buffer, bulk.slice(in.getBulk()));
  if (array.buffer->size() != elements * dtype_size(array.dtype)) {
    return Status::invalid("array " + array.describe() + " expects " +
                           std::to_string(elements * dtype_size(array.dtype)) + " bytes, payload has " +
                           std::to_string(array.buffer->size()));
  }
  return Value(std::move(array));
}

/// A dependency's holders, each checked against the batch's `holders` addresses.
Result<msg::HolderIndices> holder_indices(capnp::List<std::uint32_t>::Reader in, std::size_t holders) {
  msg::HolderIndices out;
  out.reserve(in.size());
  for (std::uint32_t index : in) {
    if (index >= holders) {
      return Status::invalid("a dependency names holder " + std::to_string(index) + " of a batch with " +
                             std::to_string(holders));
    }
    out.push_back(index);
  }
  return out;
}

Result<Value> decode_dependency_ref(std::uint32_t index, const DependencyKeys* deps) {
  if (deps == nullptr) return Status::invalid("a dependency reference outside a task's arguments");
  if (index >= deps->count) {
    return Status::invalid("an argument names dependency " + std::to_string(index) + " of a task with " +
                           std::to_string(deps->count));
  }
  return Value(TaskRef{deps->key_of(index)});
}

Result<Value> decode_value(wire::Value::Reader in, const BulkReader& bulk, const DependencyKeys* deps) {
  switch (in.which()) {
    case wire::Value::NULL_: return Value();
    case wire::Value::BOOLEAN: return Value(in.getBoolean());
    case wire::Value::INT64: return Value(static_cast<std::int64_t>(in.getInt64()));
    case wire::Value::FLOAT64: return Value(in.getFloat64());
    case wire::Value::TEXT: return Value(str(in.getText()));
    case wire::Value::BYTES: {
      DTASK_ASSIGN_OR_RETURN(auto buffer, bulk.slice(in.getBytes()));
      return Value(Bytes{std::move(buffer)});
    }
    case wire::Value::ARRAY: return decode_array(in.getArray(), bulk);
    case wire::Value::LIST: {
      DTASK_ASSIGN_OR_RETURN(auto list, decode_values(in.getList(), bulk, deps));
      return Value(std::move(list));
    }
    case wire::Value::TASK_REF: return Value(TaskRef{str(in.getTaskRef())});
    case wire::Value::DEPENDENCY_REF: return decode_dependency_ref(in.getDependencyRef(), deps);
  }
  return Status::invalid("unknown value kind " + std::to_string(static_cast<int>(in.which())));
}

Result<std::vector<msg::KeyValue>> decode_key_values(capnp::List<wire::KeyValue>::Reader in,
                                                     const BulkReader& bulk) {
  std::vector<msg::KeyValue> out;
  out.reserve(in.size());
  for (auto kv : in) {
    msg::KeyValue item;
    item.key = str(kv.getKey());
    item.found = kv.getFound();
    DTASK_ASSIGN_OR_RETURN(item.value, decode_value(kv.getValue(), bulk));
    out.push_back(std::move(item));
  }
  return out;
}

Result<Message> decode_root(wire::Message::Reader root, const BulkReader& bulk) {
  switch (root.which()) {
    case wire::Message::HANDSHAKE: {
      auto in = root.getHandshake();
      if (in.getRole() > static_cast<std::uint8_t>(PeerRole::kPeer)) return Status::invalid("unknown peer role");
      return Message(msg::Handshake{in.getProtocolVersion(), static_cast<PeerRole>(in.getRole()), str(in.getName()),
                                    str(in.getAuthToken()), str(in.getSession())});
    }
    case wire::Message::HANDSHAKE_REPLY: {
      auto in = root.getHandshakeReply();
      return Message(msg::HandshakeReply{in.getOk(), str(in.getError()), str(in.getServerName()),
                                         str(in.getDashboardAddress()), in.getResumable()});
    }
    case wire::Message::UPDATE_GRAPH: {
      auto in = root.getUpdateGraph();
      msg::UpdateGraph out;
      out.tasks.reserve(in.getTasks().size());
      for (auto t : in.getTasks()) {
        msg::TaskDef task;
        task.key = str(t.getKey());
        task.op = str(t.getOp());
        task.dependencies = strings(t.getDependencies());  // first: the arguments name them by index
        const DependencyKeys deps{task.dependencies.size(),
                                  [&](std::size_t j) -> const std::string& { return task.dependencies[j]; }};
        DTASK_ASSIGN_OR_RETURN(task.args, decode_values(t.getArgs(), bulk, &deps));
        task.priority = priority(t.getPriority());
        task.resources = resources(t.getResources());
        task.workers = strings(t.getWorkers());
        task.retries = t.getRetries();
        task.allow_other_workers = t.getAllowOtherWorkers();
        out.tasks.push_back(std::move(task));
      }
      out.wanted_keys = strings(in.getWantedKeys());
      out.more = in.getMore();
      return Message(std::move(out));
    }
    case wire::Message::KEYS_SCATTERED: {
      auto in = root.getKeysScattered();
      return Message(msg::KeysScattered{str(in.getWorker()), key_infos(in.getKeys())});
    }
    case wire::Message::RELEASE_KEYS: return Message(msg::ReleaseKeys{strings(root.getReleaseKeys().getKeys())});
    case wire::Message::CANCEL_KEYS: return Message(msg::CancelKeys{strings(root.getCancelKeys().getKeys())});
    case wire::Message::INFO_REQUEST: return Message(msg::InfoRequest{root.getInfoRequest().getRequestId()});
    case wire::Message::INFO_REPLY: {
      auto in = root.getInfoReply();
      return Message(msg::InfoReply{in.getRequestId(), str(in.getJson())});
    }
    case wire::Message::KEY_STATUS_BATCH: {
      msg::KeyStatusBatch out;
      for (auto s : root.getKeyStatusBatch().getStatuses()) {
        if (s.getState() > static_cast<std::uint8_t>(KeyOutcome::kLost)) return Status::invalid("unknown key state");
        out.statuses.push_back({str(s.getKey()), static_cast<KeyOutcome>(s.getState()), strings(s.getWhoHas()),
                                str(s.getOp()), str(s.getFailedKey()), str(s.getMessage()), s.getNbytes(),
                                str(s.getTypeName()), std::nullopt});
        if (s.hasValue()) {
          DTASK_ASSIGN_OR_RETURN(Value value, decode_value(s.getValue(), bulk));
          out.statuses.back().value = std::move(value);
        }
      }
      return Message(std::move(out));
    }
    case wire::Message::REGISTER_WORKER: {
      auto in = root.getRegisterWorker();
      msg::RegisterWorker out{str(in.getName()), str(in.getDataAddress()), in.getNthreads(),
                              in.getMemoryLimit(), resources(in.getResources()), key_infos(in.getHeld()), {}};
      if (in.hasGpu()) {  // workers before the field, and workers without --device, send none
        auto gpu = in.getGpu();
        out.gpu = msg::GpuDevice{gpu.getIndex(), str(gpu.getName()), gpu.getMemory()};
      }
      return Message(std::move(out));
    }
    case wire::Message::WORKER_REGISTERED:
      return Message(msg::WorkerRegistered{root.getWorkerRegistered().getHeartbeatIntervalMs()});
    case wire::Message::COMPUTE_TASK_BATCH: {
      msg::ComputeTaskBatch out;
      auto tasks = root.getComputeTaskBatch().getTasks();
      out.holders = strings(root.getComputeTaskBatch().getHolders());
      out.tasks.reserve(tasks.size());
      for (auto t : tasks) {
        msg::ComputeTask task;
        task.key = str(t.getKey());
        task.op = str(t.getOp());
        task.priority = priority(t.getPriority());
        task.resources = resources(t.getResources());
        task.dependencies.reserve(t.getDependencies().size());
        for (auto d : t.getDependencies()) {
          DTASK_ASSIGN_OR_RETURN(msg::HolderIndices who_has, holder_indices(d.getWhoHas(), out.holders.size()));
          task.dependencies.push_back({str(d.getKey()), std::move(who_has), d.getNbytes()});
        }
        // After the dependencies: the arguments name them by index.
        const DependencyKeys deps{task.dependencies.size(),
                                  [&](std::size_t j) -> const std::string& { return task.dependencies[j].key; }};
        DTASK_ASSIGN_OR_RETURN(task.args, decode_values(t.getArgs(), bulk, &deps));
        task.inline_result = t.getInlineResult();
        out.tasks.push_back(std::move(task));
      }
      return Message(std::move(out));
    }
    case wire::Message::WORKER_REPORT: {
      auto in = root.getWorkerReport();
      msg::WorkerReport out;
      out.finished.reserve(in.getFinished().size());
      for (auto f : in.getFinished()) {
        out.finished.push_back({str(f.getKey()), f.getNbytes(), str(f.getTypeName()), f.getStartTime(),
                                f.getStopTime(), f.getThread(), std::nullopt});
        if (f.hasValue()) {
          DTASK_ASSIGN_OR_RETURN(Value value, decode_value(f.getValue(), bulk));
          out.finished.back().value = std::move(value);
        }
      }
      for (auto e : in.getErred()) {
        out.erred.push_back({str(e.getKey()), str(e.getOp()), str(e.getMessage()), e.getStartTime(), e.getStopTime(),
                             e.getThread()});
      }
      for (auto a : in.getActivity()) {
        // An unknown kind from a newer worker is shown as a transfer rather than dropping the frame.
        auto kind = a.getKind() <= static_cast<std::uint8_t>(ActivityKind::kUnspill) ? static_cast<ActivityKind>(a.getKind())
                                                                                     : ActivityKind::kTransfer;
        out.activity.push_back({kind, a.getStartTime(), a.getStopTime(), a.getNbytes()});
      }
      for (auto m : in.getMissing()) {
        out.missing.push_back({str(m.getKey()), str(m.getDependency()), str(m.getHolder()), str(m.getMessage())});
      }
      for (auto a : in.getAcquired()) out.acquired.push_back({str(a.getKey()), a.getNbytes()});
      return Message(std::move(out));
    }
    case wire::Message::HEARTBEAT: {
      auto in = root.getHeartbeat();
      msg::Heartbeat beat;
      beat.managed_bytes = in.getManagedBytes();
      beat.stored_keys = in.getStoredKeys();
      beat.executing = in.getExecuting();
      beat.ready_tasks = in.getReadyTasks();
      beat.spilled_bytes = in.getSpilledBytes();
      beat.spilled_keys = in.getSpilledKeys();
      beat.process_memory = in.getProcessMemory();
      beat.memory_limit = in.getMemoryLimit();
      beat.paused = in.getPaused();
      return Message(beat);
    }
    case wire::Message::FREE_KEYS: return Message(msg::FreeKeys{strings(root.getFreeKeys().getKeys())});
    case wire::Message::RETIRE_WORKERS: {
      auto in = root.getRetireWorkers();
      return Message(msg::RetireWorkers{in.getRequestId(), strings(in.getWorkers())});
    }
    case wire::Message::RETIRE_WORKERS_REPLY: {
      auto in = root.getRetireWorkersReply();
      return Message(msg::RetireWorkersReply{in.getRequestId(), strings(in.getRetired()), str(in.getError())});
    }
    case wire::Message::ACQUIRE_REPLICAS: {
      auto in = root.getAcquireReplicas();
      return Message(msg::AcquireReplicas{str(in.getHolder()), strings(in.getKeys())});
    }
    case wire::Message::CLOSE_WORKER: return Message(msg::CloseWorker{str(root.getCloseWorker().getReason())});
    case wire::Message::RESUME_SESSION: return Message(msg::ResumeSession{strings(root.getResumeSession().getKeys())});
    case wire::Message::STEAL_REQUEST: {
      msg::StealRequest request;
      auto items = root.getStealRequest().getItems();
      request.items.reserve(items.size());
      for (auto item : items) request.items.push_back({str(item.getKey()), item.getId()});
      return Message(std::move(request));
    }
    case wire::Message::STEAL_RESPONSE: {
      msg::StealResponse response;
      auto answers = root.getStealResponse().getAnswers();
      response.answers.reserve(answers.size());
      for (auto answer : answers) response.answers.push_back({str(answer.getKey()), answer.getId(), answer.getStolen()});
      return Message(std::move(response));
    }
    case wire::Message::GET_DATA: {
      auto in = root.getGetData();
      return Message(msg::GetData{in.getRequestId(), strings(in.getKeys())});
    }
    case wire::Message::DATA_REPLY: {
      auto in = root.getDataReply();
      DTASK_ASSIGN_OR_RETURN(auto values, decode_key_values(in.getValues(), bulk));
      return Message(msg::DataReply{in.getRequestId(), std::move(values)});
    }
    case wire::Message::PUT_DATA: {
      auto in = root.getPutData();
      DTASK_ASSIGN_OR_RETURN(auto values, decode_key_values(in.getValues(), bulk));
      return Message(msg::PutData{in.getRequestId(), std::move(values)});
    }
    case wire::Message::PUT_DATA_REPLY: {
      auto in = root.getPutDataReply();
      return Message(msg::PutDataReply{in.getRequestId(), in.getOk(), str(in.getError())});
    }
  }
  return Status::invalid("unknown message kind " + std::to_string(static_cast<int>(root.which())));
}

}  // namespace

const char* message_kind_name(std::size_t kind) {
  static constexpr const char* kNames[] = {
      "Handshake",   "HandshakeReply",   "UpdateGraph",      "KeysScattered", "ReleaseKeys",
      "CancelKeys",  "InfoRequest",      "InfoReply",        "KeyStatusBatch", "RegisterWorker",
      "WorkerRegistered", "ComputeTaskBatch", "WorkerReport", "Heartbeat",     "FreeKeys",
      "GetData",     "DataReply",        "PutData",          "PutDataReply",   "RetireWorkers",
      "RetireWorkersReply", "AcquireReplicas", "CloseWorker", "ResumeSession",
      "StealRequest", "StealResponse"};
  static_assert(std::size(kNames) == kMessageKindCount);
  return kind < kMessageKindCount ? kNames[kind] : "Unknown";
}

namespace {

CodecCounters codec_totals;
std::atomic<bool> codec_timing{false};

/// Adds the time from its construction to its destruction (CPU time for a
/// long one, TimedSection) to `total`, once count_codec_time() was called.
class ScopedNanoseconds {
 public:
  ScopedNanoseconds(std::atomic<std::uint64_t>& total, SectionHistory& history) : total_(total) {
    if (codec_timing.load(std::memory_order_relaxed)) section_.emplace(history);
  }
  ~ScopedNanoseconds() {
    if (section_) total_.fetch_add(section_->elapsed_ns(), std::memory_order_relaxed);
  }
  ScopedNanoseconds(const ScopedNanoseconds&) = delete;
  ScopedNanoseconds& operator=(const ScopedNanoseconds&) = delete;

 private:
  std::atomic<std::uint64_t>& total_;
  std::optional<TimedSection> section_;
};

thread_local SectionHistory encode_history;
thread_local SectionHistory decode_history;

}  // namespace

const CodecCounters& codec_counters() { return codec_totals; }
void count_codec_time() { codec_timing.store(true, std::memory_order_relaxed); }

namespace {

/// Frames what `storage->builder` holds, with `bulk`'s slices after it.
EncodedFrame finish_frame(std::shared_ptr<FrameStorage> storage, BulkWriter& bulk, std::size_t kind) {
  // Standard Cap'n Proto stream framing: segment count - 1, sizes, padding.
  auto segments = storage->builder.getSegmentsForOutput();
  storage->segment_table.assign(segments.size() + 1 + (segments.size() + 1) % 2, 0);
  storage->segment_table[0] = static_cast<std::uint32_t>(segments.size() - 1);
  std::size_t message_bytes = storage->segment_table.size() * 4;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    storage->segment_table[i + 1] = static_cast<std::uint32_t>(segments[i].size());
    message_bytes += segments[i].size() * sizeof(capnp::word);
  }

  storage->bulk = std::move(bulk.slices);
  std::uint64_t bulk_bytes = 0;
  for (const auto& slice : storage->bulk) {
    storage->bulk_table.push_back(slice->size());
    bulk_bytes += pad_to_bulk_alignment(slice->size());
  }

  std::byte* h = storage->header.data();
  store<std::uint32_t>(h, kFrameMagic);
  store<std::uint8_t>(h + 4, kFrameVersion);
  store<std::uint8_t>(h + 5, static_cast<std::uint8_t>(kind));
  store<std::uint32_t>(h + 8, static_cast<std::uint32_t>(message_bytes));
  store<std::uint32_t>(h + 12, static_cast<std::uint32_t>(storage->bulk.size()));
  store<std::uint64_t>(h + 16, bulk_bytes);

  EncodedFrame frame;
  auto add = [&frame](const void* p, std::size_t n) {
    if (n == 0) return;
    frame.pieces.emplace_back(static_cast<const std::byte*>(p), n);
    frame.total_bytes += n;
  };
  add(storage->header.data(), storage->header.size());
  add(storage->segment_table.data(), storage->segment_table.size() * 4);
  for (auto segment : segments) add(segment.begin(), segment.size() * sizeof(capnp::word));
  add(storage->bulk_table.data(), storage->bulk_table.size() * 8);
  for (const auto& slice : storage->bulk) {
    add(slice->data(), slice->size());
    add(storage->zeros.data(), pad_to_bulk_alignment(slice->size()) - slice->size());
  }
  frame.storage = std::move(storage);
  return frame;
}

}  // namespace

EncodedFrame encode_frame(const Message& message) {
  if (const auto* batch = std::get_if<msg::ComputeTaskBatch>(&message)) {
    return encode_compute_tasks(MessageComputeTasks(*batch));  // sized as the scheduler's are
  }
  ScopedNanoseconds timed(codec_totals.encode_ns, encode_history);
  auto storage = std::make_shared<FrameStorage>(first_segment_words(message));
  BulkWriter bulk;
  std::visit(Encoder{storage->builder.initRoot<wire::Message>(), bulk}, message);
  return finish_frame(std::move(storage), bulk, message.index());
}

EncodedFrame encode_compute_tasks(const ComputeTaskSource& tasks) {
  ScopedNanoseconds timed(codec_totals.encode_ns, encode_history);
  auto storage = std::make_shared<FrameStorage>(first_segment_words(tasks));
  BulkWriter bulk;
  encode_compute_batch(storage->builder.initRoot<wire::Message>(), tasks, bulk);
  const std::size_t kind = Message(std::in_place_type<msg::ComputeTaskBatch>).index();
  return finish_frame(std::move(storage), bulk, kind);
}

Result<Message> decode_frame_body(const FrameHeader& header, std::span<const std::byte> body,
                                  std::shared_ptr<const Buffer> bulk, const std::vector<std::uint64_t>& slices) {
  if (reinterpret_cast<std::uintptr_t>(body.data()) % sizeof(capnp::word) != 0) {
    return Status::internal("frame body is not word-aligned");
  }
  ScopedNanoseconds timed(codec_totals.decode_ns, decode_history);
  BulkReader reader{std::move(bulk), {}, slices};
  std::uint64_t offset = 0;
  for (std::uint64_t length : slices) {
    reader.offsets.push_back(offset);
    offset += pad_to_bulk_alignment(length);
  }
  try {
    kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(body.data()),
                                          header.message_bytes / sizeof(capnp::word));
    capnp::ReaderOptions options;
    // Decoding reads a list's words more than once (size, then items), so
    // allow a small multiple; pointer loops still hit the limit quickly.
    options.traversalLimitInWords = words.size() * 8 + 1024;
    options.nestingLimit = 64;
    capnp::FlatArrayMessageReader message(words, options);
    if (message.getEnd() != words.end()) return Status::invalid("trailing bytes after the message");
    auto root = message.getRoot<wire::Message>();
    if (static_cast<unsigned>(root.which()) != header.kind) {
      return Status::invalid(std::string("frame kind ") + message_kind_name(header.kind) +
                             " does not match its message " + message_kind_name(root.which()));
    }
    return decode_root(root, reader);
  } catch (const kj::Exception& e) {
    return Status::invalid("malformed " + std::string(message_kind_name(header.kind)) +
                           " message: " + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return Status::invalid("malformed " + std::string(message_kind_name(header.kind)) + " message: " + e.what());
  }
}

Result<Message> decode_frame(std::span<const std::byte> frame, const FrameLimits& limits) {
  DTASK_ASSIGN_OR_RETURN(FrameHeader header, parse_frame_header(frame, limits));
  if (frame.size() < kFrameHeaderSize + header.body_bytes() + header.bulk_bytes) {
    return Status::invalid("truncated frame: " + std::to_string(frame.size()) + " of " +
                           std::to_string(kFrameHeaderSize + header.body_bytes() + header.bulk_bytes) + " bytes");
  }
  // Copy into aligned storage, as the connection's reads would place it.
  auto body = Buffer::copy_of(frame.data() + kFrameHeaderSize, header.body_bytes());
  auto bulk = Buffer::copy_of(frame.data() + kFrameHeaderSize + header.body_bytes(), header.bulk_bytes);
  std::span<const std::byte> body_span(body->data(), body->size());
  DTASK_ASSIGN_OR_RETURN(auto slices, parse_bulk_table(header, body_span));
  return decode_frame_body(header, body_span, std::move(bulk), slices);
}

}  // namespace dtask
