/*
 * spawnd.h - what the parts of tsinetd-spawnd share (see spawnd.c for the whole): the channel
 * to the daemon (ipc.c), the requests (request.c) and the children (children.c). Not part of
 * the protocol, which is native/PROTOCOL.md and spawnd-protocol.h.
 */
#ifndef TSINETD_SPAWND_H
#define TSINETD_SPAWND_H

#include "accept.h"
#include "child.h"
#include "json.h"
#include "spawnd-protocol.h"

#include <stddef.h>
#include <sys/types.h>

/* How Node's envelope of a message sent with a descriptor starts. */
#define HANDLE_PREFIX "{\"cmd\":\"NODE_HANDLE\""

/* Prints what failed with errno's text and exits 1 (the daemon sees the helper exit). */
void die(const char *what);

/* ---- ipc.c: the channel ------------------------------------------------------------------ */

extern int chan;        /* the IPC socket (NODE_CHANNEL_FD), >= 3 and non-blocking */
extern int chan_closed; /* the daemon is gone: replies are dropped */
extern json_buf replies; /* replies queued for the daemon, written by flush_out() */

/* Dies (ENOMEM) unless ok: a reply that cannot be queued. */
void out_check(int ok);
/* Writes what is queued without blocking; exits 0 when the daemon is gone. */
void flush_out(void);
/* Queues one reply line (at most 255 bytes, already JSON). */
void send_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Queues a "warn" reply with this text. */
void send_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Queues an "error" reply; id < 0 and pid <= 0 are written as null, message NULL: strerror(err). */
void send_error(long long id, pid_t pid, const char *stage, int err, const char *message);
/* The oldest descriptor received and not matched yet: 0 when none is queued; else 1 and *fd,
 * which the caller owns (-1 when that descriptor was lost in transit). */
int fd_pop(int *fd);
/* A NODE_HANDLE line that cannot be used: its descriptor is closed and Node is told (NACK). */
void reject_handle(void);
/* Reads what the channel holds and handles each complete line; 0 when the channel is closed. */
int read_channel(void);

/* ---- request.c: what each line asks ------------------------------------------------------ */

/* Handles one line (without its newline): a request, a batch, or Node's envelope of one. */
void handle_line(const char *text, size_t len);
/* acc_conn_fn and acc_error_fn of accept.h: report to the daemon. */
void report_conn(long long lid, long long cid, const char *addr, int port, const char *laddr);
void report_accept_error(long long lid, int err);

/* ---- udgram.c: unix-domain datagram sockets held for the daemon (protocol 5) -------------- */

/* Handles a ubind, watch or drain request (cmd is its name). */
void ud_request(const json_value *msg, const char *cmd);
/* Binds a new AF_UNIX SOCK_DGRAM socket at path under umask 0777 for lid (replacing an earlier
 * one of that lid). Returns 0 or an errno value. */
int ud_bind(long long lid, const char *path);
/* The socket of lid (still the helper's), or -1. */
int ud_fd(long long lid);
/* Reports lid readable ("readable") once, when a datagram is queued; nothing is read. -1: unknown lid. */
int ud_watch(long long lid);
/* Closes the socket of lid (the file stays: the daemon removes it). -1: unknown lid. */
int ud_close(long long lid);
/* Discards what is queued on lid; returns how many datagrams, or -1 for an unknown lid. */
long ud_drain(long long lid);
/* Sockets held, for sizing the poll set. */
size_t ud_count(void);
/* Adds a pollfd for each socket watched now; returns how many. */
size_t ud_poll_fill(struct pollfd *p, size_t room);
/* A watched socket polled readable: reported, and no longer watched. */
void ud_ready(int fd);

/* ---- children.c: the servers started ------------------------------------------------------ */

typedef enum { CHILD_STARTING, CHILD_RUNNING, CHILD_FAILED } child_state;

typedef struct {
    pid_t pid;
    long long id;
    int status_fd; /* read end of the exec-report pipe; -1 once settled */
    child_state state;
    int signalled; /* a kill request was delivered */
} child_entry;

extern int sig_fd; /* signalfd for SIGCHLD, which stays blocked */
extern child_entry *children; /* not reaped yet */
extern size_t nchildren;

/* The index of pid in children, or -1. */
long find_child(pid_t pid);
/* Reads the exec report of a forked child (see children.c). */
void settle_status(child_entry *c, int exited);
/* Reaps every child that ended, reporting the exits of running ones. */
void reap(void);
/* Chooses how children start (at start-up, so that the ready message can say it). */
void choose_child_start(void);
/* 1 when children start with clone(CLONE_VM | CLONE_VFORK), 0 when forked. */
int children_share_vm(void);
/* Starts a server for req on sock; takes ownership of sock. The outcome is reported. */
void start_child(spawn_request *req, int sock);
/* Children the daemon signalled that have not been reaped yet. */
int signalled_left(void);

#endif
