/* Listeners in the configuration: `listener PORT [ADDRESS]` blocks, the default listener,
 * the listener-scoped keys, and the set of listeners a run ends with.
 *
 * As in Mosquitto, a listener-scoped key (max_connections, protocol, socket_domain,
 * bind_interface, max_topic_alias) applies to the block opened by the last `listener`
 * line; before the first one it configures the default listener (port 1883 on every
 * address, or what the deprecated `port` and `bind_address` say), which is then opened
 * beside the others. With no `listener` line at all the default listener is the only one.
 * A listener shardmq cannot serve as asked (TLS, WebSocket, Unix socket, mount point) is
 * not opened at all, rather than opened as plain MQTT, and the run says so. */
#include <stdio.h>
#include <string.h>

#include "broker/config.h"
#include "broker/config_keys.h"
#include "core/alloc.h"

/* Marks a listener that was read with an error; the run fails, so it is never opened. */
static const char SKIP_INVALID[] = "invalid";

static char *dup_string(const char *s)
{
    return smq_strndup(s, strlen(s));
}

/* The listeners a listener-scoped key applies to: in a file, the block being read (the
 * default listener before the first `listener` line); elsewhere, every listener. */
static size_t targets(struct smq__config_parse *p, const char *static_key,
                      struct smq__pending_listener **first)
{
    if (!p->from_file) {
        *first = p->pending;
        return p->pending_count;
    }
    if (p->cur >= 0) {
        *first = &p->pending[p->cur];
        return 1;
    }
    if (!p->dflt.line) {
        p->dflt.line = p->line;
        p->dflt_key = static_key;
    }
    *first = &p->dflt;
    return 1;
}

/* Describes a listener for a message, e.g. "listener 8883 (line 12)". */
static const char *describe(struct smq__config_parse *p, const struct smq__pending_listener *pl,
                            char *buf, size_t size)
{
    if (pl == &p->dflt)
        snprintf(buf, size, "the default listener (port %u)", (unsigned)pl->l.port);
    else if (pl->line)
        snprintf(buf, size, "listener %u (line %u)", (unsigned)pl->l.port, pl->line);
    else
        snprintf(buf, size, "listener %u", (unsigned)pl->l.port);
    return buf;
}

void smq__config_skip_listeners(struct smq__config_parse *p, const char *static_key,
                                const char *key, const char *why)
{
    struct smq__pending_listener *pl;
    size_t n = targets(p, static_key, &pl);
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        if (pl[i].skip) {
            smq__config_report(p, SMQ_CONFIG_WARNING, key, "%s; ignored", why);
            continue;
        }
        pl[i].skip = why;
        smq__config_report(p, SMQ_CONFIG_WARNING, key, "%s; ignored, and %s will not be opened",
                           why, describe(p, &pl[i], buf, sizeof(buf)));
    }
}

/* Cuts s after its first word and returns what follows, blanks skipped. */
static char *next_word(char *s)
{
    while (*s && !smq__config_is_blank(*s))
        s++;
    if (*s) {
        *s++ = '\0';
        while (smq__config_is_blank(*s))
            s++;
    }
    return s;
}

/* Reads "PORT [ADDRESS] [# comment]" (a line's value, or one item of SHARDMQ_LISTENER)
 * into pl, which stays marked invalid when it cannot be read. */
static void read_listener(struct smq__config_parse *p, const char *key, char *value,
                          struct smq__pending_listener *pl)
{
    char *port = value;
    char *addr = next_word(port);
    char *rest = (*addr == '#') ? addr + strlen(addr) : next_word(addr);
    int64_t v;
    pl->skip = SKIP_INVALID;
    pl->l.port = 0;
    if (!smq__config_parse_int(port, &v) || v < 0 || v > 65535) {
        smq__config_bad_value(p, key, "a port 0..65535", port);
        return;
    }
    pl->l.port = (uint16_t)v;
    if (*rest && *rest != '#') {
        char buf[80];
        smq__config_report(p, SMQ_CONFIG_ERROR, key,
                           "expected a port and an optional address, got \"%s\" after them",
                           smq__config_shown(rest, buf, sizeof(buf)));
        return;
    }
    if (*addr && *addr != '#') {
        if (strlen(addr) > 255) {
            smq__config_bad_value(p, key, "an address of at most 255 bytes", addr);
            return;
        }
        pl->l.address = dup_string(addr);
    }
    pl->skip = NULL;
    /* Mosquitto's `listener 0 PATH` is a Unix socket. */
    if (pl->l.port == 0 && pl->l.address && pl->l.address[0] == '/') {
        pl->skip = "Unix socket listeners are not supported by shardmq yet";
        smq__config_report(p, SMQ_CONFIG_WARNING, key, "%s; %s will not be opened", pl->skip,
                           pl->l.address);
    }
}

void smq__config_on_listener(struct smq__config_parse *p, const char *key, char *value)
{
    if (p->from_file) {
        struct smq__pending_listener *pl = smq__config_pending_add(p);
        p->cur = (long)(p->pending_count - 1);
        if (p->pending_count > SMQ_CONFIG_MAX_LISTENERS) {
            pl->skip = SKIP_INVALID;
            smq__config_report(p, SMQ_CONFIG_ERROR, key, "more than %d listeners",
                               SMQ_CONFIG_MAX_LISTENERS);
            return;
        }
        read_listener(p, key, value, pl);
        return;
    }
    /* SHARDMQ_LISTENER="1883 0.0.0.0, 8883": the list replaces every listener. */
    smq__config_pending_dispose(p);
    smq__config_listener_init(&p->dflt.l);
    for (char *item = value; item;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma++ = '\0';
        while (smq__config_is_blank(*item))
            item++;
        size_t len = strlen(item);
        while (len > 0 && smq__config_is_blank(item[len - 1]))
            item[--len] = '\0';
        if (p->pending_count == SMQ_CONFIG_MAX_LISTENERS) {
            smq__config_report(p, SMQ_CONFIG_ERROR, key, "more than %d listeners",
                               SMQ_CONFIG_MAX_LISTENERS);
            return;
        }
        read_listener(p, key, item, smq__config_pending_add(p));
        item = comma;
    }
}

void smq__config_on_default_listener(struct smq__config_parse *p, const struct smq__config_key *d,
                                     char *value)
{
    if (!p->from_file) {
        smq__config_report(p, SMQ_CONFIG_ERROR, d->name,
                           "only in a configuration file; use listener (SHARDMQ_LISTENER)");
        return;
    }
    /* They configure the default listener wherever they appear, as in Mosquitto. */
    p->dflt_used = true;
    if (!p->dflt.line) {
        p->dflt.line = p->line;
        p->dflt_key = d->name;
    }
    if (d->kind == SMQ__K_PORT) {
        int64_t v;
        if (!smq__config_one_word(p, d->name, value, "a port 1..65535"))
            return;
        if (!smq__config_parse_int(value, &v) || v < 1 || v > 65535) {
            smq__config_bad_value(p, d->name, "a port 1..65535", value);
            return;
        }
        p->dflt.l.port = (uint16_t)v;
        return;
    }
    if (!smq__config_one_word(p, d->name, value, "an address"))
        return;
    if (strlen(value) > 255) {
        smq__config_bad_value(p, d->name, "an address of at most 255 bytes", value);
        return;
    }
    smq_free(p->dflt.l.address);
    p->dflt.l.address = dup_string(value);
}

/* What a listener-scoped key's value must be, for messages. */
static void expectation(const struct smq__config_key *d, char *buf, size_t size)
{
    if (d->kind == SMQ__K_INT)
        snprintf(buf, size, "an integer %lld..%lld", (long long)d->min, (long long)d->max);
    else if (d->kind == SMQ__K_BIND_INTERFACE)
        snprintf(buf, size, "an interface name of 1 to 15 bytes");
    else if (d->kind == SMQ__K_SOCKET_DOMAIN)
        snprintf(buf, size, "ipv4 or ipv6");
    else
        snprintf(buf, size, "mqtt or websockets");
}

void smq__config_on_listener_key(struct smq__config_parse *p, const struct smq__config_key *d,
                                 char *value)
{
    char expect[96];
    int64_t v = 0;
    expectation(d, expect, sizeof(expect));
    if (!smq__config_one_word(p, d->name, value, expect))
        return;
    bool ok = true;
    if (d->kind == SMQ__K_INT)
        ok = smq__config_parse_int(value, &v) && v >= d->min && v <= d->max;
    else if (d->kind == SMQ__K_BIND_INTERFACE)
        ok = strlen(value) <= 15 && !strchr(value, '/');
    else if (d->kind == SMQ__K_SOCKET_DOMAIN)
        ok = strcmp(value, "ipv4") == 0 || strcmp(value, "ipv6") == 0;
    else
        ok = strcmp(value, "mqtt") == 0 || strcmp(value, "websockets") == 0;
    if (!ok) {
        smq__config_bad_value(p, d->name, expect, value);
        return;
    }
    if (d->kind == SMQ__K_PROTOCOL) {
        if (strcmp(value, "websockets") == 0)
            smq__config_skip_listeners(p, d->name, d->name,
                                       "WebSocket listeners are not supported by shardmq yet");
        return;
    }
    struct smq__pending_listener *pl;
    size_t n = targets(p, d->name, &pl);
    for (size_t i = 0; i < n; i++) {
        struct smq_config_listener *l = &pl[i].l;
        if (d->kind == SMQ__K_INT) {
            smq__config_store_int(l, d, v);
        } else if (d->kind == SMQ__K_BIND_INTERFACE) {
            smq_free(l->bind_interface);
            l->bind_interface = dup_string(value);
        } else {
            l->socket_domain = value[3] == '4' ? SMQ_SOCKET_IPV4 : SMQ_SOCKET_IPV6;
        }
    }
}

/* --- end of a run ----------------------------------------------------------------------- */

static bool same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool domains_overlap(enum smq_socket_domain a, enum smq_socket_domain b)
{
    return a == SMQ_SOCKET_ANY || b == SMQ_SOCKET_ANY || a == b;
}

/* Whether binding b after a would fail: the same port on overlapping addresses (every
 * address overlaps each one) of the same interface. Port 0 asks the kernel for a fresh
 * port each time, so it never clashes. */
static bool same_endpoint(const struct smq_config_listener *a, const struct smq_config_listener *b)
{
    return a->port != 0 && a->port == b->port &&
           domains_overlap(a->socket_domain, b->socket_domain) &&
           (a->address == NULL || b->address == NULL || strcmp(a->address, b->address) == 0) &&
           same_string(a->bind_interface, b->bind_interface);
}

static void report_clash(struct smq__config_parse *p, const struct smq__pending_listener *early,
                         const struct smq__pending_listener *late)
{
    const char *addr = late->l.address ? late->l.address : "every address";
    const char *early_addr = early->l.address ? early->l.address : "every address";
    unsigned port = late->l.port;
    p->line = late->line;
    if (early == &p->dflt)
        smq__config_report(p, SMQ_CONFIG_ERROR, "listener",
                           "port %u on %s is also the default listener's, configured by %s at "
                           "line %u (as in Mosquitto, port, bind_address and listener-scoped "
                           "keys before the first listener line configure a default listener "
                           "opened beside the others): move that key below a listener line",
                           port, addr, p->dflt_key, early->line);
    else if (early->line)
        smq__config_report(p, SMQ_CONFIG_ERROR, "listener",
                           "port %u on %s is already taken by the listener of line %u (%s)", port,
                           addr, early->line, early_addr);
    else
        smq__config_report(p, SMQ_CONFIG_ERROR, "listener",
                           "port %u on %s is already taken by another listener (%s)", port, addr,
                           early_addr);
    p->line = 0;
}

/* Mosquitto opens the default listener beside the `listener` blocks when something set
 * it apart from the defaults; keys that repeat a default (`max_connections -1` before the
 * first listener line) do not. */
static bool default_listener_wanted(const struct smq__config_parse *p)
{
    struct smq_config_listener plain;
    const struct smq_config_listener *l = &p->dflt.l;
    smq__config_listener_init(&plain);
    return p->pending_count == 0 || p->dflt_used || p->dflt.skip ||
           l->max_connections != plain.max_connections ||
           l->max_topic_alias != plain.max_topic_alias || l->socket_domain != plain.socket_domain ||
           l->bind_interface != NULL;
}

/* Moves the listeners to open into p->cfg, in order, checking for clashes. */
static void build_listeners(struct smq__config_parse *p)
{
    bool with_dflt = p->from_file && default_listener_wanted(p);
    size_t total = p->pending_count + (with_dflt ? 1 : 0);
    struct smq__pending_listener **order = smq_alloc(total * sizeof(*order));
    size_t n = 0;
    if (with_dflt)
        order[n++] = &p->dflt;
    for (size_t i = 0; i < p->pending_count; i++)
        order[n++] = &p->pending[i];

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i && !order[i]->skip; j++) {
            if (!order[j]->skip && same_endpoint(&order[j]->l, &order[i]->l)) {
                report_clash(p, order[j], order[i]);
                break;
            }
        }
    }
    p->cfg.listeners = smq_alloc(total * sizeof(*p->cfg.listeners));
    p->cfg.listener_count = 0;
    bool any_invalid = false;
    for (size_t i = 0; i < n; i++) {
        if (order[i]->skip) {
            any_invalid |= order[i]->skip == SKIP_INVALID;
            continue;
        }
        /* The strings move to cfg. */
        p->cfg.listeners[p->cfg.listener_count++] = order[i]->l;
        smq__config_listener_init(&order[i]->l);
    }
    if (p->cfg.listener_count == 0 && !any_invalid)
        smq__config_report(p, SMQ_CONFIG_ERROR, NULL,
                           "no listener left that shardmq can open (see the warnings)");
    smq_free(order);
}

void smq__config_finish(struct smq__config_parse *p)
{
    build_listeners(p);
    if (!p->security_key)
        return;
    /* Fail closed: the run asks for authentication or access control shardmq cannot do
     * yet, so it must not fall back to letting everyone in. */
    p->line = p->security_line;
    /* Outside a file the origin is no longer the variable's name: say which key. */
    const char *key = p->from_file ? p->security_key : NULL;
    const char *prefix = p->from_file ? "" : p->security_key;
    const char *sep = p->from_file ? "" : ": ";
    if (!p->allow_anonymous_set) {
        p->cfg.allow_anonymous = false;
        smq__config_report(p, SMQ_CONFIG_WARNING, key,
                           "%s%swithout allow_anonymous, anonymous access is off and every "
                           "client is refused until authentication is supported",
                           prefix, sep);
    } else if (p->cfg.allow_anonymous) {
        smq__config_report(p, SMQ_CONFIG_WARNING, key,
                           "%s%sallow_anonymous true: every client is admitted without checking "
                           "credentials",
                           prefix, sep);
    }
    p->line = 0;
}
