/* Keyed hashing with libsodium (see hash.h). */
#include "core/hash.h"

#include <sodium.h>
#include <string.h>

#include "core/assert.h"

_Static_assert(sizeof(struct smq_hash_key) == crypto_shorthash_KEYBYTES,
               "smq_hash_key must be a crypto_shorthash key");

void smq_hash_seed(struct smq_hash_key *key)
{
    /* sodium_init() is idempotent and thread-safe; it makes randombytes_buf() safe to use.
     * It fails only when the library cannot work at all. */
    SMQ_ASSERT(sodium_init() >= 0);
    randombytes_buf(key->bytes, sizeof(key->bytes));
}

uint64_t smq_hash_bytes(const struct smq_hash_key *key, const void *p, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, len ? p : (const void *)"", len, key->bytes);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h;
}

uint64_t smq_hash_word_bytes(const struct smq_hash_key *key, uint64_t word, const void *p,
                             size_t len)
{
    /* Hash the bytes, then the pair (word, that hash): two keyed hashes, no copy of a level
     * that may be 65,535 bytes long. */
    uint64_t pair[2] = {word, smq_hash_bytes(key, p, len)};
    return smq_hash_bytes(key, pair, sizeof(pair));
}
