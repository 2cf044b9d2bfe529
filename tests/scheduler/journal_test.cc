// The scheduler's journal (scheduler/journal.h) and its replay into a
// GraphState (scheduler/journal_replay.h): records survive a reopen, a torn
// tail is cut, and a replayed graph waits for the workers that held results
// instead of recomputing them, recomputes what does not come back, and
// reports scattered data that does not come back as lost.
#include "scheduler/journal.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "common/logging.h"
#include "scheduler/journal_replay.h"
#include "tests/formats/temp_dir.h"

namespace dtask::scheduler {
namespace {

using Kind = JournalRecord::Kind;

std::shared_ptr<spdlog::logger> quiet_logger() {
  auto logger = make_logger("journal-test", "error");
  EXPECT_TRUE(logger.ok());
  return *logger;
}

Journal::Opened open_journal(const formats::testing::TempDir& dir) {
  auto opened = Journal::open(dir.path().string(), std::chrono::milliseconds(0), quiet_logger());
  EXPECT_TRUE(opened.ok()) << opened.status().to_string();
  return std::move(*opened);
}

msg::TaskDef journal_task_def(std::string key, std::vector<std::string> deps = {}) {
  msg::TaskDef def;
  def.key = std::move(key);
  def.op = "inc";
  for (const std::string& dep : deps) def.args.emplace_back(TaskRef{dep});
  def.dependencies = std::move(deps);
  return def;
}

std::string address_of(const std::string& name) { return "tcp://" + name + ":9000"; }

msg::RegisterWorker registration(const std::string& name, std::vector<msg::KeyInfo> held = {}) {
  return {name, address_of(name), 1, 0, {}, std::move(held)};
}

std::set<std::string> computed_keys(Outbox& outbox) {
  std::set<std::string> keys;
  for (auto& [worker, batch] : outbox.compute) {
    for (const TaskState* task : batch.tasks) keys.insert(task->key);
  }
  return keys;
}

TEST(JournalTest, RecordsSurviveAReopenAndATornTailIsCut) {
  formats::testing::TempDir dir;
  {
    Journal::Opened opened = open_journal(dir);
    EXPECT_TRUE(opened.records.empty());
    Message graph = msg::UpdateGraph{{journal_task_def("a"), journal_task_def("b", {"a"})}, {"b"}};
    opened.journal->append(Kind::kClientInput, "session-1", &graph);
    opened.journal->append(Kind::kClientGone, "session-2");
    ASSERT_TRUE(opened.journal->write().ok());
  }
  // A crash in the middle of the next record leaves half of it behind.
  const std::string path = (dir.path() / "journal.dtj").string();
  {
    std::ofstream tail(path, std::ios::binary | std::ios::app);
    const char torn[] = "\x40\x00\x00\x00\x03partial";  // 64 bytes promised, 12 written
    tail.write(torn, sizeof(torn) - 1);
  }
  Journal::Opened reopened = open_journal(dir);
  ASSERT_EQ(reopened.records.size(), 2u);
  EXPECT_EQ(reopened.torn_bytes, 12u);
  EXPECT_EQ(reopened.records[0].kind, Kind::kClientInput);
  EXPECT_EQ(reopened.records[0].subject, "session-1");
  ASSERT_TRUE(reopened.records[0].message.has_value());
  const auto& graph = std::get<msg::UpdateGraph>(*reopened.records[0].message);
  ASSERT_EQ(graph.tasks.size(), 2u);
  EXPECT_EQ(graph.tasks[1].dependencies, std::vector<std::string>{"a"});
  EXPECT_EQ(reopened.records[1].kind, Kind::kClientGone);
  EXPECT_FALSE(reopened.records[1].message.has_value());

  // New records follow the last whole one.
  Message released = msg::ReleaseKeys{{"b"}};
  reopened.journal->append(Kind::kClientInput, "session-1", &released);
  ASSERT_TRUE(reopened.journal->sync().ok());
  reopened.journal.reset();
  Journal::Opened third = open_journal(dir);
  EXPECT_EQ(third.torn_bytes, 0u);
  ASSERT_EQ(third.records.size(), 3u);
  EXPECT_EQ(std::get<msg::ReleaseKeys>(*third.records[2].message).keys, std::vector<std::string>{"b"});
}

TEST(JournalTest, ASecondSchedulerOnTheSameJournalIsRefused) {
  formats::testing::TempDir dir;
  Journal::Opened first = open_journal(dir);
  auto second = Journal::open(dir.path().string(), std::chrono::milliseconds(0), quiet_logger());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use by another dtask-scheduler"), std::string::npos)
      << second.status().message();
  // Compaction keeps the lock on the new file.
  ASSERT_TRUE(first.journal->rewrite({}).ok());
  EXPECT_FALSE(Journal::open(dir.path().string(), std::chrono::milliseconds(0), quiet_logger()).ok());
  first.journal.reset();
  EXPECT_TRUE(Journal::open(dir.path().string(), std::chrono::milliseconds(0), quiet_logger()).ok());
}

TEST(JournalTest, AFileThatIsNotAJournalIsRefused) {
  formats::testing::TempDir dir;
  std::ofstream((dir.path() / "journal.dtj").string()) << "something else entirely";
  auto opened = Journal::open(dir.path().string(), std::chrono::milliseconds(0), quiet_logger());
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("not a dtask journal"), std::string::npos) << opened.status().message();
}

/// A "live" scheduler whose client inputs and state changes go to a journal
/// the way SchedulerServer writes them; then a second GraphState replays it.
class JournalReplayTest : public ::testing::Test {
 protected:
  JournalReplayTest() : live(SchedulerConfig{}, quiet_logger()) {
    opened = open_journal(dir);
    live.record_changes(true);
    client = live.add_client("client", "session-1");
  }

  void input(const Message& message) {
    opened.journal->append(Kind::kClientInput, client->session, &message);
    if (const auto* update = std::get_if<msg::UpdateGraph>(&message)) live.update_graph(*client, *update);
    if (const auto* scattered = std::get_if<msg::KeysScattered>(&message)) {
      ASSERT_TRUE(live.keys_scattered(*client, *scattered).ok());
    }
    journal_outbox();
  }

  void journal_outbox() {
    Outbox outbox = live.take_outbox();
    for (auto& [holder, keys] : outbox.completed) {
      Message completed = msg::KeysScattered{holder, keys};
      opened.journal->append(Kind::kCompleted, "", &completed);
    }
    if (!outbox.forgotten.empty()) {
      Message forgotten = msg::FreeKeys{outbox.forgotten};
      opened.journal->append(Kind::kForgotten, "", &forgotten);
    }
    for (const std::string& address : outbox.workers_gone) opened.journal->append(Kind::kWorkerGone, address);
    ASSERT_TRUE(opened.journal->write().ok());
  }

  void finish(WorkerState* worker, const std::string& key) {
    msg::WorkerReport report;
    report.finished.push_back({key, 8, "int64", 1.0, 1.5});
    live.worker_report(*worker, report);
    journal_outbox();
  }

  /// "Kills" the live scheduler: a new GraphState replays the journal.
  std::unique_ptr<GraphState> restart() {
    opened.journal.reset();
    Journal::Opened reopened = open_journal(dir);
    auto graph = std::make_unique<GraphState>(SchedulerConfig{}, quiet_logger());
    summary = replay_journal(*graph, reopened.records);
    return graph;
  }

  formats::testing::TempDir dir;
  Journal::Opened opened;
  GraphState live;
  ClientState* client;
  ReplaySummary summary;
};

// a -> b -> c with a and b done on w1 when the scheduler dies: the restarted
// one waits for w1, takes b back from it, and runs only c.
TEST_F(JournalReplayTest, ResultsComeBackWithTheirWorkerAndAreNotRecomputed) {
  WorkerState* w1 = *live.add_worker(registration("w1"));
  input(msg::UpdateGraph{{journal_task_def("a"), journal_task_def("b", {"a"}), journal_task_def("c", {"b"})}, {"c"}});
  finish(w1, "a");
  finish(w1, "b");

  std::unique_ptr<GraphState> graph = restart();
  EXPECT_EQ(summary.clients, 1u);
  EXPECT_EQ(summary.tasks, 3u);
  EXPECT_TRUE(graph->recovering());
  ClientState* restored = graph->find_client("session-1");
  ASSERT_NE(restored, nullptr);

  // Another worker joins first: nothing runs while w1 may bring b back.
  ASSERT_TRUE(graph->add_worker(registration("w2")).ok());
  Outbox outbox = graph->take_outbox();
  EXPECT_TRUE(computed_keys(outbox).empty());

  auto back = graph->add_worker(registration("w1", {{"b", 8, "int64"}}));
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(graph->recovering()) << "every holder is back";
  outbox = graph->take_outbox();
  EXPECT_EQ(computed_keys(outbox), std::set<std::string>{"c"});
  EXPECT_EQ(graph->find("b")->status, TaskStatus::kMemory);
  EXPECT_EQ(graph->tasks_completed(), 0u);
  ASSERT_TRUE(graph->validate().ok()) << graph->validate().to_string();

  // The client reconnects and still wants c; it is told once c is done.
  graph->resume_client(*restored, {"c"});
  WorkerState* runner = graph->find_worker(outbox.compute.begin()->first->address);
  msg::WorkerReport report;
  report.finished.push_back({"c", 8, "int64", 2.0, 2.5});
  graph->worker_report(*runner, report);
  outbox = graph->take_outbox();
  ASSERT_EQ(outbox.statuses[restored].statuses.size(), 1u);
  EXPECT_EQ(outbox.statuses[restored].statuses[0].key, "c");
  EXPECT_EQ(outbox.statuses[restored].statuses[0].state, KeyOutcome::kMemory);
}

// A worker may come back with a result and with what it was computed from
// (the FreeKeys for a was lost with the scheduler). Taking a back makes b
// ready to run; taking b back right after must win: b is not run again.
TEST_F(JournalReplayTest, AResultAndItsDependencyComeBackTogether) {
  WorkerState* w1 = *live.add_worker(registration("w1"));
  input(msg::UpdateGraph{{journal_task_def("a"), journal_task_def("b", {"a"}), journal_task_def("c", {"b"})}, {"c"}});
  finish(w1, "a");
  finish(w1, "b");

  std::unique_ptr<GraphState> graph = restart();
  ASSERT_TRUE(graph->add_worker(registration("w1", {{"a", 8, "int64"}, {"b", 8, "int64"}})).ok());
  Outbox outbox = graph->take_outbox();
  EXPECT_EQ(computed_keys(outbox), std::set<std::string>{"c"});
  EXPECT_EQ(graph->find("b")->status, TaskStatus::kMemory);
  ASSERT_TRUE(graph->validate().ok()) << graph->validate().to_string();
}

// The worker that held b never comes back: at the end of recovery b is
// recomputed from its lineage (a, then b), then c runs.
TEST_F(JournalReplayTest, ResultsThatDoNotComeBackAreRecomputed) {
  WorkerState* w1 = *live.add_worker(registration("w1"));
  input(msg::UpdateGraph{{journal_task_def("a"), journal_task_def("b", {"a"}), journal_task_def("c", {"b"})}, {"c"}});
  finish(w1, "a");
  finish(w1, "b");

  std::unique_ptr<GraphState> graph = restart();
  ASSERT_TRUE(graph->add_worker(registration("w2")).ok());
  Outbox outbox = graph->take_outbox();
  EXPECT_TRUE(computed_keys(outbox).empty());
  graph->end_recovery();  // the recovery timeout
  outbox = graph->take_outbox();
  EXPECT_EQ(computed_keys(outbox), std::set<std::string>{"a"});
  ASSERT_TRUE(graph->validate().ok()) << graph->validate().to_string();
}

// A worker removed before the crash is not waited for: its results are
// recomputed at once.
TEST_F(JournalReplayTest, WorkersRemovedBeforeTheCrashAreNotWaitedFor) {
  WorkerState* w1 = *live.add_worker(registration("w1"));
  input(msg::UpdateGraph{{journal_task_def("a"), journal_task_def("b", {"a"})}, {"b"}});
  finish(w1, "a");
  live.remove_worker(w1, "killed");
  journal_outbox();

  std::unique_ptr<GraphState> graph = restart();
  EXPECT_FALSE(graph->recovering());
  ASSERT_TRUE(graph->add_worker(registration("w2")).ok());
  Outbox outbox = graph->take_outbox();
  EXPECT_EQ(computed_keys(outbox), std::set<std::string>{"a"});
}

// Scattered data comes back with its worker; when the worker does not come
// back, the client's future reports it lost (it has no lineage).
TEST_F(JournalReplayTest, ScatteredDataComesBackOrIsReportedLost) {
  WorkerState* w1 = *live.add_worker(registration("w1"));
  input(msg::KeysScattered{address_of("w1"), {{"x", 8, "int64"}, {"y", 8, "int64"}}});
  (void)w1;

  std::unique_ptr<GraphState> graph = restart();
  ClientState* restored = graph->find_client("session-1");
  ASSERT_NE(restored, nullptr);
  ASSERT_TRUE(graph->add_worker(registration("w1", {{"x", 8, "int64"}})).ok());
  EXPECT_EQ(graph->find("x")->status, TaskStatus::kMemory);
  EXPECT_FALSE(graph->recovering());  // w1 was the only holder: recovery ends, y did not come back
  Outbox outbox = graph->take_outbox();
  EXPECT_TRUE(computed_keys(outbox).empty()) << "scattered data is never computed";
  bool y_lost = false;
  for (const msg::KeyStatus& status : outbox.statuses[restored].statuses) {
    if (status.key == "y") y_lost = status.state == KeyOutcome::kLost;
  }
  EXPECT_TRUE(y_lost);
  ASSERT_TRUE(graph->validate().ok()) << graph->validate().to_string();
}

// A reconnecting client names the keys it still wants: the rest is released,
// and keys the scheduler never heard of are reported lost.
TEST_F(JournalReplayTest, ResumeReleasesWhatTheClientDroppedAndReportsUnknownKeys) {
  input(msg::UpdateGraph{{journal_task_def("a"), journal_task_def("b")}, {"a", "b"}});
  std::unique_ptr<GraphState> graph = restart();
  ClientState* restored = graph->find_client("session-1");
  ASSERT_NE(restored, nullptr);
  graph->resume_client(*restored, {"a", "never-sent"});
  Outbox outbox = graph->take_outbox();
  EXPECT_EQ(graph->find("b"), nullptr) << "b was released while the scheduler was away";
  ASSERT_NE(graph->find("a"), nullptr);
  ASSERT_EQ(outbox.statuses[restored].statuses.size(), 1u);
  EXPECT_EQ(outbox.statuses[restored].statuses[0].key, "never-sent");
  EXPECT_EQ(outbox.statuses[restored].statuses[0].state, KeyOutcome::kLost);
}

// A snapshot (what compaction writes) replays into the same graph: the same
// tasks, the same wants per client, and the results in memory expected back
// from the same workers.
TEST_F(JournalReplayTest, SnapshotReplaysIntoTheSameState) {
  WorkerState* w1 = *live.add_worker(registration("w1"));
  WorkerState* w2 = *live.add_worker(registration("w2"));
  input(msg::UpdateGraph{{journal_task_def("a"), journal_task_def("b", {"a"}), journal_task_def("c", {"b"}), journal_task_def("d", {"a"})},
                         {"c", "d"}});
  ClientState* other = live.add_client("other", "session-2");
  msg::UpdateGraph shared{{journal_task_def("e", {"b"})}, {"e", "a"}};
  live.update_graph(*other, shared);
  ASSERT_TRUE(live.keys_scattered(*other, {address_of("w2"), {{"x", 8, "int64"}}}).ok());
  (void)live.take_outbox();
  finish(w1, "a");
  finish(w2, "b");

  GraphState replayed(SchedulerConfig{}, quiet_logger());
  replay_journal(replayed, journal_snapshot(live));
  std::set<std::string> live_keys, replayed_keys;
  for (const auto& [key, task] : live.tasks()) live_keys.emplace(key);
  for (const auto& [key, task] : replayed.tasks()) replayed_keys.emplace(key);
  EXPECT_EQ(replayed_keys, live_keys);
  for (const std::string session : {"session-1", "session-2"}) {
    std::set<std::string> live_wants, replayed_wants;
    for (const TaskState* task : live.find_client(session)->wants) live_wants.insert(task->key);
    ASSERT_NE(replayed.find_client(session), nullptr) << session;
    for (const TaskState* task : replayed.find_client(session)->wants) replayed_wants.insert(task->key);
    EXPECT_EQ(replayed_wants, live_wants) << session;
  }
  const auto& expected = replayed.recovering_results();
  ASSERT_EQ(expected.count("a"), 1u);
  EXPECT_EQ(expected.at("a"), std::vector<std::string>{address_of("w1")});
  ASSERT_EQ(expected.count("x"), 1u);
  EXPECT_EQ(expected.at("x"), std::vector<std::string>{address_of("w2")});
  EXPECT_EQ(replayed.find("c")->dependencies.size(), 1u);
  ASSERT_TRUE(replayed.validate().ok()) << replayed.validate().to_string();
}

}  // namespace
}  // namespace dtask::scheduler
