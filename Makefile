# Thin wrapper over CMake / CTest. The real build is CMakeLists.txt.
#   make          configure + build (Release) into build/
#   make test     build, then every test (ctest) in build/
#   make asan     ASan + UBSan build (Debug, -O1) in build-asan/, then every test
#   make fuzz     clang libFuzzer build in build-fuzz/, then each fuzz/fuzz_*.c for FUZZ_TIME s
#   make install  build, then install into PREFIX (default /usr/local; DESTDIR honoured)
#   make format   clang-format -i over src/ tests/ fuzz/ include/
#   make deb      the Debian package of the portable build: build-deb/diffumask_VERSION_ARCH.deb
#   make clean    remove build/ build-asan/ build-fuzz/ build-deb/

JOBS       ?= 2
FUZZ_TIME  ?= 60
# libFuzzer's -seed: 0 = a new random one each run (exploring); CI gives a fixed one, so what
# CI runs is what `make fuzz FUZZ_SEED=1 FUZZ_CORPUS=fresh` runs here, just for longer or shorter.
FUZZ_SEED  ?= 0
# fresh = start from the seeds in fuzz/corpus only (what a clean clone does); keep = also from
# the findings of earlier runs in build-fuzz/corpus.
FUZZ_CORPUS ?= keep
# LeakSanitizer in `make asan`: 1 = leaks fail the tests.
ASAN_LEAKS ?= 1
CMAKE      ?= cmake
PREFIX     ?= /usr/local

FUZZ_NAMES  := $(sort $(basename $(notdir $(wildcard fuzz/fuzz_*.c))))
# The library too is instrumented (coverage + ASan + UBSan), not only the harness.
FUZZ_CFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
SHARED_DIR  := $(abspath ../shared)

.PHONY: all build test install asan fuzz fuzz-build format clean deb

all: build

build:
	$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=Release
	$(CMAKE) --build build -j$(JOBS)

test: build
	cd build && ctest --output-on-failure -j$(JOBS)

# bin/diffumask, lib/libdiffumask.so.* + .a, include/diffumask.h, lib/pkgconfig/diffumask.pc,
# share/diffumask/models/toy-shapes. The installed files find each other relative to PREFIX, so
# PREFIX needs no reconfigure.
install: build
	$(CMAKE) --install build --prefix $(PREFIX)

# Debug at -O1 (as the ASan documentation advises): the same checks, several times faster tests.
asan:
	$(CMAKE) -S . -B build-asan -DDM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g -O1"
	$(CMAKE) --build build-asan -j$(JOBS)
	cd build-asan && \
	  ASAN_OPTIONS=detect_leaks=$(ASAN_LEAKS):abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS)

fuzz-build:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (bash scripts/setup.sh)"; exit 1; }
	$(CMAKE) -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DDM_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS=$(FUZZ_CFLAGS)"
	$(CMAKE) --build build-fuzz -j$(JOBS) --target $(FUZZ_NAMES)

# Each harness: fresh findings go to build-fuzz/corpus/NAME (kept between runs), seeds come
# from fuzz/corpus/NAME-without-fuzz_ and a dictionary from fuzz/NAME-without-fuzz_.dict when
# present. The full log is build-fuzz/logs/NAME.log; a crash leaves its input in
# build-fuzz/artifacts/NAME/ and fails the target.
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_NAMES); do \
	  short=$${f#fuzz_}; \
	  [ "$(FUZZ_CORPUS)" = fresh ] && rm -rf build-fuzz/corpus/$$f; \
	  mkdir -p build-fuzz/corpus/$$f build-fuzz/artifacts/$$f build-fuzz/logs; \
	  args="-max_total_time=$(FUZZ_TIME) -seed=$(FUZZ_SEED) -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024"; \
	  args="$$args -print_final_stats=1 -close_fd_mask=3"; \
	  args="$$args -artifact_prefix=build-fuzz/artifacts/$$f/"; \
	  [ -f fuzz/$$short.dict ] && args="$$args -dict=fuzz/$$short.dict"; \
	  seeds=; [ -d fuzz/corpus/$$short ] && seeds=fuzz/corpus/$$short; \
	  echo "== $$f: $(FUZZ_TIME) s, -seed=$(FUZZ_SEED) (seeds: $${seeds:-none})"; \
	  if DM_SHARED_DIR=$(SHARED_DIR) build-fuzz/$$f $$args build-fuzz/corpus/$$f $$seeds \
	       > build-fuzz/logs/$$f.log 2>&1; then \
	    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' build-fuzz/logs/$$f.log; \
	    echo "   corpus: $$(ls build-fuzz/corpus/$$f | wc -l) inputs"; \
	  else \
	    tail -n 60 build-fuzz/logs/$$f.log; \
	    echo "$$f FAILED: reproducer in build-fuzz/artifacts/$$f/, full log build-fuzz/logs/$$f.log"; \
	    echo "   rerun: build-fuzz/$$f build-fuzz/artifacts/$$f/<file>"; \
	    echo "   replay the whole run: make fuzz FUZZ_SEED=$(FUZZ_SEED) FUZZ_CORPUS=fresh"; \
	    exit 1; \
	  fi; \
	done

format:
	clang-format -i $$(find src tests fuzz include -name '*.[ch]')

# dpkg-buildpackage writes its results beside the source tree, so the tracked files (as they are
# in the working tree) are copied to build-deb/src first; the .deb lands in build-deb/.
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
	  { echo "make deb needs dpkg-dev and debhelper (bash scripts/setup.sh --extra deb)"; exit 1; }
	rm -rf build-deb && mkdir -p build-deb/src
	git ls-files -z | xargs -0 cp -a --parents -t build-deb/src
	cd build-deb/src && DEB_BUILD_OPTIONS="parallel=$(JOBS) nocheck" dpkg-buildpackage -us -uc -b
	@ls build-deb/*.deb

clean:
	rm -rf build build-asan build-fuzz build-deb
