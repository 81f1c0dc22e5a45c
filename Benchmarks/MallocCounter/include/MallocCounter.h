#ifndef MALLOC_COUNTER_H
#define MALLOC_COUNTER_H
/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign,
/// valloc) made by this process since it started. Linked into a benchmark executable,
/// the definitions in malloc_counter.c interpose the C library's for every library in
/// the process (ELF symbol interposition) and forward to glibc's __libc_* entry points.
unsigned long malloc_counter_allocations(void);
/// Bytes requested by those allocations.
unsigned long malloc_counter_bytes(void);
/// Debugging aid: when `frames` > 0, every allocation prints a backtrace of that many
/// frames to stderr (mangled symbols; pipe through `swift demangle`). 0 turns it off.
void malloc_counter_set_trace(int frames);
#endif
