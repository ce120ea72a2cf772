/* Tests of bench/options.c: what -c means per subcommand, defaults, and refusals. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "bench/options.h"

static int parse(struct smq_bench_opts *o, const char *const *args, int n)
{
    char *argv[32];
    argv[0] = "shardmq-bench";
    for (int i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    FILE *null = fopen("/dev/null", "w");
    int rc = smq_bench_opts_parse(o, n + 1, argv, null);
    fclose(null);
    return rc;
}

Test(options, run_defaults_to_one_publisher_and_one_subscriber)
{
    struct smq_bench_opts o;
    const char *args[] = {"run"};
    cr_assert_eq(parse(&o, args, 1), 0);
    cr_assert_eq(o.pubs, 1);
    cr_assert_eq(o.subs, 1);
    cr_assert_eq(o.version, 4);
    cr_assert_eq(o.size, 256);
    cr_assert_str_eq(o.host, "127.0.0.1");
    cr_assert(o.clean);
    smq_bench_opts_dispose(&o);
}

Test(options, count_means_the_subcommands_clients)
{
    struct smq_bench_opts o;
    const char *sub[] = {"sub", "-c", "7", "-t", "a/#"};
    cr_assert_eq(parse(&o, sub, 5), 0);
    cr_assert_eq(o.subs, 7);
    cr_assert_eq(o.pubs, 0);
    const char *conn[] = {"conn", "-c", "1000"};
    cr_assert_eq(parse(&o, conn, 3), 0);
    cr_assert_eq(o.conns, 1000);
    const char *run[] = {"run", "--pubs", "16", "--subs", "0"};
    cr_assert_eq(parse(&o, run, 5), 0);
    cr_assert_eq(o.pubs, 16);
    cr_assert_eq(o.subs, 0);
}

Test(options, emqtt_bench_flags_are_read)
{
    struct smq_bench_opts o;
    const char *args[] = {"pub", "-h", "broker", "-p", "1884", "-V", "5", "-q", "2", "-C",
                          "false", "-x", "60", "-L", "100", "-I", "5", "-k", "30", "-n", "10",
                          "--ifaddr", "127.0.0.1,127.0.0.2", "--json"};
    cr_assert_eq(parse(&o, args, 24), 0);
    cr_assert_str_eq(o.host, "broker");
    cr_assert_eq(o.port, 1884);
    cr_assert_eq(o.version, 5);
    cr_assert_eq(o.qos, 2);
    cr_assert_eq(o.sub_qos, 2);
    cr_assert_not(o.clean);
    cr_assert(o.has_expiry);
    cr_assert_eq(o.session_expiry, 60);
    cr_assert_eq(o.limit, 100);
    cr_assert_eq(o.pub_interval_ms, 5);
    cr_assert_eq(o.keepalive, 30);
    cr_assert_eq(o.start, 10);
    cr_assert_eq(o.nifaddrs, 2);
    cr_assert_str_eq(o.ifaddrs[1], "127.0.0.2");
    cr_assert(o.json);
    smq_bench_opts_dispose(&o);
}

Test(options, refusals)
{
    struct smq_bench_opts o;
    const char *both[] = {"pub", "-I", "10", "-R", "1000"};
    cr_assert_eq(parse(&o, both, 5), -1);
    const char *small[] = {"pub", "-s", "31"};
    cr_assert_eq(parse(&o, small, 3), -1);
    const char *qos[] = {"pub", "-q", "3"};
    cr_assert_eq(parse(&o, qos, 3), -1);
    const char *mode[] = {"bench"};
    cr_assert_eq(parse(&o, mode, 1), -1);
    const char *subtopic[] = {"sub", "--sub-topic", "a"};
    cr_assert_eq(parse(&o, subtopic, 3), -1);
    const char *clean[] = {"conn", "-C", "maybe"};
    cr_assert_eq(parse(&o, clean, 3), -1);
}
