/* Listening and accepting (see acceptor.h). */
#include "broker/acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/worker.h"
#include "core/alloc.h"

#define EMFILE_PAUSE_MS 100

static int bind_listener(struct smq_listener *l, const struct smq_config_listener *lc)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    const char *addr = lc->address;
    bool v6 = lc->socket_domain == SMQ_SOCKET_IPV6 ||
              (addr == NULL && lc->socket_domain == SMQ_SOCKET_ANY) ||
              (addr != NULL && strchr(addr, ':') != NULL);
    int rc = v6 ? uv_ip6_addr(addr ? addr : "::", lc->port, (struct sockaddr_in6 *)&ss)
                : uv_ip4_addr(addr ? addr : "0.0.0.0", lc->port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        return rc;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && v6 && addr == NULL) { /* no IPv6 here: fall back to every IPv4 address */
        uv_ip4_addr("0.0.0.0", lc->port, (struct sockaddr_in *)&ss);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0)
        return -errno;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lc->bind_interface &&
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, lc->bind_interface,
                   (socklen_t)strlen(lc->bind_interface)) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, lc->socket_domain == SMQ_SOCKET_IPV6 ? &one : &zero,
                   sizeof(int));
    socklen_t len = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    char host[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        snprintf(l->name, sizeof(l->name), "[%s]:%u", host, l->port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        snprintf(l->name, sizeof(l->name), "%s:%u", host, l->port);
    }
    l->fd = fd;
    return 0;
}

static void on_acceptable(uv_poll_t *poll, int status, int events);

static void on_retry(uv_timer_t *timer)
{
    struct smq_listener *l = timer->data;
    uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
}

/* Out of descriptors: the socket stays readable, so polling it now would spin. */
static void pause_accepting(struct smq_listener *l, int err)
{
    uint64_t n = atomic_fetch_add_explicit(&l->fd_exhausted, 1, memory_order_relaxed) + 1;
    l->paused = true;
    smq_log_limited(&l->emfile_log, 10000, SMQ_LOG_WARNING,
                    "listener %s: cannot accept: %s; pausing %d ms (%llu pauses so far)",
                    l->name, strerror(err), EMFILE_PAUSE_MS, (unsigned long long)n);
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->retry, on_retry, EMFILE_PAUSE_MS, 0);
}

static void hand_to_worker(struct smq_listener *l, int fd)
{
    struct smq_broker *b = l->broker;
    unsigned n = atomic_fetch_add_explicit(&b->next_worker, 1, memory_order_relaxed);
    struct smq_inbox_conn *msg = smq_alloc(sizeof(*msg));
    memset(msg, 0, sizeof(*msg));
    msg->item.kind = SMQ_INBOX_CONN;
    msg->fd = fd;
    msg->listener = l;
    smq_worker_post(&b->workers[n % b->n_workers], &msg->item);
}

static void on_acceptable(uv_poll_t *poll, int status, int events)
{
    struct smq_listener *l = poll->data;
    (void)events;
    if (status < 0)
        return;
    for (int i = 0; i < 256; i++) { /* bounded: let the loop breathe under a flood */
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(l, errno);
            return; /* EAGAIN, or a connection that died in the backlog */
        }
        if (l->max_connections >= 0 &&
            atomic_load_explicit(&l->connections, memory_order_relaxed) >= l->max_connections) {
            atomic_fetch_add_explicit(&l->refused, 1, memory_order_relaxed);
            close(fd);
            continue;
        }
        if (l->paused) { /* descriptors were freed: say so once, rate limited like the pause */
            l->paused = false;
            smq_log_limited(&l->resume_log, 10000, SMQ_LOG_NOTICE,
                            "listener %s: accepting again (%llu pauses so far)", l->name,
                            (unsigned long long)atomic_load_explicit(&l->fd_exhausted,
                                                                     memory_order_relaxed));
        }
        atomic_fetch_add_explicit(&l->connections, 1, memory_order_relaxed);
        hand_to_worker(l, fd);
    }
}

int smq_acceptor_open(struct smq_acceptor *a, uv_loop_t *loop, struct smq_broker *broker,
                      const struct smq_config *cfg)
{
    a->n_listeners = cfg->listener_count;
    a->listeners = smq_calloc(a->n_listeners, sizeof(*a->listeners));
    for (size_t i = 0; i < a->n_listeners; i++) {
        struct smq_listener *l = &a->listeners[i];
        const struct smq_config_listener *lc = &cfg->listeners[i];
        l->broker = broker;
        l->max_connections = lc->max_connections;
        l->max_topic_alias = lc->max_topic_alias;
        int rc = bind_listener(l, lc);
        if (rc < 0) {
            smq_log(SMQ_LOG_ERROR, "cannot listen on %s:%u: %s", lc->address ? lc->address : "*",
                    lc->port, uv_strerror(rc));
            for (size_t j = 0; j < i; j++) {
                uv_close((uv_handle_t *)&a->listeners[j].poll, NULL);
                uv_close((uv_handle_t *)&a->listeners[j].retry, NULL);
                close(a->listeners[j].fd);
            }
            a->n_listeners = 0;
            return rc;
        }
        uv_poll_init(loop, &l->poll, l->fd);
        uv_timer_init(loop, &l->retry);
        l->poll.data = l->retry.data = l;
        uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
        smq_log(SMQ_LOG_NOTICE, "listening on %s", l->name);
    }
    return 0;
}

void smq_acceptor_close(struct smq_acceptor *a)
{
    for (size_t i = 0; i < a->n_listeners; i++) {
        struct smq_listener *l = &a->listeners[i];
        uv_close((uv_handle_t *)&l->poll, NULL);
        uv_close((uv_handle_t *)&l->retry, NULL);
        close(l->fd);
    }
}

void smq_acceptor_dispose(struct smq_acceptor *a)
{
    smq_free(a->listeners);
    a->listeners = NULL;
    a->n_listeners = 0;
}
