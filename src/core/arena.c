#include "core/arena.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

dm_status dm_arena_init(dm_arena *a, size_t cap, dm_error *err) {
    memset(a, 0, sizeof *a);
    void *p =
        mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return dm_fail(err, "cannot reserve %zu MB for activations: %s", cap >> 20,
                       strerror(errno));
    a->base = p;
    a->cap = cap;
    return DM_OK;
}

void dm_arena_free(dm_arena *a) {
    if (a->base) munmap(a->base, a->cap);
    memset(a, 0, sizeof *a);
}

void *dm_arena_alloc(dm_arena *a, size_t bytes) {
    size_t start = (a->used + 63) & ~(size_t)63;
    if (start > a->cap || bytes > a->cap - start) return NULL;
    a->used = start + bytes;
    if (a->used > a->peak) a->peak = a->used;
    return a->base + start;
}

float *dm_arena_floats(dm_arena *a, size_t n) {
    return dm_arena_alloc(a, n * sizeof(float));
}

void dm_arena_trim(dm_arena *a) {
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    size_t from = (a->used + pg - 1) & ~(pg - 1);
    if (a->peak > from) madvise(a->base + from, a->peak - from, MADV_DONTNEED);
}

void dm_pages_drop(const void *p, size_t len) {
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a0 = ((uintptr_t)p + pg - 1) & ~(pg - 1), a1 = ((uintptr_t)p + len) & ~(pg - 1);
    if (a1 > a0) madvise((void *)a0, a1 - a0, MADV_DONTNEED);
}
