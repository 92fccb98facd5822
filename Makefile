# A thin wrapper over meson + ninja. `make demo` and `make check` are the README's quick start.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_SECONDS ?= 60

.PHONY: all deps build demo check check-fast check-asan fuzz bench clean

all: build

deps:
	@./.ci/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	CC=clang meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false \
		-Dfuzz=true -Dfuzz_seconds=$(FUZZ_SECONDS)

demo: build
	./examples/demo.sh $(BUILD)/src/cli/boxshare

# Every test: unit and integration on the normal build, then all of them again under ASan+UBSan, plus a
# short run of each fuzz target.
check: build $(ASAN_BUILD)/build.ninja
	meson test -C $(BUILD) --print-errorlogs --no-rebuild --suite unit --suite integration
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs --no-rebuild
	@echo "check: all suites passed"

check-fast: build
	meson test -C $(BUILD) --print-errorlogs --suite unit

# The long fuzz run (10 minutes a target).
fuzz: deps
	CC=clang meson setup --reconfigure $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false \
		-Dfuzz=true -Dfuzz_seconds=600
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --print-errorlogs --suite fuzz --timeout-multiplier 0

bench: build
	./bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
