// A set of pointers that holds its first two members inline and moves to an
// open-addressing table (Abseil's) past that. Made for the worker's
// per-key links: nearly every key has one dependent and waits for one
// dependency, and a one-member flat_hash_set still allocated its table, once
// per key (a sum over a million inputs made a million of them, each a malloc,
// a free and fresh pages), while a few keys (that sum's own waiting set)
// hold a million members and need O(1) membership.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>

namespace dtask {

template <typename T>
class SmallPointerSet {
  using Large = absl::flat_hash_set<T*>;

 public:
  /// Walks the inline members or the table; invalidated by insert and erase.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T*;
    using difference_type = std::ptrdiff_t;
    using pointer = T* const*;
    using reference = T* const&;

    const_iterator() = default;
    reference operator*() const { return small_ != nullptr ? *small_ : *large_; }
    const_iterator& operator++() {
      if (small_ != nullptr) {
        ++small_;
      } else {
        ++large_;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.small_ == b.small_ && (a.small_ != nullptr || a.large_ == b.large_);
    }
    friend bool operator!=(const const_iterator& a, const const_iterator& b) { return !(a == b); }

   private:
    friend class SmallPointerSet;
    explicit const_iterator(T* const* small) : small_(small) {}
    explicit const_iterator(typename Large::const_iterator large) : large_(large) {}
    T* const* small_ = nullptr;  // non-null while the set is inline
    typename Large::const_iterator large_;
  };

  SmallPointerSet() = default;
  SmallPointerSet(const SmallPointerSet&) = delete;
  SmallPointerSet& operator=(const SmallPointerSet&) = delete;

  /// Adds `p`; false when it was a member already.
  bool insert(T* p) {
    if (large_) return large_->insert(p).second;
    for (std::uint32_t i = 0; i < inline_size_; ++i) {
      if (inline_[i] == p) return false;
    }
    if (inline_size_ < kInline) {
      inline_[inline_size_++] = p;
      return true;
    }
    large_ = std::make_unique<Large>(inline_, inline_ + inline_size_);
    inline_size_ = 0;
    return large_->insert(p).second;
  }

  /// Removes `p`: how many were removed (0 or 1). A table, once made, stays
  /// until clear(): a set that grew large once is likely to again.
  std::size_t erase(T* p) {
    if (large_) return large_->erase(p);
    for (std::uint32_t i = 0; i < inline_size_; ++i) {
      if (inline_[i] == p) {
        inline_[i] = inline_[--inline_size_];
        return 1;
      }
    }
    return 0;
  }

  bool contains(T* p) const {
    if (large_) return large_->contains(p);
    for (std::uint32_t i = 0; i < inline_size_; ++i) {
      if (inline_[i] == p) return true;
    }
    return false;
  }
  std::size_t count(T* p) const { return contains(p) ? 1 : 0; }

  std::size_t size() const { return large_ ? large_->size() : inline_size_; }
  bool empty() const { return size() == 0; }
  void clear() {
    large_.reset();
    inline_size_ = 0;
  }

  const_iterator begin() const { return large_ ? const_iterator(large_->cbegin()) : const_iterator(inline_); }
  const_iterator end() const {
    return large_ ? const_iterator(large_->cend()) : const_iterator(inline_ + inline_size_);
  }

 private:
  static constexpr std::uint32_t kInline = 2;
  T* inline_[kInline] = {};
  std::uint32_t inline_size_ = 0;
  std::unique_ptr<Large> large_;  // every member, once there were more than kInline
};

}  // namespace dtask
