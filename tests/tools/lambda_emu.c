/* SPDX-License-Identifier: MIT */
/*
 * lambda_emu.c: a small AWS Lambda emulator for the runtime's tests (test-only tool, not
 * shipped). It runs N real `quack` runtime processes and speaks both sides of Lambda:
 *
 *   Invoke API (the --port listener), the way AWS's runtime interface emulator answers it:
 *     POST /2015-03-31/functions/{name}/invocations   body = event; waits for the function:
 *          200 + the response, or 200 + X-Amz-Function-Error: Unhandled + the error JSON
 *     GET  /emu/status   (emulator only) runtimes, their pids, states and counters, as JSON
 *   Runtime API 2018-06-01 (one listener per runtime, so a request tells which process sent
 *   it; each process gets its own AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT):
 *     GET  /2018-06-01/runtime/invocation/next            blocks until an event is queued
 *     POST /2018-06-01/runtime/invocation/{id}/response   202, or 413 past --max-response
 *     POST /2018-06-01/runtime/invocation/{id}/error      202
 *     POST /2018-06-01/runtime/init/error                 202; the process is then expected
 *                                                         to exit (killed after 2 s)
 *
 * Lambda's behaviour it reproduces: one event at a time per runtime; the timeout counts from
 * the event's delivery and kills the process ("Sandbox.Timedout", "Task timed out after X
 * seconds"); a response over the cap fails the invocation ("Function.ResponseSizeTooLarge");
 * a process that dies is replaced (its invocation fails with "Runtime.ExitError"); a process
 * that fails before its first /next has failed init: it is started again only when an
 * invocation needs it, and that invocation gets the init error. Each process starts with a
 * fresh HOME and TMPDIR under the work dir, cwd = a task dir, and the emulator's environment
 * minus QUACK_*, AWS_LAMBDA_*, HOME and TMPDIR, plus --lake and --env. Answers carry an extra
 * X-Emu-Runtime: SLOT/PID header naming the process that answered.
 *
 * Threads: libmicrohttpd thread-per-connection daemons (handlers block on one condition
 * variable); the main thread reaps children, enforces timeouts, restarts processes and waits
 * for SIGTERM/SIGINT, then fails what is pending, stops the children and exits 0. All shared
 * state is under one mutex.
 */
#include "core/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define LAMBDA_MAX_RESPONSE 6291556 /* bytes: Lambda's synchronous response limit */
#define LAMBDA_MAX_REQUEST 6291456  /* bytes: Lambda's synchronous request limit */
#define INIT_KILL_GRACE_MS 2000
#define STOP_GRACE_MS 3000
#define TICK_MS 20
#define MAX_RUNTIMES 64
#define MAX_ENV 64
#define ERROR_BODY_MAX 65536

enum { S_STARTING, S_READY, S_BUSY, S_INIT_FAILED, S_DEAD };
static const char *const state_names[] = {"starting", "ready", "busy", "init_failed", "dead"};
enum { I_QUEUED, I_RUNNING, I_DONE };

typedef struct inv {
    char id[37];
    char *event;
    size_t event_len;
    int state;
    int slot;       /* runtime that got it, -1 before */
    pid_t pid;      /* its process */
    int64_t t_sent; /* monotonic ms when the runtime got the event */
    bool fn_error;  /* the answer is a function error */
    char *result;
    size_t result_len;
    struct inv *next;
} inv;

typedef struct slot {
    int index;
    pid_t pid;
    int state;
    unsigned gen;      /* bumped at each start: a stale /next of a dead process gives up */
    bool reached_next; /* this process asked for an event: its init is over */
    inv *cur;
    char *init_error; /* body posted to /init/error, or the generic exit error */
    int64_t kill_at;  /* monotonic ms: kill an init-failed process still running */
    int restarts;
    uint64_t invocations;
    struct MHD_Daemon *d;
    int port;
    struct emu *emu;
} slot;

typedef struct emu {
    /* options */
    const char *bin, *lake, *port_file, *function, *work_dir_opt;
    int runtimes, port, memory_mb;
    int64_t timeout_ms, deadline_extra_ms;
    size_t max_response, max_request;
    const char *env[MAX_ENV];
    int nenv;
    /* state (mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    inv *qhead, *qtail;
    slot slots[MAX_RUNTIMES];
    bool stopping;
    uint64_t invoked;
    struct MHD_Daemon *d;
    char work_dir[4096];
} emu;

/* Per-request state of a connection (both kinds of listener). */
typedef struct req {
    qk_buf body;
    bool too_big;
    char error_type[128];
} req;

/* ---- helpers ------------------------------------------------------------------------------ */

/* {"errorMessage":..,"errorType":..} as a heap string. */
static char *error_json(size_t *len, const char *type, const char *fmt, ...) QK_PRINTF(3, 4);
static char *error_json(size_t *len, const char *type, const char *fmt, ...)
{
    char msg[1024];
    qk_buf b;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    qk_buf_init(&b, 8192);
    qk_buf_adds(&b, "{\"errorMessage\":");
    qk_buf_add_json_str(&b, msg, strlen(msg));
    qk_buf_adds(&b, ",\"errorType\":");
    qk_buf_add_json_str(&b, type, strlen(type));
    qk_buf_addc(&b, '}');
    return qk_buf_detach(&b, len);
}

static char *dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void log_event(qk_log_level lvl, const char *event, const char *fmt, ...) QK_PRINTF(3, 4);
static void log_event(qk_log_level lvl, const char *event, const char *fmt, ...)
{
    char fields[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fields, sizeof fields, fmt, ap);
    va_end(ap);
    qk_log(lvl, event, "%s", fields);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             const char *const *headers)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    for (int i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(r, headers[i], headers[i + 1]);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *type,
                                   const char *msg)
{
    size_t len;
    char *b = error_json(&len, type, "%s", msg);
    return reply(c, status, b, len, NULL);
}

/* ---- invocations (called with mu held) ---------------------------------------------------- */

/* Finish an invocation with its answer (the first answer wins; result is taken over). */
static void complete(emu *e, inv *v, bool fn_error, char *result, size_t len)
{
    if (v->state == I_DONE) {
        free(result);
        return;
    }
    if (v->slot >= 0 && e->slots[v->slot].cur == v) {
        e->slots[v->slot].cur = NULL;
        if (e->slots[v->slot].state == S_BUSY) e->slots[v->slot].state = S_READY;
    }
    v->state = I_DONE;
    v->fn_error = fn_error;
    v->result = result;
    v->result_len = len;
    pthread_cond_broadcast(&e->cv);
}

/* Finish an invocation with a function error {"errorMessage":fmt...,"errorType":type}. */
static void fail_inv(emu *e, inv *v, const char *type, const char *fmt, ...) QK_PRINTF(4, 5);
static void fail_inv(emu *e, inv *v, const char *type, const char *fmt, ...)
{
    char msg[1024], *body;
    size_t len;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    body = error_json(&len, type, "%s", msg);
    complete(e, v, true, body, len);
}

static inv *dequeue(emu *e)
{
    inv *v = e->qhead;
    if (v) {
        e->qhead = v->next;
        if (!e->qhead) e->qtail = NULL;
        v->next = NULL;
    }
    return v;
}

static bool any_alive(const emu *e)
{
    for (int i = 0; i < e->runtimes; i++)
        if (e->slots[i].state == S_STARTING || e->slots[i].state == S_READY ||
            e->slots[i].state == S_BUSY || e->slots[i].state == S_DEAD)
            return true;
    return false;
}

/* ---- child processes (main thread only) --------------------------------------------------- */

static bool env_dropped(const char *kv)
{
    static const char *const prefixes[] = {
        "QUACK_", "AWS_LAMBDA_", "_X_AMZN_", "HOME=", "TMPDIR=", "LAMBDA_", "_HANDLER=", NULL};
    for (int i = 0; prefixes[i]; i++)
        if (qk_str_startswith(kv, prefixes[i])) return true;
    return false;
}

/* The environment of slot s's process, in a, NULL-terminated. */
static char **child_env(emu *e, slot *s, qk_arena *a)
{
    size_t n = 0, cap = 32 + MAX_ENV;
    char **env;
    for (char **p = environ; *p; p++)
        cap++;
    if (!(env = qk_arena_alloc(a, cap * sizeof *env))) return NULL;
    for (int i = 0; i < e->nenv; i++) /* first: getenv takes the first match */
        env[n++] = (char *)e->env[i];
    env[n++] = qk_arena_printf(a, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", s->port);
    env[n++] = qk_arena_printf(a, "AWS_LAMBDA_FUNCTION_NAME=%s", e->function);
    env[n++] = qk_arena_strdup(a, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST");
    env[n++] = qk_arena_printf(a, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", e->memory_mb);
    env[n++] = qk_arena_printf(a, "HOME=%s/rt%d/home", e->work_dir, s->index);
    env[n++] = qk_arena_printf(a, "TMPDIR=%s/rt%d/tmp", e->work_dir, s->index);
    env[n++] = qk_arena_printf(a, "LAMBDA_TASK_ROOT=%s/task", e->work_dir);
    if (e->lake) env[n++] = qk_arena_printf(a, "QUACK_LAKE=%s", e->lake);
    for (char **p = environ; *p; p++)
        if (!env_dropped(*p)) env[n++] = *p;
    env[n] = NULL;
    return env;
}

static int fresh_dirs(emu *e, slot *s)
{
    char p[4200];
    qk_err err = {0};
    snprintf(p, sizeof p, "%s/rt%d", e->work_dir, s->index);
    qk_rmtree(p, false, NULL);
    snprintf(p, sizeof p, "%s/rt%d/home", e->work_dir, s->index);
    if (qk_mkdirs(p, &err)) return -1;
    snprintf(p, sizeof p, "%s/rt%d/tmp", e->work_dir, s->index);
    return qk_mkdirs(p, &err) ? -1 : 0;
}

/* Start slot s's process: a fresh environment, as Lambda makes one. */
static void spawn(emu *e, slot *s)
{
    qk_arena a;
    char task[4200], **env;
    char *argv[2] = {(char *)e->bin, NULL};
    pid_t parent = getpid(), pid;
    qk_arena_init(&a, 0);
    snprintf(task, sizeof task, "%s/task", e->work_dir);
    if (fresh_dirs(e, s) != 0 || !(env = child_env(e, s, &a))) {
        log_event(QK_LOG_ERROR, "emu_spawn_failed", "\"slot\":%d", s->index);
        s->state = S_DEAD;
        qk_arena_free(&a);
        return;
    }
    pid = fork();
    if (pid == 0) {
        sigset_t all;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        if (chdir(task) != 0) _exit(126);
        execve(e->bin, argv, env);
        _exit(127);
    }
    qk_arena_free(&a);
    s->gen++;
    s->reached_next = false;
    s->kill_at = 0;
    free(s->init_error);
    s->init_error = NULL;
    if (pid < 0) {
        log_event(QK_LOG_ERROR, "emu_spawn_failed", "\"slot\":%d,\"errno\":%d", s->index, errno);
        s->state = S_DEAD;
        return;
    }
    s->pid = pid;
    s->state = S_STARTING;
    pthread_cond_broadcast(&e->cv); /* a stale /next of the previous process gives up */
    log_event(QK_LOG_INFO, "emu_runtime_start", "\"slot\":%d,\"pid\":%d,\"port\":%d", s->index,
              (int)pid, s->port);
}

static void describe_exit(int status, char *buf, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "signal: %s",
                 WTERMSIG(status) == SIGKILL ? "killed" : strsignal(WTERMSIG(status)));
    else
        snprintf(buf, cap, "exit status %d", WEXITSTATUS(status));
}

/* Slot s's process ended with status. */
static void on_exit_status(emu *e, slot *s, int status)
{
    char why[64];
    size_t len;
    describe_exit(status, why, sizeof why);
    log_event(QK_LOG_INFO, "emu_runtime_exit", "\"slot\":%d,\"pid\":%d,\"status\":\"%s\"", s->index,
              (int)s->pid, why);
    s->pid = 0;
    s->gen++; /* a /next still waiting for the dead process gives up */
    pthread_cond_broadcast(&e->cv);
    if (s->cur)
        fail_inv(e, s->cur, "Runtime.ExitError",
                 "RequestId: %s Error: Runtime exited with error: %s", s->cur->id, why);
    if (e->stopping) {
        s->state = S_DEAD;
        return;
    }
    if (s->reached_next) {
        s->state = S_DEAD; /* restarted by the next tick */
        s->restarts++;
        return;
    }
    s->state = S_INIT_FAILED;
    if (!s->init_error)
        s->init_error =
            error_json(&len, "Runtime.ExitError", "Error: Runtime exited %s (%s)",
                       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "without providing a reason"
                                                                     : "with error",
                       why);
    /* This init was for the oldest waiting invocation: it gets the error. */
    if (e->qhead && !any_alive(e)) {
        inv *v = dequeue(e);
        complete(e, v, true, dup_bytes(s->init_error, strlen(s->init_error)),
                 strlen(s->init_error));
    }
}

static void reap(emu *e)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (int i = 0; i < e->runtimes; i++)
            if (e->slots[i].pid == pid) on_exit_status(e, &e->slots[i], status);
}

/* Timeouts, stuck init failures, restarts. */
static void tick(emu *e)
{
    int64_t now = qk_now_ms();
    bool started = false;
    reap(e);
    for (int i = 0; i < e->runtimes; i++) {
        slot *s = &e->slots[i];
        if (s->cur && s->cur->state == I_RUNNING && e->timeout_ms > 0 &&
            now - s->cur->t_sent > e->timeout_ms) {
            log_event(QK_LOG_WARN, "emu_timeout", "\"slot\":%d,\"pid\":%d,\"requestId\":\"%s\"", i,
                      (int)s->pid, s->cur->id);
            fail_inv(e, s->cur, "Sandbox.Timedout",
                     "RequestId: %s Error: Task timed out after %.2f seconds", s->cur->id,
                     (double)e->timeout_ms / 1000.0);
            if (s->pid > 0) kill(s->pid, SIGKILL);
        }
        if (s->state == S_INIT_FAILED && s->pid > 0 && s->kill_at && now > s->kill_at)
            kill(s->pid, SIGKILL);
        if (s->state == S_DEAD && s->pid == 0 && !e->stopping) spawn(e, s);
    }
    /* Init failed everywhere and work is waiting: try a new environment for it. */
    if (e->qhead && !e->stopping && !any_alive(e))
        for (int i = 0; i < e->runtimes && !started; i++)
            if (e->slots[i].state == S_INIT_FAILED && e->slots[i].pid == 0) {
                spawn(e, &e->slots[i]);
                started = true;
            }
}

/* ---- the Runtime API (one daemon per slot) ------------------------------------------------ */

/* Wait (mu held) for an event for slot s and hand it to s; NULL when the emulator stops or
 * s's process was replaced meanwhile. */
static inv *take_event(emu *e, slot *s)
{
    unsigned gen = s->gen;
    inv *v;
    if (!s->reached_next)
        log_event(QK_LOG_INFO, "emu_runtime_ready", "\"slot\":%d,\"pid\":%d", s->index,
                  (int)s->pid);
    s->reached_next = true;
    if (s->state == S_STARTING) s->state = S_READY;
    if (s->cur)
        fail_inv(e, s->cur, "Runtime.MissingResponse",
                 "RequestId: %s Error: the runtime asked for the next event without answering "
                 "this one",
                 s->cur->id);
    while (!e->stopping && gen == s->gen && !e->qhead)
        pthread_cond_wait(&e->cv, &e->mu);
    if (e->stopping || gen != s->gen) return NULL;
    v = dequeue(e);
    v->state = I_RUNNING;
    v->slot = s->index;
    v->pid = s->pid;
    v->t_sent = qk_now_ms();
    s->cur = v;
    s->state = S_BUSY;
    s->invocations++;
    return v;
}

/* The event and its Lambda-Runtime-* headers (mu held: MHD copies the header values). */
static enum MHD_Result send_event(emu *e, struct MHD_Connection *c, const inv *v)
{
    char deadline[32], trace[128], arn[512], hex[37];
    const char *headers[9];
    snprintf(deadline, sizeof deadline, "%lld",
             (long long)qk_epoch_ms() + (long long)(e->timeout_ms + e->deadline_extra_ms));
    qk_uuid4(hex);
    snprintf(trace, sizeof trace, "Root=1-%08llx-%.8s%.4s%.4s%.8s;Parent=%.8s%.4s%.4s;Sampled=0",
             (unsigned long long)(qk_epoch_ms() / 1000), hex, hex + 9, hex + 14, hex + 19, v->id,
             v->id + 9, v->id + 14);
    snprintf(arn, sizeof arn, "arn:aws:lambda:us-east-1:000000000000:function:%s", e->function);
    headers[0] = "Lambda-Runtime-Aws-Request-Id", headers[1] = v->id;
    headers[2] = "Lambda-Runtime-Deadline-Ms", headers[3] = deadline;
    headers[4] = "Lambda-Runtime-Invoked-Function-Arn", headers[5] = arn;
    headers[6] = "Lambda-Runtime-Trace-Id", headers[7] = trace;
    headers[8] = NULL;
    return reply(c, 200, dup_bytes(v->event, v->event_len), v->event_len, headers);
}

static enum MHD_Result rt_next(slot *s, struct MHD_Connection *c)
{
    emu *e = s->emu;
    enum MHD_Result r;
    inv *v;
    pthread_mutex_lock(&e->mu);
    if (!(v = take_event(e, s))) {
        pthread_mutex_unlock(&e->mu);
        return reply_error(c, 500, "ServiceException", "the execution environment is going away");
    }
    r = send_event(e, c, v);
    pthread_mutex_unlock(&e->mu);
    return r;
}

/* POST .../invocation/{id}/response or /error. */
static enum MHD_Result rt_answer(slot *s, struct MHD_Connection *c, req *q, const char *id,
                                 bool is_error)
{
    emu *e = s->emu;
    size_t len;
    char *result;
    pthread_mutex_lock(&e->mu);
    if (!s->cur || strcmp(s->cur->id, id) != 0) {
        pthread_mutex_unlock(&e->mu);
        return reply_error(c, 400, "InvalidRequestID",
                           "no invocation with this id is in progress on this runtime");
    }
    if (q->too_big) {
        fail_inv(e, s->cur, "Function.ResponseSizeTooLarge",
                 "Response payload size exceeded maximum allowed payload size (%zu "
                 "bytes).",
                 e->max_response);
        pthread_mutex_unlock(&e->mu);
        result = error_json(&len, "RequestEntityTooLarge",
                            "Exceeded maximum allowed payload size (%zu bytes).", e->max_response);
        return reply(c, 413, result, len, NULL);
    }
    if (is_error && q->body.len == 0)
        result = error_json(&len, q->error_type[0] ? q->error_type : "Runtime.Unknown", "%s",
                            "the runtime reported an error without a body");
    else
        result = dup_bytes(q->body.data ? q->body.data : "", len = q->body.len);
    complete(e, s->cur, is_error, result, len);
    pthread_mutex_unlock(&e->mu);
    return reply(c, 202, dup_bytes("{\"status\":\"OK\"}", 15), 15, NULL);
}

static enum MHD_Result rt_init_error(slot *s, struct MHD_Connection *c, req *q)
{
    emu *e = s->emu;
    size_t len = q->body.len < ERROR_BODY_MAX ? q->body.len : ERROR_BODY_MAX;
    pthread_mutex_lock(&e->mu);
    if (s->reached_next) {
        pthread_mutex_unlock(&e->mu);
        return reply_error(c, 403, "InvalidStateTransition",
                           "init/error after the runtime asked for an event");
    }
    free(s->init_error);
    s->init_error = len ? dup_bytes(q->body.data, len)
                        : error_json(&len, q->error_type[0] ? q->error_type : "Runtime.Unknown",
                                     "%s", "init failed without a reason");
    s->state = S_INIT_FAILED;
    s->kill_at = qk_now_ms() + INIT_KILL_GRACE_MS;
    log_event(QK_LOG_WARN, "emu_init_error", "\"slot\":%d,\"pid\":%d", s->index, (int)s->pid);
    pthread_mutex_unlock(&e->mu);
    return reply(c, 202, dup_bytes("{\"status\":\"OK\"}", 15), 15, NULL);
}

/* Route a complete request on a runtime's listener. */
static enum MHD_Result rt_route(slot *s, struct MHD_Connection *c, const char *url,
                                const char *method, req *q)
{
    static const char prefix[] = "/2018-06-01/runtime/";
    const char *p = url + sizeof prefix - 1, *slash;
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char id[64];
    if (!qk_str_startswith(url, prefix)) return reply_error(c, 404, "NotFound", "no such path");
    if (strcmp(p, "invocation/next") == 0)
        return get ? rt_next(s, c) : reply_error(c, 405, "MethodNotAllowed", "use GET");
    if (strcmp(p, "init/error") == 0)
        return post ? rt_init_error(s, c, q) : reply_error(c, 405, "MethodNotAllowed", "use POST");
    if (qk_str_startswith(p, "invocation/") && (slash = strchr(p + 11, '/')) &&
        (size_t)(slash - (p + 11)) < sizeof id) {
        memcpy(id, p + 11, (size_t)(slash - (p + 11)));
        id[slash - (p + 11)] = '\0';
        if (!post) return reply_error(c, 405, "MethodNotAllowed", "use POST");
        if (strcmp(slash, "/response") == 0) return rt_answer(s, c, q, id, false);
        if (strcmp(slash, "/error") == 0) return rt_answer(s, c, q, id, true);
    }
    return reply_error(c, 404, "NotFound", "no such path");
}

/* ---- request plumbing shared by both listeners -------------------------------------------- */

/* First call: make the request state. Body calls: collect up to cap (the rest is dropped and
 * the request marked too big). Returns true when the request is complete and q is ready. */
static bool collect(struct MHD_Connection *c, void **con_cls, const char *data, size_t *n,
                    size_t cap, req **out, enum MHD_Result *ret)
{
    req *q = *con_cls;
    *ret = MHD_YES;
    if (!q) {
        const char *t;
        if (!(q = calloc(1, sizeof *q))) {
            *ret = MHD_NO;
            return false;
        }
        qk_buf_init(&q->body, cap);
        t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Lambda-Runtime-Function-Error-Type");
        if (t) qk_strlcpy(q->error_type, t, sizeof q->error_type);
        *con_cls = q;
        return false;
    }
    if (*n) {
        if (!q->too_big && qk_buf_add(&q->body, data, *n) != 0) q->too_big = true;
        *n = 0;
        return false;
    }
    *out = q;
    return true;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req *q = *con_cls;
    (void)cls, (void)c, (void)toe;
    if (!q) return;
    qk_buf_free(&q->body);
    free(q);
    *con_cls = NULL;
}

static enum MHD_Result on_runtime_request(void *cls, struct MHD_Connection *c, const char *url,
                                          const char *method, const char *version, const char *data,
                                          size_t *n, void **con_cls)
{
    slot *s = cls;
    req *q = NULL;
    enum MHD_Result ret;
    (void)version;
    if (!collect(c, con_cls, data, n, s->emu->max_response, &q, &ret)) return ret;
    return rt_route(s, c, url, method, q);
}

/* ---- the Invoke API ----------------------------------------------------------------------- */

/* Queue v and wait until a runtime (or a failure) answered it; false when stopping. */
static bool run_invocation(emu *e, inv *v)
{
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pthread_mutex_unlock(&e->mu);
        return false;
    }
    if (e->qtail)
        e->qtail->next = v;
    else
        e->qhead = v;
    e->qtail = v;
    e->invoked++;
    pthread_cond_broadcast(&e->cv);
    while (v->state != I_DONE)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    return true;
}

/* 200 with the function's answer, as the Invoke API gives it; frees v. */
static enum MHD_Result answer(struct MHD_Connection *c, inv *v)
{
    const char *headers[9];
    char tag[32];
    enum MHD_Result r;
    int n = 0;
    snprintf(tag, sizeof tag, "%d/%d", v->slot, (int)v->pid);
    headers[n++] = "x-amzn-RequestId", headers[n++] = v->id;
    headers[n++] = "X-Amz-Executed-Version", headers[n++] = "$LATEST";
    if (v->slot >= 0) headers[n++] = "X-Emu-Runtime", headers[n++] = tag;
    if (v->fn_error) headers[n++] = "X-Amz-Function-Error", headers[n++] = "Unhandled";
    headers[n] = NULL;
    log_event(QK_LOG_INFO, "emu_invoke", "\"requestId\":\"%s\",\"slot\":%d,\"functionError\":%s",
              v->id, v->slot, v->fn_error ? "true" : "false");
    r = reply(c, 200, v->result, v->result_len, headers);
    free(v->event);
    free(v);
    return r;
}

static enum MHD_Result invoke(emu *e, struct MHD_Connection *c, req *q)
{
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Invocation-Type");
    inv *v;
    if (q->too_big) {
        size_t len;
        char *b = error_json(&len, "RequestEntityTooLargeException",
                             "Request must be smaller than %zu bytes for the InvokeFunction "
                             "operation",
                             e->max_request);
        return reply(c, 413, b, len, NULL);
    }
    if (type && strcmp(type, "RequestResponse") != 0)
        return reply_error(c, 400, "InvalidParameterValueException",
                           "this emulator supports only X-Amz-Invocation-Type: RequestResponse");
    if (!(v = calloc(1, sizeof *v))) return MHD_NO;
    qk_uuid4(v->id);
    v->slot = -1;
    v->event_len = q->body.len;
    v->event = dup_bytes(q->body.data ? q->body.data : "", v->event_len);
    if (run_invocation(e, v)) return answer(c, v);
    free(v->event);
    free(v);
    return reply_error(c, 503, "ServiceException", "the emulator is stopping");
}

static enum MHD_Result status(emu *e, struct MHD_Connection *c)
{
    qk_buf b;
    size_t q = 0;
    qk_buf_init(&b, 1 << 20);
    pthread_mutex_lock(&e->mu);
    for (inv *v = e->qhead; v; v = v->next)
        q++;
    qk_buf_printf(&b, "{\"queued\":%zu,\"invoked\":%llu,\"runtimes\":[", q,
                  (unsigned long long)e->invoked);
    for (int i = 0; i < e->runtimes; i++) {
        slot *s = &e->slots[i];
        qk_buf_printf(&b,
                      "%s{\"slot\":%d,\"pid\":%d,\"state\":\"%s\",\"port\":%d,\"restarts\":%d,"
                      "\"invocations\":%llu,\"requestId\":",
                      i ? "," : "", i, (int)s->pid, state_names[s->state], s->port, s->restarts,
                      (unsigned long long)s->invocations);
        if (s->cur)
            qk_buf_printf(&b, "\"%s\"}", s->cur->id);
        else
            qk_buf_adds(&b, "null}");
    }
    qk_buf_adds(&b, "]}");
    pthread_mutex_unlock(&e->mu);
    size_t len;
    char *data = qk_buf_detach(&b, &len);
    return reply(c, 200, data, len, NULL);
}

static enum MHD_Result on_invoke_request(void *cls, struct MHD_Connection *c, const char *url,
                                         const char *method, const char *version, const char *data,
                                         size_t *n, void **con_cls)
{
    static const char prefix[] = "/2015-03-31/functions/";
    emu *e = cls;
    req *q = NULL;
    const char *p = url + sizeof prefix - 1, *slash;
    enum MHD_Result ret;
    (void)version;
    if (!collect(c, con_cls, data, n, e->max_request, &q, &ret)) return ret;
    if (strcmp(url, "/emu/status") == 0) return status(e, c);
    if (qk_str_startswith(url, prefix) && (slash = strchr(p, '/')) && slash > p &&
        strcmp(slash, "/invocations") == 0) {
        if (strcmp(method, "POST") != 0) return reply_error(c, 405, "MethodNotAllowed", "use POST");
        return invoke(e, c, q);
    }
    return reply_error(c, 404, "ResourceNotFoundException",
                       "no such path: try POST /2015-03-31/functions/function/invocations");
}

/* ---- start, run, stop --------------------------------------------------------------------- */

static struct MHD_Daemon *listen_on(int port, MHD_AccessHandlerCallback cb, void *cls, int *bound)
{
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *di;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_POLL | MHD_USE_ERROR_LOG,
                         (uint16_t)port, NULL, NULL, cb, cls, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_END);
    if (!d) return NULL;
    di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *bound = di ? di->port : port;
    return d;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4200];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "w"))) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) return -1;
    return 0;
}

/* Fail everything pending, stop the children (SIGTERM, then SIGKILL after a grace period). */
static void shutdown_all(emu *e)
{
    int64_t deadline = qk_now_ms() + STOP_GRACE_MS;
    bool alive = true;
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    for (inv *v; (v = dequeue(e));)
        fail_inv(e, v, "ServiceException", "the emulator is stopping");
    for (int i = 0; i < e->runtimes; i++) {
        if (e->slots[i].cur)
            fail_inv(e, e->slots[i].cur, "ServiceException", "the emulator is stopping");
        if (e->slots[i].pid > 0) kill(e->slots[i].pid, SIGTERM);
    }
    pthread_cond_broadcast(&e->cv);
    while (alive && qk_now_ms() < deadline) {
        struct timespec ts = {0, TICK_MS * 1000000L};
        reap(e);
        alive = false;
        for (int i = 0; i < e->runtimes; i++)
            alive = alive || e->slots[i].pid > 0;
        pthread_mutex_unlock(&e->mu);
        if (alive) nanosleep(&ts, NULL);
        pthread_mutex_lock(&e->mu);
    }
    for (int i = 0; i < e->runtimes; i++)
        if (e->slots[i].pid > 0) {
            kill(e->slots[i].pid, SIGKILL);
            waitpid(e->slots[i].pid, NULL, 0);
            e->slots[i].pid = 0;
        }
    pthread_mutex_unlock(&e->mu);
}

static const char usage[] =
    "Usage: lambda_emu --bin QUACK [OPTIONS]\n"
    "\n"
    "A small AWS Lambda emulator for tests: the Invoke API on 127.0.0.1 and the Runtime API\n"
    "for N real runtime processes (see the comment at the top of tests/tools/lambda_emu.c).\n"
    "\n"
    "  --bin PATH             the function's bootstrap (the quack binary), required\n"
    "  --runtimes N           runtime processes (default 1, at most 64)\n"
    "  --lake DIR|URI         QUACK_LAKE for the runtimes (default: not set)\n"
    "  --timeout S            function timeout in seconds, fractions allowed (default 3)\n"
    "  --port N               Invoke API port, 0 = any (default 0)\n"
    "  --port-file FILE       write the Invoke API port to FILE once listening\n"
    "  --function NAME        function name in the ARN and AWS_LAMBDA_FUNCTION_NAME\n"
    "                         (default \"function\"; any name is accepted in the URL)\n"
    "  --memory MB            AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 1024)\n"
    "  --max-response SIZE    response cap (default 6291556, Lambda's)\n"
    "  --max-request SIZE     event cap of the Invoke API (default 6291456, Lambda's)\n"
    "  --deadline-extra-ms MS advertise a deadline MS later than the one enforced (to test\n"
    "                         a runtime that overruns; default 0)\n"
    "  --env KEY=VALUE        extra environment for the runtimes (repeatable)\n"
    "  --work-dir DIR         where HOME/TMPDIR of each runtime go (default: a new\n"
    "                         $TMPDIR/lambda-emu-XXXXXX, removed at exit)\n"
    "  -h, --help             this help\n"
    "\n"
    "Logs are JSON lines on stderr (the runtimes' logs too). SIGTERM/SIGINT: pending\n"
    "invocations fail, runtimes get SIGTERM (SIGKILL after 3 s), exit 0.\n";

static int parse_args(emu *e, int argc, char **argv, qk_err *err)
{
    static const struct option opts[] = {{"bin", required_argument, NULL, 'b'},
                                         {"runtimes", required_argument, NULL, 'n'},
                                         {"lake", required_argument, NULL, 'l'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"port-file", required_argument, NULL, 'P'},
                                         {"function", required_argument, NULL, 'f'},
                                         {"memory", required_argument, NULL, 'm'},
                                         {"max-response", required_argument, NULL, 'R'},
                                         {"max-request", required_argument, NULL, 'Q'},
                                         {"deadline-extra-ms", required_argument, NULL, 'D'},
                                         {"env", required_argument, NULL, 'e'},
                                         {"work-dir", required_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int64_t v;
    uint64_t sz;
    int c, rc = 0;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            e->bin = optarg;
            break;
        case 'l':
            e->lake = optarg;
            break;
        case 'P':
            e->port_file = optarg;
            break;
        case 'f':
            e->function = optarg;
            break;
        case 'w':
            e->work_dir_opt = optarg;
            break;
        case 'n':
            rc = qk_parse_int64(optarg, 1, MAX_RUNTIMES, &v, "--runtimes", err);
            e->runtimes = (int)v;
            break;
        case 'p':
            rc = qk_parse_int64(optarg, 0, 65535, &v, "--port", err);
            e->port = (int)v;
            break;
        case 'm':
            rc = qk_parse_int64(optarg, 128, 10240, &v, "--memory", err);
            e->memory_mb = (int)v;
            break;
        case 't':
            rc = qk_parse_duration_ms(optarg, &e->timeout_ms, "--timeout", err);
            break;
        case 'D':
            rc = qk_parse_int64(optarg, 0, 3600000, &e->deadline_extra_ms, "--deadline-extra-ms",
                                err);
            break;
        case 'R':
            rc = qk_parse_size(optarg, &sz, "--max-response", err);
            e->max_response = (size_t)sz;
            break;
        case 'Q':
            rc = qk_parse_size(optarg, &sz, "--max-request", err);
            e->max_request = (size_t)sz;
            break;
        case 'e':
            if (e->nenv >= MAX_ENV || !strchr(optarg, '='))
                rc = qk_errf(err, QK_EINVAL, "--env: want KEY=VALUE (at most %d)", MAX_ENV);
            else
                e->env[e->nenv++] = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            rc = qk_errf(err, QK_EINVAL, "unknown option or missing value: %s", argv[optind - 1]);
        }
    }
    if (!rc && optind < argc)
        rc = qk_errf(err, QK_EINVAL, "unexpected argument '%s'", argv[optind]);
    if (rc) return rc;
    if (!e->bin) return qk_errf(err, QK_EINVAL, "--bin is required");
    if (access(e->bin, X_OK) != 0)
        return qk_errf(err, QK_EINVAL, "--bin %s: not an executable file", e->bin);
    return 0;
}

static int make_work_dir(emu *e, qk_err *err)
{
    char task[4200];
    if (e->work_dir_opt) {
        qk_strlcpy(e->work_dir, e->work_dir_opt, sizeof e->work_dir);
        if (qk_mkdirs(e->work_dir, err)) return -1;
    } else {
        snprintf(e->work_dir, sizeof e->work_dir, "%s/lambda-emu-XXXXXX",
                 qk_env_str("TMPDIR", "/tmp"));
        if (!mkdtemp(e->work_dir))
            return qk_errf(err, QK_EIO, "cannot create %s: %s", e->work_dir, strerror(errno));
    }
    snprintf(task, sizeof task, "%s/task", e->work_dir);
    return qk_mkdirs(task, err);
}

static int start(emu *e, qk_err *err)
{
    for (int i = 0; i < e->runtimes; i++) {
        slot *s = &e->slots[i];
        s->index = i;
        s->emu = e;
        s->state = S_DEAD;
        if (!(s->d = listen_on(0, on_runtime_request, s, &s->port)))
            return qk_errf(err, QK_EIO, "cannot listen for runtime %d", i);
    }
    if (!(e->d = listen_on(e->port, on_invoke_request, e, &e->port)))
        return qk_errf(err, QK_EIO, "cannot listen on 127.0.0.1 port %d", e->port);
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->runtimes; i++)
        spawn(e, &e->slots[i]);
    pthread_mutex_unlock(&e->mu);
    log_event(QK_LOG_INFO, "emu_listening",
              "\"url\":\"http://127.0.0.1:%d\",\"runtimes\":%d,\"timeoutMs\":%lld", e->port,
              e->runtimes, (long long)e->timeout_ms);
    if (e->port_file && write_port_file(e->port_file, e->port) != 0)
        return qk_errf(err, QK_EIO, "cannot write --port-file %s", e->port_file);
    return 0;
}

static void stop_daemons(emu *e)
{
    if (e->d) MHD_stop_daemon(e->d);
    for (int i = 0; i < e->runtimes; i++) {
        if (e->slots[i].d) MHD_stop_daemon(e->slots[i].d);
        free(e->slots[i].init_error);
    }
}

int main(int argc, char **argv)
{
    static emu e;
    qk_err err = {0};
    sigset_t set;
    int sig, rc = 0;
    e.runtimes = 1;
    e.function = "function";
    e.memory_mb = 1024;
    e.timeout_ms = 3000;
    e.max_response = LAMBDA_MAX_RESPONSE;
    e.max_request = LAMBDA_MAX_REQUEST;
    if (parse_args(&e, argc, argv, &err)) {
        fprintf(stderr, "lambda_emu: %s\n(see lambda_emu --help)\n", err.msg);
        return 2;
    }
    /* Signals go to the main thread only (sigtimedwait below), before any thread exists. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&e.mu, NULL);
    pthread_cond_init(&e.cv, NULL);
    if (make_work_dir(&e, &err) || start(&e, &err)) {
        fprintf(stderr, "lambda_emu: %s\n", err.msg);
        rc = 1;
    }
    while (!rc) {
        struct timespec ts = {0, TICK_MS * 1000000L};
        sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) break;
        pthread_mutex_lock(&e.mu);
        tick(&e);
        pthread_mutex_unlock(&e.mu);
    }
    shutdown_all(&e);
    stop_daemons(&e);
    if (!e.work_dir_opt && e.work_dir[0]) qk_rmtree(e.work_dir, false, NULL);
    log_event(QK_LOG_INFO, "emu_stopped", "\"invoked\":%llu", (unsigned long long)e.invoked);
    return rc;
}
