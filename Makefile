# Build, run and test the unikernel. `make help` lists the targets.

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD := build
MACHINE ?= q35
BOOT ?= efi
ACCEL ?= tcg
CMDLINE ?=
PYTHON := /usr/bin/python3

EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
EFI_CRT0 := $(EFI_LIB)/crt0-efi-x86_64.o

# Quiet by default; `make V=1` shows every command.
Q := $(if $(V),,@)
CC := gcc
LD := ld
OBJCOPY := objcopy
GCC_INCLUDE := $(shell $(CC) -print-file-name=include)

# Kernel code: freestanding, position-independent (boot/efi_relocate.c relocates
# the image at entry), no red zone (interrupts push onto the stack), no SSE/FPU state
# (interrupt entry does not save it), frame pointers for backtraces, the stack
# protector on a global guard (lib/stack_protector.c: FS is not set up).
KERNEL_CFLAGS := -std=gnu11 -g -Wall -Wextra -Werror \
	-ffreestanding -nostdinc -isystem $(GCC_INCLUDE) -I$(EFI_INC) -I$(EFI_INC)/x86_64 -I. \
	-fpic -fvisibility=hidden -fshort-wchar -fno-strict-aliasing -fstack-protector-strong -mstack-protector-guard=global \
	-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-delete-null-pointer-checks \
	-fno-asynchronous-unwind-tables -fno-unwind-tables \
	-mno-red-zone -mgeneral-regs-only -DGNU_EFI_USE_MS_ABI -MMD -MP -ffunction-sections -fdata-sections
KERNEL_ASFLAGS := -g -I. -MMD -MP
KERNEL_LDFLAGS := --gc-sections -nostdlib -znocombreloc -z pack-relative-relocs -shared -Bsymbolic --no-undefined \
	-T linker.ld

# Everything but the entry points, which differ per image (docs/architecture.md).
EFI_ENTRY_SRCS := $(wildcard boot/efi_*.c)
PVH_ENTRY_SRCS := $(wildcard boot/pvh_*.c boot/pvh_*.S)
COMMON_SRCS := $(filter-out $(EFI_ENTRY_SRCS) $(PVH_ENTRY_SRCS), \
	$(wildcard boot/*.c arch/x86_64/*.c arch/x86_64/*.S drivers/*.c drivers/virtio/*.c lib/*.c net/*.c))

# lwIP 2.1.3, unpacked by scripts/setup (never committed): the core, IPv4,
# IPv6 and Ethernet. Built with the kernel's flags, its own headers first,
# then net/ (lwipopts.h, arch/cc.h) and net/libc (the libc headers lwIP wants).
LWIP_DIR := third_party/lwip
LWIP_SRCS := $(addprefix $(LWIP_DIR)/src/core/, init.c def.c inet_chksum.c ip.c mem.c memp.c netif.c pbuf.c \
	stats.c sys.c tcp.c tcp_in.c tcp_out.c timeouts.c udp.c \
	ipv4/dhcp.c ipv4/etharp.c ipv4/icmp.c ipv4/ip4.c ipv4/ip4_addr.c ipv4/ip4_frag.c \
	ipv6/ethip6.c ipv6/icmp6.c ipv6/inet6.c ipv6/ip6.c ipv6/ip6_addr.c ipv6/ip6_frag.c ipv6/mld6.c ipv6/nd6.c) \
	$(LWIP_DIR)/src/netif/ethernet.c
LWIP_INCLUDES := -I$(LWIP_DIR)/src/include -Inet -Inet/libc
LWIP_OBJS := $(patsubst %,$(BUILD)/obj/%.o,$(LWIP_SRCS))

# Optimised for size, but for the path every frame and request takes
# through this project's code: all -Os cost about 10% of keep-alive req/s,
# -O2 on these files nothing, and lwIP at -Os nothing either (A/B in one run,
# docs/boot.md "Image size"). The SYN-cookie path (hooks, cookies, SipHash)
# too: at -Os the guest answered fewer curls under test_hostile's SYN flood
# (9-16 of 18 against 16-17 at -O2). net/net.c left the list: its one
# function on that path (net_run_timeouts) is a few calls, and -Os there
# took 420 bytes off kernel.efi, which must stay under 256 KiB.
# Unused functions and data are dropped at link time (-ffunction-sections, --gc-sections).
# Without -O2's padding to 16-byte boundaries: 2.7 KiB of kernel.efi's code
# was alignment. TCG, which runs these images here, translates code wherever
# it lies; on a real CPU the cost is a fetch line now and then.
HOT_ALIGN := -falign-functions=1 -falign-jumps=1 -falign-loops=1 -falign-labels=1
HOT_SRCS := $(addprefix drivers/virtio/, virtqueue.c vq_split.c vq_packed.c virtio_net_datapath.c virtio_net_tx.c \
		net_buffers.c net_offload.c) \
	$(addprefix net/, nic_netif.c nic_tx.c http_server.c http_parser.c lwip_hooks.c tcp_listen_cookies.c \
		syn_cookie.c tcp_seq_guard.c tcp_reinject.c) \
	$(addprefix lib/, string.c inet_csum.c napi.c heap.c siphash.c) arch/x86_64/main_loop.c
opt_for = $(if $(filter $(HOT_SRCS),$(1)),-O2 $(HOT_ALIGN),-Os)

COMMON_OBJS := $(patsubst %,$(BUILD)/obj/%.o,$(COMMON_SRCS)) $(LWIP_OBJS)
KERNEL_OBJS := $(COMMON_OBJS) $(patsubst %,$(BUILD)/obj/%.o,$(EFI_ENTRY_SRCS))
PVH_OBJS := $(COMMON_OBJS) $(patsubst %,$(BUILD)/obj/%.o,$(PVH_ENTRY_SRCS))
PVH_BASE := 0x100000
# -n: segments back to back in the file, not at page-aligned offsets (QEMU
# copies them by offset and address; docs/boot.md, "Image size").
PVH_LDFLAGS := --gc-sections -nostdlib -static -n -z max-page-size=4096 -z noexecstack --no-undefined -T boot/pvh.ld

.PHONY: all help setup image run run-image debug test test-deps test-unit test-system soak clean

all: $(BUILD)/kernel.efi $(BUILD)/kernel-pvh.elf ## Build build/kernel.efi (EFI) and build/kernel-pvh.elf (PVH) (the default)

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

setup: ## Install missing Debian packages and unpack lwIP into third_party/
	@bash scripts/setup

$(BUILD)/.setup-done: scripts/setup $(wildcard scripts/lwip-*.patch)
	@bash scripts/setup
	@mkdir -p $(BUILD) && touch $@

# Objects depend on the Makefile too: a change of flags rebuilds them.
$(BUILD)/obj/%.c.o: %.c Makefile | $(BUILD)/.setup-done
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(KERNEL_CFLAGS) $(call opt_for,$<) $(LWIP_INCLUDES) -c $< -o $@

# lwIP's sources appear when scripts/setup unpacks them: with -j, make must
# know that, or it finds no rule for their objects on a fresh clone.
$(LWIP_SRCS): | $(BUILD)/.setup-done ;

# Third-party code: the same flags, but its warnings are not ours to fail on.
$(BUILD)/obj/$(LWIP_DIR)/%.c.o: $(LWIP_DIR)/%.c Makefile | $(BUILD)/.setup-done
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(KERNEL_CFLAGS) $(call opt_for,$<) -Wno-error $(LWIP_INCLUDES) -c $< -o $@

$(BUILD)/obj/%.S.o: %.S Makefile | $(BUILD)/.setup-done
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

# Two links: the first finds where every function lands, the second embeds
# that symbol table (.ksyms sits last in .data, so nothing before it moves;
# the check below proves it).
$(BUILD)/ksyms-empty.S: scripts/gen-ksyms | $(BUILD)/.setup-done
	@mkdir -p $(BUILD)
	$(Q)bash scripts/gen-ksyms < /dev/null > $@

$(BUILD)/%.o: $(BUILD)/%.S
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

$(BUILD)/kernel-pass1.so: $(KERNEL_OBJS) $(BUILD)/ksyms-empty.o linker.ld
	@$(if $(Q),echo "  LD      $@ (pass 1: find the symbols)")
	$(Q)$(LD) $(KERNEL_LDFLAGS) -o $@ $(EFI_CRT0) $(KERNEL_OBJS) $(BUILD)/ksyms-empty.o

$(BUILD)/ksyms.S: $(BUILD)/kernel-pass1.so scripts/gen-ksyms
	$(Q)nm -n -S --defined-only $< | bash scripts/gen-ksyms > $@

$(BUILD)/kernel.elf: $(KERNEL_OBJS) $(BUILD)/ksyms.o linker.ld
	@$(if $(Q),echo "  LD      $@ (pass 2: with the symbol table)")
	$(Q)$(LD) $(KERNEL_LDFLAGS) -o $@ $(EFI_CRT0) $(KERNEL_OBJS) $(BUILD)/ksyms.o
	@diff <(nm -n $(BUILD)/kernel-pass1.so | grep ' [Tt] ') <(nm -n $@ | grep ' [Tt] ') >/dev/null \
		|| { echo "error: functions moved between link passes; the symbol table would lie" >&2; rm -f $@; exit 1; }
	@bad=$$(readelf -rW $@ | awk '/R_X86_64_/ && $$3 != "R_X86_64_RELATIVE" {print $$3}' | sort -u); \
		[ -z "$$bad" ] || { echo "error: relocations boot/efi_relocate.c cannot apply: $$bad" >&2; rm -f $@; exit 1; }

# objcopy makes the PE; scripts/efi-linux-header rewrites its headers the way
# Linux's EFI stub images are laid out, with a Linux setup header, so that
# QEMU's -kernel takes -initrd with it (docs/boot.md, "The site archive").
$(BUILD)/kernel.efi: $(BUILD)/kernel.elf scripts/efi-linux-header
	$(Q)$(OBJCOPY) -j .text -j .reloc -j .rodata -j .data -j .dynamic -j .rela -j .relr -j .dynsym -j .dynstr -j .bss \
		--strip-all --target efi-app-x86_64 --subsystem=10 $< $(BUILD)/kernel-objcopy.efi
	$(Q)$(PYTHON) scripts/efi-linux-header $(BUILD)/kernel-objcopy.efi $@
	@echo "built $@ ($$(( $$(stat -c %s $@) / 1024 )) KiB)"

# The PVH image: the same two-pass link, at PVH_BASE; kernel-pvh-debug.elf
# keeps the debug information for gdb, kernel-pvh.elf is what QEMU loads.
$(BUILD)/kernel-pvh-pass1.elf: $(PVH_OBJS) $(BUILD)/ksyms-empty.o boot/pvh.ld
	@$(if $(Q),echo "  LD      $@ (pass 1: find the symbols)")
	$(Q)$(LD) $(PVH_LDFLAGS) -o $@ $(PVH_OBJS) $(BUILD)/ksyms-empty.o

$(BUILD)/ksyms-pvh.S: $(BUILD)/kernel-pvh-pass1.elf scripts/gen-ksyms
	$(Q)nm -n -S --defined-only $< | KSYMS_BASE=$(PVH_BASE) bash scripts/gen-ksyms > $@

$(BUILD)/kernel-pvh-debug.elf: $(PVH_OBJS) $(BUILD)/ksyms-pvh.o boot/pvh.ld
	@$(if $(Q),echo "  LD      $@ (pass 2: with the symbol table)")
	$(Q)$(LD) $(PVH_LDFLAGS) -o $@ $(PVH_OBJS) $(BUILD)/ksyms-pvh.o
	@diff <(nm -n $(BUILD)/kernel-pvh-pass1.elf | grep ' [Tt] ') <(nm -n $@ | grep ' [Tt] ') >/dev/null \
		|| { echo "error: functions moved between link passes; the symbol table would lie" >&2; rm -f $@; exit 1; }

$(BUILD)/kernel-pvh.elf: $(BUILD)/kernel-pvh-debug.elf
	$(Q)$(OBJCOPY) --strip-all $< $@
	@echo "built $@ ($$(( $$(stat -c %s $@) / 1024 )) KiB)"

# SITE=dir: the directory packed into the site archive (docs/services.md), a
# newc cpio that run hands over as the initrd and image puts on the disk.
SITE ?=
SITE_ARCHIVE := $(if $(SITE),$(BUILD)/site.cpio)

.PHONY: site FORCE
site: $(SITE_ARCHIVE) ## Pack SITE=dir into build/site.cpio (newc cpio: the site the kernel serves)
	@[ -n "$(SITE)" ] || { echo "make site: give SITE=dir" >&2; exit 2; }

# Packed every time: make cannot see changes inside the directory.
$(BUILD)/site.cpio: FORCE | $(BUILD)/.setup-done
	@bash scripts/pack-site "$(SITE)" $@

image: $(BUILD)/kernel.efi $(SITE_ARCHIVE) scripts/make-image ## Build build/disk.img: a GPT disk whose EFI system partition boots the kernel (SITE=dir, CMDLINE="...")
	$(PYTHON) scripts/make-image $(BUILD)/kernel.efi $(BUILD)/disk.img $(if $(SITE),--site $(SITE_ARCHIVE)) \
		$(if $(CMDLINE),--cmdline "$(CMDLINE)")

run: all $(SITE_ARCHIVE) ## Boot in QEMU (BOOT=efi|pvh, MACHINE=q35|pc|microvm, ACCEL=tcg|kvm, CMDLINE="...", SITE=dir)
	@BOOT=$(BOOT) MACHINE=$(MACHINE) ACCEL=$(ACCEL) CMDLINE="$(CMDLINE)" INITRD="$(SITE_ARCHIVE)" bash scripts/run

run-image: image ## Boot build/disk.img from a drive, as any UEFI hypervisor would (SITE=, CMDLINE= as for image)
	@MACHINE=$(MACHINE) ACCEL=$(ACCEL) DISK=$(BUILD)/disk.img bash scripts/run

debug: $(BUILD)/kernel.efi ## Boot with gdb attached, kernel symbols loaded at the real image base
	@MACHINE=$(MACHINE) CMDLINE="$(CMDLINE)" bash scripts/debug

test: test-deps test-unit test-fuzz test-system ## Run every test (include rules, unit tests, bounded fuzzing, then QEMU system tests)

test-deps: ## The dependency rules between the rooms (docs/architecture.md), over #include lines
	@$(PYTHON) scripts/check-includes

test-unit: | $(BUILD)/.setup-done ## Host-built unit tests of pure logic, then the whole stack against a simulated device and peer (ASan, UBSan)
	@$(MAKE) --no-print-directory -C tests/unit run
	@$(MAKE) --no-print-directory -C tests/stack run

test-system: all ## Boot the kernel in QEMU and check its serial console (installs the tests' own packages: scripts/setup --test)
	@bash scripts/setup --test
	@$(PYTHON) -m pytest -q -rs tests/system

.PHONY: bench bench-doc
bench: $(BUILD)/kernel.efi $(BUILD)/kernel-pvh.elf ## Benchmarks beside a Linux guest running nginx (root; QUICK=1: our guest only, ~1 min; ONLY=pvh,...: some parts); docs/BENCHMARKS.md
	@$(PYTHON) scripts/bench $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

bench-doc: ## Write build/bench/results.json's table into docs/BENCHMARKS.md
	@$(PYTHON) scripts/bench_report.py $(BUILD)/bench/results.json --doc docs/BENCHMARKS.md

soak: all ## 10-minute mixed-load soak (SOAK_SECONDS=600), and the load tests make test skips: nothing may leak, fail or PANIC (root)
	@SOAK_SECONDS=$(or $(SOAK_SECONDS),600) LOAD_TESTS=1 $(PYTHON) -m pytest -q -rs -s tests/system/test_soak.py \
		tests/system/test_site.py::test_many_downloads_under_loss_in_little_memory

.PHONY: fuzz test-fuzz
fuzz: | $(BUILD)/.setup-done ## libFuzzer harnesses (clang), FUZZ_SECONDS each (default 60), FUZZ_PARALLEL at a time (1); fails on any crash
	@$(MAKE) --no-print-directory -C tests/fuzz run FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) FUZZ_PARALLEL=$(or $(FUZZ_PARALLEL),1)

test-fuzz: | $(BUILD)/.setup-done ## Bounded fuzzing for make test: 60 s per harness, two at a time, one line each
	@$(MAKE) --no-print-directory -C tests/fuzz run QUIET=1 FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) FUZZ_PARALLEL=$(or $(FUZZ_PARALLEL),2)

clean: ## Remove build/ (third_party/ stays)
	rm -rf $(BUILD)
	@$(MAKE) --no-print-directory -C tests/unit clean
	@$(MAKE) --no-print-directory -C tests/stack clean

# Both images: the PVH entry objects depend on boot/ headers too.
-include $(sort $(KERNEL_OBJS:.o=.d) $(PVH_OBJS:.o=.d))
