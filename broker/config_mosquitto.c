/* Keys that are not shardmq's: Mosquitto's keys shardmq does not support yet, and keys
 * nobody knows.
 *
 * A Mosquitto key is a warning, so a Mosquitto user's file still starts the broker. Some
 * of them cannot simply be dropped without changing what the file promises: a TLS key
 * makes its listener a TLS listener, so that listener is not opened at all (rather than
 * served in plain text); mount_point separates a listener's topics, so that listener is
 * not opened either; an authentication or access-control key (password_file, acl_file,
 * plugin...) turns anonymous access off unless allow_anonymous is given (fail closed,
 * applied at the end of the run by config_listeners.c). Any other unknown key is an
 * error in a file and a warning in the environment, with the nearest shardmq key as a
 * hint. */
#include <string.h>

#include "broker/config.h"
#include "broker/config_keys.h"

enum effect {
    PLAIN,    /* ignored */
    SECURITY, /* asks for authentication or access control shardmq cannot do yet */
    TLS,      /* makes its listener a TLS listener */
    MOUNT,    /* mount_point */
    BRIDGE,   /* part of a bridge */
};

struct mosquitto_key {
    const char *name;
    enum effect effect;
};

/* Mosquitto 1.x and 2.x keys (mosquitto.conf(5), src/conf.c) that shardmq does not support
 * yet, sorted. `auth_opt_*` and `plugin_opt_*` are matched by prefix. */
static const struct mosquitto_key mosquitto_keys[] = {
    {"accept_protocol_versions", PLAIN},
    {"acl_file", SECURITY},
    {"address", BRIDGE},
    {"addresses", BRIDGE},
    {"allow_duplicate_messages", PLAIN},
    {"auth_plugin", SECURITY},
    {"auth_plugin_deny_special_chars", PLAIN},
    {"autosave_interval", PLAIN},
    {"autosave_on_changes", PLAIN},
    {"bridge_alpn", BRIDGE},
    {"bridge_attempt_unsubscribe", BRIDGE},
    {"bridge_bind_address", BRIDGE},
    {"bridge_cafile", BRIDGE},
    {"bridge_capath", BRIDGE},
    {"bridge_certfile", BRIDGE},
    {"bridge_ciphers", BRIDGE},
    {"bridge_ciphers_tls1.3", BRIDGE},
    {"bridge_identity", BRIDGE},
    {"bridge_insecure", BRIDGE},
    {"bridge_keyfile", BRIDGE},
    {"bridge_max_packet_size", BRIDGE},
    {"bridge_max_topic_alias", BRIDGE},
    {"bridge_outgoing_retain", BRIDGE},
    {"bridge_protocol_version", BRIDGE},
    {"bridge_psk", BRIDGE},
    {"bridge_receive_maximum", BRIDGE},
    {"bridge_reload_type", BRIDGE},
    {"bridge_require_ocsp", BRIDGE},
    {"bridge_session_expiry_interval", BRIDGE},
    {"bridge_tcp_keepalive", BRIDGE},
    {"bridge_tcp_user_timeout", BRIDGE},
    {"bridge_tls_version", BRIDGE},
    {"cafile", TLS},
    {"capath", TLS},
    {"certfile", TLS},
    {"check_retain_source", PLAIN},
    {"ciphers", TLS},
    {"ciphers_tls1.3", TLS},
    {"cleansession", BRIDGE},
    {"clientid", BRIDGE},
    {"clientid_prefixes", SECURITY},
    {"connection", BRIDGE},
    {"crlfile", TLS},
    {"dhparamfile", TLS},
    {"disable_client_cert_date_checks", TLS},
    {"enable_control_api", PLAIN},
    {"global_max_clients", PLAIN},
    {"global_max_connections", PLAIN},
    {"global_plugin", SECURITY},
    {"http_dir", PLAIN},
    {"idle_timeout", BRIDGE},
    {"include_dir", PLAIN},
    {"keepalive_interval", BRIDGE},
    {"keyfile", TLS},
    {"local_cleansession", BRIDGE},
    {"local_clientid", BRIDGE},
    {"local_password", BRIDGE},
    {"local_username", BRIDGE},
    {"log_timestamp_format", PLAIN},
    {"max_inflight_bytes", PLAIN},
    {"maximum_qos", PLAIN},
    {"memory_limit", PLAIN},
    {"message_size_limit", PLAIN},
    {"mount_point", MOUNT},
    {"notification_topic", BRIDGE},
    {"notifications", BRIDGE},
    {"notifications_local_only", BRIDGE},
    {"password", BRIDGE},
    {"password_file", SECURITY},
    {"persistence", PLAIN},
    {"persistence_file", PLAIN},
    {"persistence_location", PLAIN},
    {"pid_file", PLAIN},
    {"plugin", SECURITY},
    {"psk_file", SECURITY},
    {"psk_hint", TLS},
    {"quic_log_level", PLAIN},
    {"remote_clientid", BRIDGE},
    {"remote_password", BRIDGE},
    {"remote_username", BRIDGE},
    {"require_certificate", TLS},
    {"restart_timeout", BRIDGE},
    {"retained_persistence", PLAIN},
    {"retry_interval", PLAIN},
    {"round_robin", BRIDGE},
    {"set_tcp_nodelay", PLAIN},
    {"start_type", BRIDGE},
    {"store_clean_interval", PLAIN},
    {"sys_interval", PLAIN},
    {"threshold", BRIDGE},
    {"tls_engine", TLS},
    {"tls_engine_kpass_sha1", TLS},
    {"tls_keyform", TLS},
    {"tls_version", TLS},
    {"topic", BRIDGE},
    {"try_private", BRIDGE},
    {"use_identity_as_username", TLS},
    {"use_subject_as_username", TLS},
    {"use_username_as_clientid", PLAIN},
    {"user", PLAIN},
    {"username", BRIDGE},
    {"websockets_headers_size", PLAIN},
    {"websockets_log_level", PLAIN},
    {"websockets_origin", PLAIN},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct mosquitto_key *find(const char *key)
{
    static const struct mosquitto_key auth_opt = {"auth_opt_*", PLAIN};
    static const struct mosquitto_key plugin_opt = {"plugin_opt_*", PLAIN};
    size_t lo = 0, hi = COUNT(mosquitto_keys);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, mosquitto_keys[mid].name);
        if (c == 0)
            return &mosquitto_keys[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (strncmp(key, "auth_opt_", 9) == 0)
        return &auth_opt;
    if (strncmp(key, "plugin_opt_", 11) == 0)
        return &plugin_opt;
    return NULL;
}

static void on_unknown(struct smq__config_parse *p, const char *key)
{
    const char *hint = smq__config_closest_key(key);
    enum smq_config_severity sev = p->unknown_is_error ? SMQ_CONFIG_ERROR : SMQ_CONFIG_WARNING;
    const char *what = p->from_file ? "unknown key" : "not a shardmq setting";
    const char *tail = p->unknown_is_error ? "" : "; ignored";
    if (hint)
        smq__config_report(p, sev, key, "%s (did you mean %s?)%s", what, hint, tail);
    else
        smq__config_report(p, sev, key, "%s%s", what, tail);
}

void smq__config_apply_foreign(struct smq__config_parse *p, const char *key)
{
    static const char unsupported[] = "Mosquitto option not supported by shardmq yet; ignored";
    const struct mosquitto_key *m = find(key);
    if (!m) {
        on_unknown(p, key);
        return;
    }
    switch (m->effect) {
    case PLAIN:
        smq__config_report(p, SMQ_CONFIG_WARNING, key, "%s", unsupported);
        break;
    case BRIDGE:
        smq__config_report(p, SMQ_CONFIG_WARNING, key,
                           "bridges are not supported by shardmq yet; ignored");
        break;
    case SECURITY:
        smq__config_report(p, SMQ_CONFIG_WARNING, key,
                           "%s: no client is authenticated or checked against it", unsupported);
        if (!p->security_key) {
            p->security_key = m->name;
            p->security_line = p->line;
        }
        break;
    case TLS:
        smq__config_skip_listeners(p, m->name, key, "TLS is not supported by shardmq yet");
        break;
    case MOUNT:
        smq__config_skip_listeners(p, m->name, key,
                                   "mount_point is not supported by shardmq yet (its clients "
                                   "would share topics with every other listener)");
        break;
    }
}
