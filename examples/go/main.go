// A runc-style client of libcriurs: runc is written in Go and loads
// helpers at run time, so this program links nothing of criurs. It
// dlopen()s libcriurs.so.1 through cgo, looks each function up with
// dlsym(), and includes criurs.h for the types and constants only.
//
//	go build -o criurs-go . && sudo ./criurs-go PID
//
// prints the namespaces of the container whose init is PID (CRIU's ids,
// as in its image names) and the sockets of each of its network
// namespaces. CRIURS_LIB overrides the library path (default: the
// SONAME, found the usual way: LD_LIBRARY_PATH, ld.so.cache).
//
// Only Go's standard library is used: no module downloads.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include -std=gnu11 -Wall -Wextra
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include "criurs.h"

// The library's functions, as dlsym() resolved them. cgo cannot call a
// C function pointer, so each has a small wrapper below.
static void *lib;
static typeof(criurs_ctx_new) *p_ctx_new;
static typeof(criurs_ctx_free) *p_ctx_free;
static typeof(criurs_ctx_last_error) *p_last_error;
static typeof(criurs_strerror) *p_strerror;
static typeof(criurs_version) *p_version;
static typeof(criurs_collect_namespaces) *p_collect;
static typeof(criurs_ns_count) *p_ns_count;
static typeof(criurs_ns_get) *p_ns_get;
static typeof(criurs_ns_kind_name) *p_kind_name;
static typeof(criurs_ns_type_name) *p_type_name;
static typeof(criurs_collect_sockets) *p_collect_sockets;
static typeof(criurs_sk_count) *p_sk_count;
static typeof(criurs_sk_get) *p_sk_get;

// dlopen + dlsym of every function; NULL on success, else dlerror().
static const char *load(const char *path)
{
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return dlerror();
#define SYM(var, name) \
	if (!(*(void **)&var = dlsym(lib, name))) \
		return dlerror();
	SYM(p_ctx_new, "criurs_ctx_new")
	SYM(p_ctx_free, "criurs_ctx_free")
	SYM(p_last_error, "criurs_ctx_last_error")
	SYM(p_strerror, "criurs_strerror")
	SYM(p_version, "criurs_version")
	SYM(p_collect, "criurs_collect_namespaces")
	SYM(p_ns_count, "criurs_ns_count")
	SYM(p_ns_get, "criurs_ns_get")
	SYM(p_kind_name, "criurs_ns_kind_name")
	SYM(p_type_name, "criurs_ns_type_name")
	SYM(p_collect_sockets, "criurs_collect_sockets")
	SYM(p_sk_count, "criurs_sk_count")
	SYM(p_sk_get, "criurs_sk_get")
#undef SYM
	return NULL;
}

static int ctx_new(int32_t pid, criurs_ctx **out) { return p_ctx_new(pid, out); }
static void ctx_free(criurs_ctx *ctx) { p_ctx_free(ctx); }
static const char *last_error(criurs_ctx *ctx) { return p_last_error(ctx); }
static const char *str_error(int code) { return p_strerror(code); }
static const char *version(void) { return p_version(); }
static int collect(criurs_ctx *ctx) { return p_collect(ctx, false); }
static int ns_count(criurs_ctx *ctx, size_t *out) { return p_ns_count(ctx, out); }
static int ns_get(criurs_ctx *ctx, size_t i, criurs_ns_info *out) { return p_ns_get(ctx, i, out); }
static const char *kind_name(uint32_t kind) { return p_kind_name(kind); }
static const char *type_name(uint32_t type) { return p_type_name(type); }
static int collect_sockets(criurs_ctx *ctx, uint32_t ns) { return p_collect_sockets(ctx, ns); }
static int sk_count(criurs_ctx *ctx, uint32_t ns, size_t *out) { return p_sk_count(ctx, ns, out); }
static int sk_get(criurs_ctx *ctx, uint32_t ns, size_t i, criurs_sk_info *out) { return p_sk_get(ctx, ns, i, out); }
*/
import "C"

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"
)

// criurs_ctx_last_error is the sentence of the calling OS thread's last
// failure: the library calls and the reads of their sentences stay on one
// thread (the main goroutine's, for the life of the program).
func init() { runtime.LockOSThread() }

// Namespace is one row of the library's namespace table.
type Namespace struct {
	ID   uint32 // CRIU's id: the N of mountpoints-N.img
	Kind string // "net", "mnt", ...
	Kid  uint64 // the kernel's id (inode of /proc/PID/ns/KIND)
	Pid  int32
	Type string // "own" (ours), "root" (the container's), "other"
}

// Socket is the part of a socket this client prints.
type Socket struct {
	Ino    uint32
	Family uint32
	Type   uint32
	State  uint32
	Local  string
	Peer   string
}

// Context wraps a criurs_ctx: everything collected for one process tree.
type Context struct{ ctx *C.criurs_ctx }

func failure(ctx *C.criurs_ctx, rc C.int, what string) error {
	msg := C.GoString(C.str_error(rc))
	if ctx != nil {
		if detail := C.GoString(C.last_error(ctx)); detail != "" {
			msg = detail
		}
	}
	return fmt.Errorf("%s: %s (%d)", what, msg, int(rc))
}

// Open loads the library and makes a context for the tree rooted at pid.
func Open(libPath string, pid int) (*Context, error) {
	cpath := C.CString(libPath)
	defer C.free(unsafe.Pointer(cpath))
	if err := C.load(cpath); err != nil {
		return nil, fmt.Errorf("load %s: %s", libPath, C.GoString(err))
	}
	var ctx *C.criurs_ctx
	if rc := C.ctx_new(C.int32_t(pid), &ctx); rc != 0 {
		return nil, failure(nil, rc, fmt.Sprintf("criurs_ctx_new(%d)", pid))
	}
	return &Context{ctx}, nil
}

// Close frees the context and everything it holds.
func (c *Context) Close() { C.ctx_free(c.ctx) }

// Namespaces collects the tree's namespaces (CRIU's collect_namespaces).
func (c *Context) Namespaces() ([]Namespace, error) {
	if rc := C.collect(c.ctx); rc != 0 {
		return nil, failure(c.ctx, rc, "criurs_collect_namespaces")
	}
	var n C.size_t
	if rc := C.ns_count(c.ctx, &n); rc != 0 {
		return nil, failure(c.ctx, rc, "criurs_ns_count")
	}
	out := make([]Namespace, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var info C.criurs_ns_info
		if rc := C.ns_get(c.ctx, i, &info); rc != 0 {
			return nil, failure(c.ctx, rc, "criurs_ns_get")
		}
		out = append(out, Namespace{
			ID: uint32(info.id), Kind: C.GoString(C.kind_name(info.kind)), Kid: uint64(info.kid),
			Pid: int32(info.pid), Type: C.GoString(C.type_name(info.type_)),
		})
	}
	return out, nil
}

// Sockets collects the sockets of network namespace nsID.
func (c *Context) Sockets(nsID uint32) ([]Socket, error) {
	if rc := C.collect_sockets(c.ctx, C.uint32_t(nsID)); rc != 0 {
		return nil, failure(c.ctx, rc, fmt.Sprintf("criurs_collect_sockets(%d)", nsID))
	}
	var n C.size_t
	if rc := C.sk_count(c.ctx, C.uint32_t(nsID), &n); rc != 0 {
		return nil, failure(c.ctx, rc, "criurs_sk_count")
	}
	out := make([]Socket, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var sk C.criurs_sk_info
		if rc := C.sk_get(c.ctx, C.uint32_t(nsID), i, &sk); rc != 0 {
			return nil, failure(c.ctx, rc, "criurs_sk_get")
		}
		s := Socket{Ino: uint32(sk.ino), Family: uint32(sk.family), Type: uint32(sk.type_), State: uint32(sk.state)}
		switch sk.family {
		case C.AF_UNIX:
			// The name belongs to the context: copy it out (bytes, not a C string).
			name := C.GoBytes(unsafe.Pointer(sk.name), C.int(sk.name_len))
			s.Local = unixName(name)
			s.Peer = fmt.Sprintf("peer %d", uint32(sk.peer))
		case C.AF_INET, C.AF_INET6:
			size := 4
			if sk.family == C.AF_INET6 {
				size = 16
			}
			src := C.GoBytes(unsafe.Pointer(&sk.src_addr[0]), C.int(size))
			dst := C.GoBytes(unsafe.Pointer(&sk.dst_addr[0]), C.int(size))
			s.Local = net.JoinHostPort(net.IP(src).String(), strconv.Itoa(int(sk.src_port)))
			s.Peer = net.JoinHostPort(net.IP(dst).String(), strconv.Itoa(int(sk.dst_port)))
		default:
			s.Local = fmt.Sprintf("protocol %d", uint32(sk.protocol))
		}
		out = append(out, s)
	}
	return out, nil
}

// unixName shows a unix socket's name as ss does ("@" for abstract),
// quoted so that a container cannot write control bytes to our terminal.
func unixName(name []byte) string {
	switch {
	case len(name) == 0:
		return "*"
	case name[0] == 0:
		return "@" + strings.Trim(strconv.QuoteToASCII(string(name[1:])), `"`)
	default:
		return strings.Trim(strconv.QuoteToASCII(string(name)), `"`)
	}
}

var families = map[uint32]string{C.AF_UNIX: "unix", C.AF_INET: "inet", C.AF_INET6: "inet6", C.AF_PACKET: "packet", C.AF_NETLINK: "netlink"}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: %s PID", os.Args[0])
	}
	pid, err := strconv.Atoi(os.Args[1])
	if err != nil || pid <= 0 {
		return fmt.Errorf("%q is not a pid", os.Args[1])
	}
	libPath := os.Getenv("CRIURS_LIB")
	if libPath == "" {
		libPath = "libcriurs.so.1"
	}
	ctx, err := Open(libPath, pid)
	if err != nil {
		return err
	}
	defer ctx.Close()
	fmt.Printf("libcriurs %s, container init %d\n", C.GoString(C.version()), pid)
	nss, err := ctx.Namespaces()
	if err != nil {
		return err
	}
	fmt.Printf("%4s  %-7s %12s  %7s  %s\n", "ID", "KIND", "KERNEL-ID", "PID", "TYPE")
	for _, ns := range nss {
		fmt.Printf("%4d  %-7s %12d  %7d  %s\n", ns.ID, ns.Kind, ns.Kid, ns.Pid, ns.Type)
	}
	for _, ns := range nss {
		// The container's network namespaces: its own ("root") and any a
		// task below it made ("other"); ours ("own") only when it shares it.
		if ns.Kind != "net" {
			continue
		}
		sockets, err := ctx.Sockets(ns.ID)
		if err != nil {
			return err
		}
		fmt.Printf("\nnet namespace %d (%s): %d sockets\n", ns.ID, ns.Type, len(sockets))
		for _, s := range sockets {
			fmt.Printf("  %-7s type %d state %2d ino %-8d %s %s\n", families[s.Family], s.Type, s.State, s.Ino, s.Local, s.Peer)
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "criurs-go:", err)
		os.Exit(1)
	}
}
