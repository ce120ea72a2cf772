/* Keyed hashing of strings that clients choose (topic levels, group names), for the hash
 * tables of the shared index and retained store.
 *
 * A table keyed by client-chosen strings must not let a client pick names that collide, so
 * the hash is keyed with a random secret per table: libsodium's crypto_shorthash
 * (SipHash-2-4), the well-kept library Debian ships, rather than a hash of our own. */
#ifndef SMQ_CORE_HASH_H
#define SMQ_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A 128-bit key, the size crypto_shorthash takes. */
struct smq_hash_key {
    unsigned char bytes[16];
};

/* Fills key with random bytes. Any thread. */
void smq_hash_seed(struct smq_hash_key *key);

/* Returns the keyed hash of the len bytes at p. Any thread. */
uint64_t smq_hash_bytes(const struct smq_hash_key *key, const void *p, size_t len);

/* Returns the keyed hash of the pair (word, the len bytes at p). Any thread. */
uint64_t smq_hash_word_bytes(const struct smq_hash_key *key, uint64_t word, const void *p,
                             size_t len);

#endif
