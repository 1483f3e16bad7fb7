// lvsd_nft: run nftables command batches through libnftables, in-process.
//
// libnftables.so.1 is loaded with dlopen, so lvsd builds without its headers and still runs
// where the library is missing (the TypeScript side then spawns `nft -f -`). One handle is
// one nft context, optionally bound to a network namespace: every call enters that
// namespace on the calling thread only (setns is per-thread) and leaves it before returning.
//
// Exports:
//   available()                      -> string | null   (null = loaded; else why not)
//   open(netnsPath | null)           -> handle
//   runSync(handle, cmds, mode)      -> { rc, output, error }
//   run(handle, cmds, mode, cb)      -> undefined; cb(err, { rc, output, error }) from the
//                                       libuv pool, so big batches don't block the event loop
//   mode: true/false (JSON output or not) or a bit mask: 1 JSON, 2 terse (no set elements)
//   close(handle)
//   withNetns(path, fn)              -> fn()'s result; fn runs on this thread inside the
//                                       namespace, so sockets it creates belong there
#define _GNU_SOURCE
#include <node_api.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <malloc.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The stable libnftables ABI (LIBNFTABLES_1), declared here instead of included.
struct nft_ctx;
#define NFT_CTX_DEFAULT 0
#define NFT_CTX_OUTPUT_JSON (1u << 4)
#define NFT_CTX_OUTPUT_TERSE (1u << 11)
#define MODE_JSON 1
#define MODE_TERSE 2

static struct {
  int tried;
  char error[256];
  struct nft_ctx *(*ctx_new)(uint32_t);
  void (*ctx_free)(struct nft_ctx *);
  unsigned int (*get_flags)(struct nft_ctx *);
  void (*set_flags)(struct nft_ctx *, unsigned int);
  int (*buffer_output)(struct nft_ctx *);
  int (*buffer_error)(struct nft_ctx *);
  const char *(*get_output)(struct nft_ctx *);
  const char *(*get_error)(struct nft_ctx *);
  int (*run_file)(struct nft_ctx *, const char *);
} lib;

static int load_lib(void) {
  if (lib.tried) return lib.error[0] == 0;
  lib.tried = 1;
  void *h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(lib.error, sizeof lib.error, "dlopen libnftables.so.1: %s", dlerror());
    return 0;
  }
#define SYM(field, name)                                                        \
  do {                                                                          \
    *(void **)(&lib.field) = dlsym(h, name);                                    \
    if (!lib.field) {                                                           \
      snprintf(lib.error, sizeof lib.error, "libnftables.so.1 lacks %s", name); \
      return 0;                                                                 \
    }                                                                           \
  } while (0)
  SYM(ctx_new, "nft_ctx_new");
  SYM(ctx_free, "nft_ctx_free");
  SYM(get_flags, "nft_ctx_output_get_flags");
  SYM(set_flags, "nft_ctx_output_set_flags");
  SYM(buffer_output, "nft_ctx_buffer_output");
  SYM(buffer_error, "nft_ctx_buffer_error");
  SYM(get_output, "nft_ctx_get_output_buffer");
  SYM(get_error, "nft_ctx_get_error_buffer");
  SYM(run_file, "nft_run_cmd_from_filename");
#undef SYM
  return 1;
}

typedef struct {
  struct nft_ctx *ctx;
  int nsfd; /* -1 = the caller's namespace */
  int busy;
  int closed;
} handle_t;

/* Enter the handle's namespace on this thread; *saved gets the fd to come back with. */
static int ns_enter(handle_t *h, int *saved) {
  *saved = -1;
  if (h->nsfd < 0) return 0;
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -errno;
  if (setns(h->nsfd, CLONE_NEWNET) < 0) {
    int e = errno;
    close(self);
    return -e;
  }
  *saved = self;
  return 0;
}

static void ns_leave(int saved) {
  if (saved < 0) return;
  // Coming back cannot fail short of a kernel bug; a pool thread left in a foreign
  // namespace would silently misdirect unrelated work, so stop hard instead.
  if (setns(saved, CLONE_NEWNET) < 0) {
    fprintf(stderr, "lvsd_nft: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  close(saved);
}

typedef struct {
  int rc;
  char *output;
  char *error;
  int sys_errno; /* setns failure */
} result_t;

// libnftables 1.0.x prints "warning: stmt ops map have no json callback" straight to stderr (not
// to the context's error buffer) for every dynamic-map update rule it lists as JSON. lvsd lists
// its tables on every reconcile, so while a JSON call runs, fd 2 is parked on a memfd; afterwards
// everything else written there (by any thread) is passed on to the real stderr.
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;

static int stderr_park(int *saved) {
  pthread_mutex_lock(&stderr_lock);
  fflush(stderr);
  int tmp = memfd_create("lvsd-nft-stderr", MFD_CLOEXEC);
  *saved = tmp >= 0 ? dup(2) : -1;
  if (tmp < 0 || *saved < 0 || dup2(tmp, 2) < 0) {
    if (tmp >= 0) close(tmp);
    if (*saved >= 0) close(*saved);
    *saved = -1;
    pthread_mutex_unlock(&stderr_lock);
    return -1;
  }
  return tmp;
}

static void stderr_unpark(int tmp, int saved) {
  if (tmp < 0) return;
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  off_t len = lseek(tmp, 0, SEEK_END);
  if (len > 0 && len < (1 << 20)) {
    char *buf = malloc((size_t)len + 1);
    if (buf && pread(tmp, buf, (size_t)len, 0) == len) {
      buf[len] = 0;
      char *line = buf;
      while (*line) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
        if (!(strncmp(line, "warning: stmt ops ", 18) == 0 && memmem(line, n, "have no json callback", 21))) {
          ssize_t w = write(2, line, n);
          (void)w;
        }
        line += n;
      }
    }
    free(buf);
  }
  close(tmp);
  pthread_mutex_unlock(&stderr_lock);
}

static void run_in_ns(handle_t *h, const char *cmds, int mode, result_t *r) {
  int json = mode & MODE_JSON;
  memset(r, 0, sizeof *r);
  int saved;
  int e = ns_enter(h, &saved);
  if (e < 0) {
    r->sys_errno = -e;
    r->rc = -1;
    return;
  }
  unsigned int flags = lib.get_flags(h->ctx);
  flags &= ~(NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_TERSE);
  if (json) flags |= NFT_CTX_OUTPUT_JSON;
  if (mode & MODE_TERSE) flags |= NFT_CTX_OUTPUT_TERSE;
  lib.set_flags(h->ctx, flags);
  // Run from a memfd rather than nft_run_cmd_from_buffer: libnftables 1.0.x reports errors in
  // buffers against the first line, while file input gets "FILE:LINE:COL" locations that
  // let the caller name the operation that failed.
  int fd = memfd_create("lvsd-nft-batch", MFD_CLOEXEC);
  if (fd < 0) {
    r->sys_errno = errno;
    r->rc = -1;
    ns_leave(saved);
    return;
  }
  size_t len = strlen(cmds), off = 0;
  while (off < len) {
    ssize_t n = write(fd, cmds + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r->sys_errno = n < 0 ? errno : EIO;
      r->rc = -1;
      close(fd);
      ns_leave(saved);
      return;
    }
    off += (size_t)n;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int saved_err = -1;
  int parked = json ? stderr_park(&saved_err) : -1;
  r->rc = lib.run_file(h->ctx, path);
  stderr_unpark(parked, saved_err);
  close(fd);
  const char *out = lib.get_output(h->ctx);
  const char *err = lib.get_error(h->ctx);
  r->output = strdup(out ? out : "");
  r->error = strdup(err ? err : "");
  ns_leave(saved);
  // listing or loading a big table allocates (and frees) a lot in this thread's malloc arena;
  // give the pages back instead of keeping the peak as resident memory
  if (json || len > (1u << 16)) malloc_trim(0);
}

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "lvsd_nft: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value make_result(napi_env env, result_t *r) {
  napi_value obj, rc, out, err;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  napi_create_int32(env, r->rc, &rc);
  napi_create_string_utf8(env, r->output ? r->output : "", NAPI_AUTO_LENGTH, &out);
  if (r->sys_errno) {
    char msg[200];
    snprintf(msg, sizeof msg, "lvsd_nft: %s", strerror(r->sys_errno));
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &err);
  } else {
    napi_create_string_utf8(env, r->error ? r->error : "", NAPI_AUTO_LENGTH, &err);
  }
  napi_set_named_property(env, obj, "rc", rc);
  napi_set_named_property(env, obj, "output", out);
  napi_set_named_property(env, obj, "error", err);
  return obj;
}

static void free_result(result_t *r) {
  free(r->output);
  free(r->error);
  r->output = r->error = NULL;
}

static char *get_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static handle_t *get_handle(napi_env env, napi_value v) {
  handle_t *h = NULL;
  if (napi_get_value_external(env, v, (void **)&h) != napi_ok || !h) {
    napi_throw_type_error(env, NULL, "lvsd_nft: expected a handle from open()");
    return NULL;
  }
  if (h->closed) {
    napi_throw_error(env, NULL, "lvsd_nft: handle is closed");
    return NULL;
  }
  return h;
}

static void release_handle(handle_t *h) {
  if (h->ctx) {
    int saved;
    // free inside the namespace too: nft_ctx_free closes sockets created there
    if (ns_enter(h, &saved) == 0) {
      lib.ctx_free(h->ctx);
      ns_leave(saved);
    } else {
      lib.ctx_free(h->ctx);
    }
    h->ctx = NULL;
  }
  if (h->nsfd >= 0) close(h->nsfd);
  h->nsfd = -1;
  h->closed = 1;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  handle_t *h = data;
  if (!h->closed) release_handle(h);
  free(h);
}

static napi_value js_available(napi_env env, napi_callback_info info) {
  napi_value v;
  if (load_lib()) {
    napi_get_null(env, &v);
  } else {
    napi_create_string_utf8(env, lib.error, NAPI_AUTO_LENGTH, &v);
  }
  return v;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!load_lib()) {
    napi_throw_error(env, "ENOENT", lib.error);
    return NULL;
  }
  handle_t *h = calloc(1, sizeof *h);
  if (!h) {
    napi_throw_error(env, NULL, "lvsd_nft: out of memory");
    return NULL;
  }
  h->nsfd = -1;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    char *path = get_string(env, argv[0]);
    if (!path) {
      free(h);
      napi_throw_error(env, NULL, "lvsd_nft: bad namespace path");
      return NULL;
    }
    h->nsfd = open(path, O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (h->nsfd < 0) {
      char msg[512];
      snprintf(msg, sizeof msg, "open network namespace %s: %s", path, strerror(e));
      free(path);
      free(h);
      napi_throw_error(env, e == ENOENT ? "ENOENT" : "EACCES", msg);
      return NULL;
    }
    free(path);
  }
  int saved;
  int e = ns_enter(h, &saved);
  if (e < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "cannot enter network namespace: %s", strerror(-e));
    if (h->nsfd >= 0) close(h->nsfd);
    free(h);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  h->ctx = lib.ctx_new(NFT_CTX_DEFAULT);
  if (h->ctx) {
    lib.buffer_output(h->ctx);
    lib.buffer_error(h->ctx);
  }
  ns_leave(saved);
  if (!h->ctx) {
    if (h->nsfd >= 0) close(h->nsfd);
    free(h);
    napi_throw_error(env, NULL, "lvsd_nft: nft_ctx_new failed");
    return NULL;
  }
  napi_value ext;
  if (napi_create_external(env, h, finalize_handle, NULL, &ext) != napi_ok) {
    release_handle(h);
    free(h);
    napi_throw_error(env, NULL, "lvsd_nft: napi_create_external failed");
    return NULL;
  }
  return ext;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle_t *h = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || !h) {
    napi_throw_type_error(env, NULL, "lvsd_nft: expected a handle");
    return NULL;
  }
  if (h->busy) {
    napi_throw_error(env, "EBUSY", "lvsd_nft: handle is running a batch");
    return NULL;
  }
  if (!h->closed) release_handle(h);
  return NULL;
}

static int get_mode(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  if (t == napi_boolean) {
    bool b = false;
    napi_get_value_bool(env, v, &b);
    return b ? MODE_JSON : 0;
  }
  if (t == napi_number) {
    int32_t n = 0;
    napi_get_value_int32(env, v, &n);
    return n & (MODE_JSON | MODE_TERSE);
  }
  return 0;
}

static napi_value js_run_sync(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "lvsd_nft: runSync(handle, commands, mode)");
    return NULL;
  }
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->busy) {
    napi_throw_error(env, "EBUSY", "lvsd_nft: handle is running a batch");
    return NULL;
  }
  char *cmds = get_string(env, argv[1]);
  if (!cmds) {
    napi_throw_type_error(env, NULL, "lvsd_nft: commands must be a string");
    return NULL;
  }
  result_t r;
  run_in_ns(h, cmds, get_mode(env, argv[2]), &r);
  free(cmds);
  napi_value obj = make_result(env, &r);
  free_result(&r);
  return obj;
}

typedef struct {
  napi_async_work work;
  napi_ref cb;
  napi_ref handle_ref;
  handle_t *h;
  char *cmds;
  int mode;
  result_t r;
} job_t;

static void job_execute(napi_env env, void *data) {
  job_t *j = data;
  run_in_ns(j->h, j->cmds, j->mode, &j->r);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  j->h->busy = 0;
  napi_value cb, undef, args[2];
  napi_get_reference_value(env, j->cb, &cb);
  napi_get_undefined(env, &undef);
  if (status != napi_ok) {
    napi_value msg;
    napi_create_string_utf8(env, "lvsd_nft: batch was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &args[0]);
    args[1] = undef;
  } else {
    napi_get_null(env, &args[0]);
    args[1] = make_result(env, &j->r);
  }
  free_result(&j->r);
  free(j->cmds);
  napi_delete_reference(env, j->cb);
  napi_delete_reference(env, j->handle_ref);
  napi_delete_async_work(env, j->work);
  free(j);
  napi_call_function(env, undef, cb, 2, args, NULL);
}

static napi_value js_run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t = napi_undefined;
  if (argc >= 4) napi_typeof(env, argv[3], &t);
  if (argc < 4 || t != napi_function) {
    napi_throw_type_error(env, NULL, "lvsd_nft: run(handle, commands, mode, callback)");
    return NULL;
  }
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->busy) {
    napi_throw_error(env, "EBUSY", "lvsd_nft: handle is running a batch");
    return NULL;
  }
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "lvsd_nft: out of memory");
    return NULL;
  }
  j->cmds = get_string(env, argv[1]);
  if (!j->cmds) {
    free(j);
    napi_throw_type_error(env, NULL, "lvsd_nft: commands must be a string");
    return NULL;
  }
  j->mode = get_mode(env, argv[2]);
  j->h = h;
  napi_value name;
  napi_create_string_utf8(env, "lvsd_nft.run", NAPI_AUTO_LENGTH, &name);
  // keep the handle alive (not finalized) while the job holds its pointer
  if (napi_create_reference(env, argv[0], 1, &j->handle_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &j->cb) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    free(j->cmds);
    free(j);
    napi_throw_error(env, NULL, "lvsd_nft: cannot queue the batch");
    return NULL;
  }
  h->busy = 1;
  return NULL;
}

static napi_value js_with_netns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined;
  if (argc >= 2) {
    napi_typeof(env, argv[0], &t0);
    napi_typeof(env, argv[1], &t1);
  }
  if (t0 != napi_string || t1 != napi_function) {
    napi_throw_type_error(env, NULL, "lvsd_nft: withNetns(path, fn)");
    return NULL;
  }
  char *path = get_string(env, argv[0]);
  if (!path) {
    napi_throw_error(env, NULL, "lvsd_nft: bad namespace path");
    return NULL;
  }
  handle_t tmp = {.ctx = NULL, .nsfd = open(path, O_RDONLY | O_CLOEXEC), .busy = 0, .closed = 0};
  if (tmp.nsfd < 0) {
    int e = errno;
    char msg[512];
    snprintf(msg, sizeof msg, "open network namespace %s: %s", path, strerror(e));
    free(path);
    napi_throw_error(env, e == ENOENT ? "ENOENT" : "EACCES", msg);
    return NULL;
  }
  free(path);
  int saved;
  int e = ns_enter(&tmp, &saved);
  if (e < 0) {
    close(tmp.nsfd);
    char msg[200];
    snprintf(msg, sizeof msg, "cannot enter network namespace: %s", strerror(-e));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_value undef, result = NULL;
  napi_get_undefined(env, &undef);
  napi_status st = napi_call_function(env, undef, argv[1], 0, NULL, &result);
  ns_leave(saved);
  close(tmp.nsfd);
  // on napi_pending_exception the JS exception propagates as is
  return st == napi_ok ? result : NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"available", NULL, js_available, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"runSync", NULL, js_run_sync, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, js_run, NULL, NULL, NULL, napi_default, NULL},
      {"withNetns", NULL, js_with_netns, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
