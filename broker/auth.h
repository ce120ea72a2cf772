/* Enhanced authentication (MQTT 5.0 section 4.12): the authenticator interface, the table of
 * methods this broker offers, and the AUTH packet exchange, both the one between CONNECT and
 * CONNACK and a re-authentication on an established connection.
 *
 * A method is a struct smq_authenticator: a name (the Authentication Method the client
 * sends), a per-connection state of state_size bytes, and callbacks that take the client's
 * Authentication Data and answer continue (with data for an AUTH 0x18), success (with
 * optional data for the CONNACK or AUTH 0x00) or fail (with the reason code to refuse
 * with). Methods are registered before the workers start (smq_auth_init) and read-only
 * afterwards, so every worker looks them up without a lock.
 *
 * No production method ships yet (SCRAM comes with the security work): a CONNECT naming any
 * method gets CONNACK 0x8C. For the tests, setting SMQ_TEST_AUTH_SECRET in the broker's
 * environment registers the test-only method "SMQ-TEST-CHALLENGE" (auth.c describes it);
 * it is off by default and the broker logs a warning when it is on.
 *
 * The exchange before CONNACK keeps the CONNECT's bytes in the connection's
 * struct smq_auth_state and completes the CONNECT (connect.c) once the method says success;
 * until then only AUTH and DISCONNECT are accepted, within connect_timeout. Worker thread
 * only, except smq_auth_init. */
#ifndef SMQ_BROKER_AUTH_H
#define SMQ_BROKER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/packet.h"
#include "proto/span.h"

struct smq_conn;
struct smq_auth_state;

enum smq_auth_verdict {
    SMQ_AUTH_SUCCESS = 0, /* authenticated: CONNACK 0x00, or AUTH 0x00 after re-auth */
    SMQ_AUTH_CONTINUE,    /* send AUTH 0x18 with data and wait for the client's next AUTH */
    SMQ_AUTH_FAIL,        /* refused with reason */
};

/* A method's answer to one step. */
struct smq_auth_reply {
    enum smq_auth_verdict verdict;
    uint8_t reason;       /* SMQ_AUTH_FAIL: 0x86, 0x87, 0x8C... (0x87 when 0) */
    struct smq_span data; /* Authentication Data to send, may be empty; borrowed from the
                           * method's state, valid until its next callback */
};

/* What the method may know of the client at the first step. */
struct smq_auth_client {
    struct smq_span client_id; /* as the client sent it (empty when one is to be assigned) */
    bool has_username;
    struct smq_span username;
};

struct smq_authenticator {
    const char *method; /* Authentication Method, compared byte for byte */
    size_t state_size;  /* per-connection state, zeroed before start_cb */
    /* Begins an exchange with the Authentication Data of CONNECT, or of AUTH 0x19 for a
     * re-authentication (on a state zeroed again). */
    void (*start_cb)(void *state, const struct smq_auth_client *who, struct smq_span data,
                     struct smq_auth_reply *out);
    /* Continues it with the Authentication Data of the client's AUTH 0x18. */
    void (*continue_cb)(void *state, struct smq_span data, struct smq_auth_reply *out);
    /* Releases what state holds (may be NULL when it holds nothing). */
    void (*dispose_cb)(void *state);
};

/* Registers the built-in methods (and the test method when its variable is set). Main
 * thread, before the workers start; later calls do nothing. */
void smq_auth_init(void);

/* Returns the method named name, or NULL. Any thread after smq_auth_init. */
const struct smq_authenticator *smq_auth_find(struct smq_span name);

/* Starts the exchange of a v5 CONNECT that names an Authentication Method: raw/raw_len are
 * the CONNECT's own bytes (kept while the exchange lasts), client_id the identifier chosen
 * for it. Answers the client (AUTH 0x18, or CONNACK through connect.c) and returns true
 * when the CONNECT is complete (success: connect.c continues with
 * smq_auth_success_data()), false when c waits for AUTH or was refused. */
bool smq_auth_connect(struct smq_conn *c, const struct smq_connect *pkt, const uint8_t *raw,
                      size_t raw_len, const char *client_id, size_t client_id_len);

/* Handles an AUTH packet from the client, before or after CONNACK. */
void smq_handle_auth(struct smq_conn *c, const struct smq_reason_packet *pkt);

/* Returns c's Authentication Method, or an empty span when c did not authenticate with one. */
struct smq_span smq_auth_method(const struct smq_conn *c);

/* Returns the Authentication Data of the method's success reply, to send in CONNACK (valid
 * until the next step of c's exchange). */
struct smq_span smq_auth_success_data(const struct smq_conn *c);

/* Frees an exchange's state (NULL allowed). */
void smq_auth_state_free(struct smq_auth_state *st);

#endif
