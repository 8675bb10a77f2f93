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
# daemon/*_main.c and daemon/vgpud.c, vgpuctl.c hold main(): programs,
# not library code.
DAEMON_SRC := $(filter-out daemon/%_main.c daemon/vgpud.c daemon/vgpuctl.c,\
                $(wildcard daemon/*.c daemon/sim/*.c))
GEN       := $(BUILD)/gen
CUDA_INC  := -I$(CUDA_HOME)/include
RING_OBJ  := $(RING_SRC:%.c=$(BUILD)/%.o)
GUEST_OBJ := $(GUEST_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
LIBRING   := $(BUILD)/libvgpuring.a
LIBVGPUD  := $(BUILD)/libvgpud.a
# scheduler/: pure policy (no I/O, no CUDA), its own library so vgpud,
# the worker and the tests link the same code.
SCHED_SRC := $(wildcard scheduler/*.c)
SCHED_OBJ := $(SCHED_SRC:%.c=$(BUILD)/%.o)
LIBSCHED  := $(BUILD)/libvgpusched.a

# The guest's stand-in for libcuda.so.1: guest/cuda/*.c plus three files
# generated into $(GEN) (the tools/gen_*.py scripts say what and why).
# CUDA_IMPL_OBJ: every object defining driver entry points; the stubs
# generator looks for definitions there.
PYTHON    ?= python3
NM        ?= nm
CUDA_INCDIR := $(CUDA_HOME)/include
CUDA_TYPEDEF_H := $(addprefix $(CUDA_INCDIR)/,cudaTypedefs.h \
		  cudaGLTypedefs.h cudaEGLTypedefs.h cudaVDPAUTypedefs.h \
		  cudaProfilerTypedefs.h)
CUDA_IMPL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard guest/cuda/*.c)) \
		 $(GEN)/cuda_api_guest.o
CUDA_GEN_OBJ := $(GEN)/cuda_unimpl.o $(GEN)/procaddr_table.o \
		$(GEN)/errors_table.o
CUDA_SO   := $(BUILD)/guest/libvgpu-cuda.so
NVML_SO   := $(BUILD)/guest/libvgpu-nvml.so

UNIT_SRC  := $(wildcard tests/unit/*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
TOOLS     := $(BUILD)/tests/ringpeer $(BUILD)/tests/ringclient
BENCH_BIN := $(BUILD)/bench/ring

.PHONY: all demo test integration check asan tsan fuzz fuzz-host fuzz-worker \
	bench vmtest deps clean help
all: $(LIBRING) $(LIBVGPUD) $(LIBSCHED) $(BUILD)/vgpud $(BUILD)/vgpud-worker \
	$(BUILD)/vgpuctl $(CUDA_SO) $(NVML_SO) $(VGPU_SMI) $(TOOLS) $(BENCH_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBRING): $(RING_OBJ) $(GUEST_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The remoting code generated from ring/cuda.api (tools/gen_api.py).
$(GEN)/cuda_api_ops.h $(GEN)/cuda_api_guest.c $(GEN)/cuda_api_daemon.c &: \
		ring/cuda.api tools/gen_api.py
	@mkdir -p $(GEN)
	python3 tools/gen_api.py ring/cuda.api $(GEN)

# The daemon is built against the CUDA headers; ring/ never is.
$(BUILD)/daemon/%.o: CFLAGS += $(CUDA_INC) -I$(GEN)
$(BUILD)/daemon/%.o: $(GEN)/cuda_api_ops.h
$(BUILD)/gen/cuda_api_daemon.o: $(GEN)/cuda_api_daemon.c $(GEN)/cuda_api_ops.h
	$(CC) $(CFLAGS) $(CUDA_INC) -I$(GEN) -MMD -MP -c $< -o $@

# Made afresh: an object whose source was deleted must not linger in it.
$(LIBVGPUD): $(DAEMON_OBJ) $(BUILD)/gen/cuda_api_daemon.o
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# worker_calls.c dispatches one generated opcode (cuGraphLaunch) itself
$(BUILD)/daemon/worker_calls.o: $(GEN)/cuda_api_ops.h

$(LIBSCHED): $(SCHED_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# libnuma (the worker on its GPU's node) and jemalloc (the daemon's
# allocator), linked statically into the daemon's programs so they run on
# a GPU host that has neither library installed (docs/bulk.md).
# Sanitizer builds keep their own allocator.
NUMA_LIBS := -lnuma
ifeq ($(SAN),)
DAEMON_LIBS := -Wl,-Bstatic -ljemalloc -lnuma -Wl,-Bdynamic
else
DAEMON_LIBS := $(NUMA_LIBS)
endif
$(BUILD)/vgpud $(BUILD)/vgpuctl: $(BUILD)/%: daemon/%.c $(LIBVGPUD) $(LIBSCHED) $(LIBRING)
	$(CC) $(CFLAGS) $(CUDA_INC) -I$(GEN) $(LDFLAGS) $< $(LIBVGPUD) \
		$(LIBSCHED) $(LIBRING) -o $@ $(DAEMON_LIBS) -ldl -lm $(LDLIBS)

$(BUILD)/vgpud-worker: daemon/worker_main.c $(LIBVGPUD) $(LIBSCHED) $(LIBRING)
	$(CC) $(CFLAGS) $(CUDA_INC) -I$(GEN) $(LDFLAGS) $< $(LIBVGPUD) \
		$(LIBSCHED) $(LIBRING) -o $@ $(DAEMON_LIBS) -ldl -lm $(LDLIBS)

# Only definitions marked VGPU_EXPORT (guest/cuda/export.h) leave the
# library. cuda.h comes in as a system header: its own warnings are not ours.
$(CUDA_IMPL_OBJ) $(CUDA_GEN_OBJ): CFLAGS += -fvisibility=hidden \
	-isystem $(CUDA_INCDIR)

# The calls generated from ring/cuda.api.
$(GEN)/cuda_api_guest.o: $(GEN)/cuda_api_guest.c $(GEN)/cuda_api_ops.h
	$(CC) $(CFLAGS) -I$(GEN) -MMD -MP -c $< -o $@

# Stubs for every driver export that $(CUDA_IMPL_OBJ) leave undefined.
$(GEN)/cuda_defined.txt: $(CUDA_IMPL_OBJ)
	@mkdir -p $(dir $@)
	$(NM) --defined-only $(CUDA_IMPL_OBJ) > $@
$(GEN)/cuda_unimpl.c: $(GEN)/cuda_defined.txt guest/cuda/exports.txt \
		tools/gen_unimpl.py
	$(PYTHON) tools/gen_unimpl.py guest/cuda/exports.txt $< $@
# cuGetProcAddress's table, from the toolkit's function typedefs and cuda.h.
$(GEN)/procaddr_table.c: tools/gen_procaddr.py guest/cuda/exports.txt \
		$(CUDA_TYPEDEF_H) $(CUDA_INCDIR)/cuda.h
	@mkdir -p $(dir $@)
	$(PYTHON) tools/gen_procaddr.py $(CUDA_INCDIR) guest/cuda/exports.txt $@
# cuGetErrorName/String's table, from cuda.h's CUresult enum.
$(GEN)/errors_table.c: tools/gen_errors.py $(CUDA_INCDIR)/cuda.h
	@mkdir -p $(dir $@)
	$(PYTHON) tools/gen_errors.py $(CUDA_INCDIR)/cuda.h $@
$(CUDA_GEN_OBJ): $(GEN)/%.o: $(GEN)/%.c
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The sanitizer runtimes are not linked into shared objects (clang's TSan
# runtime exists only as a static archive for executables), so
# --no-undefined is checked in the plain build only. --exclude-libs keeps
# the ring and transport symbols from $(LIBRING) out of the export table.
ifeq ($(SAN),)
CUDA_SO_LDFLAGS := -Wl,--no-undefined
endif
$(CUDA_SO): $(CUDA_IMPL_OBJ) $(CUDA_GEN_OBJ) $(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libcuda.so.1 $(CUDA_SO_LDFLAGS) \
		$(CUDA_IMPL_OBJ) $(CUDA_GEN_OBJ) -Wl,--exclude-libs,ALL \
		$(LIBRING) -o $@ -ldl -lpthread

# The test kernels three ways, for the sim's tests and the GPU's: a cubin,
# a fatbin (sm_90 cubin + compute_90 PTX, uncompressed: the sim has no
# LZ4/ZSTD decoder, and nvcc 13 compresses PTX entries by default) and PTX.
NVCC := $(CUDA_HOME)/bin/nvcc
KERNEL_IMAGES := $(addprefix $(BUILD)/tests/gpu/kernels.,cubin fatbin ptx)
$(BUILD)/tests/gpu/kernels.cubin: tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -cubin -arch=sm_90 $< -o $@
$(BUILD)/tests/gpu/kernels.fatbin: tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -fatbin --no-compress -gencode arch=compute_90,code=sm_90 \
		-gencode arch=compute_90,code=compute_90 $< -o $@
$(BUILD)/tests/gpu/kernels.ptx: tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -ptx -arch=compute_90 $< -o $@
# lib: a fatbin as libraries ship them: several architectures, the PTX
# compressed (nvcc's default); the guest keeps only the sm_90 cubin.
KERNEL_IMAGES += $(BUILD)/tests/gpu/kernels_multi.fatbin
$(BUILD)/tests/gpu/kernels_multi.fatbin: tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -fatbin -gencode arch=compute_80,code=sm_80 \
		-gencode arch=compute_90,code=sm_90 \
		-gencode arch=compute_90,code=compute_90 $< -o $@

# MINI_CRITERION=1 compiles the tests against tests/support/mini (the TSan
# build: Criterion itself cannot start under ThreadSanitizer).
ifeq ($(MINI_CRITERION),1)
TEST_RUNNER_INC := -Itests/support/mini
TEST_RUNNER := $(TEST_RUNNER_INC) tests/support/mini/mini_criterion.c
else
TEST_RUNNER_INC :=
TEST_RUNNER := -lcriterion
endif
# VGPU_BUILD_DIR / VGPU_SRC_DIR: where a test finds built libraries and
# checked-in data, whatever directory it runs from.
# test_sim loads the test kernels nvcc made (VGPU_BUILD_DIR/tests/gpu).
$(BUILD)/tests/unit/test_sim $(BUILD)/tests/unit/test_image \
	$(BUILD)/tests/unit/test_lib_fatbin: $(KERNEL_IMAGES)
# Each test's own includes (headers, and the guest .c files some tests
# include whole) are its prerequisites too: test.d, from a -MM pass.
$(BUILD)/tests/unit/%: tests/unit/%.c tests/support/*.c tests/support/*.h $(LIBVGPUD) $(LIBSCHED) $(LIBRING)
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS) $(CUDA_INC) $(TEST_RUNNER_INC) -MM -MP -MT $@ -MF $@.d $<
	$(CC) $(CFLAGS) $(CUDA_INC) $(LDFLAGS) \
		-DVGPU_BUILD_DIR=\"$(abspath $(BUILD))\" -DVGPU_SRC_DIR=\"$(CURDIR)\" \
		$< tests/support/*.c $(LIBVGPUD) \
		$(LIBSCHED) $(LIBRING) -o $@ $(TEST_RUNNER) $(NUMA_LIBS) -ldl -lm $(LDLIBS)
# test_exports dlopens the guest libcuda and reads these lists.
$(BUILD)/tests/unit/test_lib_export: $(CUDA_SO)
$(BUILD)/tests/unit/test_exports: $(CUDA_SO) guest/cuda/exports.txt \
		tests/data/cuda13-getprocaddress-requests.txt

# test_nvml dlopens the guest NVML and reads its export list.
$(BUILD)/tests/unit/test_nvml: $(NVML_SO) guest/nvml/exports.txt

# The worker and scheduler fixtures and the scratch configuration
# directories need the daemon's library or Criterion: unit tests only; the
# ring programs and benches link the rest of tests/support.
RING_SUPPORT := $(filter-out tests/support/worker_fixture.c \
	tests/support/sched_fixture.c tests/support/confdir.c, \
	$(wildcard tests/support/*.c))
$(BUILD)/tests/%: tests/%.c $(RING_SUPPORT) tests/support/*.h $(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(RING_SUPPORT) $(LIBRING) -o $@ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(RING_SUPPORT) tests/support/*.h $(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(RING_SUPPORT) $(LIBRING) -o $@ $(LDLIBS)

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

# libFuzzer harnesses (tests/fuzz/README.md): fuzz_host, the daemon-side
# decoder, and fuzz_worker, the worker's opcode handlers over the sim.
# `make fuzz` runs both, each for FUZZ_SECONDS (CI: 2 x 60 s); fuzz-host and
# fuzz-worker run one. New inputs go to $(BUILD)/fuzz/corpus{,_worker} (the
# first dir); tests/fuzz/corpus{,_worker} are read-only seeds; crashes land
# in $(BUILD)/fuzz/artifacts{,_worker}/. FUZZ_FLAGS adds libFuzzer flags
# (-jobs=N ...).
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_CFLAGS := -std=gnu11 -g -O1 -I. -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: fuzz-host fuzz-worker
fuzz-host: $(BUILD)/fuzz/fuzz_host
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/artifacts
	$(BUILD)/fuzz/fuzz_host -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/artifacts/ \
		$(FUZZ_FLAGS) $(BUILD)/fuzz/corpus tests/fuzz/corpus
$(BUILD)/fuzz/fuzz_host: tests/fuzz/fuzz_host.c tests/fuzz/fuzz_common.h $(RING_SRC) ring/*.h
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -I. -Wall -Wextra -Werror \
		-fsanitize=fuzzer,address,undefined $< $(RING_SRC) -o $@ -pthread

# fuzz_worker: the worker's request code, the sim, the ring, the generated
# handlers and the CUresult table. --wrap lets the harness count replies.
# Its seeds that load modules are made here from nvcc's test kernels, not
# kept in the repository (tests/fuzz/mkseeds_worker.py). -timeout: a
# message that hangs the worker is a finding too. -detect_leaks=0: the
# harness checks for leaks itself (fuzz_worker.c: run_leak_check).
# Every worker file but its main(): each area adds its own worker_AREA.c.
FUZZ_WORKER_SRC := $(filter-out daemon/worker_main.c,$(wildcard daemon/worker_*.c)) \
	daemon/image_check.c daemon/devinfo.c \
	daemon/config.c $(wildcard daemon/sim/*.c) $(RING_SRC)
FUZZ_WORKER_SEEDS := $(BUILD)/fuzz/seeds_worker
fuzz-worker: $(BUILD)/fuzz/fuzz_worker $(FUZZ_WORKER_SEEDS).stamp
	@mkdir -p $(BUILD)/fuzz/corpus_worker $(BUILD)/fuzz/artifacts_worker
	$(BUILD)/fuzz/fuzz_worker -max_total_time=$(FUZZ_SECONDS) \
		-timeout=30 -max_len=65536 -dict=tests/fuzz/worker.dict \
		-detect_leaks=0 -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts_worker/ $(FUZZ_FLAGS) \
		$(BUILD)/fuzz/corpus_worker tests/fuzz/corpus_worker \
		$(FUZZ_WORKER_SEEDS)
$(BUILD)/fuzz/fuzz_worker: tests/fuzz/fuzz_worker.c $(FUZZ_WORKER_SRC) \
		daemon/*.h daemon/sim/*.h ring/*.h tests/fuzz/fuzz_common.h \
		$(GEN)/cuda_api_daemon.c \
		$(GEN)/cuda_api_ops.h $(GEN)/errors_table.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(CUDA_INC) -I$(GEN) \
		-Wl,--wrap=vgpu_hchan_reply $< $(FUZZ_WORKER_SRC) \
		$(GEN)/cuda_api_daemon.c $(GEN)/errors_table.c -o $@ \
		-pthread -lm -ldl -lnuma
$(FUZZ_WORKER_SEEDS).stamp: tests/fuzz/mkseeds_worker.py tests/fuzz/fuzzbytes.py ring/cuda.api \
		$(KERNEL_IMAGES)
	$(PYTHON) tests/fuzz/mkseeds_worker.py --images $(BUILD)/tests/gpu \
		$(FUZZ_WORKER_SEEDS)
	touch $@

# Programs see vgpu as libcuda.so.1 through this directory.
GUEST_LIB := $(BUILD)/guest/lib
$(GUEST_LIB)/libcuda.so.1: $(CUDA_SO)
	@mkdir -p $(dir $@)
	ln -sf ../libvgpu-cuda.so $@
	ln -sf libcuda.so.1 $(GUEST_LIB)/libcuda.so

# The guest's stand-in for libnvidia-ml.so.1 (guest/nvml/, docs/nvml.md):
# it answers from the VM info block and shares libcuda's once-only report
# for the generated NOT_SUPPORTED stubs.
NVML_IMPL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard guest/nvml/*.c))
$(NVML_IMPL_OBJ) $(GEN)/nvml_unimpl.o: CFLAGS += -fvisibility=hidden \
	-isystem $(CUDA_INCDIR)
$(GEN)/nvml_defined.txt: $(NVML_IMPL_OBJ)
	@mkdir -p $(dir $@)
	$(NM) --defined-only $(NVML_IMPL_OBJ) > $@
$(GEN)/nvml_unimpl.c: $(GEN)/nvml_defined.txt guest/nvml/exports.txt \
		tools/gen_unimpl.py
	$(PYTHON) tools/gen_unimpl.py guest/nvml/exports.txt $< $@ nvml
$(GEN)/nvml_unimpl.o: $(GEN)/nvml_unimpl.c
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(NVML_SO): $(NVML_IMPL_OBJ) $(GEN)/nvml_unimpl.o $(BUILD)/guest/cuda/unimpl.o \
		$(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libnvidia-ml.so.1 \
		$(CUDA_SO_LDFLAGS) $(NVML_IMPL_OBJ) $(GEN)/nvml_unimpl.o \
		$(BUILD)/guest/cuda/unimpl.o -Wl,--exclude-libs,ALL $(LIBRING) \
		-o $@ -lpthread
$(GUEST_LIB)/libnvidia-ml.so.1: $(NVML_SO)
	@mkdir -p $(dir $@)
	ln -sf ../libvgpu-nvml.so $@
	ln -sf libnvidia-ml.so.1 $(GUEST_LIB)/libnvidia-ml.so

# vgpu-smi: nvidia-smi for guests without NVIDIA userspace, an ordinary
# NVML program (guest/tools/).
VGPU_SMI := $(BUILD)/guest/tools/vgpu-smi
$(VGPU_SMI): $(wildcard guest/tools/*.c) guest/tools/smi.h guest/nvml/*.h \
		$(GUEST_LIB)/libnvidia-ml.so.1
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $(wildcard guest/tools/*.c) -L$(GUEST_LIB) \
		-lnvidia-ml -o $@

# A driver-API program that checks itself, linked like any CUDA program.
# The digest every GPU test program prints (native vs vgpu) is one header.
$(addprefix $(BUILD)/tests/gpu/,drvapi memops graphs vmm streams multigpu \
	bulk cublas cudnn cublas_layout lib_cudart_static lib_cudart_shared \
	lib_cudart_rdc multigpu_cudart_static multigpu_cudart_shared): \
	tests/gpu/digest.h
$(BUILD)/tests/gpu/drvapi: tests/gpu/drvapi.c $(GUEST_LIB)/libcuda.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(GUEST_LIB) -lcuda -lm -o $@

# Guest programs of the integration suite that check CUresults
# (tests/gpu/check.h); threads.c runs threads, hostile.c and forkinit.c fork.
GPU_CHECKS := $(addprefix $(BUILD)/tests/gpu/,threads hostile forkinit quota vmm)
# bulk.c: the bulk data path, byte for byte (area bulk)
GPU_CHECKS += $(BUILD)/tests/gpu/bulk
# lib.c, lib_export.c: libraries, kernels and export tables (area lib)
GPU_CHECKS += $(BUILD)/tests/gpu/lib $(BUILD)/tests/gpu/lib_export
# lib_va.c: device addresses never become host ones (area lib)
GPU_CHECKS += $(BUILD)/tests/gpu/lib_va
# streams.c: streams, events, callbacks, memory ops, launches (area stream)
GPU_CHECKS += $(BUILD)/tests/gpu/streams
# torch_tmap.c: TMA descriptors as Triton makes them (area torch)
GPU_CHECKS += $(BUILD)/tests/gpu/torch_tmap
# torch_order.c: call order across threads, empty captures (area torch)
GPU_CHECKS += $(BUILD)/tests/gpu/torch_order
# tools_tls.c: TOOLS_TLS entry 2, the current context (area cublas)
GPU_CHECKS += $(BUILD)/tests/gpu/tools_tls
# cublas_layout.c: export table 1734dc26's SM layout (area cublas)
GPU_CHECKS += $(BUILD)/tests/gpu/cublas_layout
# contexts.c: non-primary contexts, created and destroyed (area ctx)
GPU_CHECKS += $(BUILD)/tests/gpu/contexts
# multigpu.c: several GPUs, peers, copies between them (area multigpu)
GPU_CHECKS += $(BUILD)/tests/gpu/multigpu
# pinned_uva.c: pinned memory's host pointer is its device pointer
GPU_CHECKS += $(BUILD)/tests/gpu/pinned_uva
# nvrtc_cache.c: NVRTC's compute cache, table da9151d3 (area nvrtc)
GPU_CHECKS += $(BUILD)/tests/gpu/nvrtc_cache
$(GPU_CHECKS): $(BUILD)/tests/gpu/%: tests/gpu/%.c tests/gpu/check.h \
		tests/gpu/file.h $(GUEST_LIB)/libcuda.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -pthread \
		-isystem $(CUDA_INCDIR) $< -L$(GUEST_LIB) -lcuda -o $@

# NVML and the driver API in one guest process (tests/gpu/nvml.c).
$(BUILD)/tests/gpu/nvml: tests/gpu/nvml.c tests/gpu/check.h \
		guest/nvml/*.h $(GUEST_LIB)/libcuda.so.1 \
		$(GUEST_LIB)/libnvidia-ml.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(GUEST_LIB) -lcuda -lnvidia-ml -o $@

# Ollama's and PyTorch's discovery sequences, libraries dlopen'ed.
$(BUILD)/tests/gpu/discovery: tests/gpu/discovery.c tests/gpu/check.h \
		guest/nvml/*.h $(GUEST_LIB)/libcuda.so.1 \
		$(GUEST_LIB)/libnvidia-ml.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(GUEST_LIB) -lcuda -ldl -o $@

# The NVML calls nvidia-smi's default table and -q make (NVML only).
$(BUILD)/tests/gpu/nvml_smi: tests/gpu/nvml_smi.c guest/nvml/*.h \
		$(GUEST_LIB)/libnvidia-ml.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror $< -L$(GUEST_LIB) \
		-lnvidia-ml -o $@
INTEGRATION_NVML_SMI := $(BUILD)/tests/gpu/nvml_smi

$(BUILD)/tests/gpu/fault: tests/gpu/fault.c $(GUEST_LIB)/libcuda.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(GUEST_LIB) -lcuda -o $@
# bench/bandwidth: copies and registration, native and vgpu (docs/bulk.md)
$(BUILD)/bench/bandwidth: bench/bandwidth.c $(GUEST_LIB)/libcuda.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(GUEST_LIB) -lcuda -o $@
$(BUILD)/bench/cuda_calls: bench/cuda_calls.c $(GUEST_LIB)/libcuda.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(GUEST_LIB) -lcuda -o $@
# bench/fairness: VM shares from the kernels' own %globaltimer stamps
# (docs/scheduler.md); bench/fairness.sh runs the cases
$(BUILD)/bench/fairness: bench/fairness.c $(GUEST_LIB)/libcuda.so.1 \
		$(BUILD)/bench/fairness.cubin
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(GUEST_LIB) -lcuda -lm -o $@
$(BUILD)/bench/fairness.cubin: bench/fairness.cu
	@mkdir -p $(dir $@)
	$(NVCC) -cubin -arch=sm_90 $< -o $@

# NVIDIA's own Python bindings (nvidia-ml-py, import pynvml), unmodified,
# from PyPI: a pure-Python wheel, unpacked here and put on PYTHONPATH by the
# integration suite, which runs them against the guest NVML.
PYNVML_VERSION ?= 13.615.71
PYNVML := $(BUILD)/pypi/nvidia-ml-py
$(PYNVML)/pynvml.py:
	@mkdir -p $(BUILD)/pypi
	$(PYTHON) -m pip download --no-deps --only-binary=:all: \
		-d $(BUILD)/pypi nvidia-ml-py==$(PYNVML_VERSION)
	$(PYTHON) -m zipfile -e \
		$(BUILD)/pypi/nvidia_ml_py-$(PYNVML_VERSION)-py3-none-any.whl $(PYNVML)
	touch $@

# The memory surface: round trips, memsets, 2D/3D, pinned memory.
$(BUILD)/tests/gpu/memops: tests/gpu/memops.c tests/gpu/check.h \
		$(GUEST_LIB)/libcuda.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(GUEST_LIB) -lcuda -o $@

INTEGRATION := $(PYNVML)/pynvml.py $(BUILD)/tests/gpu/fault $(BUILD)/bench/cuda_calls \
	$(BUILD)/bench/bandwidth $(BUILD)/bench/shmcopy \
	$(BUILD)/tests/gpu/memops \
	$(BUILD)/vgpud $(BUILD)/vgpud-worker $(BUILD)/vgpuctl \
	$(BUILD)/tests/gpu/drvapi $(GPU_CHECKS) $(GUEST_LIB)/libcuda.so.1 \
	$(BUILD)/tests/gpu/nvml $(GUEST_LIB)/libnvidia-ml.so.1 \
	$(BUILD)/tests/gpu/discovery $(VGPU_SMI) $(INTEGRATION_NVML_SMI)
# lib: NVIDIA's runtime over vgpu. tests/gpu/lib_cudart.cu built by nvcc
# with static cudart and with shared cudart; the shared one finds
# libcudart.so.13 in $(CUDART_LIB), a copy of the toolkit's.
CUDART_LIB := $(BUILD)/cudart-lib64
$(CUDART_LIB)/libcudart.so.13: $(CUDA_HOME)/lib64/libcudart.so.13
	@mkdir -p $(dir $@)
	cp -P $(CUDA_HOME)/lib64/libcudart.so* $(dir $@)
$(BUILD)/tests/gpu/lib_cudart_static: tests/gpu/lib_cudart.cu tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -arch=sm_90 -Itests/gpu $< -o $@
# cuBLAS and cuBLASLt, NVIDIA's, over vgpu (GPU only: tests/gpu/run.sh);
# built against the toolkit's copies, found there at run time too.
$(BUILD)/tests/gpu/cublas: tests/gpu/cublas.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 \
		-lcublasLt -lcublas -lcudart -o $@
INTEGRATION += $(BUILD)/tests/gpu/cublas
# bench/cublas: cuBLASLt's 4096^3 bf16 and fp32 GEMMs, native and vgpu
$(BUILD)/bench/cublas: bench/cublas.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 \
		-lcublasLt -lcublas -lcudart -o $@
INTEGRATION += $(BUILD)/bench/cublas
# built with the integration suite so that `make all integration` readies
# everything tests/gpu/run.sh runs (docs/gpu-testing.md)
INTEGRATION += $(BUILD)/bench/fairness
# cuDNN 9's convolutions over vgpu (GPU only: tests/gpu/run.sh finds
# libcudnn.so.9 in the toolkit or PyTorch's nvidia-cudnn wheel); built
# where the toolkit has cuDNN's header
ifneq ($(wildcard $(CUDA_INCDIR)/cudnn.h),)
$(BUILD)/tests/gpu/cudnn: tests/gpu/cudnn.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -isystem $(CUDA_INCDIR) $< \
		-L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 \
		-lcudnn -lcudart -o $@
INTEGRATION += $(BUILD)/tests/gpu/cudnn
endif
$(BUILD)/tests/gpu/lib_cudart_shared: tests/gpu/lib_cudart.cu tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -arch=sm_90 -cudart shared -Itests/gpu $< -o $@
# relocatable device code: a version 2 wrapper listing prelinked fatbins
$(BUILD)/tests/gpu/lib_cudart_rdc: tests/gpu/lib_cudart.cu tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -arch=sm_90 -rdc=true -Itests/gpu $< -o $@
INTEGRATION += $(BUILD)/tests/gpu/lib_cudart_static \
	$(BUILD)/tests/gpu/lib_cudart_shared $(BUILD)/tests/gpu/lib_cudart_rdc \
	$(CUDART_LIB)/libcudart.so.13
# multigpu: the CUDA runtime on a second GPU (library kernels per GPU)
$(BUILD)/tests/gpu/multigpu_cudart_static: tests/gpu/multigpu_cudart.cu tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -arch=sm_90 -Itests/gpu $< -o $@
$(BUILD)/tests/gpu/multigpu_cudart_shared: tests/gpu/multigpu_cudart.cu tests/gpu/kernels.cu
	@mkdir -p $(dir $@)
	$(NVCC) -arch=sm_90 -cudart shared -Itests/gpu $< -o $@
INTEGRATION += $(BUILD)/tests/gpu/multigpu_cudart_static \
	$(BUILD)/tests/gpu/multigpu_cudart_shared
integration: $(INTEGRATION) $(KERNEL_IMAGES)
	tests/integration/run.sh $(BUILD)

demo: $(TOOLS) $(BENCH_BIN)
	tests/demo.sh $(BUILD)

bench: $(BENCH_BIN) $(BUILD)/bench/shmcopy $(BUILD)/bench/bandwidth \
		$(BUILD)/vgpud $(BUILD)/vgpud-worker
	$(BENCH_BIN)
	$(BUILD)/bench/shmcopy --mib 256
	bench/bandwidth.sh $(BUILD) 256M

# The guest side of vmtest: ringclient linked statically, so the VM's
# initramfs needs no dynamic loader or libraries.
$(BUILD)/tests/ringclient-static: tests/ringclient.c $(RING_SUPPORT) \
		tests/support/*.h $(LIBRING)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -static $< $(RING_SUPPORT) $(LIBRING) \
		-o $@ $(LDLIBS)

# Real-VM test: QEMU (TCG) boots a Linux guest with an ivshmem-plain device.
# tests/vm/run.sh --help says what it fetches (build/vm-cache) and checks.
vmtest: $(BUILD)/tests/ringpeer $(BUILD)/tests/ringclient-static
	tests/vm/run.sh $(BUILD)

# llama.cpp, Ollama's engine, natively and through vgpu (docs/ollama.md):
# llm-build builds llama.cpp's CUDA backend here (long: JOBS=2 by default);
# llm runs the test, which needs an NVIDIA GPU (not part of check).
.PHONY: llm llm-build
llm-build: all $(GUEST_LIB)/libcuda.so.1 $(GUEST_LIB)/libnvidia-ml.so.1
	tests/gpu/llm/build.sh $(BUILD)/llm
llm: llm-build
	tests/gpu/llm/run.sh $(BUILD)

deps:
	packaging/deps.sh

clean:
	rm -rf build build-asan build-tsan

help:
	@echo "make            build the ring library, guest libcuda, tools, benchmarks"
	@echo "make demo       a guest client and a host peer over a region file"
	@echo "make test       Criterion unit, integration and stress tests"
	@echo "make integration unmodified CUDA programs against vgpud (sim backend)"
	@echo "make check      test + integration + asan + tsan + vmtest + fuzz (CI)"
	@echo "make asan       the tests under AddressSanitizer + UBSan"
	@echo "make tsan       the tests under ThreadSanitizer"
	@echo "make fuzz       libFuzzer on the daemon's decoder and on the worker's"
	@echo "                handlers, FUZZ_SECONDS (60) each"
	@echo "make vmtest     a real QEMU VM talks to a host peer over ivshmem"
	@echo "make bench      ring latency/throughput/idle-CPU, memcpy into shared"
	@echo "                memory, host<->device bandwidth (JSON)"
	@echo "make llm        llama.cpp natively and through vgpu (needs a GPU;"
	@echo "                make llm-build builds llama.cpp only)"
	@echo "make deps       install the Debian build dependencies (root)"

# Stream capture and graphs (tests/gpu/graphs.c), a guest of the
# integration suite and a native-vs-vgpu program of tests/gpu/run.sh.
$(BUILD)/tests/gpu/graphs: tests/gpu/graphs.c tests/gpu/check.h \
		tests/gpu/file.h $(GUEST_LIB)/libcuda.so.1
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -pthread \
		-isystem $(CUDA_INCDIR) $< -L$(GUEST_LIB) -lcuda -o $@
integration: $(BUILD)/tests/gpu/graphs

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)

# test_cublas dlopens the guest libcuda.
$(BUILD)/tests/unit/test_cublas: $(CUDA_SO)
