/* Tests of broker/peer.c: compact peer addresses and their text form. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "broker/peer.h"

static struct smq_peer from_v4(const char *host, uint16_t port)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
    cr_assert_eq(inet_pton(AF_INET, host, &in.sin_addr), 1);
    struct smq_peer p;
    smq_peer_set(&p, (const struct sockaddr *)&in);
    return p;
}

static struct smq_peer from_v6(const char *host, uint16_t port)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    cr_assert_eq(inet_pton(AF_INET6, host, &in6.sin6_addr), 1);
    struct smq_peer p;
    smq_peer_set(&p, (const struct sockaddr *)&in6);
    return p;
}

Test(peer, ipv4_prints_address_and_port)
{
    char buf[SMQ_PEER_TEXT_MAX];
    struct smq_peer p = from_v4("192.168.1.20", 51234);
    cr_assert_str_eq(smq_peer_format(&p, buf, sizeof(buf)), "192.168.1.20:51234");
}

Test(peer, ipv4_mapped_ipv6_prints_as_ipv4)
{
    /* An IPv4 client of a dual-stack listener. */
    char buf[SMQ_PEER_TEXT_MAX];
    struct smq_peer p = from_v6("::ffff:10.0.0.7", 1883);
    cr_assert_str_eq(smq_peer_format(&p, buf, sizeof(buf)), "10.0.0.7:1883");
    struct smq_peer q = from_v4("10.0.0.7", 1883);
    cr_assert_eq(memcmp(&p, &q, sizeof(p)), 0);
}

Test(peer, ipv6_prints_in_brackets)
{
    char buf[SMQ_PEER_TEXT_MAX];
    struct smq_peer p = from_v6("2001:db8::1", 443);
    cr_assert_str_eq(smq_peer_format(&p, buf, sizeof(buf)), "[2001:db8::1]:443");
    p = from_v6("::1", 65535);
    cr_assert_str_eq(smq_peer_format(&p, buf, sizeof(buf)), "[::1]:65535");
}

Test(peer, longest_ipv6_fits_the_maximum)
{
    char buf[SMQ_PEER_TEXT_MAX];
    struct smq_peer p = from_v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
    cr_assert_str_eq(smq_peer_format(&p, buf, sizeof(buf)),
                     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    p = from_v6("::ffff:255.255.255.255", 65535); /* the longest IPv4 form */
    cr_assert_str_eq(smq_peer_format(&p, buf, sizeof(buf)), "255.255.255.255:65535");
}

Test(peer, unknown_family_prints_question_mark)
{
    char buf[SMQ_PEER_TEXT_MAX];
    struct sockaddr sa = {.sa_family = AF_UNIX};
    struct smq_peer p;
    smq_peer_set(&p, &sa);
    cr_assert_str_eq(smq_peer_format(&p, buf, sizeof(buf)), "?");
    struct smq_peer zero = {0};
    cr_assert_str_eq(smq_peer_format(&zero, buf, sizeof(buf)), "?");
}

Test(peer, short_buffer_is_cut_not_overrun)
{
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    struct smq_peer p = from_v4("192.168.100.200", 1883);
    smq_peer_format(&p, buf, 6);
    cr_assert_str_eq(buf, "192.1");
    cr_assert_eq(buf[6], 'x');
}
