# vgpu top-level Makefile. `make help` lists the targets.
#
# Everything builds into $(BUILD) (default build/); sanitizer builds use
# build-asan/ and build-tsan/ so the three never mix objects.

BUILD    ?= build
CC       ?= gcc
CUDA_HOME ?= /usr/local/cuda
SAN      ?=
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -pthread -fPIC \
            -fno-strict-aliasing -I.
LDLIBS   += -pthread
ifneq ($(SAN),)
# no recovery: a UBSan finding must fail the test, not scroll past
CFLAGS   += -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SAN) -fno-sanitize-recover=all
endif

RING_SRC  := $(wildcard ring/*.c)
GUEST_SRC := guest/transport.c guest/conn.c
DAEMON_SRC := $(wildcard daemon/*.c)
RING_OBJ  := $(RING_SRC:%.c=$(BUILD)/%.o)
GUEST_OBJ := $(GUEST_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
LIBRING   := $(BUILD)/libvgpuring.a
LIBVGPUD  := $(BUILD)/libvgpud.a

UNIT_SRC  := $(wildcard tests/unit/*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
TOOLS     := $(BUILD)/tests/ringpeer $(BUILD)/tests/ringclient
BENCH_BIN := $(BUILD)/bench/ring

.PHONY: all demo test check asan tsan fuzz bench vmtest deps clean help
all: $(LIBRING) $(LIBVGPUD) $(TOOLS) $(BENCH_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBRING): $(RING_OBJ) $(GUEST_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBVGPUD): $(DAEMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# MINI_CRITERION=1 compiles the tests against tests/support/mini (the TSan
# build: Criterion itself cannot start under ThreadSanitizer).
ifeq ($(MINI_CRITERION),1)
TEST_RUNNER := -Itests/support/mini tests/support/mini/mini_criterion.c
else
TEST_RUNNER := -lcriterion
endif
$(BUILD)/tests/unit/%: tests/unit/%.c tests/support/*.c tests/support/*.h $(LIBVGPUD) $(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< tests/support/*.c $(LIBVGPUD) $(LIBRING) -o $@ \
		$(TEST_RUNNER) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/support/*.c tests/support/*.h $(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< tests/support/*.c $(LIBRING) -o $@ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c tests/support/*.c tests/support/*.h $(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< tests/support/*.c $(LIBRING) -o $@ $(LDLIBS)

# Criterion runs each test in its own process; --jobs 1 keeps the
# multi-process stress tests from fighting each other for the 2 cores.
test: $(UNIT_BIN) $(TOOLS)
	@set -e; for t in $(UNIT_BIN); do \
	  echo "== $$t"; $$t --jobs 1 $(TESTFLAGS); done

# What CI runs: tests, sanitizer builds, the VM test and a bounded fuzz.
check:
	tests/check.sh

asan:
	$(MAKE) BUILD=build-asan SAN=address,undefined OPT=-O1 test
# clang: gcc refuses atomic_thread_fence under -fsanitize=thread.
# die_after_fork=0: the fork tests fork a process whose keeper thread runs,
# on purpose, and the child then opens a connection (new threads) itself.
tsan:
	TSAN_OPTIONS="die_after_fork=0 halt_on_error=1 $(TSAN_OPTIONS)" \
	$(MAKE) BUILD=build-tsan SAN=thread OPT=-O1 CC=clang MINI_CRITERION=1 test

# libFuzzer harness of the daemon-side decoder (tests/fuzz/README.md).
# FUZZ_SECONDS bounds a run; new inputs go to $(BUILD)/fuzz/corpus (the
# first dir), tests/fuzz/corpus is read-only seeds; crashes land in
# $(BUILD)/fuzz/artifacts/. FUZZ_FLAGS adds libFuzzer flags (-jobs=N ...).
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
fuzz: $(BUILD)/fuzz/fuzz_host
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/artifacts
	$(BUILD)/fuzz/fuzz_host -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/artifacts/ \
		$(FUZZ_FLAGS) $(BUILD)/fuzz/corpus tests/fuzz/corpus
$(BUILD)/fuzz/fuzz_host: tests/fuzz/fuzz_host.c $(RING_SRC) ring/*.h
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -I. -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined $< $(RING_SRC) -o $@ -pthread

demo: $(TOOLS) $(BENCH_BIN)
	tests/demo.sh $(BUILD)

bench: $(BENCH_BIN)
	$(BENCH_BIN)

# The guest side of vmtest: ringclient linked statically, so the VM's
# initramfs needs no dynamic loader or libraries.
$(BUILD)/tests/ringclient-static: tests/ringclient.c tests/support/*.c \
		tests/support/*.h $(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -static $< tests/support/*.c $(LIBRING) \
		-o $@ $(LDLIBS)

# Real-VM test: QEMU (TCG) boots a Linux guest with an ivshmem-plain device.
# tests/vm/run.sh --help says what it fetches (build/vm-cache) and checks.
vmtest: $(BUILD)/tests/ringpeer $(BUILD)/tests/ringclient-static
	tests/vm/run.sh $(BUILD)

deps:
	packaging/deps.sh

clean:
	rm -rf build build-asan build-tsan

help:
	@echo "make            build the ring library, tools and benchmarks"
	@echo "make demo       a guest client and a host peer over a region file"
	@echo "make test       Criterion unit, integration and stress tests"
	@echo "make check      test + asan + tsan + vmtest + fuzz (what CI runs)"
	@echo "make asan       the tests under AddressSanitizer + UBSan"
	@echo "make tsan       the tests under ThreadSanitizer"
	@echo "make fuzz       libFuzzer on the daemon's decoder (FUZZ_SECONDS=60)"
	@echo "make vmtest     a real QEMU VM talks to a host peer over ivshmem"
	@echo "make bench      ring latency/throughput/idle-CPU figures (JSON)"
	@echo "make deps       install the Debian build dependencies (root)"

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)
