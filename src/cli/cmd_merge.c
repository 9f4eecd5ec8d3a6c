/* diffumask merge: joins the folders of a sharded run into one dataset. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "dataset/format/dataset.h"

#define MERGE_MAX_SHARDS 4096

int dm_cmd_merge(int argc, char **argv) {
    int allow_partial = 0;
    const dm_opt opts[] = {
        {"--allow-partial", DM_ARG_FLAG, &allow_partial, NULL,
         "merge even when shards are missing or unfinished (says which)"},
    };
    const dm_cmd_spec spec = {
        "diffumask merge",
        "OUT SHARD_DIR... [--allow-partial]",
        "Merges the output folders of a sharded generation (--shard K/N) into OUT: "
        "settings must agree except the shard, sample names must be disjoint; files are "
        "hard-linked where possible; the result equals an unsharded run. Every shard 0..N-1 "
        "must be given and finished (all its samples), else nothing is merged.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        2,
        MERGE_MAX_SHARDS + 1};
    static const char *pos[MERGE_MAX_SHARDS + 1];
    int n_pos;
    int r = dm_parse_args(&spec, argc, argv, pos, &n_pos);
    if (r) return r < 0 ? 0 : r;
    dm_error err = {{0}};
    char note[4096], missing[1024];
    if (dm_dataset_merge_note(pos[0], pos + 1, n_pos - 1, allow_partial, note, sizeof note, missing,
                              sizeof missing, &err) != DM_OK) {
        fprintf(stderr, "diffumask merge: %s\n", err.msg);
        return 1;
    }
    if (note[0]) printf("note: %s\n", note);
    if (missing[0])
        fprintf(stderr, "diffumask merge: partial merge (--allow-partial): %s\n", missing);
    printf("merged %d shard folders into %s%s\n", n_pos - 1, pos[0],
           missing[0] ? " (partial)" : "");
    return 0;
}
