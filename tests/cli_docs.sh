#!/bin/bash
# docs/cluster.md shows docs/cluster-array.sbatch verbatim (the script CI submits to Slurm is the
# documented one), and the script is valid bash.
set -u
src=${DM_SOURCE_DIR:?}
fail=0
shown=$(awk '/^## Slurm job array/{s=1} s&&/^```sh$/{if(!n++){on=1;next}} on&&/^```$/{exit} on' "$src/docs/cluster.md")
[ -n "$shown" ] && [ "$shown" == "$(cat "$src/docs/cluster-array.sbatch")" ] || {
    echo "FAIL: the first sh block under 'Slurm job array' in docs/cluster.md differs from docs/cluster-array.sbatch:"
    diff <(echo "$shown") "$src/docs/cluster-array.sbatch"
    fail=1
}
bash -n "$src/docs/cluster-array.sbatch" || { echo "FAIL: docs/cluster-array.sbatch is not valid bash"; fail=1; }
grep -q '^#SBATCH --open-mode=append' "$src/docs/cluster-array.sbatch" || { echo "FAIL: no --open-mode=append"; fail=1; }
[ $fail -eq 0 ] && echo PASS
exit $fail
