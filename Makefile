# parley — build, test, benchmark, demo.
#
#   make          build bin/parley
#   make test     unit + integration tests, twice: normal build and
#                 AddressSanitizer + UndefinedBehaviorSanitizer build
#   make demo     the two-party hotline, end to end (make demo-log: the log alone)
#   make bench    benchmarks (figures in BENCHMARKS.md)
#   make fuzz     libFuzzer runs of the parsers (FUZZ_SECONDS each)
#
# Every entry point first runs scripts/install-deps, which installs missing
# Debian packages and is silent when all are present.

CC      ?= cc
CSTD    := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
# OpenSSL 3 deprecates the low-level SHA-256 calls that merkle.c uses for
# speed (see the comment there); this keeps them visible without warnings.
CPPFLAGS_ALL := -DOPENSSL_API_COMPAT=0x10100000L -DPARLEY_TREATIES_DIR='"$(CURDIR)/treaties"' -Isrc/core -Isrc/store -Isrc/node -Isrc/treaty
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
LIBS    := -levent_openssl -levent -ljansson -lssl -lcrypto -lsodium -lsqlite3 -lpthread -lm
TESTLIBS := -lcmocka -lpthread -ldl
# Client libraries of the peers bench/ compares parley with (see README).
BENCH_LIBS := -lhiredis -lmosquitto -lpthread

REL_CFLAGS  := -O2 -g
ASAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=all

LIB_SRC  := $(wildcard src/core/*.c src/store/*.c src/node/*.c src/treaty/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/core/test_*.c tests/store/test_*.c tests/node/test_*.c tests/treaty/test_*.c)
TEST_SUPPORT := $(filter-out $(TEST_SRC),$(wildcard tests/core/*.c tests/store/*.c tests/node/*.c tests/treaty/*.c))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
HDRS     := $(wildcard src/*/*.h tests/*/*.h)

FUZZ_SECONDS ?= 20

# Keep test objects between builds (they are intermediates of pattern rules).
.SECONDARY:

.PHONY: all deps test test-rel test-asan bench demo demo-log fuzz clean

all: deps bin/parley

deps:
	@scripts/install-deps

# $(1) = variant name, $(2) = CFLAGS
define variant
build/$(1)/obj/%.o: %.c $(HDRS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CSTD) $$(CPPFLAGS_ALL) $$(WARN) $(2) -c $$< -o $$@

build/$(1)/libparley.a: $$(patsubst %.c,build/$(1)/obj/%.o,$$(LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^

build/$(1)/parley: $$(patsubst %.c,build/$(1)/obj/%.o,$$(CLI_SRC)) build/$(1)/libparley.a
	$$(CC) $(2) -o $$@ $$^ $$(LIBS)

build/$(1)/tests/%: build/$(1)/obj/tests/core/%.o $$(patsubst %.c,build/$(1)/obj/%.o,$$(TEST_SUPPORT)) build/$(1)/libparley.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS) $$(TESTLIBS)

build/$(1)/tests/store_%: build/$(1)/obj/tests/store/%.o $$(patsubst %.c,build/$(1)/obj/%.o,$$(TEST_SUPPORT)) build/$(1)/libparley.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS) $$(TESTLIBS)

build/$(1)/tests/node_%: build/$(1)/obj/tests/node/%.o $$(patsubst %.c,build/$(1)/obj/%.o,$$(TEST_SUPPORT)) build/$(1)/libparley.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS) $$(TESTLIBS)

build/$(1)/tests/treaty_%: build/$(1)/obj/tests/treaty/%.o $$(patsubst %.c,build/$(1)/obj/%.o,$$(TEST_SUPPORT)) build/$(1)/libparley.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LIBS) $$(TESTLIBS)

$(1)_TESTS := $$(patsubst tests/core/%.c,build/$(1)/tests/%,$$(wildcard tests/core/test_*.c)) \
              $$(patsubst tests/store/%.c,build/$(1)/tests/store_%,$$(wildcard tests/store/test_*.c)) \
              $$(patsubst tests/node/%.c,build/$(1)/tests/node_%,$$(wildcard tests/node/test_*.c)) \
              $$(patsubst tests/treaty/%.c,build/$(1)/tests/treaty_%,$$(wildcard tests/treaty/test_*.c))

build-$(1): build/$(1)/parley $$($(1)_TESTS) $$(TOOLS)
endef

# Test tools (fault proxy, malicious peer): one program per tests/tools/*.c,
# always the normal build, used by the integration tests of both variants.
TOOLS := $(patsubst tests/tools/%.c,build/rel/tools/%,$(wildcard tests/tools/*.c))

build/rel/tools/%: tests/tools/%.c build/rel/libparley.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(CPPFLAGS_ALL) $(WARN) $(REL_CFLAGS) -o $@ $< build/rel/libparley.a $(LIBS)

$(eval $(call variant,rel,$(REL_CFLAGS)))
$(eval $(call variant,asan,$(ASAN_CFLAGS)))

bin/parley: build/rel/parley
	@mkdir -p bin
	cp $< $@.tmp && mv -f $@.tmp $@

test: deps
	$(MAKE) --no-print-directory build-rel build-asan bin/parley
	tests/run-all

# One program per bench/*.c but benchutil.c, the helpers linked into each.
BENCH_PROGS := $(patsubst bench/%.c,build/rel/bench/%,$(filter-out bench/benchutil.c,$(wildcard bench/*.c)))

# The log store against SQLite; then two nodes end to end against Redis,
# Mosquitto and the disk's fdatasync (bench/node runs bench/peers); then the
# treaty replay against reading and parsing the same log (bench/replay).
# BENCH_ARGS=--quick for a short run.
bench: deps bin/parley $(BENCH_PROGS)
	build/rel/bench/log $(BENCH_ARGS)
	build/rel/bench/node $(BENCH_ARGS)
	build/rel/bench/replay $(BENCH_ARGS)

build/rel/bench/%: bench/%.c bench/benchutil.c build/rel/libparley.a $(HDRS) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(CPPFLAGS_ALL) $(WARN) $(REL_CFLAGS) -o $@ $< bench/benchutil.c build/rel/libparley.a $(LIBS) $(BENCH_LIBS) -lm

demo: deps bin/parley
	scripts/demo

# The log on its own (keys, append, proofs, cosignature, offline checks).
demo-log: deps bin/parley
	scripts/demo-log

fuzz: deps $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
	tests/run-fuzz $(FUZZ_SECONDS) $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(HDRS)
	@mkdir -p build/fuzz
	clang $(CSTD) $(CPPFLAGS_ALL) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(filter src/core/%.c,$(LIB_SRC)) -lcrypto -lsodium

clean:
	rm -rf build bin
