/* libFuzzer target for the packet decoder (proto/decode.c), run under ASan and UBSan.
 *
 * The first input byte picks the connection the bytes arrive on (protocol level, sender,
 * awaiting CONNECT, a small packet-size or user-property limit); the rest is a stream of
 * back-to-back packets, decoded one after another the way a connection's read loop does.
 * For each packet that decodes, the target does what a broker would do with it (walks the
 * subscription lists and properties, matches the filters it saw against the topics it saw)
 * and checks what the decoder promises: strings are valid UTF-8, topics and filters are
 * valid, every prefix of a packet is "need more bytes", and encoding the packet and decoding
 * it again gives back a packet of exactly the encoded size that encodes to the same bytes.
 * Any broken promise calls abort(), which libFuzzer reports as a crash with its input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/errors.h"
#include "proto/packet.h"
#include "proto/props.h"
#include "proto/topic.h"
#include "proto/utf8.h"

/* Lists longer than this are walked but not re-encoded (the encoder takes an array). */
#define MAX_LIST 64
/* Filters and topics remembered across the packets of one input for matching. */
#define MAX_SEEN 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    struct smq_span filters[MAX_SEEN];
    size_t nfilters;
    struct smq_span topics[MAX_SEEN];
    size_t ntopics;
};

/* Storage for the arrays the encoder reads, built from a decoded packet's iterators. */
struct lists {
    struct smq_sub_entry subs[MAX_LIST];
    struct smq_span unsubs[MAX_LIST];
};

static void fail(const char *what)
{
    fprintf(stderr, "decode_fuzz: %s\n", what);
    abort();
}

static void check(bool ok, const char *what)
{
    if (!ok)
        fail(what);
}

static void check_utf8(struct smq_span s, const char *what)
{
    check(smq_utf8_is_valid(s.ptr, s.len), what);
}

/* Derives the connection's options from the first input byte:
 * bits 0-1 level (3, 4, 5, 5), bits 2-3 sender (any, client, server, any), bit 4 awaiting
 * CONNECT, bits 5-6 max packet size (none, none, 256, 24), bit 7 max 2 user properties. */
static struct smq_decode_opts opts_from_byte(uint8_t b)
{
    static const uint8_t versions[4] = {SMQ_V31, SMQ_V311, SMQ_V5, SMQ_V5};
    static const uint8_t senders[4] = {SMQ_SENDER_ANY, SMQ_SENDER_CLIENT, SMQ_SENDER_SERVER,
                                       SMQ_SENDER_ANY};
    static const uint32_t max_sizes[4] = {0, 0, 256, 24};
    struct smq_decode_opts opts = {
        .version = versions[b & 3],
        .sender = senders[(b >> 2) & 3],
        .awaiting_connect = (b & 0x10) != 0,
        .max_packet_size = max_sizes[(b >> 5) & 3],
        .max_user_props = (b & 0x80) ? 2 : 0,
    };
    return opts;
}

static void remember(struct smq_span *arr, size_t *n, struct smq_span s)
{
    arr[*n % MAX_SEEN] = s;
    (*n)++;
}

/* Walks the repeated properties; their counts must match what the decoder counted. */
static void walk_props(const struct smq_props *props)
{
    size_t pos = 0, users = 0, ids = 0;
    struct smq_span key, value;
    uint32_t id;

    while (smq_props_next_user(props, &pos, &key, &value)) {
        check_utf8(key, "user property key is not valid UTF-8");
        check_utf8(value, "user property value is not valid UTF-8");
        users++;
    }
    check(users == props->user_count, "smq_props_next_user count != user_count");
    pos = 0;
    while (smq_props_next_sub_id(props, &pos, &id)) {
        check(id != 0 && id <= SMQ_VARINT_MAX, "subscription identifier out of range");
        ids++;
    }
    check(ids == props->sub_id_count, "smq_props_next_sub_id count != sub_id_count");
    if (smq_props_has(props, SMQ_PROP_CONTENT_TYPE))
        check_utf8(props->content_type, "content type is not valid UTF-8");
    if (smq_props_has(props, SMQ_PROP_REASON_STRING))
        check_utf8(props->reason_string, "reason string is not valid UTF-8");
    if (smq_props_has(props, SMQ_PROP_RESPONSE_TOPIC))
        check(smq_topic_name_is_valid(props->response_topic), "response topic is invalid");
}

/* Checks a decoded filter and remembers it for matching. */
static void see_filter(struct seen *seen, struct smq_span filter)
{
    check_utf8(filter, "topic filter is not valid UTF-8");
    check(smq_topic_filter_is_valid(filter), "decoder accepted an invalid topic filter");
    if (smq_topic_is_shared(filter)) {
        struct smq_span group, inner;
        check(smq_topic_share_split(filter, &group, &inner), "shared filter does not split");
        check(group.len > 0 && inner.len > 0, "shared filter with an empty part");
        filter = inner;
    }
    (void)smq_topic_levels(filter);
    remember(seen->filters, &seen->nfilters, filter);
}

static void see_topic(struct seen *seen, struct smq_span topic)
{
    check_utf8(topic, "topic name is not valid UTF-8");
    check(smq_topic_name_is_valid(topic), "decoder accepted an invalid topic name");
    remember(seen->topics, &seen->ntopics, topic);
}

/* Matches every remembered filter against every remembered topic, with two oracles: a
 * filter without wildcards matches exactly the equal topic, and "#" matches every topic
 * that does not start with '$'. */
static void match_all(const struct seen *seen)
{
    size_t nf = seen->nfilters < MAX_SEEN ? seen->nfilters : MAX_SEEN;
    size_t nt = seen->ntopics < MAX_SEEN ? seen->ntopics : MAX_SEEN;

    for (size_t i = 0; i < nf; i++) {
        struct smq_span f = seen->filters[i];
        bool wild = smq_topic_has_wildcard(f);
        for (size_t j = 0; j < nt; j++) {
            struct smq_span t = seen->topics[j];
            bool m = smq_topic_matches(f, t);
            if (!wild)
                check(m == smq_span_eq(f, t), "filter without wildcards: match != equality");
            if (smq_span_eq_str(f, "#"))
                check(m == (t.ptr[0] != '$'), "\"#\" must match exactly the non-$ topics");
        }
        if (!wild)
            check(smq_topic_matches(f, f), "a wildcard-free filter must match itself");
    }
}

/* Fills the encoder's arrays from a decoded SUBSCRIBE or UNSUBSCRIBE (and checks and
 * remembers its filters when seen is not NULL). Returns false when the list is too long to
 * re-encode. */
static bool build_lists(struct smq_packet *pkt, uint8_t version, struct lists *lists,
                        struct seen *seen)
{
    size_t pos = 0, n = 0;

    if (pkt->type == SMQ_SUBSCRIBE) {
        struct smq_subscribe *sub = &pkt->u.subscribe;
        struct smq_sub_entry e;
        while (smq_subscribe_next(sub, version, &pos, &e)) {
            check(e.qos <= 2 && e.retain_handling <= 2, "subscription options out of range");
            if (seen)
                see_filter(seen, e.filter);
            if (n < MAX_LIST)
                lists->subs[n] = e;
            n++;
        }
        check(n == sub->count, "smq_subscribe_next count != count");
        check(n > 0, "SUBSCRIBE without a filter was accepted");
        sub->list = lists->subs;
    } else if (pkt->type == SMQ_UNSUBSCRIBE) {
        struct smq_unsubscribe *unsub = &pkt->u.unsubscribe;
        struct smq_span f;
        while (smq_unsubscribe_next(unsub, &pos, &f)) {
            if (seen)
                see_filter(seen, f);
            if (n < MAX_LIST)
                lists->unsubs[n] = f;
            n++;
        }
        check(n == unsub->count, "smq_unsubscribe_next count != count");
        check(n > 0, "UNSUBSCRIBE without a filter was accepted");
        unsub->list = lists->unsubs;
    }
    return n <= MAX_LIST;
}

/* Does with a decoded packet what a broker would, checking the decoder's promises. */
static void inspect(const struct smq_packet *pkt, struct seen *seen)
{
    switch (pkt->type) {
    case SMQ_CONNECT: {
        const struct smq_connect *c = &pkt->u.connect;
        check(c->version >= SMQ_V31 && c->version <= SMQ_V5, "CONNECT with a bad level");
        check_utf8(c->client_id, "client id is not valid UTF-8");
        if (c->has_username)
            check_utf8(c->username, "username is not valid UTF-8");
        if (c->will) {
            check(c->will_qos <= 2, "will QoS out of range");
            see_topic(seen, c->will_topic);
            walk_props(&c->will_props);
        }
        walk_props(&c->props);
        break;
    }
    case SMQ_CONNACK:
        walk_props(&pkt->u.connack.props);
        break;
    case SMQ_PUBLISH: {
        const struct smq_publish *p = &pkt->u.publish;
        check(p->qos <= 2, "PUBLISH QoS out of range");
        check((p->qos == 0) == (p->packet_id == 0), "PUBLISH packet id does not fit its QoS");
        if (p->topic.len > 0)
            see_topic(seen, p->topic);
        else
            check(smq_props_has(&p->props, SMQ_PROP_TOPIC_ALIAS), "empty topic without alias");
        walk_props(&p->props);
        break;
    }
    case SMQ_PUBACK:
    case SMQ_PUBREC:
    case SMQ_PUBREL:
    case SMQ_PUBCOMP:
        check(pkt->u.ack.packet_id != 0, "acknowledgement with packet id 0");
        walk_props(&pkt->u.ack.props);
        break;
    case SMQ_SUBSCRIBE:
        check(pkt->u.subscribe.packet_id != 0, "SUBSCRIBE with packet id 0");
        walk_props(&pkt->u.subscribe.props);
        break;
    case SMQ_UNSUBSCRIBE:
        check(pkt->u.unsubscribe.packet_id != 0, "UNSUBSCRIBE with packet id 0");
        walk_props(&pkt->u.unsubscribe.props);
        break;
    case SMQ_SUBACK:
    case SMQ_UNSUBACK:
        check(pkt->u.sub_ack.packet_id != 0, "SUBACK/UNSUBACK with packet id 0");
        walk_props(&pkt->u.sub_ack.props);
        break;
    case SMQ_DISCONNECT:
        walk_props(&pkt->u.disconnect.props);
        break;
    case SMQ_AUTH:
        walk_props(&pkt->u.auth.props);
        break;
    case SMQ_PINGREQ:
    case SMQ_PINGRESP:
        break;
    default:
        fail("decoder returned a packet of a reserved type");
    }
}

/* Encodes pkt into a fresh heap buffer of exactly smq_encode_size() bytes (so ASan sees any
 * overrun). Returns the buffer and sets *len. */
static uint8_t *encode_exact(uint8_t version, const struct smq_packet *pkt, size_t *len)
{
    size_t need = smq_encode_size(version, pkt);
    check(need > 0, "smq_encode_size returned 0 for a decoded packet");
    uint8_t *buf = malloc(need);
    check(buf != NULL, "out of memory");
    ssize_t n = smq_encode(buf, need, version, pkt);
    if (n < 0 || (size_t)n != need) {
        fprintf(stderr, "decode_fuzz: type %d: smq_encode returned %zd, smq_encode_size %zu\n",
                pkt->type, n, need);
        fail("smq_encode disagrees with smq_encode_size");
    }
    if (pkt->type == SMQ_PUBLISH) {
        size_t hdr = smq_encode_publish_header_size(version, &pkt->u.publish);
        check(hdr + pkt->u.publish.payload.len == need, "PUBLISH header size + payload != size");
    }
    *len = need;
    return buf;
}

/* Re-encodes a decoded packet, decodes the result and encodes that again: the second decode
 * must succeed on exactly the encoded bytes, and both encodings must be identical. */
static void roundtrip(struct smq_packet *pkt, const struct smq_decode_opts *opts)
{
    struct lists lists1, lists2;
    struct smq_packet again;
    struct smq_decode_opts opts2 = *opts;
    uint8_t reason = 0;
    size_t len1, len2;

    if (!build_lists(pkt, opts->version, &lists1, NULL))
        return;
    uint8_t *enc1 = encode_exact(opts->version, pkt, &len1);

    /* The encoding may be a little longer than what was read (never in practice), so the
     * size limit of the connection is not applied to it. */
    opts2.max_packet_size = 0;
    memset(&again, 0, sizeof(again));
    ssize_t n = smq_decode_packet(enc1, len1, &opts2, &again, &reason);
    if (n < 0 || (size_t)n != len1) {
        fprintf(stderr, "decode_fuzz: type %d re-encoded in %zu bytes; decoding it returned "
                        "%zd (reason 0x%02x)\n", pkt->type, len1, n, reason);
        fail("the decoder rejects what the encoder wrote");
    }
    check(again.type == pkt->type && again.flags == pkt->flags,
          "type or flags changed in the round trip");
    check(build_lists(&again, opts->version, &lists2, NULL), "list grew in the round trip");
    uint8_t *enc2 = encode_exact(opts->version, &again, &len2);
    if (len1 != len2 || memcmp(enc1, enc2, len1) != 0) {
        fprintf(stderr, "decode_fuzz: type %d: first encoding %zu bytes, second %zu bytes\n",
                pkt->type, len1, len2);
        fail("encode(decode(encode(p))) != encode(p)");
    }
    free(enc2);
    free(enc1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen seen = {0};

    if (size < 1)
        return 0;
    struct smq_decode_opts opts = opts_from_byte(data[0]);
    const uint8_t *p = data + 1;
    size_t left = size - 1;

    while (left > 0) {
        struct smq_packet pkt;
        uint8_t reason = 0;
        memset(&pkt, 0, sizeof(pkt));
        ssize_t n = smq_decode_packet(p, left, &opts, &pkt, &reason);
        if (n == 0)
            break; /* need more bytes: the stream ends mid-packet */
        if (n < 0) {
            check(n == SMQ_EPROTO, "decoder returned an error other than SMQ_EPROTO");
            check(reason >= 0x80, "decode error with a success reason code");
            break; /* the broker would close the connection */
        }
        check((size_t)n <= left, "decoder used more bytes than it was given");

        /* Every proper prefix of a packet that decodes is "need more bytes". */
        struct smq_packet part;
        memset(&part, 0, sizeof(part));
        check(smq_decode_packet(p, (size_t)n - 1, &opts, &part, &reason) == 0,
              "a prefix of a valid packet is not \"need more bytes\"");
        memset(&part, 0, sizeof(part));
        check(smq_decode_packet(p, (size_t)n / 2, &opts, &part, &reason) == 0,
              "half of a valid packet is not \"need more bytes\"");

        inspect(&pkt, &seen);
        if (pkt.type == SMQ_SUBSCRIBE || pkt.type == SMQ_UNSUBSCRIBE) {
            struct lists lists;
            (void)build_lists(&pkt, opts.version, &lists, &seen);
        }
        roundtrip(&pkt, &opts);

        if (pkt.type == SMQ_CONNECT && opts.awaiting_connect) {
            /* The connection now speaks the CONNECT's protocol level. */
            opts.awaiting_connect = false;
            opts.version = pkt.u.connect.version;
        }
        p += n;
        left -= (size_t)n;
    }
    match_all(&seen);
    return 0;
}
