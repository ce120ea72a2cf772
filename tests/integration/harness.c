/* The integration test harness (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_conf(struct broker_proc *b, const char *conf)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(b->conf_path, sizeof(b->conf_path), "%s/shardmq-test-XXXXXX", tmp);
    int fd = mkstemp(b->conf_path);
    if (fd < 0)
        return -1;
    char head[] = "listener 0 127.0.0.1\n";
    int rc = raw_send(fd, head, strlen(head));
    if (rc == 0 && conf)
        rc = raw_send(fd, conf, strlen(conf));
    close(fd);
    return rc;
}

/* Reads the port from the log's "listening on 127.0.0.1:PORT" line. */
static int find_port(const struct broker_proc *b)
{
    FILE *f = fopen(b->log_path, "r");
    if (f == NULL)
        return -1;
    char line[1024];
    int port = -1;
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "listening on 127.0.0.1:");
        if (p) {
            port = atoi(p + strlen("listening on 127.0.0.1:"));
            break;
        }
    }
    fclose(f);
    return port;
}

int broker_start(struct broker_proc *b, int workers, const char *conf)
{
    memset(b, 0, sizeof(*b));
    /* SMQ_TEST_BROKER runs the suite against another build of the broker (the
     * ThreadSanitizer stage of tests/run-all); meson sets SMQ_TEST_SHARDMQ. */
    const char *bin = getenv("SMQ_TEST_BROKER") ? getenv("SMQ_TEST_BROKER")
                                                    : getenv("SMQ_TEST_SHARDMQ");
    if (bin == NULL || write_conf(b, conf) < 0)
        return -1;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(b->log_path, sizeof(b->log_path), "%s/shardmq-log-XXXXXX", tmp);
    int log_fd = mkstemp(b->log_path);
    if (log_fd < 0)
        return -1;
    char wbuf[16];
    snprintf(wbuf, sizeof(wbuf), "%d", workers > 0 ? workers : 2);
    b->pid = fork();
    if (b->pid == 0) {
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execl(bin, bin, "-c", b->conf_path, "-w", wbuf, "-v", (char *)NULL);
        _exit(127);
    }
    close(log_fd);
    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        b->port = find_port(b);
        if (b->port > 0)
            return 0;
        int status;
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            b->pid = 0;
            break;
        }
        usleep(10000);
    }
    broker_dump_log(b);
    return -1;
}

int broker_stop(struct broker_proc *b)
{
    int status = 0;
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        int64_t deadline = now_ms() + 15000;
        int rc;
        while ((rc = waitpid(b->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
            usleep(10000);
        if (rc == 0) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &status, 0);
        }
        b->pid = 0;
    }
    if (getenv("SMQ_TEST_KEEP_LOGS") == NULL) {
        unlink(b->conf_path);
        unlink(b->log_path);
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

void broker_dump_log(const struct broker_proc *b)
{
    FILE *f = fopen(b->log_path, "r");
    if (f == NULL)
        return;
    char line[1024];
    fprintf(stderr, "---- shardmq log %s ----\n", b->log_path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

int broker_log_count(const struct broker_proc *b, const char *needle)
{
    FILE *f = fopen(b->log_path, "r");
    if (f == NULL)
        return 0;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

int raw_connect(const struct broker_proc *b)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int raw_send(int fd, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            n = write(fd, p, len); /* not a socket (the config file) */
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t raw_recv(int fd, void *out, size_t len, int timeout_ms)
{
    size_t got = 0;
    int64_t deadline = now_ms() + timeout_ms;
    while (got < len) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t n = recv(fd, (uint8_t *)out + got, len - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

bool raw_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t buf[4096];
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            return false;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
    }
}

int raw_mqtt_connect(int fd, const char *client_id)
{
    uint8_t pkt[300];
    size_t id_len = strlen(client_id);
    if (id_len > 200)
        return -1;
    size_t n = 0;
    pkt[n++] = 0x10;
    pkt[n++] = (uint8_t)(10 + 2 + id_len);
    const uint8_t head[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60};
    memcpy(pkt + n, head, sizeof(head));
    n += sizeof(head);
    pkt[n++] = (uint8_t)(id_len >> 8);
    pkt[n++] = (uint8_t)id_len;
    memcpy(pkt + n, client_id, id_len);
    n += id_len;
    uint8_t ack[4];
    if (raw_send(fd, pkt, n) < 0 || raw_recv(fd, ack, 4, 5000) != 4)
        return -1;
    if (ack[0] != 0x20 || ack[1] != 2)
        return -1;
    return ack[3];
}
