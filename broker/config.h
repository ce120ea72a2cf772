/* The broker's configuration: typed settings with their defaults, read from a file in
 * Mosquitto's format and overridden by SHARDMQ_<KEY> environment variables.
 *
 * The file is Mosquitto's: one `key value` per line, `#` comments, blank lines, and
 * `listener PORT [ADDRESS]` opening a block whose listener-scoped keys (max_connections,
 * protocol, socket_domain, bind_interface, max_topic_alias) apply to that listener. Keys
 * are Mosquitto's where the meaning is the same, so a Mosquitto user keeps their file; a
 * Mosquitto key shardmq does not support yet is a warning, any other unknown key and any
 * bad value an error. Nothing here prints, exits or touches global state: every problem
 * is collected in a struct smq_config_diag for the caller (main prints it and exits with
 * status 2 on an error; tests assert on it). deploy/shardmq.conf documents every key.
 *
 * Call these from one thread at start-up (or reload); the result is read-only after. */
#ifndef SMQ_BROKER_CONFIG_H
#define SMQ_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- listeners -------------------------------------------------------------------------- */

enum smq_socket_domain {
    SMQ_SOCKET_ANY = 0, /* IPv4 and IPv6 */
    SMQ_SOCKET_IPV4,
    SMQ_SOCKET_IPV6,
};

/* The listener used when the file has no `listener` line: every address, port 1883. */
#define SMQ_CONFIG_DEFAULT_PORT 1883
/* Default per-listener max_connections: bounded only by the open-file limit. */
#define SMQ_CONFIG_CONNECTIONS_FD_LIMIT (-1)
/* Most listeners one configuration may open. */
#define SMQ_CONFIG_MAX_LISTENERS 64

struct smq_config_listener {
    char *address;            /* owned; NULL = every address, IPv4 and IPv6 */
    char *bind_interface;     /* owned; NULL = no SO_BINDTODEVICE */
    int32_t max_connections;  /* SMQ_CONFIG_CONNECTIONS_FD_LIMIT (-1) or a count */
    uint16_t port;            /* 0 = an ephemeral port chosen by the kernel */
    uint16_t max_topic_alias; /* v5 Topic Alias Maximum offered to clients */
    enum smq_socket_domain socket_domain;
};

/* --- logging ---------------------------------------------------------------------------- */

/* log_type bits (Mosquitto's names). */
#define SMQ_CONFIG_LOG_ERROR       (1u << 0)
#define SMQ_CONFIG_LOG_WARNING     (1u << 1)
#define SMQ_CONFIG_LOG_NOTICE      (1u << 2)
#define SMQ_CONFIG_LOG_INFORMATION (1u << 3)
#define SMQ_CONFIG_LOG_DEBUG       (1u << 4)
#define SMQ_CONFIG_LOG_SUBSCRIBE   (1u << 5)
#define SMQ_CONFIG_LOG_UNSUBSCRIBE (1u << 6)
#define SMQ_CONFIG_LOG_WEBSOCKETS  (1u << 7)
#define SMQ_CONFIG_LOG_INTERNAL    (1u << 8)
#define SMQ_CONFIG_LOG_ALL         ((1u << 9) - 1)
#define SMQ_CONFIG_LOG_DEFAULT                                                                     \
    (SMQ_CONFIG_LOG_ERROR | SMQ_CONFIG_LOG_WARNING | SMQ_CONFIG_LOG_NOTICE |                       \
     SMQ_CONFIG_LOG_INFORMATION)

/* log_dest bits. */
#define SMQ_CONFIG_LOGDEST_STDOUT (1u << 0)
#define SMQ_CONFIG_LOGDEST_STDERR (1u << 1)
#define SMQ_CONFIG_LOGDEST_SYSLOG (1u << 2)
#define SMQ_CONFIG_LOGDEST_FILE   (1u << 3) /* log_file names it */

/* --- the configuration ------------------------------------------------------------------ */

/* Every resource a client can make the broker hold has a limit here; none of them is
 * "0 = unlimited" (where Mosquitto reads 0 as unlimited, the parser stores the largest
 * value shardmq allows and says so). Defaults in brackets. */
struct smq_config {
    /* Listeners, in file order; never empty after a successful load. */
    struct smq_config_listener *listeners; /* owned: listener_count entries */
    size_t listener_count;

    /* Process. */
    uint32_t workers;           /* worker threads, 0 = one per online CPU [0] */
    uint32_t connect_timeout;   /* seconds a socket may take to send CONNECT [10] */
    uint32_t drain_timeout;     /* seconds to close clients on SIGTERM/SIGINT [5] */
    bool send_will_on_shutdown; /* publish wills of connected clients at shutdown [false] */

    /* Clients and sessions. */
    bool allow_anonymous;                  /* admit clients without credentials [true, see .conf] */
    bool allow_zero_length_clientid;       /* assign an id to an empty one (clean session) [true] */
    char *auto_id_prefix;                  /* owned; prefix of assigned client ids ["auto-"] */
    uint32_t max_clientid_length;          /* bytes [256] */
    uint16_t max_keepalive;                /* seconds, 0 = no check (Mosquitto's meaning) [65535] */
    uint32_t persistent_client_expiration; /* seconds offline before a session is dropped,
                                            * 0 = never [0] */
    uint32_t max_sessions;                 /* sessions held, connected or not [1000000] */

    /* Per-session message state. */
    uint16_t max_inflight_messages; /* outbound QoS 1/2 unacknowledged [20] */
    uint32_t max_queued_messages;   /* waiting behind the inflight window [1000] */
    uint64_t max_queued_bytes;      /* bytes of those [16 MiB] */
    uint16_t max_awaiting_rel;      /* inbound QoS 2 awaiting PUBREL [100] */
    bool queue_qos0_messages;       /* queue QoS 0 for offline persistent sessions [false] */
    bool upgrade_outgoing_qos;      /* deliver at the subscription's QoS [false] */
    uint32_t backpressure_timeout;  /* seconds a subscriber may hold publishers, 0 off [5] */

    /* Packets and topics. */
    uint32_t max_packet_size;               /* bytes, whole packet [1 MiB] */
    uint32_t max_topic_length;              /* bytes of a topic or filter [65535] */
    uint32_t max_topic_levels;              /* levels of a topic or filter [128] */
    uint32_t max_subscriptions_per_session; /* [1000] */
    uint32_t max_user_properties;           /* v5 user properties per packet [128] */

    /* Retained messages (the store is shared by every session). */
    bool retain_available;          /* [true] */

    /* MQTT 5.0 capabilities announced in CONNACK and enforced. */
    uint8_t max_qos;                           /* highest QoS accepted and granted [2] */
    bool wildcard_subscription_available;      /* [true] */
    bool subscription_identifier_available;    /* [true] */
    bool shared_subscription_available;        /* [true] */
    uint32_t max_session_expiry_interval;      /* seconds, caps a client's [4294967295] */
    uint16_t max_topic_alias_broker;           /* aliases we assign per connection [10] */
    bool validate_payload_format;              /* Payload Format 1 must be UTF-8 (0x99) [false] */
    bool response_information;                 /* answer Request Response Information [false] */
    uint64_t max_retained_messages; /* topics with a retained message [1000000] */
    uint64_t max_retained_bytes;    /* bytes of them [256 MiB] */

    /* Logging. */
    uint32_t log_types;       /* SMQ_CONFIG_LOG_* [SMQ_CONFIG_LOG_DEFAULT] */
    uint32_t log_dests;       /* SMQ_CONFIG_LOGDEST_* [stderr] */
    char *log_file;           /* owned; set with SMQ_CONFIG_LOGDEST_FILE, else NULL */
    int log_facility;         /* syslog facility value (<syslog.h>) [LOG_DAEMON] */
    bool log_timestamp;       /* [true] */
    bool connection_messages; /* one line per connect and disconnect [true] */
};

/* --- diagnostics ------------------------------------------------------------------------ */

enum smq_config_severity {
    SMQ_CONFIG_WARNING = 1,
    SMQ_CONFIG_ERROR = 2,
};

/* One diagnostic. text names its origin first: "FILE:LINE: KEY: what", or
 * "SHARDMQ_KEY: what" for the environment. */
struct smq_config_message {
    enum smq_config_severity severity;
    unsigned line; /* 1-based line in the file, 0 when not from a file */
    char *text;    /* owned */
};

/* Most messages kept; later ones are only counted (in errors/warnings and dropped). */
#define SMQ_CONFIG_DIAG_MAX 100

struct smq_config_diag {
    struct smq_config_message *items; /* owned: count entries */
    size_t count, cap;
    size_t errors, warnings; /* every one reported, kept or not */
    size_t dropped;          /* reported beyond SMQ_CONFIG_DIAG_MAX */
};

/* Starts an empty list (caller's storage). The zero value is also an empty list. */
void smq_config_diag_init(struct smq_config_diag *diag);

/* Releases the messages; the list is empty again afterwards. */
void smq_config_diag_dispose(struct smq_config_diag *diag);

/* --- lifecycle and loading -------------------------------------------------------------- */

/* Fills cfg (caller's storage) with the defaults, including one listener on every
 * address, port 1883. */
void smq_config_init_defaults(struct smq_config *cfg);

/* Releases what cfg owns; cfg must be initialised again before reuse. */
void smq_config_dispose(struct smq_config *cfg);

/* Maximum size of a configuration file, and of one line in it. */
#define SMQ_CONFIG_MAX_FILE (16u << 20)
#define SMQ_CONFIG_MAX_LINE (64u << 10)

/* Reads the file at path over cfg (an initialised configuration): its keys replace cfg's
 * values and its listeners replace cfg's listeners. All or nothing: on an error cfg is
 * left as it was. Appends warnings and errors to diag. Returns 0 (possibly with
 * warnings), SMQ_EINVAL when the content has an error, or a negated errno when the file
 * cannot be read (also reported in diag). */
int smq_config_load_file(struct smq_config *cfg, const char *path, struct smq_config_diag *diag);

/* As smq_config_load_file for the NUL-terminated text; name stands for the file name in
 * messages. */
int smq_config_parse_string(struct smq_config *cfg, const char *text, const char *name,
                            struct smq_config_diag *diag);

/* Applies the overrides of envp (a NULL-terminated "NAME=value" array such as environ):
 * SHARDMQ_<KEY> with the key upper-cased sets that key, with the file's value syntax.
 * SHARDMQ_LISTENER="PORT [ADDRESS][, PORT [ADDRESS]...]" replaces every listener;
 * listener-scoped keys then apply to every listener; SHARDMQ_LOG_TYPE and
 * SHARDMQ_LOG_DEST take a comma- or space-separated list (log_dest: comma-separated, as
 * "file PATH" holds a space) that replaces the configured set. Kubernetes service
 * variables (SHARDMQ_PORT, SHARDMQ_PORT_*, SHARDMQ_SERVICE_*) are ignored, so the
 * deprecated `port` key has no variable; another SHARDMQ_ name that is no key is a
 * warning, and an empty variable counts as unset. All or nothing, like
 * smq_config_load_file. Returns 0 or SMQ_EINVAL. */
int smq_config_apply_env(struct smq_config *cfg, char **envp, struct smq_config_diag *diag);

/* Sets one key from text, as an environment variable would (see smq_config_apply_env);
 * origin starts each message (e.g. "-p" or "SHARDMQ_WORKERS"). For main's command line.
 * Returns 0 or SMQ_EINVAL with cfg unchanged. */
int smq_config_set(struct smq_config *cfg, const char *key, const char *value, const char *origin,
                   struct smq_config_diag *diag);

#endif
