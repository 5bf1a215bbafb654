# criurs: build, test, install. `make demo` and `make check` are the
# README's two commands.

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR    ?=

CARGO   ?= cargo
CC      ?= cc
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))
RELEASE := target/release
SONAME  := libcriurs.so.$(MAJOR)
CFLAGS_STRICT := -std=gnu11 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -D_GNU_SOURCE -g
C_TESTS := $(patsubst c-tests/%.c,$(RELEASE)/c-tests/%,$(wildcard c-tests/test_*.c))
C_TESTS_SAN := $(patsubst c-tests/%.c,$(RELEASE)/c-tests-san/%,$(wildcard c-tests/test_*.c))
C_LINK  := -L$(RELEASE) -lcriurs -Wl,-rpath,$(abspath $(RELEASE))

.PHONY: all lib header header-check check test-rust test-c test-c-san test-c-valgrind install-check test-demo demo install uninstall clean bench examples

all: lib examples

# The SONAME link lets test programs and examples run from the build tree.
lib:
	$(CARGO) build --release --locked
	ln -sf libcriurs.so $(RELEASE)/$(SONAME)

# The committed header is generated; regenerate after changing src/ffi/.
header:
	cbindgen --config cbindgen.toml --output include/criurs.h src/ffi/mod.rs

header-check:
	@tmp=$$(mktemp) && cbindgen --config cbindgen.toml --output $$tmp src/ffi/mod.rs 2>/dev/null && \
	  if diff -u include/criurs.h $$tmp; then echo "ok: include/criurs.h matches src/ffi"; rm -f $$tmp; \
	  else echo "include/criurs.h differs from a fresh cbindgen run: make header" >&2; rm -f $$tmp; exit 1; fi

$(RELEASE)/c-tests/%: c-tests/%.c c-tests/tap.h include/criurs.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) -Iinclude -o $@ $< $(C_LINK) -ldl -lpthread

$(RELEASE)/c-tests-san/%: c-tests/%.c c-tests/tap.h include/criurs.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) -fsanitize=address,undefined -fno-omit-frame-pointer -Iinclude -o $@ $< $(C_LINK) -ldl -lpthread

examples: lib
	@mkdir -p $(RELEASE)/examples
	$(CC) $(CFLAGS_STRICT) -Iinclude -o $(RELEASE)/examples/show_tree examples/show_tree.c $(C_LINK)

test-rust:
	CRIURS_ROOT_TESTS=required $(CARGO) test --release --locked

test-c: $(C_TESTS)
	CRIURS_LIB=$(abspath $(RELEASE))/libcriurs.so c-tests/run $(C_TESTS)

test-c-san: $(C_TESTS_SAN)
	ASAN_OPTIONS=detect_leaks=1 CRIURS_LIB=$(abspath $(RELEASE))/libcriurs.so c-tests/run $(C_TESTS_SAN)

# The user-namespace test under valgrind: no leak on any path, failures included.
test-c-valgrind: $(RELEASE)/c-tests/test_userns
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	  --error-exitcode=99 $(RELEASE)/c-tests/test_userns > $(RELEASE)/valgrind-userns.log 2>&1 || \
	  { cat $(RELEASE)/valgrind-userns.log; echo "valgrind found errors or leaks in test_userns" >&2; exit 1; }
	@grep -E '^(not ok|1\.\.)' $(RELEASE)/valgrind-userns.log; echo "ok: test_userns clean under valgrind"

test-demo: lib examples
	demo/check

check: header-check lib test-rust test-c test-c-san test-c-valgrind install-check test-demo

# Installs into a scratch DESTDIR and builds a C program with pkg-config.
install-check: lib
	@d=$$(mktemp -d) && $(MAKE) --no-print-directory install DESTDIR=$$d PREFIX=/opt/criurs >/dev/null && \
	  PKG_CONFIG_SYSROOT_DIR=$$d PKG_CONFIG_PATH=$$d/opt/criurs/lib/pkgconfig \
	  $(CC) $(CFLAGS_STRICT) -o $$d/pc-test c-tests/pkgconfig_user.c $$(PKG_CONFIG_SYSROOT_DIR=$$d PKG_CONFIG_PATH=$$d/opt/criurs/lib/pkgconfig pkg-config --cflags --libs criurs) && \
	  LD_LIBRARY_PATH=$$d/opt/criurs/lib $$d/pc-test && \
	  awk '/^```c$$/ {on=1; next} /^```$$/ {if (on) exit} on' README.md > $$d/readme.c && \
	  $(CC) $(CFLAGS_STRICT) -o $$d/readme-example $$d/readme.c $$(PKG_CONFIG_SYSROOT_DIR=$$d PKG_CONFIG_PATH=$$d/opt/criurs/lib/pkgconfig pkg-config --cflags --libs criurs) && \
	  LD_LIBRARY_PATH=$$d/opt/criurs/lib $$d/readme-example $$$$ | grep -q ' mnt ' && \
	  nm -D --defined-only $$d/opt/criurs/lib/libcriurs.so.$(VERSION) | awk '$$3 !~ /^criurs_/ {bad=1; print "exported but not criurs_*: " $$3} END {exit bad}' && \
	  readelf -d $$d/opt/criurs/lib/libcriurs.so.$(VERSION) | grep -q 'SONAME.*\[$(SONAME)\]' && \
	  echo "ok: install, pkg-config link (a test program and the README example), exports and SONAME $(SONAME)" && rm -rf $$d

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(RELEASE)/libcriurs.so $(DESTDIR)$(LIBDIR)/libcriurs.so.$(VERSION)
	ln -sf libcriurs.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcriurs.so
	install -m 644 $(RELEASE)/libcriurs.a $(DESTDIR)$(LIBDIR)/libcriurs.a
	install -m 644 include/criurs.h $(DESTDIR)$(INCLUDEDIR)/criurs.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' pkgconfig/criurs.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/criurs.pc
	install -m 755 $(RELEASE)/criurs $(DESTDIR)$(BINDIR)/criurs

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libcriurs.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libcriurs.so $(DESTDIR)$(LIBDIR)/libcriurs.a \
	      $(DESTDIR)$(INCLUDEDIR)/criurs.h $(DESTDIR)$(PKGCONFIGDIR)/criurs.pc $(DESTDIR)$(BINDIR)/criurs

demo: lib examples
	./demo/run

bench:
	./bench/run

clean:
	$(CARGO) clean
	rm -rf demo-images
