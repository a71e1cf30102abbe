/*
 * linnet_native: the few socket calls Node cannot make itself.
 *
 *   originalDst(fd, family)                  getsockopt(SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST)
 *   listenReusePort(host, port, family, backlog)   socket + SO_REUSEADDR + SO_REUSEPORT + bind + listen
 *   probe()                                  which of the above the running kernel supports
 *   splice*                                  the kernel relay for plain opaque TCP (splice_relay.c)
 *
 * Failures throw an Error carrying `errno` (positive number) and `syscall`; the TypeScript
 * wrapper (index.ts) turns them into typed LinnetErrors with a hint. The socket calls keep no
 * state; the relay keeps one lane per thread (Node-API instance data), so the module can be
 * loaded into any number of worker threads (context-aware NAPI_MODULE_INIT).
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "splice_relay.h"

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>; those headers clash
 * with glibc's netinet headers, and the values are kernel ABI (both 80). */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

#define NAPI_OK(env, call)                                                                        \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      throw_last_napi_error(env, #call);                                                           \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static void throw_last_napi_error(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return; /* the JS exception already says what went wrong */
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown Node-API error");
  napi_throw_error(env, "LINNET_NATIVE_NAPI", msg);
}

/* Throws Error(`${syscall}: ${strerror}`) with .errno and .syscall set, like Node's own
 * system errors, so the wrapper can map errno → name without parsing text. */
static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[192];
  char buf[128];
  /* GNU strerror_r returns the string, possibly not in buf. */
  const char *text = strerror_r(err, buf, sizeof buf);
  snprintf(msg, sizeof msg, "%s: %s", syscall, text);
  napi_value message, error, errno_value, syscall_value;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, NULL, message, &error) != napi_ok ||
      napi_create_int32(env, err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok) {
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static bool get_int32_arg(napi_env env, napi_value v, const char *name, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", name);
    napi_throw_type_error(env, "LINNET_NATIVE_INVALID_ARGUMENT", msg);
    return false;
  }
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static bool valid_family(napi_env env, int32_t family) {
  if (family == 4 || family == 6) return true;
  napi_throw_range_error(env, "LINNET_NATIVE_INVALID_ARGUMENT", "family must be 4 or 6");
  return false;
}

static napi_value make_address(napi_env env, const char *host, int port, int family) {
  napi_value obj, h, p, f;
  NAPI_OK(env, napi_create_object(env, &obj));
  NAPI_OK(env, napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &h));
  NAPI_OK(env, napi_create_int32(env, port, &p));
  NAPI_OK(env, napi_create_int32(env, family, &f));
  NAPI_OK(env, napi_set_named_property(env, obj, "host", h));
  NAPI_OK(env, napi_set_named_property(env, obj, "port", p));
  NAPI_OK(env, napi_set_named_property(env, obj, "family", f));
  return obj;
}

/* originalDst(fd, family) → { host, port, family } */
static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, family;
  if (argc < 2) {
    napi_throw_type_error(env, "LINNET_NATIVE_INVALID_ARGUMENT", "originalDst(fd, family)");
    return NULL;
  }
  if (!get_int32_arg(env, argv[0], "fd", &fd) || !get_int32_arg(env, argv[1], "family", &family))
    return NULL;
  if (!valid_family(env, family)) return NULL;

  char host[INET6_ADDRSTRLEN];
  int port;
  if (family == 4) {
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    memset(&sin, 0, sizeof sin);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &sin, &len) != 0)
      return throw_errno(env, "getsockopt(SO_ORIGINAL_DST)", errno);
    if (!inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host)) return throw_errno(env, "inet_ntop", errno);
    port = ntohs(sin.sin_port);
  } else {
    struct sockaddr_in6 sin6;
    socklen_t len = sizeof sin6;
    memset(&sin6, 0, sizeof sin6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &sin6, &len) != 0)
      return throw_errno(env, "getsockopt(IP6T_SO_ORIGINAL_DST)", errno);
    if (!inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof host)) return throw_errno(env, "inet_ntop", errno);
    port = ntohs(sin6.sin6_port);
  }
  return make_address(env, host, port, family);
}

/* listenReusePort(host, port, family, backlog) → fd (listening, non-blocking, close-on-exec) */
static napi_value listen_reuse_port(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "LINNET_NATIVE_INVALID_ARGUMENT", "listenReusePort(host, port, family, backlog)");
    return NULL;
  }
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len = 0;
  napi_valuetype t;
  NAPI_OK(env, napi_typeof(env, argv[0], &t));
  if (t != napi_string) {
    napi_throw_type_error(env, "LINNET_NATIVE_INVALID_ARGUMENT", "host must be a string");
    return NULL;
  }
  NAPI_OK(env, napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len));
  int32_t port, family, backlog;
  if (!get_int32_arg(env, argv[1], "port", &port) || !get_int32_arg(env, argv[2], "family", &family) ||
      !get_int32_arg(env, argv[3], "backlog", &backlog))
    return NULL;
  if (!valid_family(env, family)) return NULL;
  if (port < 0 || port > 65535) {
    napi_throw_range_error(env, "LINNET_NATIVE_INVALID_ARGUMENT", "port must be 0..65535");
    return NULL;
  }
  if (backlog < 1) backlog = 511; /* Node's default */

  struct sockaddr_storage ss;
  socklen_t ss_len;
  memset(&ss, 0, sizeof ss);
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (host_len >= sizeof host - 1 || inet_pton(AF_INET, host, &sin->sin_addr) != 1)
      return throw_errno(env, "inet_pton", EINVAL);
    ss_len = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (host_len >= sizeof host - 1 || inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
      return throw_errno(env, "inet_pton", EINVAL);
    ss_len = sizeof *sin6;
  }

  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  const char *failed = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    failed = "setsockopt(SO_REUSEADDR)";
  else if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    failed = "setsockopt(SO_REUSEPORT)";
  /* v6 sockets are v6-only: a dual-stack "::" would steal the v4 port from a separate
   * 0.0.0.0 listener, and each family gets its own listener set anyway. */
  else if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
    failed = "setsockopt(IPV6_V6ONLY)";
  else if (bind(fd, (struct sockaddr *)&ss, ss_len) != 0)
    failed = "bind";
  else if (listen(fd, backlog) != 0)
    failed = "listen";
  if (failed) {
    int err = errno;
    close(fd);
    return throw_errno(env, failed, err);
  }
  napi_value result;
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    throw_last_napi_error(env, "napi_create_int32");
    return NULL;
  }
  return result;
}

/* closeFd(fd): for a listener fd that never reached net.Server (which would own and close it). */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_int32_arg(env, argv[0], "fd", &fd)) return NULL;
  if (close(fd) != 0) return throw_errno(env, "close", errno);
  return NULL;
}

/* For one family: 0 when the kernel answers SO_ORIGINAL_DST (ENOENT on an unconnected socket
 * means "asked conntrack, no entry"), otherwise the errno (ENOPROTOOPT: conntrack not loaded,
 * EAFNOSUPPORT: family disabled). */
static int probe_original_dst(int family) {
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return errno;
  struct sockaddr_in6 sa;
  socklen_t len = family == 4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  int rc = family == 4 ? getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &sa, &len)
                       : getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &sa, &len);
  int err = rc == 0 ? 0 : errno;
  close(fd);
  return err == ENOENT || err == ENOTCONN ? 0 : err;
}

static int probe_reuse_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return errno;
  int one = 1;
  int err = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 ? 0 : errno;
  close(fd);
  return err;
}

/* probe() → { reusePort, originalDst4, originalDst6, splice }: 0 = supported, else the errno. */
static napi_value probe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  NAPI_OK(env, napi_create_object(env, &obj));
  NAPI_OK(env, napi_create_int32(env, probe_reuse_port(), &v));
  NAPI_OK(env, napi_set_named_property(env, obj, "reusePort", v));
  NAPI_OK(env, napi_create_int32(env, probe_original_dst(4), &v));
  NAPI_OK(env, napi_set_named_property(env, obj, "originalDst4", v));
  NAPI_OK(env, napi_create_int32(env, probe_original_dst(6), &v));
  NAPI_OK(env, napi_set_named_property(env, obj, "originalDst6", v));
  NAPI_OK(env, napi_create_int32(env, linnet_splice_probe(), &v));
  NAPI_OK(env, napi_set_named_property(env, obj, "splice", v));
  return obj;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"originalDst", NULL, original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listenReusePort", NULL, listen_reuse_port, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"probe", NULL, probe, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) {
    throw_last_napi_error(env, "napi_define_properties");
    return NULL;
  }
  if (linnet_splice_register(env, exports) != napi_ok) {
    throw_last_napi_error(env, "linnet_splice_register");
    return NULL;
  }
  return exports;
}
