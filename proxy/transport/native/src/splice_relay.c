/*
 * splice_relay: opaque TCP relayed by the kernel, off the JavaScript event loop.
 *
 * Where both legs of a proxied connection are plain TCP, the proxy has no reason to look at the
 * bytes. Each direction moves them socket → pipe → socket with splice(2): the payload stays in
 * kernel pages, and no JavaScript runs per chunk. The JavaScript side (transport/splice.ts) hands
 * over two connected sockets and is told once, when the relay is over, how each side ended.
 *
 *   spliceInit(onDone, pipeSize)   this thread's lane: a relay thread with its own epoll set
 *   spliceStart(id, fdA, fdB, preAB, preBA, counts) → handle
 *   spliceAbort(handle, side)      JavaScript closed one of the sockets: end the relay now
 *   spliceShutdown()               stop the lane (process exit); relays in flight are dropped
 *
 * Lanes. Every JavaScript thread that relays (the main thread, each worker) gets one lane: one
 * relay thread blocked in epoll_wait on the sockets of all its relays, and a wake-up eventfd for
 * commands from JavaScript (a new relay, an abort, stop). Completions go back through a Node-API
 * thread-safe function, so `onDone(id, errA, errB, clean)` runs on the JavaScript thread that
 * started the relay. The lane keeps the event loop alive only while it has relays in flight (a
 * socket whose reads are stopped does not).
 *
 * Descriptors. The relay works on its own dup(2)s of the sockets' descriptors. Node keeps its own
 * descriptor and handle, with reads stopped, so that 'close' events, byte counters and the
 * connection limits keep working on the net.Socket; if JavaScript closes a socket (a drain's grace
 * period ended, the connection limit evicted it), its descriptor number is never reused under a
 * running splice, because the relay's descriptor keeps the socket open until the relay thread
 * closes it. Pipes are taken from a small per-lane pool only while a direction has bytes to
 * move, so an idle connection holds no pipe (and no pipe pages against the user's limit).
 *
 * Per direction (src → dst), in order, until nothing moves:
 *   1. bytes JavaScript already read (protocol detection) are sent first, with send(2);
 *   2. what the pipe holds is spliced into dst; if dst is full (EAGAIN) the direction waits for
 *      EPOLLOUT on dst and reads nothing more: that is the backpressure, at most one pipe of
 *      bytes in flight per direction whatever the reader's speed;
 *   3. src is spliced into the empty pipe; EAGAIN: the direction waits for EPOLLIN on src; 0 is
 *      the peer's FIN: once the pipe is empty, shutdown(dst, SHUT_WR) carries it, and the other
 *      direction keeps flowing (half-close).
 * An error on one side (ECONNRESET, EPIPE, ...) ends the relay: the other side gets SO_LINGER 0,
 * so its close sends RST (a reset is carried as a reset). Both FINs carried: a clean end.
 *
 * Byte counts are published after every step into a Float64Array the JavaScript side owns
 * (`counts`: [a read, a written, b read, b written, a first read ms, b first read ms]), with
 * relaxed atomic stores of whole 64-bit words, so a metrics scrape reads them at any time with no
 * call into the addon.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "splice_relay.h"

/* A direction gives way to other relays after moving this much in one go; the epoll set is
 * level-triggered, so it is picked up again on the next epoll_wait. */
#define PUMP_BUDGET (1u << 20)
/* Empty pipes kept for reuse per lane; more are closed. */
#define PIPE_POOL_MAX 32
#define MAX_EVENTS 64
#define COUNT_SLOTS 6

struct pipe_pair {
  int r, w;
  int size; /* capacity in bytes (F_GETPIPE_SZ) */
};

struct relay;

/* One socket of a relay: our dup of its descriptor and what moved through it. */
struct end {
  struct relay *r;
  int fd;
  uint32_t events; /* the interest registered in the lane's epoll set; 0: not registered */
  uint64_t read, written;
  double first_read_ms; /* -1 until the first byte is read from it */
};

/* One direction: ends[src] → ends[dst]. */
struct dir {
  int src, dst;
  struct pipe_pair pipe; /* r = -1: no pipe held */
  size_t in_pipe;
  char *pre; /* bytes to send before anything spliced (read by JavaScript during detection) */
  size_t pre_len, pre_off;
  bool eof;  /* src sent its FIN (splice read 0) */
  bool shut; /* the FIN was carried: shutdown(dst, SHUT_WR) */
};

struct lane;

struct relay {
  int refs; /* the relay thread's (until reported) + the JavaScript handle's + queued commands' */
  uint32_t id;
  struct end ends[2];
  struct dir dirs[2]; /* dirs[0]: a → b, dirs[1]: b → a */
  int err[2];         /* errno that ended each side, 0 if none */
  int aborted;        /* the side JavaScript closed (spliceAbort), -1 if none */
  bool finished, clean;
  double *counts;      /* the JavaScript Float64Array's storage, kept alive by counts_ref */
  napi_ref counts_ref; /* deleted on the JavaScript thread when the completion is delivered */
  struct timespec started;
  struct relay *prev, *next; /* the lane's live list (relay thread only) */
  struct relay *done_next;   /* finished during one epoll batch, reported at its end */
};

enum cmd_kind { CMD_ADD, CMD_ABORT };

struct cmd {
  enum cmd_kind kind;
  struct relay *r;
  int side; /* CMD_ABORT: the side JavaScript closed */
  struct cmd *next;
};

struct lane {
  int epfd, wakefd;
  pthread_t thread;
  bool thread_running; /* JavaScript thread's view: false once joined */
  pthread_mutex_t mu;
  struct cmd *head, *tail; /* under mu */
  bool stop;               /* under mu */
  napi_threadsafe_function tsfn;
  uint32_t js_live; /* JavaScript thread only: started and not yet reported */
  int pipe_size;    /* asked of new pipes (F_SETPIPE_SZ); the kernel may give less */
  /* Relay thread only. */
  struct relay *live;
  struct pipe_pair pool[PIPE_POOL_MAX];
  int pooled;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static void relay_unref(struct relay *r) {
  if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  free(r->dirs[0].pre);
  free(r->dirs[1].pre);
  free(r);
}

static void relay_ref(struct relay *r) { __atomic_add_fetch(&r->refs, 1, __ATOMIC_ACQ_REL); }

static double ms_since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A whole 64-bit store, so the JavaScript thread never reads half of an update. */
static void publish_slot(double *slot, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  __atomic_store_n((uint64_t *)(void *)slot, bits, __ATOMIC_RELAXED);
}

static void publish(struct relay *r) {
  publish_slot(&r->counts[0], (double)r->ends[0].read);
  publish_slot(&r->counts[1], (double)r->ends[0].written);
  publish_slot(&r->counts[2], (double)r->ends[1].read);
  publish_slot(&r->counts[3], (double)r->ends[1].written);
  publish_slot(&r->counts[4], r->ends[0].first_read_ms);
  publish_slot(&r->counts[5], r->ends[1].first_read_ms);
}

/* The socket's pending error (SO_ERROR), which also clears it; 0 if none. */
static int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return 0;
  return err;
}

/* Whatever closes the socket last (our dup or Node's descriptor) sends RST, not FIN. */
static void set_reset_on_close(int fd) {
  struct linger l = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

/* ---- the pipe pool (relay thread only) ----------------------------------------------------- */

static int pipe_take(struct lane *l, struct pipe_pair *out) {
  if (l->pooled > 0) {
    *out = l->pool[--l->pooled];
    return 0;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return errno;
  /* A bigger pipe means fewer splice calls per megabyte; refused (the user's pipe pages are
   * limited, fs.pipe-user-pages-soft) it keeps the default 64 KiB, which works the same. */
  if (l->pipe_size > 0) fcntl(fds[1], F_SETPIPE_SZ, l->pipe_size);
  int size = fcntl(fds[1], F_GETPIPE_SZ);
  out->r = fds[0];
  out->w = fds[1];
  out->size = size > 0 ? size : 65536;
  return 0;
}

static void pipe_close(struct pipe_pair *p) {
  close(p->r);
  close(p->w);
  p->r = p->w = -1;
}

/* An empty pipe goes back to the pool; one that still holds bytes is closed (they are lost with
 * the relay that could not deliver them). */
static void pipe_give(struct lane *l, struct dir *d) {
  if (d->pipe.r < 0) return;
  if (d->in_pipe == 0 && l->pooled < PIPE_POOL_MAX)
    l->pool[l->pooled++] = d->pipe;
  else
    pipe_close(&d->pipe);
  d->pipe.r = d->pipe.w = -1;
  d->in_pipe = 0;
}

/* ---- one direction ------------------------------------------------------------------------- */

enum { PUMP_OK = 0, PUMP_ERR_SRC, PUMP_ERR_DST, PUMP_ERR_LOCAL };

/*
 * Moves what can be moved from src to dst now (see the top of the file for the order). Returns
 * PUMP_OK when the direction waits (for EPOLLIN on src, EPOLLOUT on dst, or nothing after its FIN
 * was carried), or which side failed with *err set.
 */
static int pump(struct lane *l, struct relay *r, struct dir *d, int *err) {
  struct end *src = &r->ends[d->src];
  struct end *dst = &r->ends[d->dst];
  size_t moved = 0;
  for (;;) {
    if (d->pre_off < d->pre_len) {
      ssize_t n = send(dst->fd, d->pre + d->pre_off, d->pre_len - d->pre_off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return PUMP_OK;
        *err = errno;
        return PUMP_ERR_DST;
      }
      d->pre_off += (size_t)n;
      dst->written += (uint64_t)n;
      moved += (size_t)n;
      if (d->pre_off < d->pre_len) continue; /* the next send says EAGAIN, or takes the rest */
      free(d->pre);
      d->pre = NULL;
      d->pre_len = d->pre_off = 0;
    }
    if (d->in_pipe > 0) {
      ssize_t n = splice(d->pipe.r, NULL, dst->fd, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return PUMP_OK; /* dst is full: wait for EPOLLOUT, read nothing more */
        *err = errno;
        return PUMP_ERR_DST;
      }
      if (n == 0) return PUMP_OK; /* not expected from a pipe that holds bytes; wait for EPOLLOUT */
      d->in_pipe -= (size_t)n;
      dst->written += (uint64_t)n;
      moved += (size_t)n;
      if (d->in_pipe > 0) continue;
    }
    if (d->eof) {
      /* Everything src sent before its FIN is out: carry the FIN. */
      if (!d->shut) {
        d->shut = true;
        pipe_give(l, d);
        if (shutdown(dst->fd, SHUT_WR) != 0) {
          /* ENOTCONN: dst was reset meanwhile; its pending error says so, if still there. */
          int e = errno;
          int soerr = socket_error(dst->fd);
          *err = soerr != 0 ? soerr : e;
          return PUMP_ERR_DST;
        }
      }
      return PUMP_OK;
    }
    if (moved >= PUMP_BUDGET) return PUMP_OK; /* src may still be readable: epoll says so again */
    if (d->pipe.r < 0) {
      int e = pipe_take(l, &d->pipe);
      if (e != 0) {
        *err = e;
        return PUMP_ERR_LOCAL;
      }
    }
    /* The pipe is empty here, so EAGAIN can only mean that src has nothing to read. */
    ssize_t n = splice(src->fd, NULL, d->pipe.w, NULL, (size_t)d->pipe.size, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pipe_give(l, d); /* an idle direction holds no pipe */
        return PUMP_OK;
      }
      *err = errno;
      return PUMP_ERR_SRC;
    }
    if (n == 0) {
      d->eof = true;
      continue;
    }
    if (src->first_read_ms < 0) src->first_read_ms = ms_since(&r->started);
    d->in_pipe = (size_t)n;
    src->read += (uint64_t)n;
  }
}

/* What a direction waits for, on its src and on its dst. */
static uint32_t wants_on_src(const struct dir *d) {
  return !d->eof && d->in_pipe == 0 && d->pre_off == d->pre_len ? EPOLLIN : 0;
}
static uint32_t wants_on_dst(const struct dir *d) { return d->in_pipe > 0 || d->pre_off < d->pre_len ? EPOLLOUT : 0; }

/* Registers what each socket waits for. A socket that waits for nothing is taken out of the set:
 * epoll reports EPOLLHUP whatever the interest, and a half-closed socket whose direction is
 * blocked elsewhere would otherwise wake the thread for nothing, again and again. */
static int set_interest(struct lane *l, struct end *e, uint32_t want) {
  if (want == e->events) return 0;
  struct epoll_event ev = {.events = want, .data.ptr = e};
  int op = e->events == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(l->epfd, op, e->fd, &ev) != 0) return errno;
  e->events = want;
  return 0;
}

/* ---- a relay's end ------------------------------------------------------------------------- */

static void finish(struct lane *l, struct relay *r, struct relay **done) {
  if (r->finished) return;
  r->finished = true;
  for (int i = 0; i < 2; i++) {
    /* Our dup is not the socket's last descriptor (Node holds one), so closing it would leave
     * the socket in the epoll set: take it out first. */
    if (r->ends[i].events != 0) epoll_ctl(l->epfd, EPOLL_CTL_DEL, r->ends[i].fd, NULL);
    r->ends[i].events = 0;
  }
  /* Who gets RST: the side that did not fail when the other did; the side JavaScript did not
   * close (abort); both after a local failure (no pipe, no epoll registration). A clean end (both
   * FINs carried) resets nobody. */
  bool reset[2] = {false, false};
  if (!r->clean) {
    if (r->aborted >= 0) {
      reset[1 - r->aborted] = true;
    } else if (r->err[0] != 0 && r->err[1] != 0) {
      reset[0] = reset[1] = true;
    } else {
      reset[0] = r->err[0] == 0;
      reset[1] = r->err[1] == 0;
    }
  }
  for (int i = 0; i < 2; i++) {
    if (reset[i]) set_reset_on_close(r->ends[i].fd);
    close(r->ends[i].fd);
    r->ends[i].fd = -1;
    pipe_give(l, &r->dirs[i]);
  }
  publish(r);
  if (r->prev) r->prev->next = r->next;
  else l->live = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
  r->done_next = *done;
  *done = r;
}

/* Runs the directions in `mask` (bit 0: a → b, bit 1: b → a), then ends the relay or registers
 * what it waits for next. */
static void step(struct lane *l, struct relay *r, int mask, struct relay **done) {
  for (int i = 0; i < 2 && !r->finished; i++) {
    if (!(mask & (1 << i))) continue;
    int err = 0;
    int rc = pump(l, r, &r->dirs[i], &err);
    if (rc == PUMP_OK) continue;
    if (rc == PUMP_ERR_SRC) r->err[r->dirs[i].src] = err;
    else if (rc == PUMP_ERR_DST) r->err[r->dirs[i].dst] = err;
    else r->err[0] = r->err[1] = err;
    finish(l, r, done);
    return;
  }
  if (r->dirs[0].shut && r->dirs[1].shut) {
    r->clean = true;
    finish(l, r, done);
    return;
  }
  int e = set_interest(l, &r->ends[0], wants_on_src(&r->dirs[0]) | wants_on_dst(&r->dirs[1]));
  if (e == 0) e = set_interest(l, &r->ends[1], wants_on_src(&r->dirs[1]) | wants_on_dst(&r->dirs[0]));
  if (e != 0) {
    r->err[0] = r->err[1] = e;
    finish(l, r, done);
    return;
  }
  publish(r);
}

/* ---- the relay thread ---------------------------------------------------------------------- */

/* Hands the batch's finished relays to the JavaScript thread. The relay thread's reference goes
 * with each; if the thread-safe function is closing (the environment is going away), it is
 * dropped here. */
static void report(struct lane *l, struct relay *done) {
  while (done) {
    struct relay *next = done->done_next;
    done->done_next = NULL;
    if (napi_call_threadsafe_function(l->tsfn, done, napi_tsfn_nonblocking) != napi_ok) relay_unref(done);
    done = next;
  }
}

/* Runs the queued commands; false when the lane is to stop. */
static bool take_commands(struct lane *l, struct relay **done) {
  uint64_t n;
  while (read(l->wakefd, &n, sizeof n) > 0) {
  }
  pthread_mutex_lock(&l->mu);
  struct cmd *c = l->head;
  l->head = l->tail = NULL;
  bool stop = l->stop;
  pthread_mutex_unlock(&l->mu);
  while (c) {
    struct cmd *next = c->next;
    struct relay *r = c->r;
    if (c->kind == CMD_ADD) {
      r->next = l->live;
      if (l->live) l->live->prev = r;
      l->live = r;
      /* Both directions at once: a server that speaks first is heard without waiting for the
       * client, and the bytes read during detection go out now. */
      step(l, r, 3, done);
    } else {
      /* JavaScript closed a socket: the other is reset. The first abort names the side. */
      if (!r->finished) {
        r->aborted = c->side;
        finish(l, r, done);
      }
      relay_unref(r); /* the command's reference */
    }
    free(c);
    c = next;
  }
  return !stop;
}

static void *lane_main(void *arg) {
  struct lane *l = arg;
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; /* EBADF/EINVAL: the set is gone; nothing sensible is left to do */
    }
    /* Relays that finish in this batch stay allocated until it is done: a later event of the
     * same batch may still name them (they are `finished`, and skipped). */
    struct relay *done = NULL;
    bool go_on = true;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        go_on = take_commands(l, &done) && go_on;
        continue;
      }
      struct end *e = evs[i].data.ptr;
      struct relay *r = e->r;
      if (r->finished) continue;
      int side = (int)(e - r->ends);
      uint32_t ev = evs[i].events;
      int mask = 0;
      /* Readable: the direction this side feeds. Writable: the direction that feeds it. An error
       * or hang-up: both, so that the failing call reports it. */
      if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) mask |= 1 << side;
      if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) mask |= 1 << (1 - side);
      step(l, r, mask, &done);
    }
    report(l, done);
    if (!go_on) break;
  }
  return NULL;
}

/* ---- JavaScript side ----------------------------------------------------------------------- */

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[160];
  char buf[96];
  const char *text = strerror_r(err, buf, sizeof buf);
  snprintf(msg, sizeof msg, "%s: %s", syscall, text);
  napi_value message, error, errno_value, syscall_value;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, NULL, message, &error) != napi_ok || napi_create_int32(env, err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok) {
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "LINNET_NATIVE_INVALID_ARGUMENT", msg);
  return NULL;
}

static struct lane *lane_of(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

/* Runs on the JavaScript thread for each finished relay: onDone(id, errA, errB, clean). With env
 * NULL the environment is being torn down: only the reference is dropped. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  struct lane *l = context;
  struct relay *r = data;
  if (env != NULL) {
    if (r->counts_ref) {
      napi_delete_reference(env, r->counts_ref);
      r->counts_ref = NULL;
    }
    if (--l->js_live == 0) napi_unref_threadsafe_function(env, l->tsfn);
    napi_value argv[4], undefined;
    napi_get_undefined(env, &undefined);
    napi_create_uint32(env, r->id, &argv[0]);
    napi_create_int32(env, r->err[0], &argv[1]);
    napi_create_int32(env, r->err[1], &argv[2]);
    napi_get_boolean(env, r->clean, &argv[3]);
    napi_call_function(env, undefined, js_cb, 4, argv, NULL);
  }
  relay_unref(r);
}

/* Stops the relay thread and closes what it held; the JavaScript thread's own sockets are left
 * to Node. Safe to call twice. */
static void lane_stop(struct lane *l) {
  if (!l->thread_running) return;
  pthread_mutex_lock(&l->mu);
  l->stop = true;
  pthread_mutex_unlock(&l->mu);
  uint64_t one = 1;
  ssize_t ignored = write(l->wakefd, &one, sizeof one);
  (void)ignored;
  pthread_join(l->thread, NULL);
  l->thread_running = false;
  /* Now only this thread touches the lane. Relays still queued are closed with the live ones. */
  for (struct cmd *c = l->head; c;) {
    struct cmd *next = c->next;
    if (c->kind == CMD_ADD) {
      c->r->prev = NULL;
      c->r->next = l->live;
      l->live = c->r;
    } else {
      relay_unref(c->r);
    }
    free(c);
    c = next;
  }
  l->head = l->tail = NULL;
  while (l->live) {
    struct relay *r = l->live;
    l->live = r->next;
    for (int i = 0; i < 2; i++) {
      if (r->ends[i].fd >= 0) close(r->ends[i].fd);
      r->ends[i].fd = -1;
      if (r->dirs[i].pipe.r >= 0) pipe_close(&r->dirs[i].pipe);
    }
    r->finished = true;
    relay_unref(r); /* the relay thread's reference; never reported */
  }
  while (l->pooled > 0) pipe_close(&l->pool[--l->pooled]);
}

/* The environment is going away (a worker ends, or the main thread's normal exit). */
static void lane_cleanup(void *arg) {
  struct lane *l = arg;
  lane_stop(l);
  close(l->epfd);
  close(l->wakefd);
  /* Node closes the thread-safe function after this hook and may still deliver queued
   * completions meanwhile, so the lane itself is freed by the function's finalizer. */
}

static void lane_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct lane *l = data;
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* spliceInit(onDone, pipeSize): this thread's lane. */
static napi_value splice_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (lane_of(env) != NULL) {
    napi_throw_error(env, "LINNET_SPLICE_FAILED", "spliceInit: this thread already has a lane");
    return NULL;
  }
  napi_valuetype t;
  if (argc < 2 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return throw_arg(env, "spliceInit(onDone, pipeSize)");
  int32_t pipe_size = 0;
  if (napi_get_value_int32(env, argv[1], &pipe_size) != napi_ok) return throw_arg(env, "pipeSize must be a number");

  struct lane *l = calloc(1, sizeof *l);
  if (!l) return throw_errno(env, "calloc", ENOMEM);
  l->pipe_size = pipe_size;
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (l->epfd < 0) {
    int e = errno;
    free(l);
    return throw_errno(env, "epoll_create1", e);
  }
  l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->wakefd < 0) {
    int e = errno;
    close(l->epfd);
    free(l);
    return throw_errno(env, "eventfd", e);
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0) {
    int e = errno;
    close(l->wakefd);
    close(l->epfd);
    free(l);
    return throw_errno(env, "epoll_ctl", e);
  }
  pthread_mutex_init(&l->mu, NULL);
  napi_value name;
  napi_create_string_utf8(env, "linnet-splice", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, l, lane_free, l, call_js, &l->tsfn) != napi_ok) {
    close(l->wakefd);
    close(l->epfd);
    pthread_mutex_destroy(&l->mu);
    free(l);
    napi_throw_error(env, "LINNET_SPLICE_FAILED", "spliceInit: napi_create_threadsafe_function failed");
    return NULL;
  }
  /* Referenced only while relays are in flight (spliceStart, call_js). */
  napi_unref_threadsafe_function(env, l->tsfn);

  /* The relay thread takes no signals: they belong to Node's threads (SIGPIPE is ignored by
   * Node, and send/splice get EPIPE). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = pthread_create(&l->thread, NULL, lane_main, l);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    close(l->wakefd);
    close(l->epfd);
    napi_release_threadsafe_function(l->tsfn, napi_tsfn_abort); /* frees the lane (lane_free) */
    return throw_errno(env, "pthread_create", rc);
  }
  l->thread_running = true;
  napi_set_instance_data(env, l, NULL, NULL);
  /* Registered after the thread-safe function, so it runs before Node closes that. */
  napi_add_env_cleanup_hook(env, lane_cleanup, l);
  return NULL;
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  relay_unref(data);
}

static bool optional_bytes(napi_env env, napi_value v, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) return true;
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return false;
  void *data;
  size_t n;
  if (napi_get_buffer_info(env, v, &data, &n) != napi_ok) return false;
  if (n == 0) return true;
  *out = malloc(n);
  if (!*out) return false;
  memcpy(*out, data, n);
  *len = n;
  return true;
}

/* spliceStart(id, fdA, fdB, preAB, preBA, counts) → handle. The caller has stopped Node's reads
 * on both sockets and has no write pending on them. */
static napi_value splice_start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  struct lane *l = lane_of(env);
  if (!l) {
    napi_throw_error(env, "LINNET_SPLICE_FAILED", "spliceStart before spliceInit");
    return NULL;
  }
  if (!l->thread_running) {
    napi_throw_error(env, "LINNET_SPLICE_FAILED", "spliceStart after spliceShutdown");
    return NULL;
  }
  if (argc < 6) return throw_arg(env, "spliceStart(id, fdA, fdB, preAB, preBA, counts)");
  uint32_t id;
  int32_t fd_a, fd_b;
  if (napi_get_value_uint32(env, argv[0], &id) != napi_ok || napi_get_value_int32(env, argv[1], &fd_a) != napi_ok ||
      napi_get_value_int32(env, argv[2], &fd_b) != napi_ok || fd_a < 0 || fd_b < 0)
    return throw_arg(env, "id, fdA and fdB must be non-negative numbers");
  bool is_typed = false;
  napi_typedarray_type tt;
  size_t length;
  void *counts = NULL;
  if (napi_is_typedarray(env, argv[5], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[5], &tt, &length, &counts, NULL, NULL) != napi_ok || tt != napi_float64_array ||
      length < COUNT_SLOTS)
    return throw_arg(env, "counts must be a Float64Array of 6");

  struct relay *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, "calloc", ENOMEM);
  r->refs = 2; /* the relay thread's and the handle's */
  r->id = id;
  r->aborted = -1;
  r->counts = counts;
  for (int i = 0; i < 2; i++) {
    r->ends[i].r = r;
    r->ends[i].fd = -1;
    r->ends[i].first_read_ms = -1;
    r->dirs[i].src = i;
    r->dirs[i].dst = 1 - i;
    r->dirs[i].pipe.r = r->dirs[i].pipe.w = -1;
  }
  if (!optional_bytes(env, argv[3], &r->dirs[0].pre, &r->dirs[0].pre_len) ||
      !optional_bytes(env, argv[4], &r->dirs[1].pre, &r->dirs[1].pre_len)) {
    free(r->dirs[0].pre);
    free(r);
    return throw_arg(env, "preAB and preBA must be Buffers or null");
  }
  int fds[2] = {fd_a, fd_b};
  for (int i = 0; i < 2; i++) {
    r->ends[i].fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
    if (r->ends[i].fd < 0) {
      int e = errno;
      if (i == 1) close(r->ends[0].fd);
      free(r->dirs[0].pre);
      free(r->dirs[1].pre);
      free(r);
      return throw_errno(env, "dup", e);
    }
  }
  napi_value handle;
  if (napi_create_reference(env, argv[5], 1, &r->counts_ref) != napi_ok ||
      napi_create_external(env, r, handle_finalize, NULL, &handle) != napi_ok) {
    if (r->counts_ref) napi_delete_reference(env, r->counts_ref);
    close(r->ends[0].fd);
    close(r->ends[1].fd);
    free(r->dirs[0].pre);
    free(r->dirs[1].pre);
    free(r);
    napi_throw_error(env, "LINNET_SPLICE_FAILED", "spliceStart: Node-API call failed");
    return NULL;
  }
  clock_gettime(CLOCK_MONOTONIC, &r->started);
  publish(r);

  struct cmd *c = calloc(1, sizeof *c);
  if (!c) {
    /* The handle's finalizer frees it once collected; the relay thread's reference goes now. */
    napi_delete_reference(env, r->counts_ref);
    r->counts_ref = NULL;
    close(r->ends[0].fd);
    close(r->ends[1].fd);
    r->ends[0].fd = r->ends[1].fd = -1;
    r->finished = true;
    relay_unref(r);
    return throw_errno(env, "calloc", ENOMEM);
  }
  c->kind = CMD_ADD;
  c->r = r;
  if (l->js_live++ == 0) napi_ref_threadsafe_function(env, l->tsfn);
  pthread_mutex_lock(&l->mu);
  if (l->tail) l->tail->next = c;
  else l->head = c;
  l->tail = c;
  pthread_mutex_unlock(&l->mu);
  uint64_t one = 1;
  ssize_t ignored = write(l->wakefd, &one, sizeof one);
  (void)ignored;
  return handle;
}

/* spliceAbort(handle, side): JavaScript closed that socket (0: a, 1: b); the relay ends, the
 * other side is reset, and it is reported as usual, not clean. A relay that already ended is
 * left alone. */
static napi_value splice_abort(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  struct lane *l = lane_of(env);
  void *data = NULL;
  int32_t side = -1;
  if (argc < 2 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data ||
      napi_get_value_int32(env, argv[1], &side) != napi_ok || (side != 0 && side != 1))
    return throw_arg(env, "spliceAbort(handle, side)");
  if (!l || !l->thread_running) return NULL;
  struct relay *r = data;
  struct cmd *c = calloc(1, sizeof *c);
  if (!c) return throw_errno(env, "calloc", ENOMEM);
  relay_ref(r);
  c->kind = CMD_ABORT;
  c->r = r;
  c->side = side;
  pthread_mutex_lock(&l->mu);
  if (l->tail) l->tail->next = c;
  else l->head = c;
  l->tail = c;
  pthread_mutex_unlock(&l->mu);
  uint64_t one = 1;
  ssize_t ignored = write(l->wakefd, &one, sizeof one);
  (void)ignored;
  return NULL;
}

/* spliceShutdown(): stops this thread's lane (process exit). Relays in flight are never
 * reported; their sockets are Node's to close. */
static napi_value splice_shutdown(napi_env env, napi_callback_info info) {
  (void)info;
  struct lane *l = lane_of(env);
  if (l) lane_stop(l);
  return NULL;
}

/* 0 when splice(2) from a socket into a pipe is available, else the errno of the probe. */
int linnet_splice_probe(void) {
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return errno;
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = 0;
  if (s < 0) {
    err = errno;
  } else {
    /* An unconnected socket: ENOTCONN or EINVAL say the call exists; ENOSYS that it does not. */
    if (splice(s, NULL, p[1], NULL, 1, SPLICE_F_NONBLOCK) < 0 && (errno == ENOSYS || errno == EPERM)) err = errno;
    close(s);
  }
  close(p[0]);
  close(p[1]);
  return err;
}

napi_status linnet_splice_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"spliceInit", NULL, splice_init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceStart", NULL, splice_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceAbort", NULL, splice_abort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceShutdown", NULL, splice_shutdown, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
