# Thin wrapper over CMake so the README's two commands work on a fresh Debian 12.
#   make run    build (Release) and run the main job
#   make check  build and run the whole test suite twice: Release, then Debug + ASan/UBSan
JOBS ?= 2

.PHONY: all run check release asan clean

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

# test packages first: OpenMPI must be there when CMake looks for it (the MPI tests)
check:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory release asan
	cd build && ctest --output-on-failure -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS) -LE slow

clean:
	rm -rf build build-asan
