/*
 * accept.h - listening sockets the helper accepts on for the daemon, and the accepted
 * connections that wait for the daemon's decision (serve, refuse, or answer in its name).
 *
 * The daemon keeps every decision (access lists, limits, rates, logging); the helper only does
 * the descriptor work: accept, report the peer, then hand the connection to a forked server,
 * write a reply the daemon computed, or close it. This keeps accepted sockets out of the
 * daemon altogether, so that the daemon never creates, passes or closes them.
 */
#ifndef TSINETD_ACCEPT_H
#define TSINETD_ACCEPT_H

#include <poll.h>
#include <stddef.h>

/* Accepted connections waiting for a decision, at most; beyond, listeners are not watched. */
#define ACC_MAX_PENDING 1024
/* Connections accepted per listener per wake-up. */
#define ACC_BURST 32
/* How long a listener rests after accept failed for lack of descriptors. */
#define ACC_REST_MS 1000

/* Called for each accepted connection: the peer as Node writes it ("::ffff:127.0.0.1"), and our
 * end of it (the address the client connected to; "" when getsockname failed). */
typedef void (*acc_conn_fn)(long long lid, long long cid, const char *addr, int port, const char *laddr);
/* Called when accept fails with an error worth reporting (EMFILE, ENFILE, ENOBUFS, ENOMEM). */
typedef void (*acc_error_fn)(long long lid, int err);

/* Starts accepting on fd for listener lid (takes ownership of fd; replaces an earlier fd of
 * the same lid). Returns 0, or -1 with errno. */
int acc_listen(long long lid, int fd);

/* Stops accepting for lid and closes the helper's copy. Connections already accepted stay
 * pending until decided. Returns 0, or -1 when lid is unknown. */
int acc_unlisten(long long lid);

/* Pauses (paused = 1) or resumes (0) accepting for lid without closing its socket: while paused
 * the listener is not polled, so clients wait in the kernel's listen queue (FreeBSD inetd's
 * max-child). A new fd given to acc_listen() for lid keeps the state. Returns 0, or -1 when lid
 * is unknown. */
int acc_pause(long long lid, int paused);

/* Brings the set of watched listeners up to date (a rest that ended, pending slots all taken or
 * free again) and writes to p[0] the one descriptor that stands for all of them (an epoll set);
 * returns 1, or 0 before the first listener. Each wake-up costs the same however many listeners
 * there are. */
size_t acc_watch_fill(struct pollfd *p, long long now_ms);

/* Accepts what is waiting on the listeners that are ready (the descriptor of acc_watch_fill was
 * readable), reporting each connection or error. */
void acc_ready_all(long long now_ms, acc_conn_fn on_conn, acc_error_fn on_error);

/* Forgets pending connection cid and returns its descriptor (the caller owns it), or -1. */
int acc_take(long long cid);

/* Room for a peer as format_peer writes it (address, `%`, interface name). */
#define ACC_PEER_TEXT_MAX (46 + 16 + 1)

/* Learns the sender of the first datagram queued on bound datagram socket fd without reading
 * it (recvfrom with MSG_PEEK | MSG_TRUNC into one byte; fd stays the caller's, and its
 * datagram stays queued for the server). The peer is written as acc_conn_fn gets it, in addr
 * (ACC_PEER_TEXT_MAX bytes). Returns 0, or -1 with errno: EAGAIN when nothing is queued,
 * EAFNOSUPPORT for a sender that is not an IP address. */
int acc_peek_sender(int fd, char *addr, size_t len, int *port);

/* Listeners held. */
size_t acc_listener_count(void);

/* Milliseconds until a resting listener is watched again, or -1 when none rests. */
int acc_next_timeout(long long now_ms);

#endif
