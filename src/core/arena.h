/* Bump allocator for activations. One virtual reservation per run (pages are committed only
 * when touched), 64-byte aligned blocks, mark/release to reuse scratch between layers.
 * No per-op malloc: kernels take their scratch from here. */
#ifndef DM_CORE_ARENA_H
#define DM_CORE_ARENA_H

#include <stddef.h>

#include "core/status.h"

typedef struct {
    char *base;
    size_t cap;  /* bytes reserved */
    size_t used; /* bytes handed out */
    size_t peak; /* high-water mark, for sizing reports */
} dm_arena;

dm_status dm_arena_init(dm_arena *a, size_t cap_bytes, dm_error *err);
void dm_arena_free(dm_arena *a);
/* NULL when the reservation is exhausted (callers report it as an error). */
void *dm_arena_alloc(dm_arena *a, size_t bytes);
float *dm_arena_floats(dm_arena *a, size_t n);
static inline size_t dm_arena_mark(const dm_arena *a) {
    return a->used;
}
static inline void dm_arena_release(dm_arena *a, size_t mark) {
    a->used = mark;
}

/* Hands the pages above what is in use back to the system. A run whose phases (UNet, VAE)
 * touch different parts of the reservation would otherwise keep the union of them resident;
 * trimmed at each phase's start, it keeps only the largest. Costs the page faults of touching
 * them again (a few ms per 100 MB). */
void dm_arena_trim(dm_arena *a);

/* Drops the whole pages inside [p, p + len) of a read-only file mapping from this process: they
 * stop counting in its resident size, and come back from the file (the page cache) when read
 * again. Never for anonymous memory, whose pages would come back zero. */
void dm_pages_drop(const void *p, size_t len);

#endif
