/*
 * sfu._fanout: the native fan-out (behaviour and API: sfu/fanout.py, which also holds the
 * reference implementation this one must match byte for byte).
 *
 * Per published packet, Fanout.forward walks its targets with no Python call in the loop:
 * for each it writes header + CSRCs + extension block + payload into a slot of a static
 * batch buffer, protects the slot in place with libsrtp's srtp_protect (the libsrtp 2.x that
 * pylibsrtp bundles, called by address on the target's own srtp_t), and every BATCH targets
 * sends the protected slots with sendmmsg, one call per socket. Counters are updated for
 * what the kernel took. Nothing blocks: a datagram the kernel refuses (full buffer included)
 * is dropped and counted in the target's send_errors.
 *
 * A target remembers the socket by fd and by (st_dev, st_ino): before each send the fd is
 * checked with fstat, so a socket closed since set_route (its fd possibly reused by another
 * file) is never written to; its packets count as send errors instead.
 *
 * The GIL stays held throughout (the sfu is one event loop), so the static buffers need no
 * lock, and the target list cannot change during a forward.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* libsrtp 2.x: srtp_err_status_t srtp_protect(srtp_t ctx, void *rtp_hdr, int *len_ptr); 0 = ok */
typedef int (*srtp_protect_fn)(void *ctx, void *rtp_hdr, int *len_ptr);

#define SRTP_MAX_TRAILER_LEN 144 /* libsrtp: auth tag (16) + MKI (128) */
#define SLOT_LEN 2048            /* = sfu.aiortc_hooks.SRTP_BUFFER: the same size limit */
#define MAX_PLAIN_LEN (SLOT_LEN - SRTP_MAX_TRAILER_LEN)
#define BATCH 64
#define INITIAL_MARKS 4

static srtp_protect_fn srtp_protect_ptr = NULL;

typedef struct {
    long long second;
    unsigned int seq;
} Mark;

typedef struct {
    PyObject_HEAD
    PyObject *session; /* the pylibsrtp Session owning srtp: kept alive while used */
    void *srtp;
    int fd;
    dev_t dev;
    ino_t ino;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    unsigned int ssrc;
    unsigned char payload_type;
    unsigned short seq_offset;
    unsigned int ts_offset;
    unsigned short first_seq;
    Py_ssize_t block_index;
    char closed;
    unsigned long long packets, bytes, frames, sent_packets, sent_octets, send_errors;
    unsigned int last_timestamp;
    long long marked_second;
    Mark *marks;
    Py_ssize_t nmarks, marks_capacity;
} Target;

typedef struct {
    PyObject_HEAD
    PyObject *targets; /* list of Target, in the order added */
} Fanout;

static PyTypeObject TargetType;

/* ---------------------------------------------------------------- route */

typedef struct {
    int fd;
    dev_t dev;
    ino_t ino;
    struct sockaddr_storage addr;
    socklen_t addrlen;
} Route;

/* obj.name() (method) or obj.name, as a C long. */
static int call_int(PyObject *obj, const char *name, int method, long *out) {
    PyObject *value =
        method ? PyObject_CallMethod(obj, name, NULL) : PyObject_GetAttrString(obj, name);
    if (value == NULL)
        return -1;
    *out = PyLong_AsLong(value);
    Py_DECREF(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* Resolve a numeric (host, port[, flowinfo, scope_id]) for a socket of ``family``. */
static int resolve_address(PyObject *remote_addr, int family, Route *route) {
    if (!PyTuple_Check(remote_addr) || PyTuple_GET_SIZE(remote_addr) < 2) {
        PyErr_SetString(PyExc_TypeError, "remote_addr must be a (host, port) tuple");
        return -1;
    }
    const char *host = PyUnicode_AsUTF8(PyTuple_GET_ITEM(remote_addr, 0));
    long port = PyLong_AsLong(PyTuple_GET_ITEM(remote_addr, 1));
    if (host == NULL || (port == -1 && PyErr_Occurred()))
        return -1;
    if (port < 0 || port > 0xFFFF) {
        PyErr_SetString(PyExc_ValueError, "port out of range");
        return -1;
    }
    char service[8];
    snprintf(service, sizeof service, "%ld", port);
    struct addrinfo hints = {0}, *found = NULL;
    hints.ai_family = family;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (family == AF_INET6 ? AI_V4MAPPED : 0);
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0 || found == NULL || found->ai_addrlen > sizeof route->addr) {
        PyErr_Format(PyExc_ValueError, "not a numeric address for this socket: %s (%s)", host,
                     rc ? gai_strerror(rc) : "too long");
        if (found)
            freeaddrinfo(found);
        return -1;
    }
    memcpy(&route->addr, found->ai_addr, found->ai_addrlen);
    route->addrlen = found->ai_addrlen;
    freeaddrinfo(found);
    if (family == AF_INET6 && PyTuple_GET_SIZE(remote_addr) >= 4) {
        unsigned long scope = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(remote_addr, 3));
        if (scope == (unsigned long)-1 && PyErr_Occurred())
            return -1;
        if (scope)
            ((struct sockaddr_in6 *)&route->addr)->sin6_scope_id = (uint32_t)scope;
    }
    return 0;
}

/* The socket under an asyncio datagram transport, and where to send on it. A transport
 * already closed gives a dead route (fd -1): its packets count as send errors, as in the
 * reference. */
static int read_route(PyObject *transport, PyObject *remote_addr, Route *route) {
    PyObject *sock = PyObject_CallMethod(transport, "get_extra_info", "s", "socket");
    if (sock == NULL)
        return -1;
    *route = (Route){.fd = -1};
    long fd, family;
    int rc = 0;
    struct stat st;
    if (sock != Py_None) {
        rc = (call_int(sock, "fileno", 1, &fd) || call_int(sock, "family", 0, &family)) ? -1 : 0;
        if (rc == 0 && fd >= 0 && fstat((int)fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
            rc = resolve_address(remote_addr, (int)family, route);
            route->fd = (int)fd;
            route->dev = st.st_dev;
            route->ino = st.st_ino;
        }
    }
    Py_DECREF(sock);
    return rc;
}

static void apply_route(Target *t, const Route *route) {
    t->fd = route->fd;
    t->dev = route->dev;
    t->ino = route->ino;
    t->addr = route->addr;
    t->addrlen = route->addrlen;
}

/* ---------------------------------------------------------------- FanoutTarget */

static int check_range(const char *name, long long value, long long limit) {
    if (value == LLONG_MIN) {
        PyErr_Format(PyExc_TypeError, "missing keyword argument: %s", name);
        return -1;
    }
    if (value < 0 || value > limit) {
        PyErr_Format(PyExc_ValueError, "%s out of range: %lld", name, value);
        return -1;
    }
    return 0;
}

static int Target_init(Target *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"session", "srtp_context", "transport", "remote_addr", "ssrc",
                             "payload_type", "seq_offset", "ts_offset", "first_seq",
                             "block_index", NULL};
    PyObject *session, *context, *transport, *remote_addr;
    long long ssrc = LLONG_MIN, pt = LLONG_MIN, seq_offset = LLONG_MIN, ts_offset = LLONG_MIN;
    long long first_seq = LLONG_MIN, block_index = LLONG_MIN;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO|$LLLLLL", kwlist, &session, &context,
                                     &transport, &remote_addr, &ssrc, &pt, &seq_offset,
                                     &ts_offset, &first_seq, &block_index))
        return -1;
    if (check_range("ssrc", ssrc, 0xFFFFFFFFLL) || check_range("payload_type", pt, 0x7F) ||
        check_range("seq_offset", seq_offset, 0xFFFF) ||
        check_range("ts_offset", ts_offset, 0xFFFFFFFFLL) ||
        check_range("first_seq", first_seq, 0xFFFF) ||
        check_range("block_index", block_index, 0xFFFF))
        return -1;
    if (srtp_protect_ptr == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind_srtp_protect() was not called");
        return -1;
    }
    void *srtp = PyLong_AsVoidPtr(context);
    if (srtp == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "null srtp context");
        return -1;
    }
    Route route;
    if (read_route(transport, remote_addr, &route) != 0)
        return -1;
    Mark *marks = PyMem_Malloc(INITIAL_MARKS * sizeof(Mark));
    if (marks == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyMem_Free(self->marks);
    self->marks = marks;
    self->marks_capacity = INITIAL_MARKS;
    self->nmarks = 0;
    Py_INCREF(session);
    Py_XSETREF(self->session, session);
    self->srtp = srtp;
    apply_route(self, &route);
    self->ssrc = (unsigned int)ssrc;
    self->payload_type = (unsigned char)pt;
    self->seq_offset = (unsigned short)seq_offset;
    self->ts_offset = (unsigned int)ts_offset;
    self->first_seq = (unsigned short)first_seq;
    self->block_index = (Py_ssize_t)block_index;
    self->closed = 0;
    self->packets = self->bytes = self->frames = 0;
    self->sent_packets = self->sent_octets = self->send_errors = 0;
    self->last_timestamp = 0;
    self->marked_second = -1;
    return 0;
}

static int Target_traverse(Target *self, visitproc visit, void *arg) {
    Py_VISIT(self->session);
    return 0;
}

static int Target_clear(Target *self) {
    Py_CLEAR(self->session);
    self->srtp = NULL;
    self->closed = 1;
    return 0;
}

static void Target_dealloc(Target *self) {
    PyObject_GC_UnTrack(self);
    Target_clear(self);
    PyMem_Free(self->marks);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Target_take_counts(Target *self, PyObject *unused) {
    PyObject *counts = Py_BuildValue("(KKK)", self->packets, self->bytes, self->frames);
    if (counts != NULL)
        self->packets = self->bytes = self->frames = 0;
    return counts;
}

static PyObject *Target_take_marks(Target *self, PyObject *unused) {
    PyObject *list = PyList_New(self->nmarks);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->nmarks; i++) {
        PyObject *mark = Py_BuildValue("(LI)", self->marks[i].second, self->marks[i].seq);
        if (mark == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, mark);
    }
    self->nmarks = 0;
    return list;
}

static PyObject *Target_set_route(Target *self, PyObject *args) {
    PyObject *transport, *remote_addr;
    Route route;
    if (!PyArg_ParseTuple(args, "OO:set_route", &transport, &remote_addr) ||
        read_route(transport, remote_addr, &route) != 0)
        return NULL;
    apply_route(self, &route);
    Py_RETURN_NONE;
}

static PyObject *Target_close(Target *self, PyObject *unused) {
    Target_clear(self); /* the session (and its libsrtp context) may go now */
    Py_RETURN_NONE;
}

/* A new mark when ``second`` passes the last marked one; -1 only when out of memory. */
static int add_mark(Target *t, long long second, unsigned int seq) {
    if (second <= t->marked_second)
        return 0;
    if (t->nmarks == t->marks_capacity) {
        Py_ssize_t capacity = t->marks_capacity * 2;
        Mark *grown = PyMem_Realloc(t->marks, (size_t)capacity * sizeof(Mark));
        if (grown == NULL)
            return -1;
        t->marks = grown;
        t->marks_capacity = capacity;
    }
    t->marked_second = second;
    t->marks[t->nmarks].second = second;
    t->marks[t->nmarks].seq = seq;
    t->nmarks++;
    return 0;
}

#define COUNTER(name, doc) {#name, T_ULONGLONG, offsetof(Target, name), READONLY, doc}
static PyMemberDef Target_members[] = {
    COUNTER(packets, "packets sent since the last take_counts()"),
    COUNTER(bytes, "protected bytes sent since the last take_counts()"),
    COUNTER(frames, "frames completed since the last take_counts()"),
    COUNTER(sent_packets, "packets sent in this target's lifetime (RTCP SR)"),
    COUNTER(sent_octets, "payload bytes sent in this target's lifetime (RTCP SR)"),
    COUNTER(send_errors, "packets that could not be protected or sent"),
    {"last_timestamp", T_UINT, offsetof(Target, last_timestamp), READONLY, NULL},
    {"ssrc", T_UINT, offsetof(Target, ssrc), READONLY, NULL},
    {"payload_type", T_UBYTE, offsetof(Target, payload_type), READONLY, NULL},
    {"seq_offset", T_USHORT, offsetof(Target, seq_offset), READONLY, NULL},
    {"ts_offset", T_UINT, offsetof(Target, ts_offset), READONLY, NULL},
    {"first_seq", T_USHORT, offsetof(Target, first_seq), READONLY, NULL},
    {"block_index", T_PYSSIZET, offsetof(Target, block_index), READONLY, NULL},
    {"closed", T_BOOL, offsetof(Target, closed), READONLY, NULL},
    {NULL},
};

static PyMethodDef Target_methods[] = {
    {"take_counts", (PyCFunction)Target_take_counts, METH_NOARGS,
     "(packets, bytes, frames) since the previous call, then reset."},
    {"take_marks", (PyCFunction)Target_take_marks, METH_NOARGS,
     "(unix second, first sequence number sent in it) since the previous call."},
    {"set_route", (PyCFunction)Target_set_route, METH_VARARGS,
     "Send through this transport to this address from now on."},
    {"close", (PyCFunction)Target_close, METH_NOARGS, "Never send again."},
    {NULL},
};

static PyTypeObject TargetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._fanout.FanoutTarget",
    .tp_doc = "One started down-track: where and how a Fanout sends (see sfu/fanout.py).",
    .tp_basicsize = sizeof(Target),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Target_init,
    .tp_dealloc = (destructor)Target_dealloc,
    .tp_traverse = (traverseproc)Target_traverse,
    .tp_clear = (inquiry)Target_clear,
    .tp_members = Target_members,
    .tp_methods = Target_methods,
};

/* ---------------------------------------------------------------- the batch */

typedef struct {
    Target *target;
    int length; /* protected */
    unsigned int seq;
    unsigned int timestamp;
} Queued;

typedef struct {
    Py_ssize_t payload_length;
    int frame_done;
    long long second;
    Py_ssize_t sent;
    int out_of_memory;
} Outcome;

static unsigned char slots[BATCH][SLOT_LEN] __attribute__((aligned(64)));
static Queued queued[BATCH];
static int order[BATCH];
static struct mmsghdr messages[BATCH];
static struct iovec vectors[BATCH];

static void count_sent(const Queued *q, Outcome *out) {
    Target *t = q->target;
    t->packets++;
    t->bytes += (unsigned long long)q->length;
    t->frames += (unsigned long long)out->frame_done;
    t->sent_packets++;
    t->sent_octets += (unsigned long long)out->payload_length;
    t->last_timestamp = q->timestamp;
    if (add_mark(t, out->second, q->seq) != 0)
        out->out_of_memory = 1;
    out->sent++;
}

static int same_socket(const Target *a, const Target *b) {
    return a->fd == b->fd && a->ino == b->ino && a->dev == b->dev;
}

static int socket_before(const Target *a, const Target *b) {
    if (a->fd != b->fd)
        return a->fd < b->fd;
    return a->ino != b->ino ? a->ino < b->ino : a->dev < b->dev;
}

/* Order queued[0..n) by socket (insertion sort: n <= BATCH, usually one socket). */
static void sort_by_socket(int n) {
    for (int i = 0; i < n; i++) {
        int j = i, moving = i;
        while (j > 0 && socket_before(queued[moving].target, queued[order[j - 1]].target)) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = moving;
    }
}

static int socket_is_live(const Target *t) {
    struct stat st;
    return fstat(t->fd, &st) == 0 && st.st_ino == t->ino && st.st_dev == t->dev;
}

/* sendmmsg queued[order[first..first+n)] on one socket; never blocks, never raises. */
static void send_group(int first, int n, Outcome *out) {
    const Target *head = queued[order[first]].target;
    if (!socket_is_live(head)) {
        for (int i = 0; i < n; i++)
            queued[order[first + i]].target->send_errors++;
        return;
    }
    for (int i = 0; i < n; i++) {
        Queued *q = &queued[order[first + i]];
        vectors[i].iov_base = slots[order[first + i]];
        vectors[i].iov_len = (size_t)q->length;
        messages[i].msg_hdr = (struct msghdr){
            .msg_name = &q->target->addr,
            .msg_namelen = q->target->addrlen,
            .msg_iov = &vectors[i],
            .msg_iovlen = 1,
        };
    }
    int done = 0;
    while (done < n) {
        int rc = sendmmsg(head->fd, messages + done, (unsigned int)(n - done), MSG_DONTWAIT);
        if (rc > 0) {
            for (int i = done; i < done + rc; i++)
                count_sent(&queued[order[first + i]], out);
            done += rc;
        } else if (rc < 0 && errno == EINTR) {
            continue;
        } else if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
                              errno == EBADF || errno == ENOTSOCK)) {
            for (int i = done; i < n; i++) /* the socket takes nothing now: drop the rest */
                queued[order[first + i]].target->send_errors++;
            return;
        } else { /* this datagram is refused (EACCES, EINVAL, ENETUNREACH...): skip it */
            queued[order[first + done]].target->send_errors++;
            done++;
        }
    }
}

static void flush(int n, Outcome *out) {
    sort_by_socket(n);
    int first = 0;
    while (first < n) {
        int end = first + 1;
        while (end < n && same_socket(queued[order[first]].target, queued[order[end]].target))
            end++;
        send_group(first, end - first, out);
        first = end;
    }
}

/* ---------------------------------------------------------------- Fanout */

typedef struct {
    const unsigned char *data;
    Py_ssize_t csrc_end, payload_start, payload_end;
    unsigned int seq, timestamp;
    int marker;
    PyObject *blocks;
} Packet;

static inline void put16(unsigned char *p, unsigned int v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static inline void put32(unsigned char *p, unsigned int v) {
    put16(p, v >> 16);
    put16(p + 2, v & 0xFFFF);
}

/* Rewrite and protect ``pkt`` for ``t`` into slot ``k``; 0 when queued. */
static int build(const Packet *pkt, Target *t, int k) {
    PyObject *block = PyTuple_GET_ITEM(pkt->blocks, t->block_index);
    Py_ssize_t block_len = PyBytes_GET_SIZE(block);
    Py_ssize_t payload_len = pkt->payload_end - pkt->payload_start;
    Py_ssize_t plain = pkt->csrc_end + block_len + payload_len;
    if (plain > MAX_PLAIN_LEN)
        return -1;
    unsigned int seq = (pkt->seq + t->seq_offset) & 0xFFFF;
    unsigned int timestamp = pkt->timestamp + t->ts_offset; /* 32-bit wrap */
    unsigned char *p = slots[k];
    p[0] = (unsigned char)(0x80 | (pkt->data[0] & 0x0F) | (block_len ? 0x10 : 0));
    p[1] = (unsigned char)((pkt->marker ? 0x80 : 0) | t->payload_type);
    put16(p + 2, seq);
    put32(p + 4, timestamp);
    put32(p + 8, t->ssrc);
    memcpy(p + 12, pkt->data + 12, (size_t)(pkt->csrc_end - 12));
    memcpy(p + pkt->csrc_end, PyBytes_AS_STRING(block), (size_t)block_len);
    memcpy(p + pkt->csrc_end + block_len, pkt->data + pkt->payload_start, (size_t)payload_len);
    int length = (int)plain;
    if (srtp_protect_ptr(t->srtp, p, &length) != 0)
        return -1;
    queued[k] = (Queued){.target = t, .length = length, .seq = seq, .timestamp = timestamp};
    return 0;
}

static int Fanout_init(Fanout *self, PyObject *args, PyObject *kwds) {
    if (!PyArg_ParseTuple(args, ":Fanout") || (kwds && PyDict_GET_SIZE(kwds))) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "Fanout() takes no arguments");
        return -1;
    }
    PyObject *targets = PyList_New(0);
    if (targets == NULL)
        return -1;
    Py_XSETREF(self->targets, targets);
    return 0;
}

static int Fanout_traverse(Fanout *self, visitproc visit, void *arg) {
    Py_VISIT(self->targets);
    return 0;
}

static int Fanout_clear(Fanout *self) {
    Py_CLEAR(self->targets);
    return 0;
}

static void Fanout_dealloc(Fanout *self) {
    PyObject_GC_UnTrack(self);
    Fanout_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Fanout_add(Fanout *self, PyObject *target) {
    if (!PyObject_TypeCheck(target, &TargetType)) {
        PyErr_SetString(PyExc_TypeError, "a Fanout takes sfu._fanout.FanoutTarget objects");
        return NULL;
    }
    int present = PySequence_Contains(self->targets, target);
    if (present < 0 || (!present && PyList_Append(self->targets, target) < 0))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Fanout_remove(Fanout *self, PyObject *target) {
    Py_ssize_t index = PySequence_Index(self->targets, target);
    if (index < 0 || PySequence_DelItem(self->targets, index) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static Py_ssize_t Fanout_len(Fanout *self) { return PyList_GET_SIZE(self->targets); }

/* Everything forward() checks before sending anything; clamps start and stop to the slice. */
static int check_forward(Fanout *self, const Py_buffer *data, const Packet *pkt,
                         Py_ssize_t *start, Py_ssize_t *stop) {
    if (!(12 <= pkt->csrc_end && pkt->csrc_end <= pkt->payload_start &&
          pkt->payload_start <= pkt->payload_end && pkt->payload_end <= data->len)) {
        PyErr_SetString(PyExc_ValueError, "inconsistent RTP packet offsets");
        return -1;
    }
    Py_ssize_t nblocks = PyTuple_GET_SIZE(pkt->blocks);
    for (Py_ssize_t i = 0; i < nblocks; i++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(pkt->blocks, i))) {
            PyErr_SetString(PyExc_TypeError, "extension blocks must be bytes");
            return -1;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(self->targets);
    *stop = (*stop < 0 || *stop > n) ? n : *stop;
    *start = *start < 0 ? (*start + n < 0 ? 0 : *start + n) : *start;
    Py_ssize_t needed = -1;
    for (Py_ssize_t i = *start; i < *stop; i++) {
        Py_ssize_t index = ((Target *)PyList_GET_ITEM(self->targets, i))->block_index;
        needed = index > needed ? index : needed;
    }
    if (needed >= nblocks) {
        PyErr_Format(PyExc_IndexError, "no extension block %zd (got %zd)", needed, nblocks);
        return -1;
    }
    return 0;
}

static PyObject *Fanout_forward(Fanout *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"data", "csrc_end", "payload_start", "payload_end",
                             "sequence_number", "timestamp", "marker", "frame_done", "blocks",
                             "second", "start", "stop", NULL};
    Py_buffer data;
    Packet pkt;
    unsigned long long seq, timestamp;
    Outcome out = {0};
    Py_ssize_t start = 0, stop = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*nnnKKppO!L|nn:forward", kwlist, &data,
                                     &pkt.csrc_end, &pkt.payload_start, &pkt.payload_end, &seq,
                                     &timestamp, &pkt.marker, &out.frame_done, &PyTuple_Type,
                                     &pkt.blocks, &out.second, &start, &stop))
        return NULL;
    if (check_forward(self, &data, &pkt, &start, &stop) != 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    pkt.data = data.buf;
    pkt.seq = (unsigned int)(seq & 0xFFFF);
    pkt.timestamp = (unsigned int)(timestamp & 0xFFFFFFFFu);
    out.payload_length = pkt.payload_end - pkt.payload_start;
    int k = 0;
    for (Py_ssize_t i = start; i < stop; i++) {
        Target *t = (Target *)PyList_GET_ITEM(self->targets, i);
        if (t->closed || t->srtp == NULL || (int16_t)(uint16_t)(pkt.seq - t->first_seq) < 0)
            continue; /* closed, or a packet from before this target started */
        if (build(&pkt, t, k) != 0) {
            t->send_errors++;
            continue;
        }
        if (++k == BATCH) {
            flush(k, &out);
            k = 0;
        }
    }
    flush(k, &out);
    PyBuffer_Release(&data);
    if (out.out_of_memory)
        return PyErr_NoMemory(); /* a delivery mark was lost; everything else was counted */
    return PyLong_FromSsize_t(out.sent);
}

static PyMethodDef Fanout_methods[] = {
    {"add", (PyCFunction)Fanout_add, METH_O, "Send to this target from the next packet on."},
    {"remove", (PyCFunction)Fanout_remove, METH_O, "Stop sending to this target."},
    {"forward", (PyCFunction)(void (*)(void))Fanout_forward, METH_VARARGS | METH_KEYWORDS,
     "Send one published packet to targets[start:stop]; returns the number sent."},
    {NULL},
};

static PySequenceMethods Fanout_as_sequence = {.sq_length = (lenfunc)Fanout_len};

static PyTypeObject FanoutType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sfu._fanout.Fanout",
    .tp_doc = "The targets of one published track (see sfu/fanout.py).",
    .tp_basicsize = sizeof(Fanout),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Fanout_init,
    .tp_dealloc = (destructor)Fanout_dealloc,
    .tp_traverse = (traverseproc)Fanout_traverse,
    .tp_clear = (inquiry)Fanout_clear,
    .tp_methods = Fanout_methods,
    .tp_as_sequence = &Fanout_as_sequence,
};

/* ---------------------------------------------------------------- module */

static PyObject *bind_srtp_protect(PyObject *module, PyObject *address) {
    void *fn = PyLong_AsVoidPtr(address);
    if (fn == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "null srtp_protect address");
        return NULL;
    }
    srtp_protect_ptr = (srtp_protect_fn)fn;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"bind_srtp_protect", bind_srtp_protect, METH_O,
     "Use the srtp_protect at this address (sfu.aiortc_hooks.srtp_protect_address())."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "sfu._fanout",
    .m_doc = "Native fan-out: rewrite, srtp_protect and sendmmsg per published packet.",
    .m_size = -1, .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__fanout(void) {
    if (PyType_Ready(&TargetType) < 0 || PyType_Ready(&FanoutType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "FanoutTarget", (PyObject *)&TargetType) < 0 ||
        PyModule_AddObjectRef(m, "Fanout", (PyObject *)&FanoutType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
