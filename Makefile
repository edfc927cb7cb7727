# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# make            build ./cowtrace (intermediates in build/)
# make test       install what is missing, then unit tests (cmocka) and end-to-end tests
#                 (pytest, as root); make check skips the install step
# make demo       the gc.freeze() demo, with and without freeze
# make bench      per-copy cost with and without cowtrace, side by side
# make deps       install the Debian/Ubuntu packages the build and tests need
# V=1             show full commands

OUTPUT   := build
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
PYTHON   ?= /usr/bin/python3
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BTF_VMLINUX ?= /sys/kernel/btf/vmlinux
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CFLAGS   ?= -g -O2
CFLAGS   += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	    -std=gnu11 -D_GNU_SOURCE -DCOWTRACE_VERSION='"$(VERSION)"'
INCLUDES := -I$(OUTPUT) -Iuser -Ibpf
LDLIBS   := -lbpf -lelf -lz
DEPFLAGS  = -MMD -MP -MF $(@:.o=.d)

# -mcpu=v3: atomic fetch-and-add (slot allocation) needs BPF atomics, Linux 5.12+.
# clang's own system include dirs, so that BPF code finds asm/types.h etc. (libbpf-bootstrap)
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -I$(OUTPUT) -Ibpf -Iuser \
	      $(CLANG_BPF_SYS_INCLUDES)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# user/cowtrace.c holds main(); everything else in user/ is a library the unit tests link too.
MAIN_SRC  := user/cowtrace.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(wildcard user/*.c))
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
all: cowtrace

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
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $(DEPFLAGS) -c $< -o $@

# Objects that include a skeleton must wait for it.
$(LIB_OBJS) $(MAIN_OBJ): $(SKELS)

cowtrace: $(MAIN_OBJ) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -MMD -MP -MF $@.d $< $(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

# Frame pointers: the --native tests walk these workloads' own stacks.
$(OUTPUT)/workloads/%: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -fno-omit-frame-pointer -Wall -MMD -MP -MF $@.d $< -o $@

.PHONY: unit e2e test check workloads deps demo bench vmlinux clean
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

check: cowtrace workloads unit
	$(Q)$(PYTHON) -m pytest -ra tests/e2e

demo: deps
	$(Q)$(MAKE) --no-print-directory cowtrace
	$(Q)demo/run.sh

deps:
	$(Q)scripts/deps.sh

bench: cowtrace workloads
	$(Q)$(PYTHON) tests/bench.py

# Regenerate the committed fallback vmlinux.h from this machine's kernel.
vmlinux:
	$(Q)vmlinux/gen.sh

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) cowtrace

.DELETE_ON_ERROR:
.SECONDARY:

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/tests/*.d $(OUTPUT)/workloads/*.d)
