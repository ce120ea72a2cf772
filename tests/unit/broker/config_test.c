/* Tests of broker/config*.c: defaults, every key from a file and from the environment,
 * Mosquitto's listener rules, every error path, and deploy/shardmq.conf against the
 * defaults it documents. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "broker/config.h"
#include "proto/errors.h"

static struct smq_config cfg;
static struct smq_config_diag diag;

static void setup(void)
{
    smq_config_init_defaults(&cfg);
    smq_config_diag_init(&diag);
}

static void teardown(void)
{
    smq_config_dispose(&cfg);
    smq_config_diag_dispose(&diag);
}

TestSuite(config, .init = setup, .fini = teardown);

/* --- helpers ---------------------------------------------------------------------------- */

static int parse(const char *text)
{
    return smq_config_parse_string(&cfg, text, "test.conf", &diag);
}

/* All diagnostics, one per line, for assertion messages. */
static const char *all_diag(void)
{
    static char buf[16384];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < diag.count && used + 1 < sizeof(buf); i++) {
        int n = snprintf(buf + used, sizeof(buf) - used, "  [%s] %s\n",
                         diag.items[i].severity == SMQ_CONFIG_ERROR ? "error" : "warning",
                         diag.items[i].text);
        if (n < 0)
            break;
        used += (size_t)n < sizeof(buf) - used ? (size_t)n : sizeof(buf) - used - 1;
    }
    return buf;
}

/* Whether a diagnostic of severity sev has exactly text. */
static bool has(enum smq_config_severity sev, const char *text)
{
    for (size_t i = 0; i < diag.count; i++) {
        if (diag.items[i].severity == sev && strcmp(diag.items[i].text, text) == 0)
            return true;
    }
    return false;
}

/* Whether a diagnostic of severity sev contains every one of the NULL-terminated parts. */
static bool has_parts(enum smq_config_severity sev, const char *const *parts)
{
    for (size_t i = 0; i < diag.count; i++) {
        bool all = diag.items[i].severity == sev;
        for (const char *const *p = parts; all && *p; p++)
            all = strstr(diag.items[i].text, *p) != NULL;
        if (all)
            return true;
    }
    return false;
}

#define HAS_ERROR(...)   has_parts(SMQ_CONFIG_ERROR, (const char *const[]){__VA_ARGS__, NULL})
#define HAS_WARNING(...) has_parts(SMQ_CONFIG_WARNING, (const char *const[]){__VA_ARGS__, NULL})
#define ASSERT_CLEAN()   cr_assert_eq(diag.count, 0, "unexpected diagnostics:\n%s", all_diag())
#define ASSERT_ERROR(text)                                                                         \
    cr_assert(has(SMQ_CONFIG_ERROR, text), "no error \"%s\" in:\n%s", text, all_diag())
#define ASSERT_WARNING(text)                                                                       \
    cr_assert(has(SMQ_CONFIG_WARNING, text), "no warning \"%s\" in:\n%s", text, all_diag())

/* Asserts one error about text (the value) and that cfg kept its defaults. */
static void assert_rejected(const char *line, const char *expected)
{
    cr_assert_eq(parse(line), SMQ_EINVAL, "accepted: %s", line);
    cr_assert_eq(diag.errors, 1, "for %s:\n%s", line, all_diag());
    ASSERT_ERROR(expected);
}

static void assert_default_listener(const struct smq_config_listener *l)
{
    cr_assert_eq(l->port, 1883);
    cr_assert_null(l->address);
    cr_assert_null(l->bind_interface);
    cr_assert_eq(l->max_connections, -1);
    cr_assert_eq(l->max_topic_alias, 10);
    cr_assert_eq(l->socket_domain, SMQ_SOCKET_ANY);
}

static bool same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Asserts that a and b are the same configuration, field by field. */
static void assert_same_config(const struct smq_config *a, const struct smq_config *b)
{
    cr_assert_eq(a->listener_count, b->listener_count);
    for (size_t i = 0; i < a->listener_count; i++) {
        const struct smq_config_listener *x = &a->listeners[i], *y = &b->listeners[i];
        cr_assert_eq(x->port, y->port);
        cr_assert(same_string(x->address, y->address));
        cr_assert(same_string(x->bind_interface, y->bind_interface));
        cr_assert_eq(x->max_connections, y->max_connections);
        cr_assert_eq(x->max_topic_alias, y->max_topic_alias);
        cr_assert_eq(x->socket_domain, y->socket_domain);
    }
    cr_assert_eq(a->workers, b->workers);
    cr_assert_eq(a->connect_timeout, b->connect_timeout);
    cr_assert_eq(a->drain_timeout, b->drain_timeout);
    cr_assert_eq(a->send_will_on_shutdown, b->send_will_on_shutdown);
    cr_assert_eq(a->allow_anonymous, b->allow_anonymous);
    cr_assert_eq(a->allow_zero_length_clientid, b->allow_zero_length_clientid);
    cr_assert_str_eq(a->auto_id_prefix, b->auto_id_prefix);
    cr_assert_eq(a->max_clientid_length, b->max_clientid_length);
    cr_assert_eq(a->max_keepalive, b->max_keepalive);
    cr_assert_eq(a->persistent_client_expiration, b->persistent_client_expiration);
    cr_assert_eq(a->max_sessions, b->max_sessions);
    cr_assert_eq(a->max_inflight_messages, b->max_inflight_messages);
    cr_assert_eq(a->max_queued_messages, b->max_queued_messages);
    cr_assert_eq(a->max_queued_bytes, b->max_queued_bytes);
    cr_assert_eq(a->max_awaiting_rel, b->max_awaiting_rel);
    cr_assert_eq(a->queue_qos0_messages, b->queue_qos0_messages);
    cr_assert_eq(a->upgrade_outgoing_qos, b->upgrade_outgoing_qos);
    cr_assert_eq(a->backpressure_timeout, b->backpressure_timeout);
    cr_assert_eq(a->max_packet_size, b->max_packet_size);
    cr_assert_eq(a->max_topic_length, b->max_topic_length);
    cr_assert_eq(a->max_topic_levels, b->max_topic_levels);
    cr_assert_eq(a->max_subscriptions_per_session, b->max_subscriptions_per_session);
    cr_assert_eq(a->max_user_properties, b->max_user_properties);
    cr_assert_eq(a->retain_available, b->retain_available);
    cr_assert_eq(a->max_qos, b->max_qos);
    cr_assert_eq(a->wildcard_subscription_available, b->wildcard_subscription_available);
    cr_assert_eq(a->subscription_identifier_available, b->subscription_identifier_available);
    cr_assert_eq(a->shared_subscription_available, b->shared_subscription_available);
    cr_assert_eq(a->max_session_expiry_interval, b->max_session_expiry_interval);
    cr_assert_eq(a->max_topic_alias_broker, b->max_topic_alias_broker);
    cr_assert_eq(a->validate_payload_format, b->validate_payload_format);
    cr_assert_eq(a->response_information, b->response_information);
    cr_assert_eq(a->max_retained_messages, b->max_retained_messages);
    cr_assert_eq(a->max_retained_bytes, b->max_retained_bytes);
    cr_assert_eq(a->log_types, b->log_types);
    cr_assert_eq(a->log_dests, b->log_dests);
    cr_assert(same_string(a->log_file, b->log_file));
    cr_assert_eq(a->log_facility, b->log_facility);
    cr_assert_eq(a->log_timestamp, b->log_timestamp);
    cr_assert_eq(a->connection_messages, b->connection_messages);
}

/* Writes len bytes to a new temporary file; returns its path (static storage). */
static const char *temp_file(const void *data, size_t len)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/smq_config_test_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* A value for every key shardmq has (port and bind_address, file-only, are apart), none of
 * them a default; check_every_key() asserts what they set. The listener line comes first so
 * the listener-scoped keys after it configure that listener. */
static const struct {
    const char *key, *value;
} every_key[] = {
    {"listener", "1884 127.0.0.1"},
    {"max_connections", "100"},
    {"protocol", "mqtt"},
    {"socket_domain", "ipv4"},
    {"bind_interface", "lo"},
    {"max_topic_alias", "5"},
    {"workers", "3"},
    {"connect_timeout", "20"},
    {"drain_timeout", "7"},
    {"send_will_on_shutdown", "true"},
    {"allow_anonymous", "false"},
    {"allow_zero_length_clientid", "false"},
    {"auto_id_prefix", "gen-"},
    {"max_clientid_length", "100"},
    {"max_keepalive", "300"},
    {"persistent_client_expiration", "2d"},
    {"max_sessions", "5000"},
    {"max_inflight_messages", "10"},
    {"max_queued_messages", "50"},
    {"max_queued_bytes", "65536"},
    {"max_awaiting_rel", "30"},
    {"queue_qos0_messages", "true"},
    {"upgrade_outgoing_qos", "true"},
    {"backpressure_timeout", "30"},
    {"max_packet_size", "4096"},
    {"max_topic_length", "512"},
    {"max_topic_levels", "16"},
    {"max_subscriptions_per_session", "64"},
    {"max_user_properties", "8"},
    {"retain_available", "false"},
    {"max_qos", "1"},
    {"wildcard_subscription_available", "false"},
    {"subscription_identifier_available", "false"},
    {"shared_subscription_available", "false"},
    {"max_session_expiry_interval", "3600"},
    {"max_topic_alias_broker", "5"},
    {"validate_payload_format", "true"},
    {"response_information", "true"},
    {"max_retained_messages", "777"},
    {"max_retained_bytes", "1048576"},
    {"log_type", "debug"},
    {"log_dest", "stdout"},
    {"log_facility", "3"},
    {"log_timestamp", "false"},
    {"connection_messages", "false"},
    {"per_listener_settings", "false"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void check_every_key(const struct smq_config *c)
{
    cr_assert_eq(c->listener_count, 1);
    const struct smq_config_listener *l = &c->listeners[0];
    cr_assert_eq(l->port, 1884);
    cr_assert_str_eq(l->address, "127.0.0.1");
    cr_assert_eq(l->max_connections, 100);
    cr_assert_eq(l->socket_domain, SMQ_SOCKET_IPV4);
    cr_assert_str_eq(l->bind_interface, "lo");
    cr_assert_eq(l->max_topic_alias, 5);
    cr_assert_eq(c->workers, 3);
    cr_assert_eq(c->connect_timeout, 20);
    cr_assert_eq(c->drain_timeout, 7);
    cr_assert(c->send_will_on_shutdown);
    cr_assert_not(c->allow_anonymous);
    cr_assert_not(c->allow_zero_length_clientid);
    cr_assert_str_eq(c->auto_id_prefix, "gen-");
    cr_assert_eq(c->max_clientid_length, 100);
    cr_assert_eq(c->max_keepalive, 300);
    cr_assert_eq(c->persistent_client_expiration, 2 * 86400);
    cr_assert_eq(c->max_sessions, 5000);
    cr_assert_eq(c->max_inflight_messages, 10);
    cr_assert_eq(c->max_queued_messages, 50);
    cr_assert_eq(c->max_queued_bytes, 65536);
    cr_assert_eq(c->max_awaiting_rel, 30);
    cr_assert(c->queue_qos0_messages);
    cr_assert(c->upgrade_outgoing_qos);
    cr_assert_eq(c->backpressure_timeout, 30);
    cr_assert_eq(c->max_packet_size, 4096);
    cr_assert_eq(c->max_topic_length, 512);
    cr_assert_eq(c->max_topic_levels, 16);
    cr_assert_eq(c->max_subscriptions_per_session, 64);
    cr_assert_eq(c->max_user_properties, 8);
    cr_assert_not(c->retain_available);
    cr_assert_eq(c->max_qos, 1);
    cr_assert_not(c->wildcard_subscription_available);
    cr_assert_not(c->subscription_identifier_available);
    cr_assert_not(c->shared_subscription_available);
    cr_assert_eq(c->max_session_expiry_interval, 3600);
    cr_assert_eq(c->max_topic_alias_broker, 5);
    cr_assert(c->validate_payload_format);
    cr_assert(c->response_information);
    cr_assert_eq(c->max_retained_messages, 777);
    cr_assert_eq(c->max_retained_bytes, 1048576);
    cr_assert_eq(c->log_types, SMQ_CONFIG_LOG_DEBUG);
    cr_assert_eq(c->log_dests, SMQ_CONFIG_LOGDEST_STDOUT);
    cr_assert_null(c->log_file);
    cr_assert_eq(c->log_facility, LOG_LOCAL3);
    cr_assert_not(c->log_timestamp);
    cr_assert_not(c->connection_messages);
}

/* --- defaults --------------------------------------------------------------------------- */

Test(config, defaults)
{
    cr_assert_eq(cfg.listener_count, 1);
    assert_default_listener(&cfg.listeners[0]);
    cr_assert_eq(cfg.workers, 0);
    cr_assert_eq(cfg.connect_timeout, 10);
    cr_assert_eq(cfg.drain_timeout, 5);
    cr_assert_not(cfg.send_will_on_shutdown);
    cr_assert(cfg.allow_anonymous);
    cr_assert(cfg.allow_zero_length_clientid);
    cr_assert_str_eq(cfg.auto_id_prefix, "auto-");
    cr_assert_eq(cfg.max_clientid_length, 256);
    cr_assert_eq(cfg.max_keepalive, 65535);
    cr_assert_eq(cfg.persistent_client_expiration, 0);
    cr_assert_eq(cfg.max_sessions, 1000000);
    cr_assert_eq(cfg.max_inflight_messages, 20);
    cr_assert_eq(cfg.max_queued_messages, 1000);
    cr_assert_eq(cfg.max_queued_bytes, 16u << 20);
    cr_assert_eq(cfg.max_awaiting_rel, 100);
    cr_assert_not(cfg.queue_qos0_messages);
    cr_assert_not(cfg.upgrade_outgoing_qos);
    cr_assert_eq(cfg.max_packet_size, 1u << 20);
    cr_assert_eq(cfg.max_topic_length, 65535);
    cr_assert_eq(cfg.max_topic_levels, 128);
    cr_assert_eq(cfg.max_subscriptions_per_session, 1000);
    cr_assert_eq(cfg.max_user_properties, 128);
    cr_assert(cfg.retain_available);
    cr_assert_eq(cfg.max_retained_messages, 1000000);
    cr_assert_eq(cfg.max_retained_bytes, 256u << 20);
    cr_assert_eq(cfg.log_types, SMQ_CONFIG_LOG_ERROR | SMQ_CONFIG_LOG_WARNING |
                                    SMQ_CONFIG_LOG_NOTICE | SMQ_CONFIG_LOG_INFORMATION);
    cr_assert_eq(cfg.log_dests, SMQ_CONFIG_LOGDEST_STDERR);
    cr_assert_null(cfg.log_file);
    cr_assert_eq(cfg.log_facility, LOG_DAEMON);
    cr_assert(cfg.log_timestamp);
    cr_assert(cfg.connection_messages);
}

Test(config, empty_file_keeps_the_defaults)
{
    struct smq_config defaults;
    smq_config_init_defaults(&defaults);
    cr_assert_eq(parse(""), 0);
    ASSERT_CLEAN();
    assert_same_config(&cfg, &defaults);
    smq_config_dispose(&defaults);
}

/* --- every key -------------------------------------------------------------------------- */

Test(config, every_key_is_parsed_from_a_file)
{
    char text[4096] = "";
    for (size_t i = 0; i < COUNT(every_key); i++) {
        strcat(text, every_key[i].key);
        strcat(text, " ");
        strcat(text, every_key[i].value);
        strcat(text, "\n");
    }
    cr_assert_eq(parse(text), 0, "%s", all_diag());
    ASSERT_CLEAN();
    check_every_key(&cfg);
}

Test(config, every_key_is_parsed_from_the_environment)
{
    static char vars[COUNT(every_key)][256];
    char *envp[COUNT(every_key) + 3];
    size_t n = 0;
    /* Listener-scoped variables come before SHARDMQ_LISTENER here: they must still reach
     * the listener it defines. */
    for (size_t i = COUNT(every_key); i-- > 0;) {
        char *v = vars[n];
        int len =
            snprintf(v, sizeof(vars[n]), "SHARDMQ_%s=%s", every_key[i].key, every_key[i].value);
        for (int j = 8; j < len && v[j] != '='; j++)
            v[j] = (char)(v[j] >= 'a' && v[j] <= 'z' ? v[j] - 'a' + 'A' : v[j]);
        envp[n++] = v;
    }
    envp[n++] = "PATH=/usr/bin:/bin";
    envp[n++] = "HOME=/root";
    envp[n] = NULL;
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), 0, "%s", all_diag());
    ASSERT_CLEAN();
    check_every_key(&cfg);
}

Test(config, comments_blank_lines_crlf_tabs_and_trailing_blanks)
{
    cr_assert_eq(parse("# a comment\r\n"
                       "\r\n"
                       "   \t  \r\n"
                       "\t# an indented comment\n"
                       "workers\t\t6   \r\n"
                       "  max_inflight_messages 7 # Mosquitto reads one word: a comment may "
                       "follow\n"
                       "auto_id_prefix id-\t \n"
                       "connect_timeout 11"),
                 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.workers, 6);
    cr_assert_eq(cfg.max_inflight_messages, 7);
    cr_assert_str_eq(cfg.auto_id_prefix, "id-");
    cr_assert_eq(cfg.connect_timeout, 11);
}

Test(config, a_duplicated_key_keeps_the_last_value)
{
    cr_assert_eq(parse("max_queued_messages 10\nmax_queued_messages 20\n"), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.max_queued_messages, 20);
}

Test(config, booleans_read_true_false_1_and_0)
{
    cr_assert_eq(parse("retain_available 0\nupgrade_outgoing_qos 1\n"
                       "allow_anonymous false\nqueue_qos0_messages true\n"),
                 0);
    ASSERT_CLEAN();
    cr_assert_not(cfg.retain_available);
    cr_assert(cfg.upgrade_outgoing_qos);
    cr_assert_not(cfg.allow_anonymous);
    cr_assert(cfg.queue_qos0_messages);
}

Test(config, durations_use_mosquittos_units)
{
    static const struct {
        const char *text;
        uint32_t seconds;
    } cases[] = {
        {"0", 0},         {"90s", 90},    {"1h", 3600},
        {"2d", 172800},   {"1w", 604800}, {"3m", 3 * 2592000},
        {"1y", 31536000}, {"0d", 0},      {"136y", 136u * 31536000u},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char line[64];
        snprintf(line, sizeof(line), "persistent_client_expiration %s", cases[i].text);
        cr_assert_eq(parse(line), 0, "%s: %s", line, all_diag());
        cr_assert_eq(cfg.persistent_client_expiration, cases[i].seconds, "%s", line);
    }
    ASSERT_CLEAN();
}

Test(config, zero_that_means_no_limit_in_mosquitto_becomes_the_largest_limit)
{
    cr_assert_eq(parse("max_inflight_messages 0\n"), 0);
    ASSERT_CLEAN(); /* 65535 is the protocol's own maximum: nothing to warn about */
    cr_assert_eq(cfg.max_inflight_messages, 65535);

    cr_assert_eq(parse("max_queued_messages 0\nmax_queued_bytes 0\n"), 0);
    cr_assert_eq(cfg.max_queued_messages, 1000000);
    cr_assert_eq(cfg.max_queued_bytes, UINT64_C(1) << 40);
    ASSERT_WARNING("test.conf:1: max_queued_messages: 0 means no limit in Mosquitto; shardmq "
                   "bounds every queue, using 1000000");
    cr_assert_eq(diag.warnings, 2);
    cr_assert_eq(diag.errors, 0);
}

Test(config, auto_id_prefix_must_be_safe_in_a_client_id)
{
    cr_assert_eq(parse("auto_id_prefix shard.mq-"), 0);
    cr_assert_str_eq(cfg.auto_id_prefix, "shard.mq-");
    static const char too_long[] =
        "0123456789012345678901234567890123456789012345678901234567890123X";
    static const char *const bad[] = {"a/b", "a+", "a#b", too_long};
    cr_assert_eq(strlen(too_long), 65);
    for (size_t i = 0; i < COUNT(bad); i++) {
        char line[128];
        smq_config_diag_dispose(&diag);
        snprintf(line, sizeof(line), "auto_id_prefix %s", bad[i]);
        cr_assert_eq(parse(line), SMQ_EINVAL, "%s", line);
        cr_assert(HAS_ERROR("test.conf:1: auto_id_prefix: expected 1 to 64 printable ASCII"), "%s",
                  all_diag());
    }
    cr_assert_str_eq(cfg.auto_id_prefix, "shard.mq-");
}

/* --- logging ---------------------------------------------------------------------------- */

Test(config, the_first_log_type_replaces_the_default_and_later_ones_add)
{
    cr_assert_eq(parse("log_type error\nlog_type subscribe unsubscribe\n"), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.log_types,
                 SMQ_CONFIG_LOG_ERROR | SMQ_CONFIG_LOG_SUBSCRIBE | SMQ_CONFIG_LOG_UNSUBSCRIBE);
    cr_assert_eq(parse("log_type all\n"), 0);
    cr_assert_eq(cfg.log_types, SMQ_CONFIG_LOG_ALL);
    cr_assert_eq(parse("log_type warning\nlog_type none\n"), 0);
    cr_assert_eq(cfg.log_types, 0);
    cr_assert_eq(parse("log_type websockets,internal\n"), 0);
    cr_assert_eq(cfg.log_types, SMQ_CONFIG_LOG_WEBSOCKETS | SMQ_CONFIG_LOG_INTERNAL);
}

Test(config, log_dest_takes_destinations_and_a_file_path_with_spaces)
{
    cr_assert_eq(parse("log_dest stdout\nlog_dest syslog\n"
                       "log_dest file /var/log/my logs/shardmq.log\nlog_facility 5\n"),
                 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.log_dests,
                 SMQ_CONFIG_LOGDEST_STDOUT | SMQ_CONFIG_LOGDEST_SYSLOG | SMQ_CONFIG_LOGDEST_FILE);
    cr_assert_str_eq(cfg.log_file, "/var/log/my logs/shardmq.log");
    cr_assert_eq(cfg.log_facility, LOG_LOCAL5);

    cr_assert_eq(parse("log_dest none\n"), 0);
    cr_assert_eq(cfg.log_dests, 0);
    cr_assert_null(cfg.log_file);
}

Test(config, log_errors)
{
    assert_rejected("log_type loud", "test.conf:1: log_type: expected error, warning, notice, "
                                     "information, debug, subscribe, unsubscribe, websockets, "
                                     "internal, all or none, got \"loud\"");
    smq_config_diag_dispose(&diag);
    assert_rejected("log_dest printer",
                    "test.conf:1: log_dest: expected stdout, stderr, syslog, file PATH or none, "
                    "got \"printer\"");
    smq_config_diag_dispose(&diag);
    assert_rejected("log_dest file", "test.conf:1: log_dest: expected a path after \"file\"");
    smq_config_diag_dispose(&diag);
    cr_assert_eq(parse("log_dest file /a\nlog_dest file /b\n"), SMQ_EINVAL);
    ASSERT_ERROR("test.conf:2: log_dest: only one log file: \"file\" was given already");
    smq_config_diag_dispose(&diag);
    assert_rejected("log_facility 8",
                    "test.conf:1: log_facility: expected an integer 0..7 (LOG_LOCAL0..7), got "
                    "\"8\"");
    smq_config_diag_dispose(&diag);
    cr_assert_eq(parse("log_dest topic\n"), 0);
    ASSERT_WARNING("test.conf:1: log_dest: log_dest topic is not supported by shardmq yet; "
                   "ignored");
}

/* --- listeners -------------------------------------------------------------------------- */

Test(config, listener_blocks_scope_their_keys)
{
    cr_assert_eq(parse("listener 1883\n"
                       "max_connections 500\n"
                       "listener 8883 ::1 # a comment\n"
                       "socket_domain ipv6\n"
                       "max_topic_alias 0\n"
                       "listener 0 127.0.0.1\n"
                       "bind_interface lo\n"),
                 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.listener_count, 3);
    cr_assert_eq(cfg.listeners[0].port, 1883);
    cr_assert_null(cfg.listeners[0].address);
    cr_assert_eq(cfg.listeners[0].max_connections, 500);
    cr_assert_eq(cfg.listeners[1].port, 8883);
    cr_assert_str_eq(cfg.listeners[1].address, "::1");
    cr_assert_eq(cfg.listeners[1].max_connections, -1);
    cr_assert_eq(cfg.listeners[1].socket_domain, SMQ_SOCKET_IPV6);
    cr_assert_eq(cfg.listeners[1].max_topic_alias, 0);
    cr_assert_eq(cfg.listeners[2].port, 0); /* ephemeral */
    cr_assert_str_eq(cfg.listeners[2].bind_interface, "lo");
}

Test(config, without_a_listener_line_the_keys_configure_the_default_listener)
{
    cr_assert_eq(parse("max_connections 10\nworkers 2\n"), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.listener_count, 1);
    cr_assert_eq(cfg.listeners[0].port, 1883);
    cr_assert_eq(cfg.listeners[0].max_connections, 10);
}

Test(config, listener_keys_before_the_first_listener_open_the_default_listener_too)
{
    /* Mosquitto: the default listener exists beside the others once something sets it. */
    cr_assert_eq(parse("max_connections 10\nlistener 8883\nmax_connections 20\n"), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.listener_count, 2);
    cr_assert_eq(cfg.listeners[0].port, 1883);
    cr_assert_eq(cfg.listeners[0].max_connections, 10);
    cr_assert_eq(cfg.listeners[1].port, 8883);
    cr_assert_eq(cfg.listeners[1].max_connections, 20);
}

Test(config, a_default_value_before_the_first_listener_does_not_open_the_default_listener)
{
    cr_assert_eq(parse("max_connections -1\nprotocol mqtt\nlistener 1883\n"), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.listener_count, 1);
    cr_assert_eq(cfg.listeners[0].port, 1883);
}

Test(config, port_and_bind_address_configure_the_default_listener)
{
    cr_assert_eq(parse("listener 8883\nport 1884\nbind_address 127.0.0.1\n"), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.listener_count, 2);
    cr_assert_eq(cfg.listeners[0].port, 1884);
    cr_assert_str_eq(cfg.listeners[0].address, "127.0.0.1");
    cr_assert_eq(cfg.listeners[1].port, 8883);
}

Test(config, listener_errors)
{
    static const struct {
        const char *line, *error;
    } cases[] = {
        {"listener abc", "test.conf:1: listener: expected a port 0..65535, got \"abc\""},
        {"listener 70000", "test.conf:1: listener: expected a port 0..65535, got \"70000\""},
        {"listener -1", "test.conf:1: listener: expected a port 0..65535, got \"-1\""},
        {"listener", "test.conf:1: listener: expected a port 0..65535, got nothing"},
        {"listener 1883 0.0.0.0 extra",
         "test.conf:1: listener: expected a port and an optional address, got \"extra\" "
         "after them"},
        {"port 0", "test.conf:1: port: expected a port 1..65535, got \"0\""},
        {"max_connections -2",
         "test.conf:1: max_connections: expected an integer -1..10000000, got \"-2\""},
        {"socket_domain ipv5", "test.conf:1: socket_domain: expected ipv4 or ipv6, got \"ipv5\""},
        {"protocol mqtts", "test.conf:1: protocol: expected mqtt or websockets, got \"mqtts\""},
        {"bind_interface a-very-long-name0",
         "test.conf:1: bind_interface: expected an interface name of 1 to 15 bytes, got "
         "\"a-very-long-name0\""},
        {"max_topic_alias 65536",
         "test.conf:1: max_topic_alias: expected an integer 0..65535, got \"65536\""},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        smq_config_diag_dispose(&diag);
        assert_rejected(cases[i].line, cases[i].error);
        assert_default_listener(&cfg.listeners[0]);
    }
}

Test(config, a_listener_given_twice_is_an_error)
{
    cr_assert_eq(parse("listener 1883\nlistener 8883\nlistener 1883\n"), SMQ_EINVAL);
    ASSERT_ERROR("test.conf:3: listener: port 1883 on every address is already taken by the "
                 "listener of line 1 (every address)");
    cr_assert_eq(diag.errors, 1);
}

Test(config, listeners_on_overlapping_addresses_clash)
{
    cr_assert_eq(parse("listener 1883 127.0.0.1\nlistener 1883 10.0.0.1\nlistener 1883 ::1\n"
                       "listener 1883 127.0.0.1\nlistener 1883\n"),
                 SMQ_EINVAL);
    ASSERT_ERROR("test.conf:4: listener: port 1883 on 127.0.0.1 is already taken by the "
                 "listener of line 1 (127.0.0.1)");
    ASSERT_ERROR("test.conf:5: listener: port 1883 on every address is already taken by the "
                 "listener of line 1 (127.0.0.1)");
    cr_assert_eq(diag.errors, 2, "%s", all_diag());
}

Test(config, listeners_on_other_families_or_interfaces_do_not_clash)
{
    cr_assert_eq(parse("listener 1883\nsocket_domain ipv4\nlistener 1883\nsocket_domain ipv6\n"
                       "listener 1884\nbind_interface eth0\nlistener 1884\nbind_interface eth1\n"),
                 0, "%s", all_diag());
    cr_assert_eq(cfg.listener_count, 4);
}

Test(config, a_key_that_opens_the_default_listener_on_a_listened_port_is_explained)
{
    cr_assert_eq(parse("max_connections 100\nlistener 1883\n"), SMQ_EINVAL);
    cr_assert(HAS_ERROR("test.conf:2: listener: port 1883 on every address is also the default "
                        "listener's, configured by max_connections at line 1",
                        "move that key below a listener line"),
              "%s", all_diag());
}

Test(config, ephemeral_listeners_never_clash)
{
    cr_assert_eq(parse("listener 0\nlistener 0\n"), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.listener_count, 2);
}

Test(config, a_tls_listener_is_not_opened_and_says_so)
{
    cr_assert_eq(parse("listener 1883\nlistener 8883\ncafile /ca.pem\ncertfile /c.pem\n"), 0);
    ASSERT_WARNING("test.conf:3: cafile: TLS is not supported by shardmq yet; ignored, and "
                   "listener 8883 (line 2) will not be opened");
    ASSERT_WARNING("test.conf:4: certfile: TLS is not supported by shardmq yet; ignored");
    cr_assert_eq(diag.errors, 0);
    cr_assert_eq(cfg.listener_count, 1);
    cr_assert_eq(cfg.listeners[0].port, 1883);
}

Test(config, websocket_and_unix_socket_listeners_are_not_opened)
{
    cr_assert_eq(parse("listener 1883\nlistener 9001\nprotocol websockets\n"
                       "listener 0 /run/mosquitto.sock\n"),
                 0);
    ASSERT_WARNING("test.conf:3: protocol: WebSocket listeners are not supported by shardmq "
                   "yet; ignored, and listener 9001 (line 2) will not be opened");
    ASSERT_WARNING("test.conf:4: listener: Unix socket listeners are not supported by shardmq "
                   "yet; /run/mosquitto.sock will not be opened");
    cr_assert_eq(cfg.listener_count, 1);
    cr_assert_eq(cfg.listeners[0].port, 1883);
}

Test(config, no_listener_left_to_open_is_an_error)
{
    cr_assert_eq(parse("listener 8883\nkeyfile /k.pem\n"), SMQ_EINVAL);
    ASSERT_ERROR("test.conf: no listener left that shardmq can open (see the warnings)");
    cr_assert_eq(cfg.listener_count, 1);
    assert_default_listener(&cfg.listeners[0]);
}

Test(config, a_mount_point_listener_is_not_opened)
{
    cr_assert_eq(parse("listener 1883\nlistener 1884\nmount_point tenant/\n"), 0);
    cr_assert(HAS_WARNING("test.conf:3: mount_point: mount_point is not supported by shardmq yet",
                          "listener 1884 (line 2) will not be opened"),
              "%s", all_diag());
    cr_assert_eq(cfg.listener_count, 1);
}

Test(config, more_than_the_maximum_of_listeners_is_an_error)
{
    char text[2048] = "";
    for (int i = 0; i <= SMQ_CONFIG_MAX_LISTENERS; i++) {
        char line[32];
        snprintf(line, sizeof(line), "listener %d\n", 2000 + i);
        strcat(text, line);
    }
    cr_assert_eq(parse(text), SMQ_EINVAL);
    ASSERT_ERROR("test.conf:65: listener: more than 64 listeners");
}

/* --- values: errors --------------------------------------------------------------------- */

Test(config, a_bad_integer_names_file_line_and_key)
{
    cr_assert_eq(parse("workers 2\n\nmax_inflight_messages abc\n"), SMQ_EINVAL);
    ASSERT_ERROR("test.conf:3: max_inflight_messages: expected an integer 0..65535, got \"abc\"");
    cr_assert_eq(diag.count, 1);
    cr_assert_eq(diag.items[0].line, 3);
    cr_assert_eq(diag.items[0].severity, SMQ_CONFIG_ERROR);
}

Test(config, integers_are_checked_for_form_range_and_overflow)
{
    static const char *const bad[] = {"70000",
                                      "-1",
                                      "12abc",
                                      "0x10",
                                      "+5",
                                      "1.5",
                                      "1e3",
                                      "",
                                      "99999999999999999999999",
                                      "-99999999999999999999999"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        char line[64], expected[160];
        smq_config_diag_dispose(&diag);
        snprintf(line, sizeof(line), "max_inflight_messages %s", bad[i]);
        if (*bad[i])
            snprintf(expected, sizeof(expected),
                     "test.conf:1: max_inflight_messages: expected an integer 0..65535, got "
                     "\"%s\"",
                     bad[i]);
        else
            snprintf(expected, sizeof(expected),
                     "test.conf:1: max_inflight_messages: expected an integer 0..65535, got "
                     "nothing");
        assert_rejected(line, expected);
        cr_assert_eq(cfg.max_inflight_messages, 20);
    }
}

Test(config, every_range_is_enforced)
{
    static const char *const lines[] = {
        "workers 1025",
        "connect_timeout 0",
        "drain_timeout 3601",
        "max_clientid_length 22",
        "max_keepalive 65536",
        "max_sessions 0",
        "max_awaiting_rel 0",
        "max_packet_size 19",
        "max_packet_size 268435461",
        "max_topic_length 0",
        "max_topic_levels 257",
        "max_subscriptions_per_session 0",
        "max_user_properties -1",
        "max_retained_messages 0",
        "max_retained_bytes 0",
        "max_queued_messages 1000001",
        "max_queued_bytes 1099511627777",
    };
    for (size_t i = 0; i < COUNT(lines); i++) {
        smq_config_diag_dispose(&diag);
        cr_assert_eq(parse(lines[i]), SMQ_EINVAL, "accepted: %s", lines[i]);
        cr_assert(HAS_ERROR("test.conf:1: ", "expected an integer"), "%s: %s", lines[i],
                  all_diag());
    }
    cr_assert_eq(parse("max_packet_size 268435460\nmax_topic_levels 256\n"), 0);
    cr_assert_eq(cfg.max_packet_size, 268435460);
}

Test(config, trailing_text_after_a_value_is_an_error)
{
    assert_rejected("workers 4 5", "test.conf:1: workers: unexpected \"5\" after the value");
}

Test(config, a_bad_boolean_is_an_error)
{
    assert_rejected("allow_anonymous yes",
                    "test.conf:1: allow_anonymous: expected true or false, got \"yes\"");
    cr_assert(cfg.allow_anonymous);
}

Test(config, a_bad_duration_is_an_error)
{
    static const char *const bad[] = {"5", "5x", "h", "1.5d", "-1d", "4294967296s", "137y"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        char line[64];
        smq_config_diag_dispose(&diag);
        snprintf(line, sizeof(line), "persistent_client_expiration %s", bad[i]);
        cr_assert_eq(parse(line), SMQ_EINVAL, "accepted: %s", line);
        cr_assert(HAS_ERROR("test.conf:1: persistent_client_expiration: expected a duration "
                            "such as 3600s, 12h, 2d, 1w, 3m (months) or 1y",
                            bad[i]),
                  "%s", all_diag());
    }
}

Test(config, a_value_that_is_too_long_is_shortened_in_the_message)
{
    char line[300] = "workers ";
    memset(line + 8, 'x', 200);
    line[208] = '\0';
    cr_assert_eq(parse(line), SMQ_EINVAL);
    cr_assert_eq(diag.count, 1);
    cr_assert_lt(strlen(diag.items[0].text), 160);
    cr_assert(strstr(diag.items[0].text, "...\""), "%s", diag.items[0].text);
}

Test(config, every_error_is_reported_and_nothing_is_applied)
{
    cr_assert_eq(parse("max_inflight_messages 5\nworkers many\nmax_keepalive -3\nwat 1\n"),
                 SMQ_EINVAL);
    cr_assert_eq(diag.errors, 3, "%s", all_diag());
    cr_assert_eq(diag.items[0].line, 2);
    cr_assert_eq(diag.items[1].line, 3);
    cr_assert_eq(diag.items[2].line, 4);
    cr_assert_eq(cfg.max_inflight_messages, 20); /* all or nothing */
}

Test(config, diagnostics_beyond_the_cap_are_counted)
{
    size_t lines = SMQ_CONFIG_DIAG_MAX + 50;
    char *text = malloc(lines * 16 + 1);
    text[0] = '\0';
    for (size_t i = 0; i < lines; i++)
        strcat(text, "workers x\n");
    cr_assert_eq(parse(text), SMQ_EINVAL);
    free(text);
    cr_assert_eq(diag.count, SMQ_CONFIG_DIAG_MAX);
    cr_assert_eq(diag.errors, lines);
    cr_assert_eq(diag.dropped, 50);
}

/* --- keys --------------------------------------------------------------------------------- */

Test(config, an_unknown_key_is_an_error_with_a_hint)
{
    cr_assert_eq(parse("max_inflight 10\n"), SMQ_EINVAL);
    ASSERT_ERROR("test.conf:1: max_inflight: unknown key");
    smq_config_diag_dispose(&diag);
    cr_assert_eq(parse("max_inflight_mesages 10\n"), SMQ_EINVAL);
    ASSERT_ERROR("test.conf:1: max_inflight_mesages: unknown key (did you mean "
                 "max_inflight_messages?)");
    smq_config_diag_dispose(&diag);
    cr_assert_eq(parse("Workers 2\n"), SMQ_EINVAL);
    ASSERT_ERROR("test.conf:1: Workers: unknown key (did you mean workers?)");
}

Test(config, a_mosquitto_key_shardmq_lacks_is_a_warning_naming_file_and_line)
{
    cr_assert_eq(parse("workers 2\npersistence true\n"), 0);
    ASSERT_WARNING("test.conf:2: persistence: Mosquitto option not supported by shardmq yet; "
                   "ignored");
    cr_assert_eq(diag.count, 1);
    cr_assert_eq(diag.items[0].line, 2);
    cr_assert_eq(cfg.workers, 2);
}

Test(config, mosquitto_keys_of_every_kind_are_warnings)
{
    static const char *const lines[] = {
        "persistence_location /var/lib/mosquitto/",
        "autosave_interval 1800",
        "include_dir /etc/mosquitto/conf.d",
        "sys_interval 10",
        "max_inflight_bytes 0",
        "memory_limit 0",
        "pid_file /run/mosquitto.pid",
        "user mosquitto",
        "set_tcp_nodelay true",
        "message_size_limit 0",
        "connection bridge-01",
        "address 10.0.0.1:1883",
        "topic # both 0",
        "bridge_protocol_version mqttv311",
        "auth_opt_backend files",
        "plugin_opt_x y",
        "max_inflight_bytes 100",
        "websockets_log_level 0",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "retry_interval 20",
    };
    for (size_t i = 0; i < COUNT(lines); i++) {
        smq_config_diag_dispose(&diag);
        cr_assert_eq(parse(lines[i]), 0, "%s: %s", lines[i], all_diag());
        cr_assert_eq(diag.errors, 0);
        cr_assert_eq(diag.warnings, 1, "%s: %s", lines[i], all_diag());
        cr_assert(strncmp(diag.items[0].text, "test.conf:1: ", 13) == 0);
    }
}

Test(config, per_listener_settings_true_is_a_warning)
{
    cr_assert_eq(parse("per_listener_settings true\n"), 0);
    cr_assert(HAS_WARNING("test.conf:1: per_listener_settings: true is not supported"), "%s",
              all_diag());
}

Test(config, an_authentication_key_turns_anonymous_access_off)
{
    cr_assert_eq(parse("listener 1883\npassword_file /etc/mosquitto/passwd\n"), 0);
    cr_assert_not(cfg.allow_anonymous);
    cr_assert(HAS_WARNING("test.conf:2: password_file: Mosquitto option not supported"), "%s",
              all_diag());
    cr_assert(HAS_WARNING("test.conf:2: password_file: without allow_anonymous, anonymous "
                          "access is off"),
              "%s", all_diag());
}

Test(config, an_explicit_allow_anonymous_wins_over_an_authentication_key)
{
    cr_assert_eq(parse("acl_file /etc/acl\nallow_anonymous true\n"), 0);
    cr_assert(cfg.allow_anonymous);
    cr_assert(HAS_WARNING("test.conf:1: acl_file: allow_anonymous true: every client is "
                          "admitted without checking credentials"),
              "%s", all_diag());
}

Test(config, a_typical_mosquitto_2_file_loads)
{
    cr_assert_eq(parse("persistence true\n"
                       "persistence_location /mosquitto/data/\n"
                       "log_dest file /mosquitto/log/mosquitto.log\n"
                       "log_dest stdout\n"
                       "listener 1883\n"
                       "allow_anonymous true\n"
                       "listener 9001\n"
                       "protocol websockets\n"),
                 0, "%s", all_diag());
    cr_assert_eq(diag.errors, 0);
    cr_assert_eq(diag.warnings, 3, "%s", all_diag());
    cr_assert_eq(cfg.listener_count, 1);
    cr_assert_eq(cfg.listeners[0].port, 1883);
    cr_assert(cfg.allow_anonymous);
    cr_assert_str_eq(cfg.log_file, "/mosquitto/log/mosquitto.log");
    cr_assert_eq(cfg.log_dests, SMQ_CONFIG_LOGDEST_FILE | SMQ_CONFIG_LOGDEST_STDOUT);
}

/* --- lines and files ------------------------------------------------------------------ */

Test(config, a_line_at_the_length_limit_is_read)
{
    size_t len = SMQ_CONFIG_MAX_LINE;
    char *text = malloc(len + 2);
    const char *head = "log_dest file /";
    memcpy(text, head, strlen(head));
    memset(text + strlen(head), 'a', len - strlen(head));
    text[len] = '\n';
    text[len + 1] = '\0';
    cr_assert_eq(parse(text), 0, "%s", all_diag());
    cr_assert_eq(strlen(cfg.log_file), len - strlen("log_dest file "));
    free(text);
}

Test(config, a_line_beyond_the_length_limit_is_an_error)
{
    size_t len = SMQ_CONFIG_MAX_LINE + 1;
    char *text = malloc(len + 32);
    memset(text, '#', len);
    strcpy(text + len, "\nworkers 3\n");
    cr_assert_eq(parse(text), SMQ_EINVAL);
    free(text);
    ASSERT_ERROR("test.conf:1: line longer than 65536 bytes");
    cr_assert_eq(diag.count, 1);
    cr_assert_eq(cfg.workers, 0);
}

Test(config, a_control_character_is_an_error)
{
    assert_rejected("workers \x01"
                    "3",
                    "test.conf:1: control character 0x01 in the line");
}

Test(config, a_file_with_a_bom_crlf_and_no_final_newline_loads)
{
    static const char text[] = "\xEF\xBB\xBFworkers 5\r\n# comment\r\nmax_sessions 9";
    const char *path = temp_file(text, sizeof(text) - 1);
    cr_assert_eq(smq_config_load_file(&cfg, path, &diag), 0, "%s", all_diag());
    unlink(path);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.workers, 5);
    cr_assert_eq(cfg.max_sessions, 9);
}

Test(config, a_file_names_itself_in_messages)
{
    static const char text[] = "workers 1\nworkers lots\n";
    const char *path = temp_file(text, sizeof(text) - 1);
    char expected[128];
    snprintf(expected, sizeof(expected), "%s:2: workers: expected an integer 0..1024, got \"lots\"",
             path);
    cr_assert_eq(smq_config_load_file(&cfg, path, &diag), SMQ_EINVAL);
    unlink(path);
    ASSERT_ERROR(expected);
    cr_assert_eq(cfg.workers, 0);
}

Test(config, a_nul_byte_in_a_file_is_an_error)
{
    static const char text[] = "workers 1\nwork\0ers 2\nmax_sessions 3\n";
    const char *path = temp_file(text, sizeof(text) - 1);
    char expected[128];
    snprintf(expected, sizeof(expected), "%s:2: NUL byte in the line", path);
    cr_assert_eq(smq_config_load_file(&cfg, path, &diag), SMQ_EINVAL);
    unlink(path);
    ASSERT_ERROR(expected);
    cr_assert_eq(diag.count, 1);
}

Test(config, a_missing_file_is_an_error)
{
    cr_assert_eq(smq_config_load_file(&cfg, "/nonexistent/shardmq.conf", &diag), -ENOENT);
    ASSERT_ERROR("/nonexistent/shardmq.conf: cannot read: No such file or directory");
    cr_assert_eq(diag.errors, 1);
    cr_assert_eq(cfg.listener_count, 1);
}

Test(config, a_directory_is_not_a_file)
{
    cr_assert_eq(smq_config_load_file(&cfg, "/tmp", &diag), -EISDIR);
    ASSERT_ERROR("/tmp: cannot read: Is a directory");
}

/* --- the environment and the command line ----------------------------------------------- */

Test(config, the_environment_overrides_the_file)
{
    char *envp[] = {"SHARDMQ_MAX_INFLIGHT_MESSAGES=10",
                    "SHARDMQ_WORKERS= 4 ",
                    "SHARDMQ_ALLOW_ANONYMOUS=false",
                    "SHARDMQ_PERSISTENT_CLIENT_EXPIRATION=1w",
                    "SHARDMQ_AUTO_ID_PREFIX=env-",
                    "TERM=xterm",
                    "SHARDMQ",
                    NULL};
    cr_assert_eq(parse("max_inflight_messages 30\nworkers 2\nmax_sessions 77\n"), 0);
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), 0, "%s", all_diag());
    ASSERT_CLEAN();
    cr_assert_eq(cfg.max_inflight_messages, 10);
    cr_assert_eq(cfg.workers, 4);
    cr_assert_not(cfg.allow_anonymous);
    cr_assert_eq(cfg.persistent_client_expiration, 7 * 86400);
    cr_assert_str_eq(cfg.auto_id_prefix, "env-");
    cr_assert_eq(cfg.max_sessions, 77); /* from the file */
}

Test(config, a_bad_environment_value_names_the_variable)
{
    char *envp[] = {"SHARDMQ_WORKERS=8", "SHARDMQ_MAX_INFLIGHT_MESSAGES=abc", NULL};
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), SMQ_EINVAL);
    ASSERT_ERROR("SHARDMQ_MAX_INFLIGHT_MESSAGES: expected an integer 0..65535, got \"abc\"");
    cr_assert_eq(diag.items[0].line, 0);
    cr_assert_eq(cfg.workers, 0); /* all or nothing */
    cr_assert_eq(cfg.max_inflight_messages, 20);
}

Test(config, shardmq_listener_replaces_the_listeners)
{
    char *envp[] = {"SHARDMQ_MAX_CONNECTIONS=7", "SHARDMQ_LISTENER=1884 127.0.0.1, 8884 ,0", NULL};
    cr_assert_eq(parse("listener 1883\nlistener 9999\n"), 0);
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), 0, "%s", all_diag());
    ASSERT_CLEAN();
    cr_assert_eq(cfg.listener_count, 3);
    cr_assert_eq(cfg.listeners[0].port, 1884);
    cr_assert_str_eq(cfg.listeners[0].address, "127.0.0.1");
    cr_assert_eq(cfg.listeners[1].port, 8884);
    cr_assert_null(cfg.listeners[1].address);
    cr_assert_eq(cfg.listeners[2].port, 0);
    for (size_t i = 0; i < cfg.listener_count; i++)
        cr_assert_eq(cfg.listeners[i].max_connections, 7);
}

Test(config, a_listener_scoped_variable_applies_to_every_listener)
{
    char *envp[] = {"SHARDMQ_MAX_TOPIC_ALIAS=3", NULL};
    cr_assert_eq(parse("listener 1883\nlistener 1884\n"), 0);
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), 0);
    cr_assert_eq(cfg.listeners[0].max_topic_alias, 3);
    cr_assert_eq(cfg.listeners[1].max_topic_alias, 3);
}

Test(config, a_bad_shardmq_listener_is_an_error)
{
    char *envp[] = {"SHARDMQ_LISTENER=1883, http", NULL};
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), SMQ_EINVAL);
    ASSERT_ERROR("SHARDMQ_LISTENER: expected a port 0..65535, got \"http\"");
    cr_assert_eq(cfg.listener_count, 1);
    assert_default_listener(&cfg.listeners[0]);
}

Test(config, environment_lists_for_log_type_and_log_dest)
{
    char *envp[] = {"SHARDMQ_LOG_TYPE=error, warning debug",
                    "SHARDMQ_LOG_DEST=stdout, file /var/log/shard mq.log", NULL};
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), 0, "%s", all_diag());
    cr_assert_eq(cfg.log_types,
                 SMQ_CONFIG_LOG_ERROR | SMQ_CONFIG_LOG_WARNING | SMQ_CONFIG_LOG_DEBUG);
    cr_assert_eq(cfg.log_dests, SMQ_CONFIG_LOGDEST_STDOUT | SMQ_CONFIG_LOGDEST_FILE);
    cr_assert_str_eq(cfg.log_file, "/var/log/shard mq.log");
}

Test(config, unknown_and_mosquitto_variables_are_warnings)
{
    char *envp[] = {"SHARDMQ_MAX_INFLIGHT=10", "SHARDMQ_BIN=/usr/bin/shardmq",
                    "SHARDMQ_PASSWORD_FILE=/p", "SHARDMQ_lower=1", NULL};
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), 0, "%s", all_diag());
    cr_assert_eq(diag.errors, 0);
    ASSERT_WARNING("SHARDMQ_MAX_INFLIGHT: not a shardmq setting; ignored");
    ASSERT_WARNING("SHARDMQ_BIN: not a shardmq setting; ignored");
    ASSERT_WARNING("SHARDMQ_lower: not a shardmq setting; ignored");
    cr_assert(HAS_WARNING("SHARDMQ_PASSWORD_FILE: Mosquitto option not supported"), "%s",
              all_diag());
    cr_assert_not(cfg.allow_anonymous); /* fail closed, as in a file */
}

Test(config, kubernetes_service_variables_are_ignored)
{
    char *envp[] = {
        "SHARDMQ_PORT=tcp://10.0.0.7:1883",    "SHARDMQ_PORT_1883_TCP=tcp://10.0.0.7:1883",
        "SHARDMQ_PORT_1883_TCP_ADDR=10.0.0.7", "SHARDMQ_SERVICE_HOST=10.0.0.7",
        "SHARDMQ_SERVICE_PORT=1883",           NULL};
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), 0);
    ASSERT_CLEAN();
    assert_default_listener(&cfg.listeners[0]);
}

Test(config, an_empty_variable_counts_as_unset)
{
    char *envp[] = {"SHARDMQ_WORKERS=", "SHARDMQ_MAX_SESSIONS=  ", NULL};
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.workers, 0);
    cr_assert_eq(cfg.max_sessions, 1000000);
}

Test(config, default_listener_keys_are_file_only)
{
    char *envp[] = {"SHARDMQ_BIND_ADDRESS=127.0.0.1", NULL};
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), SMQ_EINVAL);
    ASSERT_ERROR("SHARDMQ_BIND_ADDRESS: only in a configuration file; use listener "
                 "(SHARDMQ_LISTENER)");
}

Test(config, a_control_character_in_a_variable_is_an_error)
{
    char *envp[] = {"SHARDMQ_AUTO_ID_PREFIX=a\x1b[31m", NULL};
    cr_assert_eq(smq_config_apply_env(&cfg, envp, &diag), SMQ_EINVAL);
    ASSERT_ERROR("SHARDMQ_AUTO_ID_PREFIX: control character in the value");
}

Test(config, set_applies_one_command_line_value)
{
    cr_assert_eq(smq_config_set(&cfg, "listener", "1999", "-p", &diag), 0);
    cr_assert_eq(smq_config_set(&cfg, "workers", "3", "-w", &diag), 0);
    ASSERT_CLEAN();
    cr_assert_eq(cfg.listener_count, 1);
    cr_assert_eq(cfg.listeners[0].port, 1999);
    cr_assert_eq(cfg.workers, 3);
    cr_assert_eq(smq_config_set(&cfg, "workers", "-3", "-w", &diag), SMQ_EINVAL);
    ASSERT_ERROR("-w: expected an integer 0..1024, got \"-3\"");
    cr_assert_eq(cfg.workers, 3);
    cr_assert_eq(smq_config_set(&cfg, "wrokers", "3", "--bad", &diag), SMQ_EINVAL);
    ASSERT_ERROR("--bad: not a shardmq setting (did you mean workers?)");
}

/* --- deploy/shardmq.conf ---------------------------------------------------------------- */

/* Returns the path of a file of the source tree (malloc'd). __FILE__ is this file as the
 * compiler saw it: absolute, or relative to the build directory, which is two levels above
 * this test's executable (BUILD/tests/broker_config_test). */
static char *source_path(const char *rel)
{
    static const char self_rel[] = "tests/unit/broker/config_test.c";
    const char *self = __FILE__;
    size_t len = strlen(self);
    cr_assert(len >= strlen(self_rel) && strcmp(self + len - strlen(self_rel), self_rel) == 0,
              "unexpected __FILE__ %s", self);
    size_t root_len = len - strlen(self_rel);
    char *path = malloc(8192);
    if (self[0] == '/') {
        snprintf(path, 8192, "%.*s%s", (int)root_len, self, rel);
        return path;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    cr_assert_gt(n, 0);
    exe[n] = '\0';
    char *build = dirname(dirname(exe));
    snprintf(path, 8192, "%s/%.*s%s", build, (int)root_len, self, rel);
    return path;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

Test(config, the_example_file_documents_every_key_with_its_default)
{
    char *path = source_path("deploy/shardmq.conf");
    char *text = read_all(path);

    /* As written (everything commented out) it is the defaults... */
    struct smq_config defaults;
    smq_config_init_defaults(&defaults);
    cr_assert_eq(smq_config_load_file(&cfg, path, &diag), 0, "%s", all_diag());
    ASSERT_CLEAN();
    assert_same_config(&cfg, &defaults);

    /* ...and with every `#key value` line uncommented it still is. */
    char *uncommented = malloc(strlen(text) + 1);
    char *out = uncommented;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z') {
            line++;
            len--;
        }
        memcpy(out, line, len);
        out += len;
        line += len;
    }
    *out = '\0';
    cr_assert_eq(parse(uncommented), 0, "%s", all_diag());
    ASSERT_CLEAN();
    assert_same_config(&cfg, &defaults);

    /* Every key is documented. */
    for (size_t i = 0; i < COUNT(every_key); i++) {
        char shown[80], hidden[80];
        snprintf(shown, sizeof(shown), "\n#%s ", every_key[i].key);
        snprintf(hidden, sizeof(hidden), "\n# %s ", every_key[i].key);
        cr_assert(strstr(text, shown) || strstr(text, hidden), "%s is not in %s", every_key[i].key,
                  path);
    }
    cr_assert(strstr(text, "\n# port ") && strstr(text, "\n# bind_address "));

    smq_config_dispose(&defaults);
    free(uncommented);
    free(text);
    free(path);
}
