/* Internal to broker/config*.c: the state of one parse run (a file, a string, the
 * environment or one smq_config_set call) and the helpers the parts share.
 *
 *   config.c            the API: defaults, runs and their commit, files and lines, env
 *   config_keys.c       shardmq's keys: the table, value parsing, global keys, dispatch
 *   config_listeners.c  listener blocks, the default listener, the listeners of a run
 *   config_mosquitto.c  Mosquitto keys shardmq does not support yet, unknown keys */
#ifndef SMQ_BROKER_CONFIG_KEYS_H
#define SMQ_BROKER_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"

/* A listener being read, with where it came from. */
struct smq__pending_listener {
    struct smq_config_listener l;
    unsigned line;    /* its `listener` line (default listener: first key that set it) */
    const char *skip; /* static text: why it will not be opened; NULL when it will */
};

struct smq__config_parse {
    struct smq_config cfg;        /* scratch copy, committed only when the run has no error */
    struct smq_config_diag *diag; /* borrowed */
    const char *origin;           /* file name, or what starts each message without a file */
    unsigned line;                /* current line, 0 outside a file */
    bool from_file;               /* a file or string (else the environment or a setter) */
    bool unknown_is_error;        /* an unknown key is an error (else a warning: environment) */
    size_t errors_before;         /* diag->errors when the run started */

    /* Listeners. A file builds them in its own order: the default listener (configured by
     * listener-scoped keys before the first `listener` line, as in Mosquitto) and one per
     * `listener` line; cur is the block being read (-1: the default listener). Outside a
     * file, pending holds cfg's listeners and a listener-scoped key applies to each. */
    struct smq__pending_listener dflt;
    bool dflt_used;       /* `port` or `bind_address` configured it */
    const char *dflt_key; /* static: the key that first touched it (at dflt.line) */
    struct smq__pending_listener *pending; /* owned */
    size_t pending_count, pending_cap;
    long cur;

    /* Keys whose first occurrence replaces the default and later ones add (Mosquitto). */
    bool log_types_set, log_dests_set;

    /* A Mosquitto security option shardmq cannot honour yet, and whether allow_anonymous
     * was given: without it, such an option turns anonymous access off (fail closed). */
    bool allow_anonymous_set;
    const char *security_key; /* static: the first such key, NULL when none */
    unsigned security_line;
};

/* What a key's value is; K_INT and K_BOOL name a field by offset. */
enum smq__config_kind {
    SMQ__K_BOOL,
    SMQ__K_INT,
    SMQ__K_DURATION,
    SMQ__K_ID_PREFIX,
    SMQ__K_LISTENER,
    SMQ__K_PORT,
    SMQ__K_BIND_ADDRESS,
    SMQ__K_BIND_INTERFACE,
    SMQ__K_PROTOCOL,
    SMQ__K_SOCKET_DOMAIN,
    SMQ__K_LOG_TYPE,
    SMQ__K_LOG_DEST,
    SMQ__K_LOG_FACILITY,
    SMQ__K_PER_LISTENER_SETTINGS,
};

/* How an integer key reads 0. */
enum smq__config_zero {
    SMQ__ZERO_PLAIN,   /* an ordinary value (when in range) */
    SMQ__ZERO_MAX,     /* Mosquitto's "no limit", and the maximum means exactly that */
    SMQ__ZERO_MAX_WARN /* Mosquitto's "no limit": store the maximum and say so */
};

struct smq__config_key {
    const char *name;
    enum smq__config_kind kind;
    bool listener;              /* listener-scoped: the field is in smq_config_listener */
    enum smq__config_zero zero; /* SMQ__K_INT */
    size_t size;                /* SMQ__K_INT: bytes of the field (signed when min < 0) */
    size_t offset;              /* of the field */
    int64_t min, max;
};

/* --- config.c --------------------------------------------------------------------------- */

/* Appends a diagnostic "ORIGIN[:LINE]: [KEY: ]text" (key may be NULL; outside a file the
 * origin names the setting and the key is left out). */
void smq__config_report(struct smq__config_parse *p, enum smq_config_severity sev, const char *key,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Appends a pending listener with the listener defaults and returns it. */
struct smq__pending_listener *smq__config_pending_add(struct smq__config_parse *p);

/* Frees the pending listeners (those not moved into p->cfg) and the default listener. */
void smq__config_pending_dispose(struct smq__config_parse *p);

/* Sets l to the defaults of a listener on every address, port 1883. */
void smq__config_listener_init(struct smq_config_listener *l);

/* Releases what l owns. */
void smq__config_listener_dispose(struct smq_config_listener *l);

/* Makes dst a deep copy of src. */
void smq__config_listener_copy(struct smq_config_listener *dst,
                               const struct smq_config_listener *src);

/* --- config_keys.c ---------------------------------------------------------------------- */

/* Applies one `key value` pair; value is trimmed of surrounding blanks and may be
 * modified. Reports what is wrong with it. */
void smq__config_apply(struct smq__config_parse *p, const char *key, char *value);

/* Returns the shardmq key closest to key (a likely typo), or NULL when none is close. */
const char *smq__config_closest_key(const char *key);

/* Writes value into buf for a message: at most ~60 bytes, control characters as '?'. */
const char *smq__config_shown(const char *value, char *buf, size_t size);

/* Reports "KEY: expected <what>, got "value"" (or "got nothing"). */
void smq__config_bad_value(struct smq__config_parse *p, const char *key, const char *what,
                           const char *value);

/* Cuts value after its first word; what follows may only be a `# comment`. Returns false
 * after reporting a missing value or trailing text. */
bool smq__config_one_word(struct smq__config_parse *p, const char *key, char *value,
                          const char *what);

/* Parses a decimal integer (optional '-', digits only) without overflow. */
bool smq__config_parse_int(const char *s, int64_t *out);

/* Stores v into the integer field d names in base. */
void smq__config_store_int(void *base, const struct smq__config_key *d, int64_t v);

static inline bool smq__config_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* --- config_listeners.c ----------------------------------------------------------------- */

/* `listener PORT [ADDRESS]`: opens a block in a file; outside a file the value is a
 * comma-separated list that replaces every listener. */
void smq__config_on_listener(struct smq__config_parse *p, const char *key, char *value);

/* `port` and `bind_address`: Mosquitto's deprecated keys for the default listener. */
void smq__config_on_default_listener(struct smq__config_parse *p, const struct smq__config_key *d,
                                     char *value);

/* max_connections, max_topic_alias, bind_interface, socket_domain, protocol. */
void smq__config_on_listener_key(struct smq__config_parse *p, const struct smq__config_key *d,
                                 char *value);

/* Marks the listeners a listener-scoped key reaches as not to be opened, with a warning;
 * static_key names the key for later messages (a table's string), key as written. */
void smq__config_skip_listeners(struct smq__config_parse *p, const char *static_key,
                                const char *key, const char *why);

/* Ends a run: moves the listeners to open into p->cfg, reports clashes and an empty set,
 * and applies the fail-closed rule for unsupported security options. */
void smq__config_finish(struct smq__config_parse *p);

/* --- config_mosquitto.c ----------------------------------------------------------------- */

/* Handles a key that is not shardmq's: a Mosquitto key is a warning (with its effect on
 * listeners or anonymous access), anything else is unknown. */
void smq__config_apply_foreign(struct smq__config_parse *p, const char *key);

#endif
