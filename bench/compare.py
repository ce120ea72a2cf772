#!/usr/bin/env python3
"""Side-by-side benchmark of shardmq and Mosquitto with shardmq-bench (see bench/README.md).

For every scenario and every repetition, a fresh broker is started on a free loopback port,
shardmq-bench drives it, and the broker's CPU (utime + stime from /proc/PID/stat, sampled
every 20 ms) is read over the measured window the bench reports (publishing plus drain, not
connecting). Each figure is the median of the repetitions; the table shows both brokers and
their ratio (shardmq / Mosquitto).
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Broker:
    """One broker process on a free port, with a CPU and RSS sampler."""

    def __init__(self, kind, exe, workers=0):
        self.kind, self.port = kind, free_port()
        self.dir = tempfile.mkdtemp(prefix=f"compare-{kind}-")
        conf = os.path.join(self.dir, "broker.conf")
        with open(conf, "w") as f:
            if kind == "mosquitto":
                f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        "max_connections -1\nlog_dest none\n")
            else:
                f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        "log_type error\nconnection_messages false\n")
                if workers:
                    f.write(f"workers {workers}\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen([exe, "-c", conf], stdout=self.log, stderr=self.log)
        self.samples = []  # (monotonic time, cpu seconds, rss bytes)
        self._stop = threading.Event()
        self._wait_listening()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _wait_listening(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{self.kind} exited at start; log in {self.dir}/log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.2)  # let it settle after our probe connection
                return
            except OSError:
                time.sleep(0.05)
        sys.exit(f"{self.kind} did not listen on {self.port}")

    def _sample(self):
        pid = self.proc.pid
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), cpu_seconds(pid), rss_bytes(pid)))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                return
            time.sleep(0.02)

    def cpu_between(self, t0, t1):
        """CPU seconds used between two monotonic times (nearest samples)."""
        def at(t):
            best = min(self.samples, key=lambda s: abs(s[0] - t))
            return best[1]
        return at(t1) - at(t0)

    def rss_now(self):
        return rss_bytes(self.proc.pid)

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_bench(bench, broker, args):
    """Runs shardmq-bench with --json; returns (summary, start time)."""
    cmd = [bench] + args + ["-p", str(broker.port), "--json"]
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        sys.exit(f"bench failed against {broker.kind}: {' '.join(cmd)}")
    return json.loads(out.stdout.strip().splitlines()[-1]), t0


def measure_traffic(bench, broker, args):
    s, t0 = run_bench(bench, broker, args)
    w0 = t0 + s["connect_s"]
    w1 = w0 + s["duration_s"] + s["drain_s"]
    time.sleep(0.1)  # a sample after the window
    cpu = broker.cpu_between(w0, w1)
    delivered = s["unique"]
    return {
        "msgs_per_s": s["received_per_s"],
        "cpu_us_per_msg": cpu * 1e6 / delivered if delivered else float("nan"),
        "p50_us": s["latency_us"]["p50"],
        "p99_us": s["latency_us"]["p99"],
        "lost": s["lost"] or 0,
        "dup": s["duplicated"],
        "reordered": s["reordered"],
        "sent": s["sent"],
        "delivered": delivered,
    }


def measure_idle(bench, broker, n, hold, ifaddrs):
    time.sleep(0.5)
    base = broker.rss_now()
    args = ["conn", "-c", str(n), "-i", "0", "-d", str(hold), "-j", "1"]
    if ifaddrs:
        args += ["--ifaddr", ifaddrs]
    s, _ = run_bench(bench, broker, args)
    # The highest RSS seen while the connections were held.
    peak = max(r for _, _, r in broker.samples)
    ok = s["connect_ok"]
    return {"rss_per_conn_b": (peak - base) / ok if ok else float("nan"), "conns": ok,
            "conn_failures": s["connect_failures"]}


def scenarios(d):
    # A generous drain: with backpressure the backlog of a max-rate run waits in TCP buffers,
    # not in the broker's queues, and must not be counted as lost when the run ends.
    size = ["-s", "64", "-j", "1", "-d", str(d), "--drain-ms", "8000"]
    return [
        ("fan-in QoS0 16->1",
         ["run", "--pubs", "16", "--subs", "1", "-t", "in/%i", "--sub-topic", "in/#",
          "-q", "0"] + size),
        ("fan-out QoS0 1->64",
         ["run", "--pubs", "1", "--subs", "64", "-t", "out/x", "-q", "0"] + size),
        ("16 pairs QoS1",
         ["run", "--pubs", "16", "--subs", "16", "-t", "pair/%i", "-q", "1"] + size),
        ("fan-in QoS0 at 20k/s",
         ["run", "--pubs", "16", "--subs", "1", "-t", "lat/%i", "--sub-topic", "lat/#",
          "-q", "0", "-R", "20000"] + size),
    ]


def repeat(times, kind, exe, measure, workers=0):
    """Runs measure(broker) against a fresh broker `times` times; returns the results."""
    runs = []
    for _ in range(times):
        b = Broker(kind, exe, workers)
        try:
            runs.append(measure(b))
        finally:
            b.stop()
    return runs


def both(a, shardmq, measure):
    """repeat() for shardmq then Mosquitto; returns (shardmq runs, Mosquitto runs)."""
    return (repeat(a.runs, "shardmq", shardmq, measure),
            repeat(a.runs, "mosquitto", a.mosquitto, measure))


def median_of(runs, key):
    vals = [r[key] for r in runs]
    return statistics.median(vals)


def fmt(v):
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}"


def row(name, metric, a, b, better):
    ratio = f"{a / b:.2f}x ({better})" if b else f"- ({better})"
    print(f"| {name} | {metric} | {fmt(a)} | {fmt(b)} | {ratio} |")


def build(build_dir):
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["meson", "setup", build_dir, ROOT, "--buildtype=release",
                        "-Db_ndebug=true"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", build_dir, "broker/shardmq", "bench/shardmq-bench"],
                   check=True, stdout=subprocess.DEVNULL)
    return (os.path.join(build_dir, "broker", "shardmq"),
            os.path.join(build_dir, "bench", "shardmq-bench"))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="repetitions per scenario (3)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (10)")
    ap.add_argument("--idle", type=int, default=10000, help="idle connections (10000)")
    ap.add_argument("--max-idle", type=int, default=0,
                    help="also hold this many idle connections on shardmq alone, over "
                         "127.0.0.1-4 (e.g. 19000)")
    ap.add_argument("--workers", action="store_true",
                    help="also compare shardmq with 1 and 2 workers (fan-in CPU per message)")
    ap.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    shardmq, bench = build(a.build_dir)
    mosq_version = subprocess.run([a.mosquitto, "-h"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True).stdout.splitlines()[0]
    print(f"shardmq: {shardmq}\nmosquitto: {mosq_version}\n"
          f"cpus: {os.cpu_count()}, runs: {a.runs}, duration: {a.duration} s, "
          f"payload 64 B, nofile {hard}\n")
    print("| scenario | metric | shardmq | mosquitto | ratio |")
    print("|---|---|---|---|---|")
    wanted = [p for p in a.only.split(",") if p]
    for name, args in scenarios(a.duration):
        if wanted and not any(name.startswith(p) for p in wanted):
            continue
        s, m = both(a, shardmq, lambda b: measure_traffic(bench, b, args))
        if "20k" in name:
            row(name, "p99 latency us", median_of(s, "p99_us"), median_of(m, "p99_us"), "lower")
            row(name, "p50 latency us", median_of(s, "p50_us"), median_of(m, "p50_us"), "lower")
        else:
            row(name, "delivered msgs/s", median_of(s, "msgs_per_s"), median_of(m, "msgs_per_s"),
                "higher")
        row(name, "broker CPU us/msg", median_of(s, "cpu_us_per_msg"),
            median_of(m, "cpu_us_per_msg"), "lower")
        for key in ("lost", "dup", "reordered"):
            row(name, key + " (max of runs)", max(r[key] for r in s), max(r[key] for r in m),
                "0 wanted")
        sys.stdout.flush()

    if not wanted or any("idle".startswith(p) for p in wanted):
        s, m = both(a, shardmq,
                    lambda b: measure_idle(bench, b, a.idle, 5, "127.0.0.1,127.0.0.2"))
        row(f"{a.idle:,} idle connections", "RSS bytes per connection",
            median_of(s, "rss_per_conn_b"), median_of(m, "rss_per_conn_b"), "lower")
        row(f"{a.idle:,} idle connections", "connected", median_of(s, "conns"),
            median_of(m, "conns"), "equal")

    if a.max_idle:
        b = Broker("shardmq", shardmq)
        try:
            r = measure_idle(bench, b, a.max_idle, 5,
                             "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4")
        finally:
            b.stop()
        print(f"\nshardmq alone, {a.max_idle:,} idle connections asked: {r['conns']:,} held, "
              f"{r['conn_failures']:,} failed, {r['rss_per_conn_b']:.0f} B RSS per connection")

    if a.workers:
        fanin = scenarios(a.duration)[0][1]
        print("\n| shardmq workers | delivered msgs/s | broker CPU us/msg |\n|---|---|---|")
        for n in (1, 2):
            runs = repeat(a.runs, "shardmq", shardmq,
                          lambda b: measure_traffic(bench, b, fanin), workers=n)
            print(f"| {n} | {fmt(median_of(runs, 'msgs_per_s'))} | "
                  f"{fmt(median_of(runs, 'cpu_us_per_msg'))} |")


if __name__ == "__main__":
    main()
