# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# make            build ./cowtrace (intermediates in build/)
# make test       install what is missing, then unit tests (cmocka), then the end-to-end tests
#                 (pytest, as root) beside the kernel matrix followed by the container suite;
#                 make check skips the install step, make check-host runs the host's suite only
# make kernels    the kernel matrix alone: Debian's 6.1, 6.12 and unstable kernels under qemu
#                 (TCG), and the host's (tests/kernels; COWTRACE_KERNELS="6.1 host" picks some)
# make containers the container suite alone: Debian unstable's python3.13 to 3.15 in a mount
#                 and pid namespace, traced from the host (tests/containers)
# make demo       the gc.freeze() demo, with and without freeze
# make bench      per-copy cost with and without cowtrace, side by side, per detector
# make bench-kernels  the same (C workload) inside each kernel of the matrix, under qemu
# make deps       install the Debian/Ubuntu packages the build and tests need
# make install    ./cowtrace to $(DESTDIR)$(PREFIX)/sbin (PREFIX=/usr/local), its man page
#                 cowtrace(8) and bash completion, both made from cowtrace --help; make uninstall
# make render     the flame graph exports read by a strict XML parser, node and headless
#                 Chromium (tests/render; no root)
# make unit-sanitize  the unit tests built with ASan and UBSan (clang, in build/asan)
# make fuzz       each libFuzzer harness of tests/fuzz for FUZZ_SECONDS (60) on a copy of its
#                 committed seeds (FUZZERS="fuzz_pylines ..." picks some); make fuzz-ci: 30 s each
# make ARCH=arm64 cross-builds build/arm64/cowtrace (and ARCH=arm64 workloads, its test
#                 programs) with Debian's aarch64-linux-gnu toolchain and arm64 libraries
#                 (scripts/deps.sh installs them); the host's build stays ./cowtrace
# V=1             show full commands

CLANG    ?= clang
BPFTOOL  ?= bpftool
PYTHON   ?= /usr/bin/python3
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ARCH     ?= $(HOST_ARCH)
# the kernel's names and uname's both (ARCH=x86_64 or aarch64 in the environment is common)
override ARCH := $(patsubst x86_64,x86,$(patsubst aarch64,arm64,$(ARCH)))
# The BPF code knows x86-64's and arm64's registers and page tables (bpf/arch.bpf.h): say so
# here, not deep in clang.
ifeq ($(filter $(ARCH),x86 arm64),)
$(error cowtrace builds for x86-64 and arm64 (ARCH=x86 or ARCH=arm64), not ARCH=$(ARCH))
endif
ifeq ($(ARCH),$(HOST_ARCH))
OUTPUT   := build
BIN      := cowtrace
CC       ?= cc
BTF_VMLINUX ?= /sys/kernel/btf/vmlinux
else
# a cross build: its own tree, the committed vmlinux.h of that architecture (the running
# kernel's BTF is the host's), the cross compiler and that architecture's libraries
OUTPUT   := build/$(ARCH)
BIN      := $(OUTPUT)/cowtrace
CROSS_TRIPLE := $(if $(filter arm64,$(ARCH)),aarch64,x86_64)-linux-gnu
CC       := $(CROSS_TRIPLE)-gcc
export PKG_CONFIG_LIBDIR := /usr/lib/$(CROSS_TRIPLE)/pkgconfig:/usr/share/pkgconfig
BTF_VMLINUX := /nonexistent
ifeq ($(shell command -v $(CC)),)
$(error ARCH=$(ARCH): $(CC) not found (scripts/deps.sh installs the cross toolchain))
endif
endif
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CFLAGS   ?= -g -O2
CFLAGS   += -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers \
	    -std=gnu11 -D_GNU_SOURCE -DCOWTRACE_VERSION='"$(VERSION)"'
# CI builds with warnings as errors (.ci/run sets COWTRACE_WERROR=1); users' builds need not
ifneq ($(COWTRACE_WERROR),)
CFLAGS   += -Werror
endif
# jansson: cowtrace diff reads reports that may come from anywhere, so a maintained, strict JSON
# parser reads them (user/output/diff_load.c), not a hand-written one
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS   := $(or $(shell pkg-config --libs jansson 2>/dev/null),-ljansson)
# user/: cowtrace.c (main) and one folder per stage of the pipeline (docs/architecture.md);
# headers are included by name, from every folder
USER_DIRS := trace python attrib output lib
INCLUDES := -I$(OUTPUT) -Iuser $(addprefix -Iuser/,$(USER_DIRS)) -Ibpf $(JANSSON_CFLAGS)
LDLIBS   := -lbpf -lelf -lz $(JANSSON_LIBS)
DEPFLAGS  = -MMD -MP -MF $(@:.o=.d)

# -mcpu=v3: atomic fetch-and-add (slot allocation) needs BPF atomics, Linux 5.12+.
# clang's own system include dirs, so that BPF code finds asm/types.h etc. (libbpf-bootstrap)
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -I$(OUTPUT) -Ibpf \
	      $(CLANG_BPF_SYS_INCLUDES)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# user/cowtrace.c holds main(); everything in user/'s folders is a library the unit tests link
# too.
MAIN_SRC  := user/cowtrace.c
LIB_SRCS  := $(wildcard $(addsuffix /*.c,$(addprefix user/,$(USER_DIRS))))
LIB_OBJS  := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(LIB_SRCS))
MAIN_OBJ  := $(OUTPUT)/user/cowtrace.o

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
WORKLOAD_SRCS := $(wildcard tests/workloads/*.c)
WORKLOAD_BINS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%,$(WORKLOAD_SRCS))

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all
all: $(BIN)

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests $(OUTPUT)/workloads:
	$(Q)mkdir -p $@

# vmlinux.h: from the running kernel's BTF when it has one, else the committed copy.
$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,VMLINUX,$@)
	$(Q)if [ -r $(BTF_VMLINUX) ]; then \
		$(BPFTOOL) btf dump file $(BTF_VMLINUX) format c > $@; \
	else \
		cp vmlinux/$(ARCH)/vmlinux.h $@; \
	fi

$(OUTPUT)/%.tmp.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OUTPUT)/%.bpf.o: $(OUTPUT)/%.tmp.bpf.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/user/%.o: user/%.c | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $(DEPFLAGS) -c $< -o $@

# The flame graph's script, written as JavaScript (checked by node in the tests), embedded as a
# C string: its leading // comment dropped, backslashes and quotes escaped, one literal a line.
# It lands in a CDATA section, which "]]>" would end.
$(OUTPUT)/flamegraph_js.h: user/output/flamegraph.js | $(OUTPUT)
	$(call msg,GEN-JS,$@)
	$(Q)! grep -q ']]>' $< || { echo "$<: ']]>' would end the SVG's CDATA section" >&2; exit 1; }
	$(Q){ echo '/* made from $< by the Makefile */'; \
	  echo 'static const char svg_script[] ='; \
	  sed -e '1,/^(function/{/^\/\//d;}' -e 's/\\/\\\\/g' -e 's/"/\\"/g' \
	      -e 's/^/\t"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@.tmp && mv $@.tmp $@

# Objects that include a generated header (a skeleton, the script) must wait for it.
$(LIB_OBJS) $(MAIN_OBJ): $(SKELS) $(OUTPUT)/flamegraph_js.h

$(BIN): $(MAIN_OBJ) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -MMD -MP -MF $@.d $< $(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

# Frame pointers: the --native tests walk these workloads' own stacks.
$(OUTPUT)/workloads/%: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -fno-omit-frame-pointer -Wall -MMD -MP -MF $@.d $< -o $@

.PHONY: arm64 unit e2e test check workloads deps demo bench bench-kernels vmlinux clean kernels check-host \
	render check-e2e check-kernels check-matrix containers unit-sanitize fuzz fuzz-ci
workloads: $(WORKLOAD_BINS)

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do $$t; done

e2e: cowtrace workloads
	$(Q)$(PYTHON) -m pytest -ra tests/e2e

# The README's commands. Each first installs what is missing, then starts a new make so that
# the tools just installed (clang, bpftool) are found. Unit tests first (fast, no root), then
# the end-to-end suite, whose pytest summary line ends the run.
test: deps
	$(Q)$(MAKE) --no-print-directory check

# The host's end-to-end suite beside the kernel matrix (one qemu, one core) and then the
# container suite, so that each of the two cores has one lane; make prints each lane's output
# whole when it ends (--output-sync) and fails if any suite failed.
check: cowtrace workloads unit arm64
	$(Q)$(MAKE) --no-print-directory -k -j2 --output-sync=target check-e2e check-matrix

# the arm64 build the kernel matrix boots on Debian's arm64 kernels (a make of its own: another
# ARCH is another configuration)
arm64:
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 all workloads

check-host: cowtrace workloads unit render
	$(Q)$(PYTHON) -m pytest -ra tests/e2e

# the flame graph exports read as users read them (no root, no tracer)
render: $(OUTPUT)/tests/test_flamegraph
	$(Q)$(PYTHON) -m pytest -ra tests/render

kernels: cowtrace workloads arm64
	$(Q)$(PYTHON) -m pytest -ra tests/kernels

containers: cowtrace workloads
	$(Q)$(PYTHON) -m pytest -ra tests/containers

# the lanes of check, prerequisites already built: check-e2e and check-matrix (the kernel
# matrix, then the container suite); check-kernels is the matrix alone
check-e2e:
	$(Q)$(PYTHON) -m pytest -ra tests/e2e

check-kernels:
	$(Q)$(PYTHON) -m pytest -ra tests/kernels

# the container suite runs even when the kernel matrix failed; the sanitizer, fuzz and render
# runs first
check-matrix:
	$(Q)status=0; \
	$(MAKE) --no-print-directory unit-sanitize || status=1; \
	$(MAKE) --no-print-directory fuzz-ci || status=1; \
	$(PYTHON) -m pytest -ra tests/render || status=1; \
	$(PYTHON) -m pytest -ra tests/kernels || status=1; \
	$(PYTHON) -m pytest -ra tests/containers || status=1; \
	exit $$status

# ---- sanitizers and fuzzing (clang: ASan, UBSan, libFuzzer) ------------------------------------
# The decoders of target memory and files, and the unit tests, built again with sanitizers: the
# objects of the build above are left alone. A toolchain without the runtimes (Debian:
# libclang-rt-dev) fails in one line, before anything is built.
SAN_CFLAGS     = $(CFLAGS) -O1 -fno-omit-frame-pointer
UNIT_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_DIR       := $(OUTPUT)/asan
ASAN_LIB_OBJS  := $(patsubst user/%.c,$(ASAN_DIR)/user/%.o,$(LIB_SRCS))
ASAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN_DIR)/tests/%,$(UNIT_SRCS))
FUZZ_DIR       := $(OUTPUT)/fuzz
FUZZ_LIB_OBJS  := $(patsubst %,$(FUZZ_DIR)/user/%.o,trace/copy_event python/pyobj python/pytypes \
		  python/pylayout python/pylines python/pyframes python/pyinterp \
		  python/pyinterp_version python/pyinterp_gc python/pydebug python/pystacks lib/elfsym lib/hindex)
FUZZERS        ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS   ?= 60
FUZZ_CI_SECONDS ?= 30

$(ASAN_DIR)/user $(ASAN_DIR)/tests $(FUZZ_DIR)/user:
	$(Q)mkdir -p $@

$(ASAN_DIR)/toolchain.ok: | $(ASAN_DIR)/user
	$(Q)echo 'int main(void) { return 0; }' | $(CLANG) -x c - $(UNIT_SAN) -o $@.probe \
		2>/dev/null || { echo "unit-sanitize: $(CLANG) cannot link $(UNIT_SAN)" \
		"(Debian: libclang-rt-dev, see scripts/deps.sh)" >&2; exit 1; }
	$(Q)touch $@

$(FUZZ_DIR)/toolchain.ok: | $(FUZZ_DIR)/user
	$(Q)echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' | \
		$(CLANG) -x c - -fsanitize=fuzzer $(FUZZ_SAN) -o $@.probe 2>/dev/null || \
		{ echo "fuzz: $(CLANG) cannot link -fsanitize=fuzzer $(FUZZ_SAN)" \
		"(Debian: libclang-rt-dev, see scripts/deps.sh)" >&2; exit 1; }
	$(Q)touch $@

$(ASAN_DIR)/user/%.o: user/%.c $(SKELS) $(OUTPUT)/flamegraph_js.h | $(ASAN_DIR)/toolchain.ok
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(SAN_CFLAGS) $(UNIT_SAN) $(INCLUDES) $(DEPFLAGS) -c $< -o $@

$(ASAN_DIR)/tests/%: tests/unit/%.c $(ASAN_LIB_OBJS) | $(ASAN_DIR)/tests
	$(call msg,CC-ASAN,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) $(UNIT_SAN) $(INCLUDES) -MMD -MP -MF $@.d $< $(ASAN_LIB_OBJS) \
		$(LDLIBS) -lcmocka -o $@

unit-sanitize: $(ASAN_UNIT_BINS)
	$(Q)set -e; for t in $(ASAN_UNIT_BINS); do UBSAN_OPTIONS=print_stacktrace=1 $$t; done

$(FUZZ_DIR)/user/%.o: user/%.c | $(FUZZ_DIR)/toolchain.ok
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(INCLUDES) $(DEPFLAGS) \
		-c $< -o $@

$(FUZZ_DIR)/decoders.a: $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# the archive: each harness links only the decoders it calls (fuzz_pystacks has its own
# bpf_map_lookup_elem(), and no libbpf)
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/decoders.a | $(FUZZ_DIR)/toolchain.ok
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) $(INCLUDES) -MMD -MP -MF $@.d $< \
		$(FUZZ_DIR)/decoders.a -lelf -o $@

fuzz: $(addprefix $(FUZZ_DIR)/,$(FUZZERS))
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_DIR) $(FUZZERS)

fuzz-ci:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)

demo: deps
	$(Q)$(MAKE) --no-print-directory cowtrace
	$(Q)demo/run.sh

deps:
	$(Q)scripts/deps.sh

bench: cowtrace workloads
	$(Q)$(PYTHON) tests/bench.py --all-detectors

# the same C workload inside each kernel of the matrix, per detector (qemu TCG: ratios only)
bench-kernels: cowtrace workloads
	$(Q)tests/kernels/bench.sh

# Regenerate the committed fallback vmlinux.h from this machine's kernel.
vmlinux:
	$(Q)vmlinux/gen.sh

# ---- installing ---------------------------------------------------------------------------------
# The man page and the bash completion are made from ./cowtrace --help (scripts/manpage.py), so
# neither can say other than the tool; the completion's detector names come from user/trace/detector.c.
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions

.PHONY: docs install uninstall
docs: $(OUTPUT)/cowtrace.8 $(OUTPUT)/cowtrace.bash

$(OUTPUT)/cowtrace.8: cowtrace scripts/manpage.py | $(OUTPUT)
	$(call msg,MAN,$@)
	$(Q)$(PYTHON) scripts/manpage.py man ./cowtrace > $@

$(OUTPUT)/cowtrace.bash: cowtrace scripts/manpage.py scripts/cowtrace.bash user/trace/detector.c | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(PYTHON) scripts/manpage.py completion ./cowtrace scripts/cowtrace.bash \
		user/trace/detector.c > $@

install: cowtrace docs
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 cowtrace $(DESTDIR)$(SBINDIR)/cowtrace
	$(Q)install -D -m 0644 $(OUTPUT)/cowtrace.8 $(DESTDIR)$(MANDIR)/man8/cowtrace.8
	$(Q)install -D -m 0644 $(OUTPUT)/cowtrace.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/cowtrace

uninstall:
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/cowtrace $(DESTDIR)$(MANDIR)/man8/cowtrace.8 \
		$(DESTDIR)$(BASH_COMPLETION_DIR)/cowtrace

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) cowtrace

.DELETE_ON_ERROR:
.SECONDARY:

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/user/*/*.d $(OUTPUT)/tests/*.d \
	$(OUTPUT)/workloads/*.d $(ASAN_DIR)/user/*/*.d $(ASAN_DIR)/tests/*.d $(FUZZ_DIR)/*.d \
	$(FUZZ_DIR)/user/*/*.d)
