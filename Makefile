# Thin wrapper around CMake (see CMakeLists.txt). Every target bootstraps first: installs
# missing Debian packages and the pinned DuckDB (scripts/bootstrap.sh; quiet when done).
PREFIX ?= /usr/local
BUILD  ?= build
JOBS   ?= $(shell nproc)
LAKE   ?= $(or $(QUACK_LAKE),lake)
PORT   ?= 8080
CMAKE_FLAGS ?=

.PHONY: all bootstrap configure build test check run bench install clean format demo

all: build

bootstrap:
	@bash scripts/bootstrap.sh $(BOOTSTRAP_FLAGS)

$(BUILD)/CMakeCache.txt: | bootstrap
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

configure: bootstrap $(BUILD)/CMakeCache.txt

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: BOOTSTRAP_FLAGS=--test-tools
test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 $(CTEST_FLAGS)

# Whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer.
check: BOOTSTRAP_FLAGS=--test-tools
check: bootstrap
	@cmake -S . -B build-check -DCMAKE_BUILD_TYPE=Debug -DQUACK_SANITIZE=ON >/dev/null
	@cmake --build build-check -j $(JOBS)
	cd build-check && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j 2 $(CTEST_FLAGS)

demo: build
	@[ -f $(LAKE)/dataset/taxi_2019_04.parquet ] || ./$(BUILD)/quack demo --lake $(LAKE)

run: demo
	./$(BUILD)/quack serve --lake $(LAKE) --port $(PORT)

bench: BOOTSTRAP_FLAGS=--test-tools
bench: build
	bash bench/run.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.c')

clean:
	rm -rf $(BUILD) build-check
