/* Loading the configuration: defaults, reading a file into lines, the SHARDMQ_* environment,
 * diagnostics, and the all-or-nothing commit.
 *
 * Every run (a file, a string, the environment, one setter call) works on a scratch copy
 * of the caller's configuration and replaces it only when the run reported no error, so a
 * bad file or variable never leaves a half-applied configuration behind (the failed
 * reload that fell back to open security, PITFALLS.md). A file is read whole (at most
 * SMQ_CONFIG_MAX_FILE bytes) and cut into lines here; what each key means lives in
 * config_keys.c and its neighbours (see config_keys.h). */
#include "broker/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "broker/config_keys.h"
#include "core/alloc.h"
#include "proto/errors.h"

static char *dup_string(const char *s)
{
    return smq_strndup(s, strlen(s));
}

/* --- diagnostics ------------------------------------------------------------------------ */

void smq_config_diag_init(struct smq_config_diag *diag)
{
    memset(diag, 0, sizeof(*diag));
}

void smq_config_diag_dispose(struct smq_config_diag *diag)
{
    for (size_t i = 0; i < diag->count; i++)
        smq_free(diag->items[i].text);
    smq_free(diag->items);
    smq_config_diag_init(diag);
}

static void diag_push(struct smq_config_diag *diag, enum smq_config_severity sev, unsigned line,
                      char *text)
{
    if (sev == SMQ_CONFIG_ERROR)
        diag->errors++;
    else
        diag->warnings++;
    if (diag->count == SMQ_CONFIG_DIAG_MAX) {
        diag->dropped++;
        smq_free(text);
        return;
    }
    if (diag->count == diag->cap) {
        diag->cap = diag->cap ? diag->cap * 2 : 8;
        diag->items = smq_realloc(diag->items, diag->cap * sizeof(*diag->items));
    }
    diag->items[diag->count++] = (struct smq_config_message){sev, line, text};
}

void smq__config_report(struct smq__config_parse *p, enum smq_config_severity sev, const char *key,
                        const char *fmt, ...)
{
    char prefix[512];
    int n;
    /* Outside a file the origin (a variable's name) already says which key it is. */
    if (p->from_file && key)
        n = snprintf(prefix, sizeof(prefix), "%s:%u: %.64s: ", p->origin, p->line, key);
    else if (p->from_file && p->line)
        n = snprintf(prefix, sizeof(prefix), "%s:%u: ", p->origin, p->line);
    else
        n = snprintf(prefix, sizeof(prefix), "%s: ", p->origin);
    size_t plen = n < 0 ? 0 : ((size_t)n < sizeof(prefix) ? (size_t)n : sizeof(prefix) - 1);

    /* Most messages fit the small buffer; a longer one is formatted again at its size. */
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m;

    char *text = smq_alloc(plen + mlen + 1);
    memcpy(text, prefix, plen);
    if (mlen < sizeof(small)) {
        memcpy(text + plen, small, mlen);
    } else {
        va_start(ap, fmt);
        vsnprintf(text + plen, mlen + 1, fmt, ap);
        va_end(ap);
    }
    text[plen + mlen] = '\0';
    diag_push(p->diag, sev, p->from_file ? p->line : 0, text);
}

/* --- defaults, copies, disposal --------------------------------------------------------- */

void smq__config_listener_init(struct smq_config_listener *l)
{
    *l = (struct smq_config_listener){
        .address = NULL,
        .bind_interface = NULL,
        .max_connections = SMQ_CONFIG_CONNECTIONS_FD_LIMIT,
        .port = SMQ_CONFIG_DEFAULT_PORT,
        .max_topic_alias = 10,
        .socket_domain = SMQ_SOCKET_ANY,
    };
}

void smq__config_listener_dispose(struct smq_config_listener *l)
{
    smq_free(l->address);
    smq_free(l->bind_interface);
    l->address = NULL;
    l->bind_interface = NULL;
}

void smq__config_listener_copy(struct smq_config_listener *dst,
                               const struct smq_config_listener *src)
{
    *dst = *src;
    dst->address = src->address ? dup_string(src->address) : NULL;
    dst->bind_interface = src->bind_interface ? dup_string(src->bind_interface) : NULL;
}

void smq_config_init_defaults(struct smq_config *cfg)
{
    *cfg = (struct smq_config){
        .workers = 0,
        .connect_timeout = 10,
        .drain_timeout = 5,
        .send_will_on_shutdown = false,
        .allow_anonymous = true,
        .allow_zero_length_clientid = true,
        .auto_id_prefix = dup_string("auto-"),
        .max_clientid_length = 256,
        .max_keepalive = 65535,
        .persistent_client_expiration = 0,
        .max_sessions = 1000000,
        .max_inflight_messages = 20,
        .max_queued_messages = 1000,
        .max_queued_bytes = 16u << 20,
        .max_awaiting_rel = 100,
        .queue_qos0_messages = false,
        .upgrade_outgoing_qos = false,
        .backpressure_timeout = 5,
        .max_packet_size = 1u << 20,
        .max_topic_length = 65535,
        .max_topic_levels = 128,
        .max_subscriptions_per_session = 1000,
        .max_user_properties = 128,
        .retain_available = true,
        .max_qos = 2,
        .wildcard_subscription_available = true,
        .subscription_identifier_available = true,
        .shared_subscription_available = true,
        .max_session_expiry_interval = UINT32_MAX,
        .max_topic_alias_broker = 10,
        .validate_payload_format = false,
        .response_information = false,
        .max_retained_messages = 1000000,
        .max_retained_bytes = 256u << 20,
        .log_types = SMQ_CONFIG_LOG_DEFAULT,
        .log_dests = SMQ_CONFIG_LOGDEST_STDERR,
        .log_file = NULL,
        .log_facility = LOG_DAEMON,
        .log_timestamp = true,
        .connection_messages = true,
    };
    cfg->listeners = smq_alloc(sizeof(*cfg->listeners));
    smq__config_listener_init(&cfg->listeners[0]);
    cfg->listener_count = 1;
}

static void dispose_listeners(struct smq_config *cfg)
{
    for (size_t i = 0; i < cfg->listener_count; i++)
        smq__config_listener_dispose(&cfg->listeners[i]);
    smq_free(cfg->listeners);
    cfg->listeners = NULL;
    cfg->listener_count = 0;
}

void smq_config_dispose(struct smq_config *cfg)
{
    dispose_listeners(cfg);
    smq_free(cfg->auto_id_prefix);
    smq_free(cfg->log_file);
    cfg->auto_id_prefix = NULL;
    cfg->log_file = NULL;
}

/* --- a run: scratch copy, then commit or discard ---------------------------------------- */

struct smq__pending_listener *smq__config_pending_add(struct smq__config_parse *p)
{
    if (p->pending_count == p->pending_cap) {
        p->pending_cap = p->pending_cap ? p->pending_cap * 2 : 4;
        p->pending = smq_realloc(p->pending, p->pending_cap * sizeof(*p->pending));
    }
    struct smq__pending_listener *pl = &p->pending[p->pending_count++];
    memset(pl, 0, sizeof(*pl));
    smq__config_listener_init(&pl->l);
    pl->line = p->line;
    return pl;
}

void smq__config_pending_dispose(struct smq__config_parse *p)
{
    for (size_t i = 0; i < p->pending_count; i++)
        smq__config_listener_dispose(&p->pending[i].l);
    smq_free(p->pending);
    p->pending = NULL;
    p->pending_count = p->pending_cap = 0;
    smq__config_listener_dispose(&p->dflt.l);
}

/* Starts a run over a scratch copy of cfg. The scratch has no listeners: a file builds
 * them from scratch, other runs start from copies of cfg's in p->pending. */
static void run_begin(struct smq__config_parse *p, const struct smq_config *cfg,
                      struct smq_config_diag *diag, const char *origin, bool from_file)
{
    memset(p, 0, sizeof(*p));
    p->cfg = *cfg;
    p->cfg.listeners = NULL;
    p->cfg.listener_count = 0;
    p->cfg.auto_id_prefix = cfg->auto_id_prefix ? dup_string(cfg->auto_id_prefix) : NULL;
    p->cfg.log_file = cfg->log_file ? dup_string(cfg->log_file) : NULL;
    p->diag = diag;
    p->origin = origin;
    p->from_file = from_file;
    p->unknown_is_error = true;
    p->errors_before = diag->errors;
    p->cur = -1;
    smq__config_listener_init(&p->dflt.l);
    if (from_file)
        return;
    for (size_t i = 0; i < cfg->listener_count; i++) {
        struct smq__pending_listener *pl = smq__config_pending_add(p);
        smq__config_listener_copy(&pl->l, &cfg->listeners[i]);
    }
}

/* Ends a run: commits the scratch into cfg when the run added no error. */
static int run_end(struct smq__config_parse *p, struct smq_config *cfg)
{
    smq__config_finish(p);
    smq__config_pending_dispose(p);
    if (p->diag->errors > p->errors_before) {
        smq_config_dispose(&p->cfg);
        return SMQ_EINVAL;
    }
    smq_config_dispose(cfg);
    *cfg = p->cfg;
    return 0;
}

/* --- files and lines -------------------------------------------------------------------- */

/* Handles one line (without its newline); line points into a writable buffer. */
static void parse_line(struct smq__config_parse *p, char *line, size_t len)
{
    /* CRLF files: the CR belongs to the line ending, not to the value. */
    while (len > 0 && (line[len - 1] == '\r' || smq__config_is_blank(line[len - 1])))
        len--;
    line[len] = '\0';
    size_t start = 0;
    while (start < len && smq__config_is_blank(line[start]))
        start++;
    if (start == len || line[start] == '#')
        return;
    for (size_t i = start; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            smq__config_report(p, SMQ_CONFIG_ERROR, NULL, "control character 0x%02x in the line",
                               (unsigned)c);
            return;
        }
    }
    char *key = line + start;
    char *value = key;
    while (*value && !smq__config_is_blank(*value))
        value++;
    if (*value) {
        *value++ = '\0';
        while (smq__config_is_blank(*value))
            value++;
    }
    smq__config_apply(p, key, value);
}

/* Cuts text (len bytes, writable) into lines and applies each. */
static void parse_text(struct smq__config_parse *p, char *text, size_t len)
{
    size_t pos = 0;
    /* A UTF-8 byte order mark, as some editors write, is not part of the first key. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < len) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        p->line++;
        if (end - pos > SMQ_CONFIG_MAX_LINE) {
            smq__config_report(p, SMQ_CONFIG_ERROR, NULL, "line longer than %u bytes",
                               SMQ_CONFIG_MAX_LINE);
        } else if (memchr(text + pos, '\0', end - pos)) {
            smq__config_report(p, SMQ_CONFIG_ERROR, NULL, "NUL byte in the line");
        } else {
            parse_line(p, text + pos, end - pos);
        }
        pos = end + 1;
    }
    p->line = 0;
}

int smq_config_parse_string(struct smq_config *cfg, const char *text, const char *name,
                            struct smq_config_diag *diag)
{
    struct smq__config_parse p;
    size_t len = strlen(text);
    char *copy = smq_alloc(len + 1);
    memcpy(copy, text, len + 1);
    run_begin(&p, cfg, diag, name ? name : "<string>", true);
    parse_text(&p, copy, len);
    smq_free(copy);
    return run_end(&p, cfg);
}

/* Reads the whole file into *out (*len bytes, NUL-terminated). Returns 0, a negated
 * errno, or SMQ_ELIMIT beyond SMQ_CONFIG_MAX_FILE. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return SMQ_ERR(errno);
    size_t cap = 4096, used = 0;
    char *buf = smq_alloc(cap + 1);
    int rc = 0;
    for (;;) {
        if (used == cap) {
            cap *= 2;
            buf = smq_realloc(buf, cap + 1);
        }
        size_t n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (used > SMQ_CONFIG_MAX_FILE) {
            rc = SMQ_ELIMIT;
            break;
        }
        if (n == 0) {
            if (ferror(f))
                rc = SMQ_ERR(errno ? errno : EIO);
            break;
        }
    }
    fclose(f);
    if (rc != 0) {
        smq_free(buf);
        return rc;
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return 0;
}

int smq_config_load_file(struct smq_config *cfg, const char *path, struct smq_config_diag *diag)
{
    struct smq__config_parse p;
    char *text = NULL;
    size_t len = 0;
    errno = 0;
    int rc = read_file(path, &text, &len);
    if (rc != 0) {
        run_begin(&p, cfg, diag, path, true);
        if (rc == SMQ_ELIMIT)
            smq__config_report(&p, SMQ_CONFIG_ERROR, NULL, "file larger than %u bytes",
                               SMQ_CONFIG_MAX_FILE);
        else
            smq__config_report(&p, SMQ_CONFIG_ERROR, NULL, "cannot read: %s", strerror(-rc));
        smq__config_pending_dispose(&p);
        smq_config_dispose(&p.cfg);
        return rc == SMQ_ELIMIT ? SMQ_EINVAL : rc;
    }
    run_begin(&p, cfg, diag, path, true);
    parse_text(&p, text, len);
    smq_free(text);
    return run_end(&p, cfg);
}

/* --- the environment -------------------------------------------------------------------- */

#define ENV_PREFIX "SHARDMQ_"

/* Kubernetes writes SHARDMQ_PORT=tcp://..., SHARDMQ_PORT_1883_TCP_ADDR=..., and
 * SHARDMQ_SERVICE_HOST=... into every pod of a namespace with a service named shardmq;
 * they are not settings. */
static bool is_service_link(const char *name)
{
    return strcmp(name, "PORT") == 0 || strncmp(name, "PORT_", 5) == 0 ||
           strncmp(name, "SERVICE_", 8) == 0;
}

/* Applies "SHARDMQ_NAME=value" (entry) when it is one of ours; listener_only selects the
 * SHARDMQ_LISTENER pass, which runs first so listener-scoped variables reach the
 * listeners it defines. */
static void apply_env_entry(struct smq__config_parse *p, const char *entry, bool listener_only)
{
    const char *eq = strchr(entry, '=');
    if (!eq || strncmp(entry, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
        return;
    size_t name_len = (size_t)(eq - entry);
    char *name = smq_alloc(name_len + 1);
    memcpy(name, entry, name_len);
    name[name_len] = '\0';
    char *suffix = name + strlen(ENV_PREFIX);
    bool listener = strcmp(suffix, "LISTENER") == 0;
    if (listener != listener_only || is_service_link(suffix))
        goto out;

    p->origin = name;
    bool ours = *suffix != '\0';
    char key[64];
    size_t i = 0;
    for (; ours && suffix[i]; i++) {
        char c = suffix[i];
        if (i + 1 >= sizeof(key) ||
            !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) {
            ours = false;
            break;
        }
        key[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (!ours) {
        smq__config_report(p, SMQ_CONFIG_WARNING, NULL, "not a shardmq setting; ignored");
        goto out;
    }
    key[i] = '\0';

    /* An empty variable means "not set", as container templates write it. */
    char *value = dup_string(eq + 1);
    char *v = value;
    while (smq__config_is_blank(*v))
        v++;
    size_t vlen = strlen(v);
    while (vlen > 0 &&
           (smq__config_is_blank(v[vlen - 1]) || v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        v[--vlen] = '\0';
    if (vlen > 0)
        smq__config_apply(p, key, v);
    smq_free(value);
out:
    p->origin = "environment"; /* name is about to go */
    smq_free(name);
}

int smq_config_apply_env(struct smq_config *cfg, char **envp, struct smq_config_diag *diag)
{
    struct smq__config_parse p;
    run_begin(&p, cfg, diag, "environment", false);
    p.unknown_is_error = false;
    for (int pass = 0; envp && pass < 2; pass++) {
        for (char **e = envp; *e; e++)
            apply_env_entry(&p, *e, pass == 0);
    }
    return run_end(&p, cfg);
}

int smq_config_set(struct smq_config *cfg, const char *key, const char *value, const char *origin,
                   struct smq_config_diag *diag)
{
    struct smq__config_parse p;
    run_begin(&p, cfg, diag, origin ? origin : key, false);
    char *copy = dup_string(value ? value : "");
    char *v = copy;
    while (smq__config_is_blank(*v))
        v++;
    size_t vlen = strlen(v);
    while (vlen > 0 && smq__config_is_blank(v[vlen - 1]))
        v[--vlen] = '\0';
    smq__config_apply(&p, key, v);
    smq_free(copy);
    return run_end(&p, cfg);
}
