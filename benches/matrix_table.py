#!/usr/bin/env python3
"""benches/matrix_table.py: turn run_matrix.sh's JSON lines into one router-vs-direct table.

Usage: matrix_table.py RESULTS.jsonl [FOOTER LINE ...]. Each line is a `mictlanx-bench --json` report whose
label is `row-id|router|title`, `row-id|direct|title` or `row-id|nginx|title` (the reference proxy in front of
the direct peer), or `{"label", "run_error"}` for a failed run. After the tables come
the performance targets, each with its measured ratio; a footer line `router (cache on) peak RSS: N kB` and
`router cache size: N bytes` feed the RSS target.
"""
import re
import sys

from bench_rows import print_table, read_rows


def fmt_rate(r):
    if r is None:
        return "-"
    if "run_error" in r:
        return "FAILED"
    return f"{r['ops_per_s']:.1f}"


def cell(r, key, fmt="{:.2f}"):
    if r is None or "run_error" in r:
        return "-"
    if key.startswith("latency."):
        return fmt.format(r["latency"][key.split(".", 1)[1]])
    return fmt.format(r[key])


def main():
    rows, order = read_rows(sys.argv[1])

    head = ["row", "router ops/s", "MB/s", "p50 ms", "p99 ms", "max ms", "err",
            "direct ops/s", "MB/s", "p50 ms", "p99 ms", "max ms", "err", "ratio",
            "nginx ops/s", "p99 ms", "router/nginx", "note"]
    table = [head]
    failures = []
    for row_id in order:
        row = rows[row_id]
        rt, dr, nx = row.get("router"), row.get("direct"), row.get("nginx")
        ratio, note = "-", ""
        vs_nginx = "-"
        if good(rt) and good(nx) and nx["ops_per_s"] > 0:
            vs_nginx = f"{rt['ops_per_s'] / nx['ops_per_s']:.2f}"
        ok = rt and dr and "run_error" not in rt and "run_error" not in dr
        if ok and dr["ops_per_s"] > 0:
            ratio = f"{rt['ops_per_s'] / dr['ops_per_s']:.2f}"
        if ok and row_id in ("get-1k-miss", "get-1k-paced"):
            p50 = rt["latency"]["p50_ms"] - dr["latency"]["p50_ms"]
            p99 = rt["latency"]["p99_ms"] - dr["latency"]["p99_ms"]
            note = f"router adds p50 {p50:+.3f} ms, p99 {p99:+.3f} ms"
        for side, r in (("router", rt), ("direct", dr), ("nginx", nx)):
            if r and "run_error" in r:
                failures.append(f"{row_id} {side}: {r['run_error'].strip()}")
            elif r and r.get("first_error"):
                failures.append(f"{row_id} {side}: {r['errors']} errors, first: {r['first_error']}")
        table.append([row["title"],
                      fmt_rate(rt), cell(rt, "mb_per_s"), cell(rt, "latency.p50_ms", "{:.3f}"),
                      cell(rt, "latency.p99_ms", "{:.3f}"), cell(rt, "latency.max_ms", "{:.1f}"),
                      cell(rt, "errors", "{}"),
                      fmt_rate(dr), cell(dr, "mb_per_s"), cell(dr, "latency.p50_ms", "{:.3f}"),
                      cell(dr, "latency.p99_ms", "{:.3f}"), cell(dr, "latency.max_ms", "{:.1f}"),
                      cell(dr, "errors", "{}"), ratio,
                      fmt_rate(nx), cell(nx, "latency.p99_ms", "{:.3f}"), vs_nginx, note])

    print_table(table, left=(0, len(head) - 1))
    cpu = [["row", "router run: router CPU s", "peers", "bench", "router µs/op",
            "direct run: peers CPU s", "bench", "nginx run: nginx CPU s", "nginx µs/op"]]
    for row_id in order:
        row = rows[row_id]
        cells = [row["title"]]
        for side, keys in (("router", ("router", "peers", "bench")), ("direct", ("peers", "bench")),
                           ("nginx", ("nginx",))):
            r = row.get(side) or {}
            c = r.get("cpu_s")
            cells += [f"{c[k]:.2f}" if c else "-" for k in keys]
            if side in ("router", "nginx"):
                cells.append(f"{per_op_us(r, side):.1f}" if per_op_us(r, side) else "-")
        cpu.append(cells)
    if any(c != "-" for r in cpu[1:] for c in r[1:]):
        print()
        print_table(cpu)
    for line in sys.argv[2:]:
        if line:
            print(line)
    print()
    for line in targets(rows, sys.argv[2:]):
        print(line)
    for line in failures:
        print("error:", line)


def good(r):
    return r is not None and "run_error" not in r


def per_op_us(r, who):
    """CPU µs of `who` (router or nginx) per operation of this run, preload and cleanup included."""
    c = (r or {}).get("cpu_s")
    if not good(r) or not c or not r.get("ops"):
        return None
    return c.get(who, 0.0) / r["ops"] * 1e6


def targets(rows, footer):
    """The performance targets: (what, measured ratio, goal) from this one run."""
    def rate(row_id, side):
        r = rows.get(row_id, {}).get(side)
        return r["ops_per_s"] if good(r) and r["ops_per_s"] > 0 else None

    def ratio(a, b):
        return None if a is None or b is None else a / b

    checks = [
        ("GET 1 KiB cache off c32: router / nginx", ratio(rate("get-1k-miss", "router"), rate("get-1k-miss", "nginx")), 1.0),
        ("metadata GET cache on: router / direct", ratio(rate("meta", "router"), rate("meta", "direct")), 1.2),
        ("Force-Get 1 KiB cache on / GET 1 KiB cache off (router)",
         ratio(rate("get-1k-force", "router"), rate("get-1k-miss", "router")), 0.9),
        ("GET 10 MiB: router / nginx", ratio(rate("get-10m", "router"), rate("get-10m", "nginx")), 1.3),
        ("PUT 64 MiB rf 3: router / direct three copies", ratio(rate("put-64m", "router"), rate("put-64m", "direct")), 0.9),
    ]
    out = ["targets                                                   | measured | goal  | met"]
    for what, got, goal in checks:
        shown = "-" if got is None else f"{got:.2f}"
        met = "-" if got is None else ("yes" if got >= goal else "NO")
        out.append(f"{what:<57} | {shown:>8} | ≥{goal:<4} | {met}")
    rss = cache = None
    for line in footer:
        m = re.match(r"router \(cache on\) peak RSS: (\d+) kB", line)
        if m:
            rss = int(m.group(1)) * 1024
        m = re.match(r"router cache size: (\d+) bytes", line)
        if m:
            cache = int(m.group(1))
    if rss is not None and cache is not None:
        limit = 128 * 2**20 + cache
        out.append(f"{'router (cache on) peak RSS < 128 MiB + cache size':<57} | {rss / 2**20:7.1f}M | "
                   f"<{limit / 2**20:.0f}M | {'yes' if rss < limit else 'NO'}")
    return out


if __name__ == "__main__":
    main()
