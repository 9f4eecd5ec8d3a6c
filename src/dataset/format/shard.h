/* Sharding: N independent processes (SLURM array tasks, Kubernetes indexed jobs, or plain
 * "--shard K/N") each generate the samples whose global index i has i % N == K, into their own
 * folder; `diffumask merge` joins the folders. Disjoint and deterministic by construction. */
#ifndef DM_DATASET_SHARD_H
#define DM_DATASET_SHARD_H

#include <stdbool.h>

#include "core/status.h"

typedef struct {
    int k, n; /* this process is shard k of n, 0 <= k < n; {0, 1} = unsharded */
} dm_shard;

/* "K/N" with 0 <= K < N. */
dm_status dm_shard_parse(const char *text, dm_shard *out, dm_error *err);

/* The environment, passed in so the rule is testable (NULL = variable unset). */
typedef struct {
    const char *slurm_task_id;    /* SLURM_ARRAY_TASK_ID */
    const char *slurm_task_count; /* SLURM_ARRAY_TASK_COUNT */
    const char *slurm_task_min;   /* SLURM_ARRAY_TASK_MIN (arrays may start at 1: --array=1-8) */
    const char *job_index;        /* JOB_COMPLETION_INDEX (Kubernetes indexed Job) */
} dm_shard_env;

/* num_shards: the user's count (0 = not given). SLURM: k = task id - task min, n = task count
 * (must equal num_shards when both are given). JOB_COMPLETION_INDEX: k = index, n = num_shards
 * (required). Neither set: *found = false and {0, 1}. */
dm_status dm_shard_from_values(int num_shards, const dm_shard_env *env, dm_shard *out, bool *found,
                               dm_error *err);
/* The same, reading getenv. */
dm_status dm_shard_from_env(int num_shards, dm_shard *out, bool *found, dm_error *err);

static inline bool dm_shard_owns(int k, int n, long long sample_index) {
    return n <= 1 || sample_index % n == k;
}

#endif
