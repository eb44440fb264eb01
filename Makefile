# Thin wrapper over CMake so the README's two commands work on a fresh Debian 12.
#   make run    build (Release) and run the main job
#   make check  build and run the whole test suite twice: Release, then Debug + ASan/UBSan;
#               then each libFuzzer harness for a few seconds and the threaded kernels' tests
#               under ThreadSanitizer (both need clang; see docs/ARCHITECTURE.md, "Fuzzing")
#   make fuzz   run every libFuzzer harness for FUZZ_SECONDS each (one at a time, niced)
JOBS ?= 2
FUZZ_SECONDS ?= 60
# the tests that run OpenMP-parallel kernels (forward, backward, optimiser, capture, one-region decode)
TSAN_TESTS ?= test_kernels|test_train_kernels_simd|test_gradcheck_ops|test_train_loop|test_capture|test_decode

.PHONY: all run check release asan fuzz-build fuzz tsan clean

all: release

release:
	@scripts/deps.sh build
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

asan:
	@scripts/deps.sh build
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTILLER_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

# the whole study from nothing: world, tokenizer, pre-training, chat fine-tune, analyses;
# the report is out/demo/report.html (re-running skips finished stages)
run: release
	./build/tiller demo --out out/demo

# clang, every target with libFuzzer coverage + ASan/UBSan (clang's UBSan also checks
# pointer arithmetic on NULL, which GCC's does not)
fuzz-build:
	@scripts/deps.sh test
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTILLER_FUZZ=ON -DTILLER_WERROR=OFF >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzzers

fuzz: fuzz-build
	@for f in build-fuzz/tests/fuzz/fuzz_*; do [ -f "$$f" ] && [ -x "$$f" ] || continue; \
	  tests/fuzz/run.sh "$$f" $(FUZZ_SECONDS) build-fuzz/fuzz-work || exit 1; done

# ThreadSanitizer needs an OpenMP runtime it understands: clang's libomp with the Archer
# tool (OMPT callbacks that tell TSan about barriers, tasks and reductions). libgomp's
# futex-based barriers are invisible to TSan and give false reports.
ARCHER ?= $(firstword $(wildcard /usr/lib/llvm-*/lib/libarcher.so))
tsan:
	@scripts/deps.sh test
	@cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTILLER_TSAN=ON -DTILLER_WERROR=OFF >/dev/null
	@cmake --build build-tsan -j$(JOBS) --target $(subst |, ,$(TSAN_TESTS))
	cd build-tsan && OMP_NUM_THREADS=2 OMP_TOOL_LIBRARIES=$(ARCHER) TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1" \
	  ctest --output-on-failure -R '^($(TSAN_TESTS))$$'

# test packages first: OpenMPI must be there when CMake looks for it (the MPI tests)
check:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory release asan fuzz-build
	cd build && ctest --output-on-failure -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS) -LE slow
	cd build-fuzz && ctest --output-on-failure -L fuzz
	@$(MAKE) --no-print-directory tsan

clean:
	rm -rf build build-asan build-fuzz build-tsan
