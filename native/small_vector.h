// A vector that keeps its first N elements inside itself, so that the usual call with a
// few buffers allocates nothing, and moves everything to the heap beyond that.
#pragma once

#include <stddef.h>

#include <vector>

namespace dontcache {

template <typename T, size_t N>
class SmallVector {
 public:
  void push_back(const T& value) {
    if (size_ < N) {
      inline_[size_++] = value;
      return;
    }
    if (size_ == N) heap_.assign(inline_, inline_ + N);
    heap_.push_back(value);
    size_++;
  }
  T* data() { return size_ > N ? heap_.data() : inline_; }
  const T* data() const { return size_ > N ? heap_.data() : inline_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }

 private:
  T inline_[N];
  std::vector<T> heap_;
  size_t size_ = 0;
};

}  // namespace dontcache
