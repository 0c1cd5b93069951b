/*
 * child.h - one spawn request as the helper understands it, and the code that runs in the
 * forked child: the xinetd child set-up (signals, session, fds 0-2, credentials, umask,
 * nice, rlimits, working directory) followed by execve.
 */
#ifndef TSINETD_CHILD_H
#define TSINETD_CHILD_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "spawnd-protocol.h"

enum rlimit_slot { RL_AS, RL_CPU, RL_DATA, RL_RSS, RL_STACK, RL_FILES, RL_COUNT };

typedef struct {
    long long id;
    const char *path;
    char **argv;          /* NULL-terminated */
    char **envp;          /* NULL-terminated */
    int has_uid, has_gid, has_groups, has_nice;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    size_t ngroups;
    mode_t umask;
    int nice;
    int rlimit_set[RL_COUNT];
    rlim_t rlimit[RL_COUNT];
} spawn_request;

/* What went wrong in the child before or at execve (enum child_stage, from the generated
 * spawnd-protocol.h); sent to the parent through a pipe. */
typedef struct {
    int stage;
    int err;
} child_report;

const char *child_stage_name(int stage);

/* Signals the helper ignores (all others keep the default action); children get them back. */
extern const int helper_ignored[4];

/*
 * Where a child says what failed before its exec. A forked child writes a child_report to
 * `fd`, the write end of a close-on-exec pipe (EOF: the exec worked). A child that shares the
 * helper's memory (clone with CLONE_VM | CLONE_VFORK: the helper is suspended until the child
 * execs or exits) stores it in `*shared` instead, where the helper reads it when clone returns;
 * such a child only makes system calls: no malloc, no stdio, no library state.
 */
typedef struct {
    int fd;                         /* forked child: the pipe; -1 otherwise */
    volatile child_report *shared;  /* child sharing the helper's memory; NULL otherwise */
} child_outcome;

/*
 * Runs in the freshly started child (SIGCHLD blocked, helper_ignored ignored). Makes `sock` fds 0, 1 and 2,
 * closes every other descriptor (except the report pipe, which is close-on-exec), applies the
 * request and execs. On failure reports as `out` says and exits with status 127.
 */
void child_exec(const spawn_request *req, int sock, child_outcome out) __attribute__((noreturn));

/* Whether the kernel has close_range(2), which a child sharing the helper's memory needs. */
int child_can_share_vm(void);

#endif
