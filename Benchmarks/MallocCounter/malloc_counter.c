// Counting allocator for benchmarks (glibc): every allocation entry point is defined
// here, counts, and forwards to glibc's own implementation (__libc_*, exported).
#include "MallocCounter.h"
#include <errno.h>
#include <execinfo.h>
#include <stddef.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static unsigned long allocations;
static unsigned long requested;

static int trace_frames;
static __thread int in_trace;

static inline void count(size_t n) {
    __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&requested, n, __ATOMIC_RELAXED);
    if (trace_frames > 0 && !in_trace) {
        in_trace = 1;
        void *frames[64];
        int k = backtrace(frames, trace_frames < 64 ? trace_frames : 64);
        static const char header[] = "--- allocation\n";
        (void)!write(2, header, sizeof header - 1);
        backtrace_symbols_fd(frames, k, 2);
        in_trace = 0;
    }
}

void malloc_counter_set_trace(int frames) { trace_frames = frames; }

unsigned long malloc_counter_allocations(void) { return __atomic_load_n(&allocations, __ATOMIC_RELAXED); }
unsigned long malloc_counter_bytes(void) { return __atomic_load_n(&requested, __ATOMIC_RELAXED); }

void *malloc(size_t n) { count(n); return __libc_malloc(n); }
void *calloc(size_t m, size_t n) { count(m * n); return __libc_calloc(m, n); }
void *realloc(void *p, size_t n) { count(n); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { count(n); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { count(n); return __libc_memalign(a, n); }
void *valloc(size_t n) { count(n); return __libc_memalign(4096, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    if (a < sizeof(void *) || (a & (a - 1)) != 0) return EINVAL;
    count(n);
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
