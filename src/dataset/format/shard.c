#include "dataset/format/shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A whole non-negative decimal number, nothing else. */
static bool parse_count(const char *s, long *v) {
    if (!s || *s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return !errno && !*end && *v <= 1000000;
}

dm_status dm_shard_parse(const char *text, dm_shard *out, dm_error *err) {
    long k, n;
    char ks[32], ns[32];
    const char *slash = text ? strchr(text, '/') : NULL;
    if (!slash || (size_t)(slash - text) >= sizeof ks || strlen(slash + 1) >= sizeof ns)
        return dm_fail_code(err, DM_EUSAGE, "--shard: '%s' is not K/N", text ? text : "");
    memcpy(ks, text, (size_t)(slash - text));
    ks[slash - text] = 0;
    strcpy(ns, slash + 1);
    if (!parse_count(ks, &k) || !parse_count(ns, &n) || n < 1 || k >= n)
        return dm_fail_code(err, DM_EUSAGE, "--shard: '%s' is not K/N with 0 <= K < N", text);
    out->k = (int)k;
    out->n = (int)n;
    return DM_OK;
}

dm_status dm_shard_from_values(int num_shards, const dm_shard_env *env, dm_shard *out, bool *found,
                               dm_error *err) {
    *out = (dm_shard){0, 1};
    *found = false;
    long id, count, min = 0;
    if (env->slurm_task_id) {
        if (!parse_count(env->slurm_task_id, &id))
            return dm_fail(err, "SLURM_ARRAY_TASK_ID: '%s' is not a task number",
                           env->slurm_task_id);
        if (env->slurm_task_min && !parse_count(env->slurm_task_min, &min))
            return dm_fail(err, "SLURM_ARRAY_TASK_MIN: '%s' is not a task number",
                           env->slurm_task_min);
        if (env->slurm_task_count) {
            if (!parse_count(env->slurm_task_count, &count) || count < 1)
                return dm_fail(err, "SLURM_ARRAY_TASK_COUNT: '%s' is not a count",
                               env->slurm_task_count);
            if (num_shards > 0 && count != num_shards)
                return dm_fail(err, "SLURM_ARRAY_TASK_COUNT: %ld tasks but --num-shards %d", count,
                               num_shards);
        } else if (num_shards > 0)
            count = num_shards;
        else
            return dm_fail(
                err, "SLURM_ARRAY_TASK_ID: set but the shard count is unknown (give --num-shards)");
        if (id < min || id - min >= count)
            return dm_fail(err,
                           "SLURM_ARRAY_TASK_ID: task %ld is outside %ld..%ld (a strided --array "
                           "is not supported)",
                           id, min, min + count - 1);
        *out = (dm_shard){(int)(id - min), (int)count};
        *found = true;
        return DM_OK;
    }
    if (env->job_index) {
        if (!parse_count(env->job_index, &id))
            return dm_fail(err, "JOB_COMPLETION_INDEX: '%s' is not an index", env->job_index);
        if (num_shards < 1)
            return dm_fail(
                err,
                "JOB_COMPLETION_INDEX: set but the shard count is unknown (give --num-shards)");
        if (id >= num_shards)
            return dm_fail(err, "JOB_COMPLETION_INDEX: %ld is not below --num-shards %d", id,
                           num_shards);
        *out = (dm_shard){(int)id, num_shards};
        *found = true;
    }
    return DM_OK;
}

dm_status dm_shard_from_env(int num_shards, dm_shard *out, bool *found, dm_error *err) {
    dm_shard_env env = {getenv("SLURM_ARRAY_TASK_ID"), getenv("SLURM_ARRAY_TASK_COUNT"),
                        getenv("SLURM_ARRAY_TASK_MIN"), getenv("JOB_COMPLETION_INDEX")};
    return dm_shard_from_values(num_shards, &env, out, found, err);
}
