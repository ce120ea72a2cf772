/* shardmq's configuration keys: the table (type, range and field of each key), value
 * parsing, the handlers of the global keys, and the dispatch of one `key value` pair.
 *
 * A key is one row of `keys` and is applied by the handler of its kind. Integers are
 * parsed with strtoll and checked against the row's range (no atoi: "12abc" and overflow
 * are errors). Where Mosquitto reads 0 as "no limit" the row stores its maximum instead,
 * because every limit in shardmq is finite. Listener keys are handled in
 * config_listeners.c, keys that are not shardmq's in config_mosquitto.c. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "broker/config.h"
#include "broker/config_keys.h"
#include "core/alloc.h"
#include "core/topic_index.h"

/* --- the table -------------------------------------------------------------------------- */

/* clang-format off */
#define FIELD(type, f) sizeof(((type *)0)->f), offsetof(type, f)
#define G_BOOL(f) {#f, SMQ__K_BOOL, false, SMQ__ZERO_PLAIN, FIELD(struct smq_config, f), 0, 1}
#define G_INT(f, lo, hi, z) {#f, SMQ__K_INT, false, z, FIELD(struct smq_config, f), lo, hi}
#define L_INT(f, lo, hi)                                                                     \
    {#f, SMQ__K_INT, true, SMQ__ZERO_PLAIN, FIELD(struct smq_config_listener, f), lo, hi}
#define SPECIAL(name, kind, listener) {name, kind, listener, SMQ__ZERO_PLAIN, 0, 0, 0, 0}
/* clang-format on */

/* MQTT's largest packet: a remaining length of 268,435,455 and a 5-byte fixed header. */
#define MQTT_MAX_PACKET 268435460
#define TIB             (INT64_C(1) << 40)
#define PLAIN           SMQ__ZERO_PLAIN

/* deploy/shardmq.conf explains each key; keep the two in step. */
static const struct smq__config_key keys[] = {
    SPECIAL("listener", SMQ__K_LISTENER, false),
    SPECIAL("port", SMQ__K_PORT, false),
    SPECIAL("bind_address", SMQ__K_BIND_ADDRESS, false),
    L_INT(max_connections, -1, 10000000),
    SPECIAL("protocol", SMQ__K_PROTOCOL, true),
    SPECIAL("socket_domain", SMQ__K_SOCKET_DOMAIN, true),
    SPECIAL("bind_interface", SMQ__K_BIND_INTERFACE, true),
    L_INT(max_topic_alias, 0, 65535),
    G_INT(workers, 0, 1024, PLAIN),
    G_INT(connect_timeout, 1, 3600, PLAIN),
    G_INT(drain_timeout, 0, 3600, PLAIN),
    G_BOOL(send_will_on_shutdown),
    G_BOOL(allow_anonymous),
    G_BOOL(allow_zero_length_clientid),
    SPECIAL("auto_id_prefix", SMQ__K_ID_PREFIX, false),
    G_INT(max_clientid_length, 23, 65535, PLAIN),
    G_INT(max_keepalive, 0, 65535, PLAIN),
    SPECIAL("persistent_client_expiration", SMQ__K_DURATION, false),
    G_INT(max_sessions, 1, 100000000, PLAIN),
    G_INT(max_inflight_messages, 0, 65535, SMQ__ZERO_MAX),
    G_INT(max_queued_messages, 0, 1000000, SMQ__ZERO_MAX_WARN),
    G_INT(max_queued_bytes, 0, TIB, SMQ__ZERO_MAX_WARN),
    G_INT(max_awaiting_rel, 1, 65535, PLAIN),
    G_BOOL(queue_qos0_messages),
    G_BOOL(upgrade_outgoing_qos),
    G_INT(backpressure_timeout, 0, 3600, PLAIN),
    G_INT(max_packet_size, 20, MQTT_MAX_PACKET, PLAIN),
    G_INT(max_topic_length, 1, 65535, PLAIN),
    G_INT(max_topic_levels, 1, SMQ_INDEX_MAX_LEVELS, PLAIN),
    G_INT(max_subscriptions_per_session, 1, 1000000, PLAIN),
    G_INT(max_user_properties, 0, 65535, PLAIN),
    G_BOOL(retain_available),
    G_INT(max_qos, 0, 2, PLAIN),
    G_BOOL(wildcard_subscription_available),
    G_BOOL(subscription_identifier_available),
    G_BOOL(shared_subscription_available),
    G_INT(max_session_expiry_interval, 0, UINT32_MAX, PLAIN),
    G_INT(max_topic_alias_broker, 0, 65535, PLAIN),
    G_BOOL(validate_payload_format),
    G_BOOL(response_information),
    G_INT(max_retained_messages, 1, 100000000, PLAIN),
    G_INT(max_retained_bytes, 1, TIB, PLAIN),
    SPECIAL("log_type", SMQ__K_LOG_TYPE, false),
    SPECIAL("log_dest", SMQ__K_LOG_DEST, false),
    SPECIAL("log_facility", SMQ__K_LOG_FACILITY, false),
    G_BOOL(log_timestamp),
    G_BOOL(connection_messages),
    SPECIAL("per_listener_settings", SMQ__K_PER_LISTENER_SETTINGS, false),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* --- value helpers ---------------------------------------------------------------------- */

static char *dup_string(const char *s)
{
    return smq_strndup(s, strlen(s));
}

const char *smq__config_shown(const char *value, char *buf, size_t size)
{
    size_t i = 0;
    for (; value[i] && i + 4 < size && i < 60; i++) {
        unsigned char c = (unsigned char)value[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (value[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

void smq__config_bad_value(struct smq__config_parse *p, const char *key, const char *what,
                           const char *value)
{
    char buf[80];
    if (*value)
        smq__config_report(p, SMQ_CONFIG_ERROR, key, "expected %s, got \"%s\"", what,
                           smq__config_shown(value, buf, sizeof(buf)));
    else
        smq__config_report(p, SMQ_CONFIG_ERROR, key, "expected %s, got nothing", what);
}

/* Mosquitto reads one word for most keys and ignores the rest of the line, so files carry
 * `max_connections 100 # per listener`; a comment is allowed there, anything else is a
 * mistake worth reporting. */
bool smq__config_one_word(struct smq__config_parse *p, const char *key, char *value,
                          const char *what)
{
    if (!*value) {
        smq__config_bad_value(p, key, what, value);
        return false;
    }
    char *end = value;
    while (*end && !smq__config_is_blank(*end))
        end++;
    if (!*end)
        return true;
    *end++ = '\0';
    while (smq__config_is_blank(*end))
        end++;
    if (*end && *end != '#') {
        char buf[80];
        smq__config_report(p, SMQ_CONFIG_ERROR, key, "unexpected \"%s\" after the value",
                           smq__config_shown(end, buf, sizeof(buf)));
        return false;
    }
    return true;
}

bool smq__config_parse_int(const char *s, int64_t *out)
{
    const char *d = (*s == '-') ? s + 1 : s;
    if (!*d)
        return false;
    for (const char *c = d; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    /* Mosquitto also reads 1 and 0. */
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return false;
    return true;
}

/* Mosquitto's durations: a count and a unit, h d w m y (m = 30 days, y = 365 days); shardmq
 * adds s for seconds, and 0 alone for "never". */
static bool parse_duration(const char *s, uint32_t *out)
{
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return true;
    }
    size_t n = strlen(s);
    if (n < 2 || n > 12)
        return false;
    uint64_t mult;
    switch (s[n - 1]) {
    case 's':
        mult = 1;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    case 'w':
        mult = 7 * 86400;
        break;
    case 'm':
        mult = 30 * 86400;
        break;
    case 'y':
        mult = 365 * 86400;
        break;
    default:
        return false;
    }
    uint64_t count = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        count = count * 10 + (uint64_t)(s[i] - '0');
    }
    if (count * mult > UINT32_MAX)
        return false;
    *out = (uint32_t)(count * mult);
    return true;
}

void smq__config_store_int(void *base, const struct smq__config_key *d, int64_t v)
{
    char *at = (char *)base + d->offset;
    if (d->size == sizeof(uint8_t)) {
        *(uint8_t *)at = (uint8_t)v;
    } else if (d->size == sizeof(uint16_t)) {
        uint16_t x = (uint16_t)v;
        memcpy(at, &x, sizeof(x));
    } else if (d->size == sizeof(uint32_t) && d->min < 0) {
        int32_t x = (int32_t)v;
        memcpy(at, &x, sizeof(x));
    } else if (d->size == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;
        memcpy(at, &x, sizeof(x));
    } else {
        uint64_t x = (uint64_t)v;
        memcpy(at, &x, sizeof(x));
    }
}

/* --- global keys ------------------------------------------------------------------------ */

static void on_int(struct smq__config_parse *p, const struct smq__config_key *d, char *value)
{
    char expect[96];
    int64_t v;
    snprintf(expect, sizeof(expect), "an integer %lld..%lld", (long long)d->min, (long long)d->max);
    if (!smq__config_one_word(p, d->name, value, expect))
        return;
    if (!smq__config_parse_int(value, &v) || v < d->min || v > d->max) {
        smq__config_bad_value(p, d->name, expect, value);
        return;
    }
    if (v == 0 && d->zero != SMQ__ZERO_PLAIN) {
        if (d->zero == SMQ__ZERO_MAX_WARN)
            smq__config_report(p, SMQ_CONFIG_WARNING, d->name,
                               "0 means no limit in Mosquitto; shardmq bounds every queue, "
                               "using %lld",
                               (long long)d->max);
        v = d->max;
    }
    smq__config_store_int(&p->cfg, d, v);
}

static void on_bool(struct smq__config_parse *p, const struct smq__config_key *d, char *value)
{
    bool b;
    if (!smq__config_one_word(p, d->name, value, "true or false"))
        return;
    if (!parse_bool(value, &b)) {
        smq__config_bad_value(p, d->name, "true or false", value);
        return;
    }
    if (d->kind == SMQ__K_PER_LISTENER_SETTINGS) {
        if (b)
            smq__config_report(p, SMQ_CONFIG_WARNING, d->name,
                               "true is not supported by shardmq yet; ignored: every setting "
                               "applies to all listeners");
        return;
    }
    *(bool *)((char *)&p->cfg + d->offset) = b;
    if (d->offset == offsetof(struct smq_config, allow_anonymous))
        p->allow_anonymous_set = true;
}

static void on_duration(struct smq__config_parse *p, const struct smq__config_key *d, char *value)
{
    static const char what[] = "a duration such as 3600s, 12h, 2d, 1w, 3m (months) or 1y "
                               "(at most 4294967295 seconds), or 0 for never";
    uint32_t secs;
    if (!smq__config_one_word(p, d->name, value, what))
        return;
    if (!parse_duration(value, &secs)) {
        smq__config_bad_value(p, d->name, what, value);
        return;
    }
    p->cfg.persistent_client_expiration = secs;
}

/* Assigned client ids are auto_id_prefix + random characters; the prefix must not carry
 * what ACL patterns or topics treat specially (PITFALLS.md, Security). */
static void on_id_prefix(struct smq__config_parse *p, const struct smq__config_key *d, char *value)
{
    static const char what[] = "1 to 64 printable ASCII characters other than '+', '#' and '/'";
    if (!smq__config_one_word(p, d->name, value, what))
        return;
    bool ok = strlen(value) <= 64;
    for (const char *c = value; ok && *c; c++)
        ok = *c > 0x20 && *c < 0x7f && *c != '+' && *c != '#' && *c != '/';
    if (!ok) {
        smq__config_bad_value(p, d->name, what, value);
        return;
    }
    smq_free(p->cfg.auto_id_prefix);
    p->cfg.auto_id_prefix = dup_string(value);
}

static const struct {
    const char *name;
    uint32_t bits;
} log_types[] = {
    {"none", 0},
    {"error", SMQ_CONFIG_LOG_ERROR},
    {"warning", SMQ_CONFIG_LOG_WARNING},
    {"notice", SMQ_CONFIG_LOG_NOTICE},
    {"information", SMQ_CONFIG_LOG_INFORMATION},
    {"debug", SMQ_CONFIG_LOG_DEBUG},
    {"subscribe", SMQ_CONFIG_LOG_SUBSCRIBE},
    {"unsubscribe", SMQ_CONFIG_LOG_UNSUBSCRIBE},
    {"websockets", SMQ_CONFIG_LOG_WEBSOCKETS},
    {"internal", SMQ_CONFIG_LOG_INTERNAL},
    {"all", SMQ_CONFIG_LOG_ALL},
};

/* log_type: one or more types (space- or comma-separated). The first log_type of a run
 * replaces the default set, later ones add to it; none clears it (Mosquitto's rules). */
static void on_log_type(struct smq__config_parse *p, const struct smq__config_key *d, char *value)
{
    static const char what[] = "error, warning, notice, information, debug, subscribe, "
                               "unsubscribe, websockets, internal, all or none";
    if (!*value) {
        smq__config_bad_value(p, d->name, what, value);
        return;
    }
    if (!p->log_types_set) {
        p->log_types_set = true;
        p->cfg.log_types = 0;
    }
    char *save = NULL;
    for (char *tok = strtok_r(value, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        if (*tok == '#')
            break;
        size_t i = 0;
        while (i < COUNT(log_types) && strcmp(tok, log_types[i].name) != 0)
            i++;
        if (i == COUNT(log_types)) {
            smq__config_bad_value(p, d->name, what, tok);
            return;
        }
        if (log_types[i].bits == 0)
            p->cfg.log_types = 0;
        else
            p->cfg.log_types |= log_types[i].bits;
    }
}

/* One destination: stdout, stderr, syslog, none, or file PATH (the rest of the item). */
static void add_log_dest(struct smq__config_parse *p, const struct smq__config_key *d, char *item)
{
    char *arg = item;
    while (*arg && !smq__config_is_blank(*arg))
        arg++;
    if (*arg) {
        *arg++ = '\0';
        while (smq__config_is_blank(*arg))
            arg++;
    }
    if (strcmp(item, "file") == 0) {
        if (!*arg) {
            smq__config_report(p, SMQ_CONFIG_ERROR, d->name, "expected a path after \"file\"");
        } else if (p->cfg.log_file) {
            smq__config_report(p, SMQ_CONFIG_ERROR, d->name,
                               "only one log file: \"file\" was given already");
        } else {
            p->cfg.log_file = dup_string(arg);
            p->cfg.log_dests |= SMQ_CONFIG_LOGDEST_FILE;
        }
        return;
    }
    if (*arg && *arg != '#') {
        char buf[80];
        smq__config_report(p, SMQ_CONFIG_ERROR, d->name, "unexpected \"%s\" after the value",
                           smq__config_shown(arg, buf, sizeof(buf)));
    } else if (strcmp(item, "stdout") == 0) {
        p->cfg.log_dests |= SMQ_CONFIG_LOGDEST_STDOUT;
    } else if (strcmp(item, "stderr") == 0) {
        p->cfg.log_dests |= SMQ_CONFIG_LOGDEST_STDERR;
    } else if (strcmp(item, "syslog") == 0) {
        p->cfg.log_dests |= SMQ_CONFIG_LOGDEST_SYSLOG;
    } else if (strcmp(item, "none") == 0) {
        p->cfg.log_dests = 0;
        smq_free(p->cfg.log_file);
        p->cfg.log_file = NULL;
    } else if (strcmp(item, "topic") == 0 || strcmp(item, "dlt") == 0) {
        smq__config_report(p, SMQ_CONFIG_WARNING, d->name,
                           "log_dest %s is not supported by shardmq yet; ignored", item);
    } else {
        smq__config_bad_value(p, d->name, "stdout, stderr, syslog, file PATH or none", item);
    }
}

/* log_dest: the first of a run replaces the default (stderr), later ones add. In a file
 * one destination per line; outside a file a comma-separated list. */
static void on_log_dest(struct smq__config_parse *p, const struct smq__config_key *d, char *value)
{
    if (!*value) {
        smq__config_bad_value(p, d->name, "stdout, stderr, syslog, file PATH or none", value);
        return;
    }
    if (!p->log_dests_set) {
        p->log_dests_set = true;
        p->cfg.log_dests = 0;
        smq_free(p->cfg.log_file);
        p->cfg.log_file = NULL;
    }
    if (p->from_file) {
        add_log_dest(p, d, value);
        return;
    }
    for (char *item = value; item;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma++ = '\0';
        while (smq__config_is_blank(*item))
            item++;
        size_t len = strlen(item);
        while (len > 0 && smq__config_is_blank(item[len - 1]))
            item[--len] = '\0';
        add_log_dest(p, d, item);
        item = comma;
    }
}

static void on_log_facility(struct smq__config_parse *p, const struct smq__config_key *d,
                            char *value)
{
    static const int local[] = {LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3,
                                LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7};
    static const char what[] = "an integer 0..7 (LOG_LOCAL0..7)";
    int64_t v;
    if (!smq__config_one_word(p, d->name, value, what))
        return;
    if (!smq__config_parse_int(value, &v) || v < 0 || v > 7) {
        smq__config_bad_value(p, d->name, what, value);
        return;
    }
    p->cfg.log_facility = local[v];
}

/* --- dispatch --------------------------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[64];
    if (la >= 63 || lb >= 63)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *smq__config_closest_key(const char *key)
{
    char lower[64];
    size_t i = 0;
    for (; key[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] - 'A' + 'a') : key[i];
    lower[i] = '\0';
    const char *best = NULL;
    size_t best_dist = 3; /* suggest only names within two edits */
    for (size_t k = 0; k < COUNT(keys); k++) {
        size_t dist = edit_distance(lower, keys[k].name);
        if (dist < best_dist) {
            best_dist = dist;
            best = keys[k].name;
        }
    }
    return best;
}

void smq__config_apply(struct smq__config_parse *p, const char *key, char *value)
{
    const struct smq__config_key *d = NULL;
    for (size_t i = 0; i < COUNT(keys) && !d; i++) {
        if (strcmp(key, keys[i].name) == 0)
            d = &keys[i];
    }
    if (!d) {
        smq__config_apply_foreign(p, key);
        return;
    }
    /* A file's lines were checked already; the environment's values were not. */
    for (const char *c = value; *c; c++) {
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
            smq__config_report(p, SMQ_CONFIG_ERROR, d->name, "control character in the value");
            return;
        }
    }
    switch (d->kind) {
    case SMQ__K_BOOL:
    case SMQ__K_PER_LISTENER_SETTINGS:
        on_bool(p, d, value);
        break;
    case SMQ__K_INT:
        if (d->listener)
            smq__config_on_listener_key(p, d, value);
        else
            on_int(p, d, value);
        break;
    case SMQ__K_DURATION:
        on_duration(p, d, value);
        break;
    case SMQ__K_ID_PREFIX:
        on_id_prefix(p, d, value);
        break;
    case SMQ__K_LISTENER:
        smq__config_on_listener(p, d->name, value);
        break;
    case SMQ__K_PORT:
    case SMQ__K_BIND_ADDRESS:
        smq__config_on_default_listener(p, d, value);
        break;
    case SMQ__K_BIND_INTERFACE:
    case SMQ__K_PROTOCOL:
    case SMQ__K_SOCKET_DOMAIN:
        smq__config_on_listener_key(p, d, value);
        break;
    case SMQ__K_LOG_TYPE:
        on_log_type(p, d, value);
        break;
    case SMQ__K_LOG_DEST:
        on_log_dest(p, d, value);
        break;
    case SMQ__K_LOG_FACILITY:
        on_log_facility(p, d, value);
        break;
    }
}
