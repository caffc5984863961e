#!/usr/bin/env python3
"""benches/s3_table.py: turn s3_vs_garage.sh's JSON lines into one table.

Usage: s3_table.py RESULTS.jsonl. Each line is a `mictlanx-bench --json` report labelled `row-id|s3|title`
(the router's S3 API), `row-id|mx|title` (its MictlanX API) or `row-id|garage|title`, with "cpu_s" (CPU
seconds of the router, the peers and the Garage nodes during the run, and of the load generator itself when
measured), or `{"label", "run_error"}`.
"""
import sys

from bench_rows import print_table, read_rows

TARGET = 0.85


def good(r):
    return r is not None and "run_error" not in r


def cells(r, servers):
    """ops/s, MB/s, p50, p99, errors and server CPU µs per operation of one run (or dashes)."""
    if r is None:
        return ["-"] * 6
    if "run_error" in r:
        return ["FAILED"] + ["-"] * 5
    lat = r["latency"]
    cpu = sum(r.get("cpu_s", {}).get(s, 0.0) for s in servers)
    per_op = f"{cpu / r['ops'] * 1e6:.0f}" if r["ops"] else "-"
    return [f"{r['ops_per_s']:.1f}", f"{r['mb_per_s']:.2f}", f"{lat['p50_ms']:.3f}",
            f"{lat['p99_ms']:.3f}", str(r["errors"]), per_op]


def client_cpu(r):
    """The load generator's CPU µs per operation of one run (or a dash)."""
    if not good(r) or not r["ops"] or r.get("cpu_s", {}).get("client") is None:
        return "-"
    return f"{r['cpu_s']['client'] / r['ops'] * 1e6:.0f}"


def ratio(a, b):
    if good(a) and good(b) and b["ops_per_s"] > 0:
        return a["ops_per_s"] / b["ops_per_s"]
    return None


def main():
    rows, order = read_rows(sys.argv[1])
    side = ["ops/s", "MB/s", "p50 ms", "p99 ms", "err", "CPU µs/op"]
    head = (["row"] + [f"S3 {c}" for c in side] + [f"MX {c}" for c in side] + ["S3/MX"]
            + [f"garage {c}" for c in side] + ["S3/garage"])
    table = [head]
    failures, checks = [], []
    for row_id in order:
        row = rows[row_id]
        s3, mx, ga = row.get("s3"), row.get("mx"), row.get("garage")
        vs_mx, vs_ga = ratio(s3, mx), ratio(s3, ga)
        table.append([row["title"]] + cells(s3, ("router", "peers")) + cells(mx, ("router", "peers"))
                     + ["-" if vs_mx is None else f"{vs_mx:.2f}"] + cells(ga, ("garage",))
                     + ["-" if vs_ga is None else f"{vs_ga:.2f}"])
        if vs_mx is not None:
            checks.append((row["title"], vs_mx))
        for name, r in (("s3", s3), ("mx", mx), ("garage", ga)):
            if r and "run_error" in r:
                failures.append(f"{row_id} {name}: {r['run_error'].strip()}")
            elif r and r.get("first_error"):
                failures.append(f"{row_id} {name}: {r['errors']} errors, first: {r['first_error']}")
    print_table(table)
    print("CPU µs/op: user+system CPU of the router and the three peers (S3, MX) or of the Garage nodes "
          "during the run, preload and cleanup included, over the timed operations")
    clients = [[row["title"], client_cpu(row.get("s3")), client_cpu(row.get("mx")),
                client_cpu(row.get("garage"))] for row in (rows[i] for i in order)]
    if any(c != "-" for r in clients for c in r[1:]):
        print()
        print_table([["row", "S3 client CPU µs/op", "MX client CPU µs/op", "garage client CPU µs/op"]]
                    + clients)
        print("client CPU µs/op: user+system CPU of mictlanx-bench itself (on the same cores), preload and "
              "cleanup included, over the timed operations")
    print()
    print(f"target S3/MictlanX throughput ≥ {TARGET}")
    for title, got in checks:
        print(f"  {title:<32} {got:5.2f}  {'met' if got >= TARGET else 'NOT met'}")
    for line in failures:
        print("error:", line)


if __name__ == "__main__":
    main()
