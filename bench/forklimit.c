/*
 * forklimit.c - the benchmark's "fork limit" baseline (built by bench/run.mjs): the least a
 * spawn-per-connection server can do. Blocking accept, fork, the socket on fds 0, 1 and 2
 * (as xinetd gives it), exec; the parent closes its copy and accepts again. Children are
 * reaped by the kernel (SIGCHLD ignored). No logging, no access checks, no limits.
 *
 * usage: forklimit PORT PROGRAM [ARGS...]     (listens on 127.0.0.1:PORT, backlog 1024)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("usage: forklimit PORT PROGRAM [ARGS...]\n", stderr);
        return 2;
    }
    int port = atoi(argv[1]);
    if (port <= 0 || port > 65535) {
        fputs("forklimit: bad port\n", stderr);
        return 2;
    }
    signal(SIGCHLD, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(listener, 1024) < 0) {
        perror("forklimit: bind/listen");
        return 1;
    }
    for (;;) {
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) usleep(1000);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGCHLD, SIG_DFL);
            signal(SIGPIPE, SIG_DFL);
            /* dup2 leaves the copies without FD_CLOEXEC; the original closes at exec. */
            if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0 || dup2(conn, 2) < 0) _exit(126);
            execv(argv[2], &argv[2]);
            _exit(127);
        }
        if (pid < 0) perror("forklimit: fork");
        close(conn);
    }
}
