#!/usr/bin/env bash
# Mutation check: proof that the tests can fail. Each mutation below breaks one line of the code
# under test (return early, emit a NaN, write one past the end, skip a check) and names the test
# that must go red and a piece of the message it must fail with. The tree is never modified: the
# mutated file is written to a scratch folder, compiled there with the build's own flags, and
# linked with the build's objects and libdiffumask.a into a scratch test binary (and CLI, for
# tests that drive it; libFuzzer harnesses with clang), which runs with ctest's environment.
# A mutation whose text is no longer found fails too (the code moved: update the table).
# Usage: bash tests/mutate.sh [BUILD_DIR] [--all]
#   BUILD_DIR  a configured and built Release tree (default build/, as `make build` makes)
#   --all      also the slow ones (test_generate, test_bf16, ...): the full list of the issue
set -u
cd "$(dirname "$0")/.." || exit 2
src=$PWD
build=build
all=0
for a in "$@"; do
    case $a in
    --all) all=1 ;;
    *) build=$a ;;
    esac
done
build=$(cd "$build" 2>/dev/null && pwd) || { echo "mutate.sh: no build folder '$build' (make build)"; exit 2; }
[ -f "$build/libdiffumask.a" ] || { echo "mutate.sh: $build/libdiffumask.a missing (make build)"; exit 2; }
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
shared=$(cd "$src/.." && pwd)/shared # as CMakeLists.txt: ../shared beside the source
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dm-mutate-XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# id ~ slow (1: --all only) ~ file ~ text ~ replacement ~ kind (test, cli, fuzz) ~ target ~ expect
# kind fuzz: target is the harness; its inputs are the corpus seeds (fuzz/corpus/NAME), run
# with -runs=200000 -seed=1.
table=$(
    cat <<'EOF'
skip-after-failure~0~tests/check.c~    if (check_failed) {~    if (0) {~test~test_check~skip after a failure
jpeg-error-ok~0~src/io/image.c~return dm_fail(err, "%s: bad JPEG: %s", path, ctx.msg);~return DM_OK;~test~test_image~bad JPEG
dpm-nan~0~src/sched/dpmpp2m.c~        x[e] = xt;~        x[e] = e == 1 ? NAN : xt;~test~test_sched_hand~dpm++ 10 steps vs double reference: nan
rng-constant~0~src/core/rng.c~0x9e3779b97f4a7c15ull~0x9e3779b97f4a7c17ull~test~test_rng~splitmix64(0)
augment-seed~0~src/dataset/augment.c~dm_seed_mix(dm_seed_mix(o->seed, (uint64_t)i), (uint64_t)k)~dm_seed_mix(dm_seed_mix(7, (uint64_t)i), (uint64_t)k)~test~test_augment~seed 8 vs seed 7
border-prior-no-turn~0~src/mask/polarity.c~        m[i] = (1 - m[i]) * (1 - other);~        m[i] = m[i] * (1 - other);~test~test_mask~pixels wrong
border-prior-among~0~src/mask/polarity.c~        m[i] = (1 - m[i]) * (1 - other);~        m[i] = 1 - m[i];~test~test_mask~two classes
config-groups~0~src/model/config_check.c~        if (c->block_out[i] % c->groups)~        if (0)~fuzz~fuzz_model_config~deadly signal
lora-name-overflow~0~src/model/names.c~for (size_t c = 5; c < len - 7; c++)~for (size_t c = 5; c <= len; c++)~fuzz~fuzz_lora_names~heap-buffer-overflow
geglu-nan~1~src/ops/elementwise.c~geglu_row_avx512(a, g, F, o);~geglu_row_avx512(a, g, F, o), o[F - 1] = NAN;~test~test_elementwise~worst <= 1e-6
pndm-alpha-default~1~src/sched/sampler.c~c->set_alpha_to_one = kind == DM_SAMPLER_DDIM ? 1 : 0;~c->set_alpha_to_one = 1;~test~test_sched_hand~pndm default final alpha
seed-literal~1~src/dataset/prompts.c~return dm_seed_mix(run_seed, (uint64_t)index) & ((1ull << 53) - 1);~return dm_seed_mix(run_seed, (uint64_t)index + 1) & ((1ull << 53) - 1);~test~test_prompts~seed ==
vae-encode-past~1~src/model/vae.c~for (size_t i = 0; i < (size_t)L * H * W; i++) z[i] = q[i] * c->scaling;~for (size_t i = 0; i <= (size_t)L * H * W; i++) z[i] = q[i] * c->scaling;~test~test_vae~encoder wrote
readonly-message~1~src/io/image.c~    DM_TRY(dm_atomic_open(&af, path, err));~    if (dm_atomic_open(&af, path, err)) return dm_fail(err, "cannot write");~test~test_image~read-only folder as nobody
lora-unreadable~1~src/model/lora.c~    DM_TRY(dm_st_open(path, &st, err));~    DM_TRY(dm_st_open("/nonexistent/lora-kohya.safetensors", &st, err));~test~test_public_api~does not fit
num-shards-usage~1~src/cli/cmd_generate.c~    } else if (o.num_shards > 1) {~    } else if (0) {~cli~test_generate~--num-shards 2 --out %s/j1 </dev/null
no-kill~1~tests/test_generate.c~        kill(pid, SIGKILL);~        (void)0;~test~test_generate~no kill landed
bf16-lora-ignored~1~src/model/weights.c~    for (int i = 0; i < l->n; i++) {~    for (int i = 0; i < 0; i++) {~test~test_bf16~bf16 with LoRA
bf16-map-scale~1~src/ops/attention.c~    float scale = 1.0f / sqrtf((float)d);~    float scale = 1.03f / sqrtf((float)d);~cli~test_bf16~attn2 relative error
EOF
)

flags() { # C_DEFINES C_INCLUDES C_FLAGS of a CMake object target
    local f=$build/CMakeFiles/$1.dir/flags.make
    sed -n 's/^C_DEFINES = //p; s/^C_INCLUDES = //p; s/^C_FLAGS = //p' "$f" | tr '\n' ' '
}

# Links target ($1) from its link.txt with the object of $2 (a path relative to the source)
# replaced by $3 (or, for a library file, put before libdiffumask.a) into $4.
relink() {
    local t=$1 rel=$2 obj=$3 out=$4 cmd
    cmd=$(sed "s| -o [^ ]* | -o $out |" "$build/CMakeFiles/$t.dir/link.txt")
    if [[ $cmd == *"CMakeFiles/$t.dir/$rel.o"* ]]; then
        cmd=${cmd/"CMakeFiles/$t.dir/$rel.o"/"$obj"}
    else
        cmd=${cmd/" libdiffumask.a"/" $obj libdiffumask.a"}
    fi
    (cd "$build" && eval "$cmd")
}

pass=0
fail=0
t_start=$SECONDS
while IFS='~' read -r id slow file text repl kind target expect; do
    [ -z "$id" ] && continue
    [ "$slow" = 1 ] && [ $all = 0 ] && continue
    t0=$SECONDS
    dir=$scratch/$id
    mkdir -p "$dir"
    if [ ! -f "$src/$file" ]; then # moved (src/dataset/ is being split): find it by name
        moved=$(find "$src/src" "$src/tests" -name "$(basename "$file")" 2>/dev/null)
        [ "$(wc -l <<<"$moved")" = 1 ] && [ -n "$moved" ] && file=${moved#"$src"/}
    fi
    orig=$(cat "$src/$file" 2>/dev/null)
    mutated=${orig/"$text"/"$repl"}
    if [ "$mutated" = "$orig" ]; then
        echo "FAIL $id: the text to mutate is not in $file any more: $text"
        fail=$((fail + 1))
        continue
    fi
    base=$(basename "$file")
    printf '%s\n' "$mutated" >"$dir/$base"
    log=$dir/log
    rc=0
    if [ "$kind" = fuzz ]; then
        command -v clang >/dev/null || { echo "FAIL $id: needs clang"; fail=$((fail + 1)); continue; }
        libs=$(sed 's/.*libdiffumask.a//' "$build/CMakeFiles/test_check.dir/link.txt")
        corpus=fuzz/corpus/${target#fuzz_}
        # shellcheck disable=SC2086 # libs is a list of arguments
        if ! clang -O1 -g -fsanitize=fuzzer,address -D_GNU_SOURCE -std=c11 -Iinclude -Isrc \
            -I"$(dirname "$src/$file")" "fuzz/$target.c" "$dir/$base" "$build/libdiffumask.a" \
            $libs -o "$dir/$target" >"$log" 2>&1; then
            echo "FAIL $id: the mutant does not build ($log)"
            fail=$((fail + 1))
            continue
        fi
        mkdir -p "$dir/corpus"
        # libFuzzer exits 77 on a crash by default: that is ctest's "skipped", so ask for 3
        DM_SHARED_DIR=$shared timeout 120 "$dir/$target" -runs=200000 -seed=1 \
            -error_exitcode=3 -timeout_exitcode=3 -rss_limit_mb=2048 \
            -artifact_prefix="$dir/" "$dir/corpus" "$corpus" >>"$log" 2>&1 || rc=$?
    else
        # the object target the file belongs to: the test's own, the CLI's or the library's
        objt=diffumask_objects
        [[ $file == tests/* ]] && objt=$target
        [[ $file == src/cli/* ]] && objt=diffumask_cli
        test_bin=$build/$target
        cli=$build/diffumask
        # shellcheck disable=SC2046 # flags is a list of arguments
        if ! (cd "$build" && $cc $(flags "$objt") -Wno-error -I"$(dirname "$src/$file")" \
            -c "$dir/$base" -o "$dir/mut.o") >"$log" 2>&1; then
            echo "FAIL $id: the mutant does not compile ($log)"
            fail=$((fail + 1))
            continue
        fi
        ok=1
        if [ "$objt" != diffumask_cli ]; then
            relink "$target" "$file" "$dir/mut.o" "$dir/$target" >>"$log" 2>&1 || ok=0
            test_bin=$dir/$target
        fi
        if [ "$kind" = cli ]; then
            relink diffumask_cli "$file" "$dir/mut.o" "$dir/diffumask" >>"$log" 2>&1 || ok=0
            cli=$dir/diffumask
        fi
        if [ $ok = 0 ]; then
            echo "FAIL $id: the mutant does not link ($log)"
            fail=$((fail + 1))
            continue
        fi
        (cd "$build" && DM_SHARED_DIR=$shared DM_CLI=$cli DM_BUILD_DIR=$build DM_SOURCE_DIR=$src \
            OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE DM_PRECISION=fp32 \
            timeout 300 "$test_bin") >>"$log" 2>&1 || rc=$?
    fi
    if [ $rc -ne 0 ] && [ $rc -ne 77 ] && grep -qF -- "$expect" "$log"; then
        printf 'red  %-20s -> %-18s (exit %d, "%s") %3d s\n' "$id" "$target" $rc "$expect" \
            $((SECONDS - t0))
        pass=$((pass + 1))
    else
        printf 'FAIL %-20s -> %-18s stayed green or failed otherwise (exit %d, no "%s"):\n' \
            "$id" "$target" $rc "$expect"
        tail -n 5 "$log" | sed 's/^/     /'
        fail=$((fail + 1))
    fi
done <<<"$table"
echo "mutate.sh: $pass mutations caught, $fail not, $((SECONDS - t_start)) s"
[ $fail -eq 0 ]
