@0x84225ecf2ea55040;
# Every message dtask processes exchange. Cap'n Proto is used for encoding
# only: Asio owns the sockets, common/frame.h the framing. Bulk bytes (array
# and blob payloads) never live in these messages: a value refers to a slice
# of the frame's bulk section by index (see common/frame.h).

$import "/capnp/c++.capnp".namespace("dtask::wire");

struct Value {
  union {
    null @0 :Void;
    boolean @1 :Bool;
    int64 @2 :Int64;
    float64 @3 :Float64;
    text @4 :Text;
    bytes @5 :UInt32;          # index into the frame's bulk slices
    array @6 :NdArray;
    list @7 :List(Value);
    taskRef @8 :Text;          # the result of another task, by key
    dependencyRef @9 :UInt32;  # a task argument: the result of its dependency at this index
  }
}

struct NdArray {
  dtype @0 :UInt8;             # dtask::DType
  shape @1 :List(Int64);
  bulk @2 :UInt32;             # index into the frame's bulk slices
}

struct Priority {
  user @0 :Int32;              # higher runs first
  generation @1 :UInt64;       # earlier submissions first
  order @2 :UInt64;            # depth-first position in its graph
}

struct Resource {
  name @0 :Text;
  amount @1 :Float64;
}

struct Handshake {
  protocolVersion @0 :UInt32;
  role @1 :UInt8;              # dtask::PeerRole
  name @2 :Text;
  authToken @3 :Text;
  session @4 :Text;            # a client's id for life, so a restarted scheduler (--journal) knows it again
}

struct HandshakeReply {
  ok @0 :Bool;
  error @1 :Text;
  serverName @2 :Text;
  dashboardAddress @3 :Text;   # "http://HOST:PORT/" of the scheduler's dashboard; empty: none
  resumable @4 :Bool;          # it keeps a journal (--journal): reconnect to it after losing it
}

# ---- client -> scheduler ----------------------------------------------------

struct TaskDef {
  key @0 :Text;
  op @1 :Text;
  args @2 :List(Value);
  dependencies @3 :List(Text);
  priority @4 :Priority;
  resources @5 :List(Resource);
  workers @6 :List(Text);      # restrict to these worker names (empty: any)
  retries @7 :UInt32;
  allowOtherWorkers @8 :Bool;  # workers is a preference: any worker when none of them is connected
}

struct UpdateGraph {
  tasks @0 :List(TaskDef);
  wantedKeys @1 :List(Text);   # keys the client holds futures for
  # More parts of this graph follow (a big graph goes in parts, each under
  # the message size limit); wantedKeys come with the last part.
  more @2 :Bool;
}

struct KeyInfo {
  key @0 :Text;
  nbytes @1 :UInt64;
  typeName @2 :Text;
}

struct KeysScattered {
  worker @0 :Text;             # data address of the worker holding them
  keys @1 :List(KeyInfo);
}

struct KeyList {
  keys @0 :List(Text);
}

struct InfoRequest {
  requestId @0 :UInt64;
}

struct InfoReply {
  requestId @0 :UInt64;
  json @1 :Text;               # scheduler snapshot, see scheduler/snapshot.h
}

# ---- scheduler -> client ----------------------------------------------------

struct KeyStatus {
  key @0 :Text;
  state @1 :UInt8;             # dtask::KeyOutcome
  whoHas @2 :List(Text);       # data addresses, when in memory
  op @3 :Text;                 # the op that failed, when erred
  failedKey @4 :Text;          # the key whose op failed (may be a dependency)
  message @5 :Text;
  nbytes @6 :UInt64;
  typeName @7 :Text;
  value @8 :Value;             # the result itself, when small and the task asked for it (ComputeTask.inlineResult)
}

struct KeyStatusBatch {
  statuses @0 :List(KeyStatus);
}

# ---- worker <-> scheduler ---------------------------------------------------

struct RegisterWorker {
  name @0 :Text;
  dataAddress @1 :Text;
  nthreads @2 :UInt32;
  memoryLimit @3 :UInt64;
  resources @4 :List(Resource);
  held @5 :List(KeyInfo);      # results it still holds: re-registering after the scheduler restarted
  gpu @6 :GpuDevice;           # set only by a worker bound to one GPU (dtask-worker --device)
}

# The GPU a worker is bound to. name and memory are empty when the worker
# was built without CUDA or found no device: the index alone is then known.
struct GpuDevice {
  index @0 :UInt32;            # --device, as the worker was given it
  name @1 :Text;               # e.g. "NVIDIA H200"
  memory @2 :UInt64;           # total device memory, bytes
}

struct WorkerRegistered {
  heartbeatIntervalMs @0 :UInt32;
}

struct DependencyLocation {
  key @0 :Text;
  whoHas @1 :List(UInt32);     # indices into the batch's holders (none: the worker holds it)
  nbytes @2 :UInt64;
}

struct ComputeTask {
  key @0 :Text;
  op @1 :Text;
  args @2 :List(Value);
  priority @3 :Priority;
  resources @4 :List(Resource);
  dependencies @5 :List(DependencyLocation);
  inlineResult @6 :Bool;       # a client waits for it: send a small result along (TaskFinished.value)
}

struct ComputeTaskBatch {
  tasks @0 :List(ComputeTask);
  holders @1 :List(Text);      # data addresses, each once: the dependencies name them by index
}

struct TaskFinished {
  key @0 :Text;
  nbytes @1 :UInt64;
  typeName @2 :Text;
  startTime @3 :Float64;       # seconds since the epoch, worker clock
  stopTime @4 :Float64;
  thread @5 :UInt32;           # executor thread that ran it (the dashboard's task-stream lane)
  value @6 :Value;             # the result, when inlineResult was asked and it is at most kInlineResultBytes (1 KiB)
}

struct TaskErred {
  key @0 :Text;
  op @1 :Text;
  message @2 :Text;
  startTime @3 :Float64;
  stopTime @4 :Float64;
  thread @5 :UInt32;
}

# Time a worker spent moving data rather than computing, for the task stream.
struct WorkerActivity {
  kind @0 :UInt8;              # dtask::ActivityKind
  startTime @1 :Float64;
  stopTime @2 :Float64;
  nbytes @3 :UInt64;
}

# A task could not start because a dependency could not be fetched (its
# holder died or no longer has it): not the task's fault, so the scheduler
# forgets that copy and reschedules the task instead of failing it.
struct TaskMissingData {
  key @0 :Text;          # the task
  dependency @1 :Text;   # the key that could not be fetched
  holder @2 :Text;       # the worker address it was fetched from ("" if none was known)
  message @3 :Text;
}

# A worker now holds a copy of `key` that the scheduler asked for (AcquireReplicas).
struct KeyAcquired {
  key @0 :Text;
  nbytes @1 :UInt64;
}

struct WorkerReport {
  finished @0 :List(TaskFinished);
  erred @1 :List(TaskErred);
  activity @2 :List(WorkerActivity);
  missing @3 :List(TaskMissingData);
  acquired @4 :List(KeyAcquired);
}

# Graceful retire. A client asks the scheduler to retire workers (by name or
# address); a worker asks to retire itself (empty `workers`) when it gets
# SIGTERM. The scheduler first copies the results only they hold to other
# workers (AcquireReplicas), then removes them without counting their tasks
# as failures, tells them to close (CloseWorker), and answers the client.
struct RetireWorkers {
  requestId @0 :UInt64;
  workers @1 :List(Text);
}

struct RetireWorkersReply {
  requestId @0 :UInt64;
  retired @1 :List(Text);      # worker names
  error @2 :Text;
}

# Scheduler -> worker: fetch these keys from `holder` and keep them.
struct AcquireReplicas {
  holder @0 :Text;
  keys @1 :List(Text);
}

struct CloseWorker {
  reason @0 :Text;
}

# Work stealing (scheduler/work_stealing.h). The scheduler asks a worker to
# give up tasks it was sent but has not started; the worker answers each one:
# stolen (it dropped the task, which will run elsewhere) or not (it had
# started it, finished it, or does not know it: the task stays). `id` pairs an
# answer with its request, so a late answer never settles a newer one.
struct StealItem {
  key @0 :Text;
  id @1 :UInt64;
}

struct StealRequest {
  items @0 :List(StealItem);
}

struct StealAnswer {
  key @0 :Text;
  id @1 :UInt64;
  stolen @2 :Bool;
}

struct StealResponse {
  answers @0 :List(StealAnswer);
}

# Scheduler restart (--journal). A client that lost its scheduler reconnects
# with the same Handshake.session and sends ResumeSession: every key it still
# holds futures for. The scheduler keeps those wanted, releases the rest, and
# answers with the status of each key that is done (or unknown to it).
# A worker reconnects with RegisterWorker.held listing the results it kept.

struct Heartbeat {
  managedBytes @0 :UInt64;    # result bytes in RAM
  storedKeys @1 :UInt64;      # in RAM or on disk
  executing @2 :UInt32;
  readyTasks @3 :UInt32;
  spilledBytes @4 :UInt64;    # result bytes spilled to local disk
  spilledKeys @5 :UInt64;
  processMemory @6 :UInt64;   # resident set size of the worker process
  memoryLimit @7 :UInt64;     # 0: unlimited
  paused @8 :Bool;            # above the pause threshold: starting no tasks
}

# ---- data plane: client/worker -> worker ------------------------------------

struct KeyValue {
  key @0 :Text;
  found @1 :Bool;
  value @2 :Value;
}

struct GetData {
  requestId @0 :UInt64;
  keys @1 :List(Text);
}

struct DataReply {
  requestId @0 :UInt64;
  values @1 :List(KeyValue);
}

struct PutData {
  requestId @0 :UInt64;
  values @1 :List(KeyValue);
}

struct PutDataReply {
  requestId @0 :UInt64;
  ok @1 :Bool;
  error @2 :Text;
}

struct Message {
  union {
    handshake @0 :Handshake;
    handshakeReply @1 :HandshakeReply;
    updateGraph @2 :UpdateGraph;
    keysScattered @3 :KeysScattered;
    releaseKeys @4 :KeyList;
    cancelKeys @5 :KeyList;
    infoRequest @6 :InfoRequest;
    infoReply @7 :InfoReply;
    keyStatusBatch @8 :KeyStatusBatch;
    registerWorker @9 :RegisterWorker;
    workerRegistered @10 :WorkerRegistered;
    computeTaskBatch @11 :ComputeTaskBatch;
    workerReport @12 :WorkerReport;
    heartbeat @13 :Heartbeat;
    freeKeys @14 :KeyList;
    getData @15 :GetData;
    dataReply @16 :DataReply;
    putData @17 :PutData;
    putDataReply @18 :PutDataReply;
    retireWorkers @19 :RetireWorkers;
    retireWorkersReply @20 :RetireWorkersReply;
    acquireReplicas @21 :AcquireReplicas;
    closeWorker @22 :CloseWorker;
    resumeSession @23 :KeyList;
    stealRequest @24 :StealRequest;
    stealResponse @25 :StealResponse;
  }
}
