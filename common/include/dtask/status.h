// Status and Result<T>: how every recoverable failure travels in dtask.
// Shaped after Arrow's arrow/status.h and arrow/result.h; codes stay few and
// generic, the message says which key, worker or chunk.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace dtask {

enum class StatusCode : unsigned char {
  kOk = 0,
  kInvalid,       // bad input: a malformed frame, a wrong shape, a bad option
  kNotFound,      // a key, op, worker or file that does not exist
  kIOError,       // a socket or file operation failed
  kTimedOut,
  kCancelled,
  kDisconnected,  // the peer went away
  kOutOfMemory,
  kTaskError,     // a user op raised; the message names op and key
  kInternal,
};

/// The outcome of an operation that can fail for reasons outside the
/// program's control. Cheap to copy when ok. Thread-compatible.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status success() { return {}; }
  static Status invalid(std::string m) { return {StatusCode::kInvalid, std::move(m)}; }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status io_error(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status timed_out(std::string m) { return {StatusCode::kTimedOut, std::move(m)}; }
  static Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status disconnected(std::string m) { return {StatusCode::kDisconnected, std::move(m)}; }
  static Status out_of_memory(std::string m) { return {StatusCode::kOutOfMemory, std::move(m)}; }
  static Status task_error(std::string m) { return {StatusCode::kTaskError, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "Invalid: frame too large (...)", or "OK".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

const char* status_code_name(StatusCode code);

namespace internal {
/// Prints what went wrong with a Result and aborts: a programming error
/// (as Arrow's Result does), never a value made up.
[[noreturn]] void result_misuse(const char* what, const Status& status);
}  // namespace internal

/// Either a value or the Status saying why there is none. Building one from
/// an OK Status, or reading the value of one that holds an error, aborts
/// with the error's text: either would otherwise be "success" with no value.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) internal::result_misuse("a Result built from an OK Status has no value", status_);
  }
  Result(StatusCode code, std::string message) : Result(Status(code, std::move(message))) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return checked(); }
  const T& value() const& { return checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return checked(); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &checked(); }
  /// The value, or `fallback` when this holds an error.
  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

 private:
  T& checked() {
    if (!value_) internal::result_misuse("the value of a Result that holds an error was read", status_);
    return *value_;
  }
  const T& checked() const {
    if (!value_) internal::result_misuse("the value of a Result that holds an error was read", status_);
    return *value_;
  }

  Status status_;  // ok exactly when value_ is set
  std::optional<T> value_;
};

#define DTASK_CONCAT_INNER(a, b) a##b
#define DTASK_CONCAT(a, b) DTASK_CONCAT_INNER(a, b)

/// Return early from the enclosing function when `expr` is not ok.
#define DTASK_RETURN_NOT_OK(expr)                 \
  do {                                            \
    ::dtask::Status _dtask_st = (expr);           \
    if (!_dtask_st.ok()) return _dtask_st;        \
  } while (false)

#define DTASK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                               \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

/// `DTASK_ASSIGN_OR_RETURN(auto x, make_x());` unwraps a Result or returns its Status.
#define DTASK_ASSIGN_OR_RETURN(lhs, rexpr) \
  DTASK_ASSIGN_OR_RETURN_IMPL(DTASK_CONCAT(_dtask_res_, __LINE__), lhs, rexpr)

}  // namespace dtask
