# lua-wolfssl
#
#   make            build the module (tuned wolfSSL, Lua 5.4)
#   make test       install what is missing, build, run the whole suite
#   make demo       install what is missing, build, run the handshake demo
#   make env        print the LUA_PATH/LUA_CPATH exports to run Lua from this checkout
#   make docs       the LDoc reference in doc/html/ (prints only LDoc's warnings)
#   make bench      benchmarks against our C loop and LuaSec
#   make bench-ir   instructions per operation (callgrind), C loop against the binding
#   make bench-server  server CPU per handshake: nginx, the Lua server, our C server
#   make fuzz       libFuzzer targets (clang-14, ASan+UBSan, ASan-built wolfSSL), each
#                   run FUZZ_SECS seconds (default 60); crashes land in fuzz/regressions/
#   make fuzz-corpus  remake the seed corpora (fuzz/corpus/) from real handshakes
#   make peers      the suite's OpenSSL 3.5 peer (ML-KEM) in build/peers/ (test-one does it)
#   make test-matrix  the suite (Lua 5.4) against another wolfSSL release built from its
#                   source into build/wolfssl-<release> (MATRIX_RELEASE, default 5.7.2: Debian 13's)
#
# Variables: LUA (lua5.4, lua5.3, lua5.1, luajit), LUA_INCDIR, LIBFLAG, CFLAGS,
# LIBDIR, LUADIR (install), WOLFSSL (tuned | system), WOLFSSL_SRC (a wolfSSL
# source tree or tarball for the tuned build), WOLFSSL_RELEASE (5.9.2, the default;
# 5.7.2; debian12 = Debian 12's 5.5.4), WOLFSSL_INCDIR / WOLFSSL_LIBDIR (override),
# WOLFSSL_RPATH (where core.so looks for libwolfssl; default WOLFSSL_LIBDIR);
# luarocks: make rock / rock-install, WOLFSSL_DIR (build-aux/rock.sh);
# fuzz: FUZZ_SECS, FUZZ_TARGETS (subset), FUZZ_FLAVOUR (tuned | debian: wolfSSL
# configured like the system build), FUZZ_CC (clang-14). See fuzz/README.md.

LUA ?= lua5.4
WOLFSSL ?= tuned
BUILD ?= build
VERSION = 0.2.0

# Lua headers by interpreter name (Debian layout); override LUA_INCDIR elsewhere.
ifeq ($(notdir $(LUA)),luajit)
  LUA_INCDIR ?= /usr/include/luajit-2.1
  LUA_ABI = 5.1
else
  LUA_ABI = $(patsubst lua%,%,$(notdir $(LUA)))
  LUA_INCDIR ?= /usr/include/$(notdir $(LUA))
endif

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Werror -Wno-unused-parameter
LIBFLAG ?= -shared
PIC = -fPIC -fvisibility=hidden

ROOT := $(abspath .)
TUNED_PREFIX = $(ROOT)/$(BUILD)/wolfssl-tuned

ifeq ($(WOLFSSL),system)
  WOLFSSL_CFLAGS = $(if $(WOLFSSL_INCDIR),-I$(WOLFSSL_INCDIR),$(shell pkg-config --cflags wolfssl 2>/dev/null))
  WOLFSSL_LIBS = $(if $(WOLFSSL_LIBDIR),-L$(WOLFSSL_LIBDIR) -Wl$(comma)-rpath$(comma)$(WOLFSSL_LIBDIR) -lwolfssl,$(or $(shell pkg-config --libs wolfssl 2>/dev/null),-lwolfssl))
  WOLFSSL_DEP =
else
  # a wolfSSL given by WOLFSSL_INCDIR/WOLFSSL_LIBDIR is used as it is (:= so
  # the test runs before the default below is set)
  WOLFSSL_DEP := $(if $(filter undefined,$(origin WOLFSSL_INCDIR)),$(TUNED_PREFIX)/.stamp)
  WOLFSSL_INCDIR ?= $(TUNED_PREFIX)/include
  WOLFSSL_LIBDIR ?= $(TUNED_PREFIX)/lib
  WOLFSSL_RPATH ?= $(WOLFSSL_LIBDIR)
  WOLFSSL_CFLAGS = -I$(WOLFSSL_INCDIR)
  WOLFSSL_LIBS = -L$(WOLFSSL_LIBDIR) -Wl,-rpath,'$(WOLFSSL_RPATH)' -lwolfssl
endif
comma := ,

OUT = $(BUILD)/$(WOLFSSL)/$(notdir $(LUA))
MODULE = $(OUT)/wolfssl/core.so
SRCS = $(wildcard csrc/*.c)
HDRS = $(wildcard csrc/*.h)

# Where the suite and the demo find the module and the Lua layer.
RUN_ENV = LUA_PATH="$(ROOT)/lua/?.lua;$(ROOT)/lua/?/init.lua;$(ROOT)/spec/?.lua;;" \
          LUA_CPATH="$(ROOT)/$(OUT)/?.so;;" WOLFSSL_TEST_LUA=$(LUA) \
          WOLFSSL_TEST_BUILD=$(WOLFSSL) WOLFSSL_TEST_OPENSSL35=$(OPENSSL35)

.PHONY: all deps env test test-one test-modules FORCE test-matrix peers rock rock-install demo bench bench-ir bench-server bench-resume install clean check-asan check-valgrind docs fixtures wolfssl \
        fuzz fuzz-build fuzz-corpus

all: $(MODULE)

# One object per source file, so that make -j compiles them at once and an
# edit recompiles one file.
OBJDIR = $(OUT)/obj
OBJS = $(patsubst csrc/%.c,$(OBJDIR)/%.o,$(SRCS))
$(MODULE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIBFLAG) -o $@ $(OBJS) $(WOLFSSL_LIBS)

$(OBJDIR)/%.o: csrc/%.c $(HDRS) $(OBJDIR)/.headers Makefile
	$(CC) $(CFLAGS) $(WARN) $(PIC) -I$(LUA_INCDIR) $(WOLFSSL_CFLAGS) \
	  -DLWL_VERSION='"$(VERSION)"' -DLWL_BUILD='"$(WOLFSSL)"' -c -o $@ $<

$(OBJDIR)/.headers: $(WOLFSSL_DEP)
	@mkdir -p $(dir $@)
	@if [ "$(WOLFSSL)" != system ] && [ ! -f "$(WOLFSSL_INCDIR)/wolfssl/options.h" ]; then \
	  echo "no wolfSSL headers in $(WOLFSSL_INCDIR) (make wolfssl, or WOLFSSL=system)" >&2; exit 1; fi
	@touch $@

wolfssl: $(WOLFSSL_DEP)

# The release (or source) asked for is written to a file that changes only when the
# request does, so `make WOLFSSL_RELEASE=5.7.2` (or back) rebuilds the library.
WOLFSSL_RELEASE ?= 5.9.2
TUNED_WANT = $(TUNED_PREFIX).want
ifneq ($(WOLFSSL_DEP),)
  $(shell mkdir -p $(dir $(TUNED_WANT)); echo '$(WOLFSSL_RELEASE) $(WOLFSSL_SRC)' | cmp -s - $(TUNED_WANT) \
          || echo '$(WOLFSSL_RELEASE) $(WOLFSSL_SRC)' >$(TUNED_WANT))
endif

$(TUNED_PREFIX)/.stamp: build-aux/build-wolfssl.sh build-aux/fetch-wolfssl.sh $(TUNED_WANT)
	@WOLFSSL_RELEASE=$(WOLFSSL_RELEASE) bash build-aux/build-wolfssl.sh $(TUNED_PREFIX) $(WOLFSSL_SRC)

# Debian packages the suite, the demo and the benchmarks use. Idempotent.
DEB_PACKAGES = gcc make pkg-config libwolfssl-dev lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev \
  lua5.1 liblua5.1-0-dev luajit2 libluajit2-5.1-dev lua-busted luarocks lua-socket lua-sec \
  lua-luv lua-ldoc lua-discount nginx-light libnginx-mod-http-lua redis-server openssl gnutls-bin curl \
  valgrind clang libclang-rt-14-dev dpkg-dev autoconf automake libtool testssl.sh tshark
deps:
	@bash build-aux/deps.sh $(DEB_PACKAGES)

# The suite's OpenSSL 3.5 peer (post-quantum interop, spec/37): built once, about
# 3 minutes, shared by every BUILD. Without it the suite runs and spec/37 fails
# saying why.
PEERS = $(ROOT)/build/peers
OPENSSL35 = $(PEERS)/openssl-3.5/openssl
peers:
	@bash build-aux/build-openssl-peer.sh $(PEERS)/openssl-3.5 \
	  || echo "make peers: no OpenSSL 3.5 peer ($(OPENSSL35)): spec/37-pq-interop will fail" >&2

# The suite: every spec file under one interpreter and one wolfSSL build (the
# OpenSSL 3.5 peer is built first when the specs include spec/37).
test-one: all $(if $(SPECS),$(if $(findstring pq-interop,$(SPECS)),peers),peers)
	@$(RUN_ENV) bash build-aux/run-busted.sh $(LUA)

# make test: Lua 5.4 and LuaJIT on the tuned build, Lua 5.4 on the system
# build, and a smoke pass on Lua 5.1 and 5.3; the three whole runs at once,
# each cut in two (build-aux/test-streams.sh: the suite mostly waits on peers
# and timers), their modules built first; one summary line at the end.
test: deps
	@rm -f $(BUILD)/test-results
	@$(MAKE) --no-print-directory wolfssl peers
	@$(MAKE) --no-print-directory -j$(JOBS) test-modules
	@MAKE="$(MAKE)" bash build-aux/test-streams.sh $(ROOT)/$(BUILD)/test-results \
	  "lua5.4 $(WOLFSSL)" "luajit $(WOLFSSL)" $(if $(filter system,$(WOLFSSL)),,"lua5.4 system $(SYSTEM_RUN_SPECS)") \
	  "lua5.1 $(WOLFSSL) spec/00-smoke_spec.lua;lua5.3 $(WOLFSSL) spec/00-smoke_spec.lua"

# the modules of the runs make test cuts into shards, built at once before
# (wolfSSL is built first: one build of it, not one per module); the Lua 5.1
# and 5.3 smoke stream builds its own while the others run
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TEST_MODULES = lua5.4/$(WOLFSSL) luajit/$(WOLFSSL) $(if $(filter system,$(WOLFSSL)),,lua5.4/system)
test-modules: $(addprefix module/,$(TEST_MODULES))
module/%: FORCE
	@$(MAKE) --no-print-directory all LUA=$(*D) WOLFSSL=$(*F)
FORCE:

# The system run leaves out spec/46: `luarocks make` builds its own module
# (the tuned wolfSSL, or WOLFSSL_DIR) whatever the run's build, so there it
# would repeat the lua5.4/tuned run's test word for word.
SYSTEM_RUN_SPECS = $(filter-out spec/46-luarocks_spec.lua,$(sort $(wildcard spec/*_spec.lua)))

# The suite (Lua 5.4) against another wolfSSL release, built from its source with
# the tuned flags into its own prefix (the tuned build stays as it is).
MATRIX_RELEASE ?= 5.7.2
MATRIX_PREFIX = $(ROOT)/$(BUILD)/wolfssl-$(MATRIX_RELEASE)
test-matrix:
	@WOLFSSL_RELEASE=$(MATRIX_RELEASE) bash build-aux/build-wolfssl.sh $(MATRIX_PREFIX)
	@$(MAKE) --no-print-directory test-one LUA=lua5.4 WOLFSSL=tuned BUILD=$(BUILD)/matrix-$(MATRIX_RELEASE) \
	  TUNED_PREFIX=$(MATRIX_PREFIX) WOLFSSL_RELEASE=$(MATRIX_RELEASE)

# luarocks (rockspec/): the tuned wolfSSL, the one in WOLFSSL_DIR, or the system's
rock:
	@MAKE="$(MAKE)" bash build-aux/rock.sh build "$(WOLFSSL_DIR)"
rock-install:
	@MAKE="$(MAKE)" bash build-aux/rock.sh install

demo: deps all
	@$(RUN_ENV) $(LUA) examples/demo.lua

bench: deps all
	@$(MAKE) --no-print-directory -C bench ROOT=$(ROOT) LUA=$(LUA) BUILD=$(ROOT)/$(BUILD) WOLFSSL=$(WOLFSSL)

# server CPU per handshake: nginx against the Lua server and our C server (TCP)
bench-server: all
	@$(MAKE) --no-print-directory -C bench server ROOT=$(ROOT) LUA=$(LUA) BUILD=$(ROOT)/$(BUILD) WOLFSSL=$(WOLFSSL)

# instructions per operation (callgrind): C loop against the binding, memory mode
bench-ir: all
	@$(MAKE) --no-print-directory -C bench ir ROOT=$(ROOT) LUA=$(LUA) BUILD=$(ROOT)/$(BUILD) WOLFSSL=$(WOLFSSL)

# full vs resumed handshakes per second (TLS 1.3 / 1.2 tickets / 1.2 ids, TLS 1.3 with a 0-RTT request), memory mode
bench-resume: all
	@$(MAKE) --no-print-directory -C bench resume ROOT=$(ROOT) LUA=$(LUA) BUILD=$(ROOT)/$(BUILD) WOLFSSL=$(WOLFSSL)

# ASan + UBSan build of the module, whole suite under Lua 5.4 (preloaded runtime).
check-asan:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan WOLFSSL=$(WOLFSSL) TUNED_PREFIX=$(TUNED_PREFIX) \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LIBFLAG="-shared -fsanitize=address,undefined" all
	@ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  $(MAKE) --no-print-directory test-one BUILD=$(BUILD)/asan WOLFSSL=$(WOLFSSL) TUNED_PREFIX=$(TUNED_PREFIX)

# Whole suite under valgrind: no invalid access, no definite leak.
check-valgrind: all peers
	@$(RUN_ENV) WOLFSSL_VALGRIND=1 bash build-aux/run-busted.sh $(LUA)

# Fuzzing: one libFuzzer binary per driver in fuzz/drivers/ (fuzz/harness.c with
# the C core linked in), against an ASan + coverage build of wolfSSL made from
# the same source and flags as the tuned build (or Debian's: FUZZ_FLAVOUR=debian).
FUZZ_CC ?= clang-14
FUZZ_SECS ?= 60
FUZZ_FLAVOUR ?= tuned
FUZZ_TARGETS ?= $(filter-out common,$(basename $(notdir $(wildcard fuzz/drivers/*.lua))))
FUZZ_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_WOLFSSL = $(ROOT)/$(BUILD)/wolfssl-$(FUZZ_FLAVOUR)-asan
FUZZ_OUT = $(BUILD)/fuzz/$(FUZZ_FLAVOUR)
FUZZ_OBJS = $(patsubst csrc/%.c,$(FUZZ_OUT)/obj/%.o,$(SRCS))
FUZZ_BUILD_NAME = $(if $(filter debian,$(FUZZ_FLAVOUR)),system,tuned)

$(FUZZ_WOLFSSL)/.stamp: build-aux/build-wolfssl.sh
	@WOLFSSL_CC=$(FUZZ_CC) WOLFSSL_FLAVOUR=$(FUZZ_FLAVOUR) \
	  WOLFSSL_RELEASE=$(if $(filter debian,$(FUZZ_FLAVOUR)),debian12,$(WOLFSSL_RELEASE)) \
	  WOLFSSL_EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	  bash build-aux/build-wolfssl.sh $(FUZZ_WOLFSSL) $(WOLFSSL_SRC)

$(FUZZ_OUT)/obj/%.o: csrc/%.c $(HDRS) $(FUZZ_WOLFSSL)/.stamp
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(WARN) -I/usr/include/lua5.4 \
	  -I$(FUZZ_WOLFSSL)/include -DLWL_VERSION='"$(VERSION)"' -DLWL_BUILD='"$(FUZZ_BUILD_NAME)"' -c -o $@ $<

$(FUZZ_OUT)/%: fuzz/harness.c $(FUZZ_OBJS)
	$(FUZZ_CC) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer $(WARN) -I/usr/include/lua5.4 \
	  -DFUZZ_TARGET='"$*"' -DFUZZ_ROOT='"$(ROOT)"' -o $@ fuzz/harness.c $(FUZZ_OBJS) \
	  -L$(FUZZ_WOLFSSL)/lib -Wl,-rpath,$(FUZZ_WOLFSSL)/lib -lwolfssl -llua5.4 -lm

.SECONDARY: $(FUZZ_OBJS)

fuzz-build: $(addprefix $(FUZZ_OUT)/,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@FUZZ_SECS=$(FUZZ_SECS) bash fuzz/run-fuzz.sh $(FUZZ_OUT) $(FUZZ_TARGETS)

fuzz-corpus: all
	@$(RUN_ENV) $(LUA) fuzz/make-corpus.lua $(ROOT)

# The exports that let a snippet or bin/wolfssl-trace run from this checkout,
# for the LUA and WOLFSSL given:  eval "$(make -s env)"  (builds nothing: run make first)
env:
	@echo 'export LUA_PATH="$(ROOT)/lua/?.lua;$(ROOT)/lua/?/init.lua;;"'
	@echo 'export LUA_CPATH="$(ROOT)/$(OUT)/?.so;;"'
	@[ -f $(MODULE) ] || echo "make env: $(MODULE) is not built yet (make LUA=$(LUA) WOLFSSL=$(WOLFSSL))" >&2

# LDoc's progress lines are dropped; anything else it prints is a warning to fix.
LDOC_NOISE = -e '^reading configuration from' -e '^changing to directory' -e '^output written to'
docs:
	@out=$$(ldoc -c doc/config.ld . 2>&1) || { echo "$$out" >&2; exit 1; }; \
	  echo "$$out" | grep -v $(LDOC_NOISE) >&2 || true
	@echo "docs in doc/html/index.html"

# Test certificates, made by our own builder (wolfssl.x509.issue / pkey; the
# openssl CLI for the CRL, OCSP responses and traditional key encodings).
# spec/fixtures/make-certs.sh is the openssl-only fallback.
fixtures: all
	@$(RUN_ENV) $(LUA) spec/fixtures/make-certs.lua

LIBDIR ?= $(shell pkg-config --variable=INSTALL_CMOD $(LUA) 2>/dev/null || echo /usr/local/lib/lua/$(LUA_ABI))
LUADIR ?= $(shell pkg-config --variable=INSTALL_LMOD $(LUA) 2>/dev/null || echo /usr/local/share/lua/$(LUA_ABI))
BINDIR ?= /usr/local/bin
install: all
	install -d $(DESTDIR)$(LIBDIR)/wolfssl $(DESTDIR)$(LUADIR)/wolfssl $(DESTDIR)$(BINDIR)
	install -m 755 $(MODULE) $(DESTDIR)$(LIBDIR)/wolfssl/core.so
	install -m 644 lua/wolfssl/*.lua $(DESTDIR)$(LUADIR)/wolfssl/
	if [ -f bin/wolfssl-trace ]; then install -m 755 bin/wolfssl-trace $(DESTDIR)$(BINDIR)/wolfssl-trace; fi

clean:
	rm -rf $(BUILD)/system $(BUILD)/tuned $(BUILD)/asan $(BUILD)/fuzz $(BUILD)/test-results
