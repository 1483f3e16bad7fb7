// lvsd native layer: the socket calls Node lacks (raw IP, AF_PACKET, netlink).
//
// Deliberately generic and small: it creates sockets, sets options, binds, sends and
// receives (with ancillary data), and drives reads from libuv. Every protocol byte
// (sockaddr layouts aside from what the kernel needs, VRRP, ARP, netlink messages) is
// built and parsed in TypeScript, where it is unit-tested.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sched.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHECK(call)                                                     \
  do {                                                                  \
    if ((call) != napi_ok) {                                            \
      napi_throw_error(env, NULL, "lvsd native: N-API call failed: " #call); \
      return NULL;                                                      \
    }                                                                   \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, errnum;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  // code like "EPERM" so TS can match on it
  const char *name = "EUNKNOWN";
  switch (err) {
    case EPERM: name = "EPERM"; break;
    case EACCES: name = "EACCES"; break;
    case EAGAIN: name = "EAGAIN"; break;
    case EINVAL: name = "EINVAL"; break;
    case ENODEV: name = "ENODEV"; break;
    case ENOENT: name = "ENOENT"; break;
    case EEXIST: name = "EEXIST"; break;
    case EADDRNOTAVAIL: name = "EADDRNOTAVAIL"; break;
    case EADDRINUSE: name = "EADDRINUSE"; break;
    case ENETUNREACH: name = "ENETUNREACH"; break;
    case EHOSTUNREACH: name = "EHOSTUNREACH"; break;
    case ECONNREFUSED: name = "ECONNREFUSED"; break;
    case ENOBUFS: name = "ENOBUFS"; break;
    case EMSGSIZE: name = "EMSGSIZE"; break;
    case EBADF: name = "EBADF"; break;
    case ENETDOWN: name = "ENETDOWN"; break;
    case ENXIO: name = "ENXIO"; break;
    case EPROTONOSUPPORT: name = "EPROTONOSUPPORT"; break;
    case EAFNOSUPPORT: name = "EAFNOSUPPORT"; break;
    case ESRCH: name = "ESRCH"; break;
    case EOPNOTSUPP: name = "EOPNOTSUPP"; break;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

// Buffer or Uint8Array -> pointer/length
static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    return napi_get_buffer_info(env, v, data, len) == napi_ok;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return 0;
    if (type != napi_uint8_array) return 0;
    *len = length;
    return 1;
  }
  return 0;
}

// socket(domain, type, protocol) -> fd. Always non-blocking and close-on-exec.
static napi_value js_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t domain, type, protocol;
  if (argc < 3 || !get_i32(env, argv[0], &domain) || !get_i32(env, argv[1], &type) ||
      !get_i32(env, argv[2], &protocol)) {
    napi_throw_type_error(env, NULL, "socket(domain, type, protocol)");
    return NULL;
  }
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return throw_errno(env, "socket", errno);
  napi_value r;
  CHECK(napi_create_int32(env, fd, &r));
  return r;
}

// setsockopt(fd, level, name, value: number | Buffer)
static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, level, name;
  if (argc < 4 || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &level) ||
      !get_i32(env, argv[2], &name)) {
    napi_throw_type_error(env, NULL, "setsockopt(fd, level, name, value)");
    return NULL;
  }
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[3], &t));
  int rc;
  if (t == napi_number) {
    int32_t v;
    get_i32(env, argv[3], &v);
    int iv = v;
    rc = setsockopt(fd, level, name, &iv, sizeof iv);
  } else {
    void *data;
    size_t len;
    if (!get_bytes(env, argv[3], &data, &len)) {
      napi_throw_type_error(env, NULL, "setsockopt value must be a number or Buffer");
      return NULL;
    }
    rc = setsockopt(fd, level, name, data, (socklen_t)len);
  }
  if (rc < 0) return throw_errno(env, "setsockopt", errno);
  return NULL;
}

// getsockopt(fd, level, name, len) -> Buffer
static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, level, name, len;
  if (argc < 4 || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &level) ||
      !get_i32(env, argv[2], &name) || !get_i32(env, argv[3], &len) || len < 0 || len > 4096) {
    napi_throw_type_error(env, NULL, "getsockopt(fd, level, name, len)");
    return NULL;
  }
  char buf[4096];
  socklen_t sl = (socklen_t)len;
  if (getsockopt(fd, level, name, buf, &sl) < 0) return throw_errno(env, "getsockopt", errno);
  napi_value r;
  void *out;
  CHECK(napi_create_buffer_copy(env, sl, buf, &out, &r));
  return r;
}

// bind(fd, sockaddr bytes)
static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  void *sa;
  size_t salen;
  if (argc < 2 || !get_i32(env, argv[0], &fd) || !get_bytes(env, argv[1], &sa, &salen)) {
    napi_throw_type_error(env, NULL, "bind(fd, sockaddr)");
    return NULL;
  }
  if (bind(fd, (struct sockaddr *)sa, (socklen_t)salen) < 0) return throw_errno(env, "bind", errno);
  return NULL;
}

// getsockname(fd) -> Buffer (raw sockaddr)
static napi_value js_getsockname(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_i32(env, argv[0], &fd)) {
    napi_throw_type_error(env, NULL, "getsockname(fd)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return throw_errno(env, "getsockname", errno);
  napi_value r;
  void *out;
  CHECK(napi_create_buffer_copy(env, sl, &ss, &out, &r));
  return r;
}

// sendto(fd, data, sockaddr | null, cmsg | null) -> bytes sent. Throws on error (EAGAIN included).
static napi_value js_sendto(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  void *data;
  size_t len;
  if (argc < 2 || !get_i32(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, NULL, "sendto(fd, data, sockaddr?, cmsg?)");
    return NULL;
  }
  void *sa = NULL;
  size_t salen = 0;
  if (argc >= 3) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[2], &t));
    if (t != napi_null && t != napi_undefined && !get_bytes(env, argv[2], &sa, &salen)) {
      napi_throw_type_error(env, NULL, "sendto: sockaddr must be a Buffer or null");
      return NULL;
    }
  }
  void *cm = NULL;
  size_t cmlen = 0;
  if (argc >= 4) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[3], &t));
    if (t != napi_null && t != napi_undefined && !get_bytes(env, argv[3], &cm, &cmlen)) {
      napi_throw_type_error(env, NULL, "sendto: cmsg must be a Buffer or null");
      return NULL;
    }
  }
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr mh = {0};
  mh.msg_name = sa;
  mh.msg_namelen = (socklen_t)salen;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cm;
  mh.msg_controllen = cmlen;
  ssize_t n = sendmsg(fd, &mh, 0);
  if (n < 0) return throw_errno(env, "sendmsg", errno);
  napi_value r;
  CHECK(napi_create_int32(env, (int32_t)n, &r));
  return r;
}

// One recvmsg. Returns { data, addr, cmsg, flags } or null when nothing is queued.
// cmsg is the raw control buffer; TypeScript walks it (struct cmsghdr is 16 bytes on 64-bit).
static napi_value do_recv(napi_env env, int fd, size_t maxlen, int *err) {
  *err = 0;
  char *buf = malloc(maxlen ? maxlen : 1);
  if (!buf) {
    *err = ENOMEM;
    return NULL;
  }
  char control[512];
  struct sockaddr_storage ss;
  struct iovec iov = {.iov_base = buf, .iov_len = maxlen};
  struct msghdr mh = {0};
  mh.msg_name = &ss;
  mh.msg_namelen = sizeof ss;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd, &mh, 0);
  if (n < 0) {
    *err = errno;
    free(buf);
    return NULL;
  }
  napi_value obj, data, addr, cmsg, flags;
  void *out;
  size_t dlen = (size_t)n > maxlen ? maxlen : (size_t)n;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_buffer_copy(env, dlen, buf, &out, &data) != napi_ok ||
      napi_create_buffer_copy(env, mh.msg_namelen, &ss, &out, &addr) != napi_ok ||
      napi_create_buffer_copy(env, mh.msg_controllen, control, &out, &cmsg) != napi_ok ||
      napi_create_int32(env, mh.msg_flags, &flags) != napi_ok) {
    free(buf);
    *err = ENOMEM;
    return NULL;
  }
  free(buf);
  napi_set_named_property(env, obj, "data", data);
  napi_set_named_property(env, obj, "addr", addr);
  napi_set_named_property(env, obj, "cmsg", cmsg);
  napi_set_named_property(env, obj, "flags", flags);
  return obj;
}

static napi_value js_recvmsg(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, maxlen;
  if (argc < 2 || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &maxlen) || maxlen < 0 ||
      maxlen > (1 << 24)) {
    napi_throw_type_error(env, NULL, "recvmsg(fd, maxlen)");
    return NULL;
  }
  int err;
  napi_value r = do_recv(env, fd, (size_t)maxlen, &err);
  if (r) return r;
  if (err == EAGAIN || err == EWOULDBLOCK) {
    napi_value n;
    napi_get_null(env, &n);
    return n;
  }
  return throw_errno(env, "recvmsg", err);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_i32(env, argv[0], &fd)) {
    napi_throw_type_error(env, NULL, "close(fd)");
    return NULL;
  }
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

static napi_value js_if_nametoindex(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IF_NAMESIZE + 1];
  size_t len;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "if_nametoindex(name)");
    return NULL;
  }
  unsigned idx = if_nametoindex(name);
  napi_value r;
  CHECK(napi_create_uint32(env, idx, &r));
  return r;
}

// ---- readers driven by libuv -------------------------------------------------------

typedef struct reader {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context actx;
  int fd;
  size_t maxlen;
  int closing;
} reader_t;

static void reader_closed(uv_handle_t *h) {
  reader_t *r = (reader_t *)h->data;
  free(r);
}

// On readable: drain the socket (bounded, so one busy socket cannot starve the loop) and
// call cb(packet) for each datagram; cb(null, error) on a hard error.
static void reader_on_poll(uv_poll_t *h, int status, int events) {
  reader_t *r = (reader_t *)h->data;
  if (r->closing) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv;
  napi_get_reference_value(env, r->callback, &cb);
  // napi_make_callback needs an object receiver: undefined throws "Cannot convert undefined or null to object"
  napi_get_global(env, &recv);
  (void)events;
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF and stops the handle. On a socket that means a pending
    // socket error (netlink ENOBUFS after an overrun): fetch it (this clears it), report that
    // instead, and poll again, so the reader survives the error.
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr != 0 &&
        uv_poll_start(&r->poll, UV_READABLE, reader_on_poll) == 0)
      status = -soerr;
  }
  for (int i = 0; i < 64 && !r->closing; i++) {
    napi_value args[2];
    int err = 0;
    napi_value pkt = NULL;
    if (status < 0) {
      err = -status;
    } else {
      pkt = do_recv(env, r->fd, r->maxlen, &err);
    }
    if (!pkt) {
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      // hard error: report it and stop draining this round
      napi_value msg, code, e, n;
      napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
      napi_create_string_utf8(env, "ERECV", NAPI_AUTO_LENGTH, &code);
      napi_create_error(env, code, msg, &e);
      napi_create_int32(env, err, &n);
      napi_set_named_property(env, e, "errno", n);
      napi_get_null(env, &args[0]);
      args[1] = e;
      napi_value result;
      napi_status st = napi_make_callback(env, r->actx, recv, cb, 2, args, &result);
      if (st == napi_pending_exception) {
        napi_value ex;
        napi_get_and_clear_last_exception(env, &ex);
        napi_fatal_exception(env, ex);
      }
      break;
    }
    args[0] = pkt;
    napi_get_null(env, &args[1]);
    napi_value result;
    napi_status st = napi_make_callback(env, r->actx, recv, cb, 2, args, &result);
    if (st == napi_pending_exception) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      napi_fatal_exception(env, ex);
      break;
    }
  }
  napi_close_handle_scope(env, scope);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

// startReader(fd, maxlen, cb) -> handle (external). stopReader(handle).
static napi_value js_start_reader(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, maxlen;
  napi_valuetype t;
  if (argc < 3 || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &maxlen) || maxlen <= 0 ||
      napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "startReader(fd, maxlen, cb)");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  reader_t *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, "startReader", ENOMEM);
  r->env = env;
  r->fd = fd;
  r->maxlen = (size_t)maxlen;
  napi_value name;
  napi_create_string_utf8(env, "lvsd.socket", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[2], 1, &r->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &r->actx) != napi_ok) {
    free(r);
    napi_throw_error(env, NULL, "startReader: cannot create callback context");
    return NULL;
  }
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc < 0) {
    napi_delete_reference(env, r->callback);
    napi_async_destroy(env, r->actx);
    free(r);
    return throw_errno(env, "uv_poll_init", -rc);
  }
  r->poll.data = r;
  rc = uv_poll_start(&r->poll, UV_READABLE, reader_on_poll);
  if (rc < 0) {
    napi_delete_reference(env, r->callback);
    napi_async_destroy(env, r->actx);
    uv_close((uv_handle_t *)&r->poll, reader_closed);
    return throw_errno(env, "uv_poll_start", -rc);
  }
  napi_value ext;
  CHECK(napi_create_external(env, r, reader_finalize, NULL, &ext));
  return ext;
}

static napi_value js_stop_reader(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *r;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&r) != napi_ok || !r) {
    napi_throw_type_error(env, NULL, "stopReader(handle)");
    return NULL;
  }
  if (r->closing) return NULL;
  r->closing = 1;
  uv_poll_stop(&r->poll);
  napi_delete_reference(env, r->callback);
  napi_async_destroy(env, r->actx);
  uv_close((uv_handle_t *)&r->poll, reader_closed);
  return NULL;
}

// Keep the loop alive or not while a reader is active (a daemon wants ref; a test helper may not).
static napi_value js_ref_reader(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *r;
  bool ref;
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&r) != napi_ok || !r ||
      napi_get_value_bool(env, argv[1], &ref) != napi_ok) {
    napi_throw_type_error(env, NULL, "refReader(handle, bool)");
    return NULL;
  }
  if (r->closing) return NULL;
  if (ref) uv_ref((uv_handle_t *)&r->poll);
  else uv_unref((uv_handle_t *)&r->poll);
  return NULL;
}

// ---- scheduling ---------------------------------------------------------------------

// setScheduler(policy, priority, resetOnFork): sched_setscheduler for the calling thread only
// (the daemon's event loop), so that VRRP timers are not delayed by ordinary CPU load, as
// keepalived's vrrp_rt_priority. resetOnFork: threads and processes created afterwards (checker
// worker/process, helpers) start with the normal policy instead of inheriting this one.
static napi_value js_set_scheduler(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t policy, prio;
  bool reset = false;
  if (argc < 3 || !get_i32(env, argv[0], &policy) || !get_i32(env, argv[1], &prio) ||
      napi_get_value_bool(env, argv[2], &reset) != napi_ok) {
    napi_throw_type_error(env, NULL, "setScheduler(policy, priority, resetOnFork)");
    return NULL;
  }
  struct sched_param sp = {.sched_priority = prio};
  if (sched_setscheduler(0, policy | (reset ? SCHED_RESET_ON_FORK : 0), &sp) < 0)
    return throw_errno(env, "sched_setscheduler", errno);
  return NULL;
}

// getScheduler() -> { policy, priority, resetOnFork } of the calling thread
static napi_value js_get_scheduler(napi_env env, napi_callback_info info) {
  int policy = sched_getscheduler(0);
  if (policy < 0) return throw_errno(env, "sched_getscheduler", errno);
  struct sched_param sp;
  if (sched_getparam(0, &sp) < 0) return throw_errno(env, "sched_getparam", errno);
  napi_value obj, p, q, r;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_int32(env, policy & ~SCHED_RESET_ON_FORK, &p));
  CHECK(napi_create_int32(env, sp.sched_priority, &q));
  CHECK(napi_get_boolean(env, (policy & SCHED_RESET_ON_FORK) != 0, &r));
  napi_set_named_property(env, obj, "policy", p);
  napi_set_named_property(env, obj, "priority", q);
  napi_set_named_property(env, obj, "resetOnFork", r);
  return obj;
}

static void set_const(napi_env env, napi_value obj, const char *name, int v) {
  napi_value n;
  napi_create_int32(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor fns[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_default, NULL},
      {"setsockopt", NULL, js_setsockopt, NULL, NULL, NULL, napi_default, NULL},
      {"getsockopt", NULL, js_getsockopt, NULL, NULL, NULL, napi_default, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL},
      {"getsockname", NULL, js_getsockname, NULL, NULL, NULL, napi_default, NULL},
      {"sendto", NULL, js_sendto, NULL, NULL, NULL, napi_default, NULL},
      {"recvmsg", NULL, js_recvmsg, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"ifNameToIndex", NULL, js_if_nametoindex, NULL, NULL, NULL, napi_default, NULL},
      {"startReader", NULL, js_start_reader, NULL, NULL, NULL, napi_default, NULL},
      {"stopReader", NULL, js_stop_reader, NULL, NULL, NULL, napi_default, NULL},
      {"refReader", NULL, js_ref_reader, NULL, NULL, NULL, napi_default, NULL},
      {"setScheduler", NULL, js_set_scheduler, NULL, NULL, NULL, napi_default, NULL},
      {"getScheduler", NULL, js_get_scheduler, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);

  napi_value c;
  napi_create_object(env, &c);
  set_const(env, c, "AF_INET", AF_INET);
  set_const(env, c, "AF_INET6", AF_INET6);
  set_const(env, c, "AF_PACKET", AF_PACKET);
  set_const(env, c, "AF_NETLINK", AF_NETLINK);
  set_const(env, c, "SOCK_RAW", SOCK_RAW);
  set_const(env, c, "SOCK_DGRAM", SOCK_DGRAM);
  set_const(env, c, "SOL_SOCKET", SOL_SOCKET);
  set_const(env, c, "SOL_IP", SOL_IP);
  set_const(env, c, "SOL_IPV6", SOL_IPV6);
  set_const(env, c, "SOL_PACKET", SOL_PACKET);
  set_const(env, c, "SOL_NETLINK", SOL_NETLINK);
  set_const(env, c, "SO_BINDTODEVICE", SO_BINDTODEVICE);
  set_const(env, c, "SO_RCVBUF", SO_RCVBUF);
  set_const(env, c, "SO_RCVBUFFORCE", SO_RCVBUFFORCE);
  set_const(env, c, "SO_SNDBUF", SO_SNDBUF);
  set_const(env, c, "SO_PRIORITY", SO_PRIORITY);
  set_const(env, c, "SO_MARK", SO_MARK);
  set_const(env, c, "IP_TOS", IP_TOS);
  set_const(env, c, "IP_TTL", IP_TTL);
  set_const(env, c, "IP_HDRINCL", IP_HDRINCL);
  set_const(env, c, "IP_PKTINFO", IP_PKTINFO);
  set_const(env, c, "IP_RECVTTL", IP_RECVTTL);
  set_const(env, c, "IP_TTL_CMSG", IP_TTL);
  set_const(env, c, "IP_MULTICAST_IF", IP_MULTICAST_IF);
  set_const(env, c, "IP_MULTICAST_TTL", IP_MULTICAST_TTL);
  set_const(env, c, "IP_MULTICAST_LOOP", IP_MULTICAST_LOOP);
  set_const(env, c, "IP_ADD_MEMBERSHIP", IP_ADD_MEMBERSHIP);
  set_const(env, c, "IP_DROP_MEMBERSHIP", IP_DROP_MEMBERSHIP);
  set_const(env, c, "IP_MULTICAST_ALL", IP_MULTICAST_ALL);
  set_const(env, c, "IP_RECVERR", IP_RECVERR);
  set_const(env, c, "IPV6_CHECKSUM", IPV6_CHECKSUM);
  set_const(env, c, "IPV6_UNICAST_HOPS", IPV6_UNICAST_HOPS);
  set_const(env, c, "IPV6_MULTICAST_IF", IPV6_MULTICAST_IF);
  set_const(env, c, "IPV6_MULTICAST_HOPS", IPV6_MULTICAST_HOPS);
  set_const(env, c, "IPV6_MULTICAST_LOOP", IPV6_MULTICAST_LOOP);
  set_const(env, c, "IPV6_ADD_MEMBERSHIP", IPV6_ADD_MEMBERSHIP);
  set_const(env, c, "IPV6_DROP_MEMBERSHIP", IPV6_DROP_MEMBERSHIP);
  set_const(env, c, "IPV6_RECVHOPLIMIT", IPV6_RECVHOPLIMIT);
  set_const(env, c, "IPV6_HOPLIMIT", IPV6_HOPLIMIT);
  set_const(env, c, "IPV6_RECVPKTINFO", IPV6_RECVPKTINFO);
  set_const(env, c, "IPV6_PKTINFO", IPV6_PKTINFO);
  set_const(env, c, "IPV6_V6ONLY", IPV6_V6ONLY);
  set_const(env, c, "IPV6_MULTICAST_ALL", 29);
  set_const(env, c, "IPPROTO_IP", IPPROTO_IP);
  set_const(env, c, "IPPROTO_ICMP", IPPROTO_ICMP);
  set_const(env, c, "IPPROTO_ICMPV6", IPPROTO_ICMPV6);
  set_const(env, c, "IPPROTO_UDP", IPPROTO_UDP);
  set_const(env, c, "IPPROTO_TCP", IPPROTO_TCP);
  set_const(env, c, "IPPROTO_RAW", IPPROTO_RAW);
  set_const(env, c, "IPPROTO_VRRP", 112);
  set_const(env, c, "IPPROTO_AH", 51);
  set_const(env, c, "NETLINK_ROUTE", NETLINK_ROUTE);
  set_const(env, c, "NETLINK_GENERIC", NETLINK_GENERIC);
  set_const(env, c, "NETLINK_NETFILTER", NETLINK_NETFILTER);
  set_const(env, c, "NETLINK_ADD_MEMBERSHIP", NETLINK_ADD_MEMBERSHIP);
  set_const(env, c, "NETLINK_EXT_ACK", NETLINK_EXT_ACK);
  set_const(env, c, "NETLINK_CAP_ACK", NETLINK_CAP_ACK);
  set_const(env, c, "ETH_P_ALL", 0x0003);
  set_const(env, c, "ETH_P_IP", 0x0800);
  set_const(env, c, "ETH_P_ARP", 0x0806);
  set_const(env, c, "ETH_P_IPV6", 0x86dd);
  set_const(env, c, "MSG_TRUNC", MSG_TRUNC);
  set_const(env, c, "MSG_CTRUNC", MSG_CTRUNC);
  set_const(env, c, "MSG_ERRQUEUE", MSG_ERRQUEUE);
  set_const(env, c, "SCHED_OTHER", SCHED_OTHER);
  set_const(env, c, "SCHED_FIFO", SCHED_FIFO);
  set_const(env, c, "SCHED_RR", SCHED_RR);
  napi_set_named_property(env, exports, "constants", c);
  return exports;
}
