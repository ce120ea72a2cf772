/* ThreadSanitizer annotations for hand-offs TSan cannot see.
 *
 * liburcu's wait-free queues order memory with inline-asm atomics, which TSan does not
 * instrument, so an object posted through a worker's inbox looks unsynchronised to it.
 * SMQ_TSAN_RELEASE(obj) before the enqueue and SMQ_TSAN_ACQUIRE(obj) after the dequeue tell
 * TSan about the edge the queue really provides; in other builds they compile to nothing. */
#ifndef SMQ_CORE_TSAN_H
#define SMQ_CORE_TSAN_H

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SMQ_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SMQ_TSAN 1
#endif

#ifdef SMQ_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define SMQ_TSAN_RELEASE(p) __tsan_release((void *)(p))
#define SMQ_TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#else
#define SMQ_TSAN_RELEASE(p) ((void)(p))
#define SMQ_TSAN_ACQUIRE(p) ((void)(p))
#endif

#endif
