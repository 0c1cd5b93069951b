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

/* What went wrong in the child before or at execve; sent to the parent through a pipe. */
enum child_stage {
    STAGE_NONE = 0,
    STAGE_DUP2,
    STAGE_SETGROUPS,
    STAGE_SETGID,
    STAGE_SETUID,
    STAGE_EXEC,
};

typedef struct {
    int stage;
    int err;
} child_report;

const char *child_stage_name(int stage);

/* Signals the helper ignores (all others keep the default action); children get them back. */
extern const int helper_ignored[4];

/*
 * Runs in the freshly started child (SIGCHLD blocked, helper_ignored ignored). Makes `sock` fds 0, 1 and 2,
 * closes every other descriptor except `status_fd` (close-on-exec), applies the request and
 * execs. On failure writes a child_report to status_fd and exits with status 127.
 *
 * `shared_vm`: the child shares the helper's memory (clone with CLONE_VM | CLONE_VFORK, the
 * helper suspended until the exec), so it only makes system calls: no malloc, no stdio, no
 * library state. With 0 it is a forked copy and may fall back to reading /proc/self/fd.
 */
void child_exec(const spawn_request *req, int sock, int status_fd, int shared_vm) __attribute__((noreturn));

/* Whether the kernel has close_range(2), which a child sharing the helper's memory needs. */
int child_can_share_vm(void);

#endif
