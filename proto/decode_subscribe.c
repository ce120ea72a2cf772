/* SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK (sections 3.8 to 3.11).
 *
 * The lists are validated whole at decode time and kept as a view of their bytes; the
 * iterators walk that view again without re-checking, so a broker reads each filter twice
 * at most and never allocates for a list the peer sized. */
#include "proto/decode.h"

#include "proto/decode_parts.h"
#include "proto/topic.h"

static uint8_t version_of(const struct smq_decode_opts *opts)
{
    return opts->version ? opts->version : SMQ_V311;
}

/* Splits the options byte (3.8.3.1) of a subscription into entry. */
static void split_options(uint8_t options, uint8_t version, struct smq_sub_entry *entry)
{
    entry->qos = options & 3;
    entry->no_local = version >= SMQ_V5 && (options & 0x04);
    entry->retain_as_published = version >= SMQ_V5 && (options & 0x08);
    entry->retain_handling = version >= SMQ_V5 ? (options >> 4) & 3 : 0;
}

static uint8_t check_entry(const struct smq_sub_entry *e, uint8_t options, uint8_t version)
{
    uint8_t reserved = version >= SMQ_V5 ? 0xC0 : 0xFC;
    if ((options & reserved) || e->qos == 3)
        return SMQ_RC_MALFORMED; /* [MQTT-3-8.3-4] of 3.1.1, [MQTT-3.8.3-5] of 5.0 */
    if (e->retain_handling == 3)
        return SMQ_RC_PROTOCOL_ERROR; /* 3.8.3.1 */
    if (!smq_topic_filter_is_valid(e->filter))
        return SMQ_RC_MALFORMED; /* see proto/README.md */
    if (e->no_local && smq_topic_is_shared(e->filter))
        return SMQ_RC_PROTOCOL_ERROR; /* [MQTT-3.8.3-4] */
    return 0;
}

uint8_t smq__decode_subscribe(struct smq_reader *r, const struct smq_decode_opts *opts,
                              struct smq_subscribe *out)
{
    uint8_t version = version_of(opts);
    uint8_t bad = smq__read_packet_id(r, &out->packet_id);
    if (bad)
        return bad;
    if (version >= SMQ_V5 && (bad = smq__read_props(r, SMQ_SUBSCRIBE, opts, &out->props)))
        return bad;
    out->entries = (struct smq_span){r->pos, smq__left(r)};
    while (smq__left(r) > 0) {
        struct smq_sub_entry e;
        uint8_t options;
        if (!smq__read_str(r, &e.filter) || !smq__read_u8(r, &options))
            return SMQ_RC_MALFORMED; /* [MQTT-3.8.3-1]; a filter without its options byte */
        split_options(options, version, &e);
        if ((bad = check_entry(&e, options, version)))
            return bad;
        out->count++;
    }
    if (out->count == 0)
        return SMQ_RC_PROTOCOL_ERROR; /* [MQTT-3.8.3-2] */
    return 0;
}

bool smq_subscribe_next(const struct smq_subscribe *sub, uint8_t version, size_t *pos,
                        struct smq_sub_entry *entry)
{
    struct smq_reader r = {sub->entries.ptr + *pos, sub->entries.ptr + sub->entries.len};
    uint8_t options;
    if (smq__left(&r) == 0 || !smq__read_bin(&r, &entry->filter) || !smq__read_u8(&r, &options))
        return false;
    split_options(options, version ? version : SMQ_V311, entry);
    *pos = (size_t)(r.pos - sub->entries.ptr);
    return true;
}

uint8_t smq__decode_unsubscribe(struct smq_reader *r, const struct smq_decode_opts *opts,
                                struct smq_unsubscribe *out)
{
    uint8_t bad = smq__read_packet_id(r, &out->packet_id);
    if (bad)
        return bad;
    if (version_of(opts) >= SMQ_V5 &&
        (bad = smq__read_props(r, SMQ_UNSUBSCRIBE, opts, &out->props)))
        return bad;
    out->entries = (struct smq_span){r->pos, smq__left(r)};
    while (smq__left(r) > 0) {
        struct smq_span filter;
        if (!smq__read_str(r, &filter))
            return SMQ_RC_MALFORMED; /* [MQTT-3.10.3-1] */
        if (!smq_topic_filter_is_valid(filter))
            return SMQ_RC_MALFORMED;
        out->count++;
    }
    if (out->count == 0)
        return SMQ_RC_PROTOCOL_ERROR; /* [MQTT-3.10.3-2] */
    return 0;
}

bool smq_unsubscribe_next(const struct smq_unsubscribe *unsub, size_t *pos,
                          struct smq_span *filter)
{
    struct smq_reader r = {unsub->entries.ptr + *pos, unsub->entries.ptr + unsub->entries.len};
    if (smq__left(&r) == 0 || !smq__read_bin(&r, filter))
        return false;
    *pos = (size_t)(r.pos - unsub->entries.ptr);
    return true;
}

static bool v3_suback_code_is_valid(uint8_t code)
{
    return code <= 2 || code == 0x80; /* 3.9.3 of 3.1.1 */
}

uint8_t smq__decode_sub_ack(struct smq_reader *r, const struct smq_decode_opts *opts, uint8_t type,
                            struct smq_sub_ack *out)
{
    uint8_t version = version_of(opts);
    if (type == SMQ_UNSUBACK && version < SMQ_V5)
        return smq__left(r) == 2 ? smq__read_packet_id(r, &out->packet_id) : SMQ_RC_MALFORMED;
    uint8_t bad = smq__read_packet_id(r, &out->packet_id);
    if (bad)
        return bad;
    if (version >= SMQ_V5 && (bad = smq__read_props(r, type, opts, &out->props)))
        return bad;
    out->reasons = (struct smq_span){r->pos, smq__left(r)};
    r->pos = r->end;
    if (out->reasons.len == 0)
        return SMQ_RC_PROTOCOL_ERROR; /* [MQTT-3.9.3-1]: one code per filter, at least one */
    for (size_t i = 0; i < out->reasons.len; i++) {
        uint8_t code = out->reasons.ptr[i];
        if (version < SMQ_V5 && !v3_suback_code_is_valid(code))
            return SMQ_RC_MALFORMED;
        if (version >= SMQ_V5 && !smq_reason_allowed(type, code))
            return SMQ_RC_PROTOCOL_ERROR;
    }
    return 0;
}
