# vireo - a minimal KVM virtual machine monitor.
#
#   make            build build/vireo (static)
#   make run        install what is needed, build vireo and the default
#                   guest, boot it to a shell (inside the nested test host
#                   when this machine's /dev/kvm cannot run Linux guests)
#   make check      every test suite; ends with "N passed, N failed"
#   make unit | integration | fuzz | fuzz-long | bench
#   make guest      the default guest kernel + initramfs (Debian packages)
#   make testhost   the nested test host (QEMU TCG + kvm-amd)

CC      ?= gcc
CLANG   ?= clang
BUILD   := build
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Wformat=2 -Wvla
CPPFLAGS := -std=c11 -D_GNU_SOURCE -I.
LIBS    := -lseccomp -luring -lhttp_parser -ljansson -lfdt -llz4 -lzstd -llzma -lz \
	   -lpthread

SRC_DIRS := vmm boot devices virtio
LIB_SRCS := $(filter-out vmm/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
OBJS     := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/vmm/main.o

# Unit tests: the same sources under AddressSanitizer + UBSan.
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/san/%.o)

DEBIAN_PACKAGES := gcc make pkg-config libc6-dev linux-libc-dev \
	libfdt-dev libseccomp-dev liblz4-dev libzstd-dev liblzma-dev zlib1g-dev liburing-dev \
	check clang libclang-rt-14-dev llvm qemu-system-x86 e2fsprogs fio \
	util-linux iperf3 xz-utils iproute2 \
	device-tree-compiler acpica-tools binutils lz4 \
	libhttp-parser-dev libjansson-dev curl \
	qemu-system-common dpdk-dev librte-net-vhost23 librte-mempool-ring23
# make check compiles on every CPU; the images after, one at a time (two
# fetch Debian packages into one directory).
NPROC := $(shell nproc 2>/dev/null || echo 1)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps run check check-full unit integration fuzz fuzz-long bench guest testhost testhost-vdpa clean \
	tools-disk
all: $(BUILD)/vireo

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/vireo: $(OBJS) $(MAIN_OBJ)
	$(CC) -static -o $@ $^ $(LIBS)

# A static unix-socket client for console-port tests in the test host.
$(BUILD)/unixcat: tests/integration/unixcat.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -static -o $@ $<

# A static page-by-page file compare for the snapshot tests (same place).
$(BUILD)/pagecmp: tests/integration/pagecmp.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -static -o $@ $<

# The freestanding test guest for host-KVM integration tests.
$(BUILD)/tiny.elf: tests/tiny/tiny.S tests/tiny/tiny.ld
	@mkdir -p $(dir $@)
	$(CC) -c -o $(BUILD)/tiny.o tests/tiny/tiny.S
	ld -m elf_x86_64 -T tests/tiny/tiny.ld -nostdlib -static \
		--no-warn-rwx-segments -o $@ $(BUILD)/tiny.o

$(BUILD)/unit-tests: $(SAN_OBJS) $(UNIT_OBJS)
	$(CC) $(SAN) -o $@ $^ -lcheck -lsubunit -lm -lrt $(LIBS)

-include $(shell find $(BUILD)/obj $(BUILD)/san $(BUILD)/fuzz -name '*.d' 2>/dev/null)

# Fuzz targets: libFuzzer + ASan + UBSan, built with clang.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS)
FUZZ_SRCS := $(filter-out vmm/machine.c vmm/vm.c vmm/irq.c vmm/vmm.c \
	vmm/machine-snapshot.c vmm/migrate.c,$(LIB_SRCS))
# The sources are compiled once for all the targets (fuzzer-no-link: the
# coverage counters without libFuzzer's main), each target linked from them.
FUZZ_OBJS := $(FUZZ_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(CPPFLAGS) \
		-MMD -MP -c -o $@ $<
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS) tests/fuzz/stub-notify.h
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(FUZZ_OBJS) $(LIBS)
$(BUILD)/fuzz/mkseeds: tests/fuzz/mkseeds.c tests/unit/images.c $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O1 -o $@ $^ $(LIBS) -lcheck -lsubunit -lm -lrt
# The in-process virtqueue benchmark (optimised, no sanitizers).
$(BUILD)/vq-bench: tests/bench/vq-bench.c tests/unit/vring.c tests/unit/testmem.c \
		virtio/queue.c vmm/mem.c vmm/util.c vmm/sandbox.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O2 -o $@ $^ -lseccomp

.PHONY: fuzz-build
fuzz-build: $(BUILD)/fuzz/fuzz_kernel $(BUILD)/fuzz/fuzz_devices \
	$(BUILD)/fuzz/fuzz_vring $(BUILD)/fuzz/fuzz_transport $(BUILD)/fuzz/fuzz_vdev \
	$(BUILD)/fuzz/fuzz_vhost_user $(BUILD)/fuzz/fuzz_api \
	$(BUILD)/fuzz/fuzz_snapshot $(BUILD)/fuzz/fuzz_migrate $(BUILD)/fuzz/fuzz_pagewalk \
	$(BUILD)/fuzz/mkseeds

# ---- Debian packages ----------------------------------------------------
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing $$missing"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
			--no-install-recommends $$missing; \
	fi

# ---- guest images -------------------------------------------------------
$(BUILD)/tools/mkcpio: guest-images/tools/mkcpio.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -o $@ $<

$(BUILD)/debs/.stamp: guest-images/fetch-debs.sh
	guest-images/fetch-debs.sh $(BUILD)/debs kernel busybox-static
	@touch $@

GUEST_INPUTS := $(wildcard guest-images/guest/* guest-images/guest-tests/*) \
		guest-images/build-guest.sh
$(BUILD)/guest/initramfs.cpio: $(BUILD)/debs/.stamp $(BUILD)/tools/mkcpio $(GUEST_INPUTS)
	guest-images/build-guest.sh $(BUILD)/debs $(BUILD)/guest
guest: $(BUILD)/guest/initramfs.cpio

# A read-only disk of test tools (fio, e2fsprogs, util-linux) for the guest.
$(BUILD)/guest/tools.img: guest-images/build-tools-disk.sh Makefile
	@mkdir -p $(dir $@)
	guest-images/build-tools-disk.sh $@ fio mke2fs e2fsck blkdiscard iperf3
tools-disk: $(BUILD)/guest/tools.img

TESTHOST_INPUTS := $(wildcard guest-images/testhost/*)
$(BUILD)/testhost/initramfs.cpio: $(BUILD)/debs/.stamp $(BUILD)/tools/mkcpio $(TESTHOST_INPUTS)
	guest-images/testhost/build.sh $(BUILD)/debs $(BUILD)/testhost
testhost: $(BUILD)/testhost/initramfs.cpio

# The vDPA test host: the same, on Debian 12's Linux 6.12 (vdpa, vduse,
# vhost_vdpa), for the vdpa group of the integration tests.
$(BUILD)/debs/.stamp-vdpa: guest-images/fetch-debs.sh
	guest-images/fetch-debs.sh $(BUILD)/debs kernel-vdpa
	@touch $@
$(BUILD)/testhost-vdpa/initramfs.cpio: $(BUILD)/debs/.stamp $(BUILD)/debs/.stamp-vdpa \
		$(BUILD)/tools/mkcpio $(TESTHOST_INPUTS)
	guest-images/testhost/build.sh $(BUILD)/debs $(BUILD)/testhost-vdpa kernel-vdpa
testhost-vdpa: $(BUILD)/testhost-vdpa/initramfs.cpio

# ---- running ------------------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory all guest
	@guest-images/boot-default.sh

# ---- tests --------------------------------------------------------------
unit: $(BUILD)/unit-tests
	@tests/run-suite.sh unit sh tests/unit/run.sh $(BUILD)/unit-tests

integration: all $(BUILD)/tiny.elf $(BUILD)/unixcat $(BUILD)/pagecmp guest tools-disk testhost testhost-vdpa
	@tests/run-suite.sh integration tests/integration/run.sh

fuzz:
	@tests/run-suite.sh fuzz tests/fuzz/run.sh

# Every fuzz target for 10 minutes (90 minutes in all): the campaign whose
# results the README records. Not part of make check.
fuzz-long:
	@tests/run-suite.sh fuzz-long tests/fuzz/run.sh --long

bench: all guest testhost $(BUILD)/guest/tools.img $(BUILD)/vq-bench
	@$(BUILD)/vq-bench
	@tests/bench/run.sh

check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(BUILD)/unit-tests $(BUILD)/tiny.elf \
		$(BUILD)/unixcat $(BUILD)/pagecmp
	@$(MAKE) --no-print-directory -j1 guest tools-disk testhost testhost-vdpa
	@tests/check.sh

# make check and the long tests it skips (linux.sh: long): mig_ten_hops,
# ten migrations in a row (about a minute more).
check-full: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(BUILD)/unit-tests $(BUILD)/tiny.elf \
		$(BUILD)/unixcat $(BUILD)/pagecmp
	@$(MAKE) --no-print-directory -j1 guest tools-disk testhost testhost-vdpa
	@VIREO_FULL=1 tests/check.sh

clean:
	rm -rf $(BUILD)/obj $(BUILD)/san $(BUILD)/vireo $(BUILD)/unit-tests \
		$(BUILD)/guest $(BUILD)/testhost $(BUILD)/testhost-vdpa $(BUILD)/fuzz $(BUILD)/tools \
		$(BUILD)/tiny.* $(BUILD)/payload* $(BUILD)/results
