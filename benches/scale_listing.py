#!/usr/bin/env python3
"""benches/scale_listing.py — the two listings of a bucket, for benches/scale.sh.

    scale_listing.py paged ROUTER BUCKET    walks the bucket in pages of 1000 (`limit=1000`, `start_after`);
                                            prints "pages keys p50_ms p99_ms"
    scale_listing.py unpaged ROUTER BUCKET  reads the complete listing (no `limit`) as a stream, counting
                                            entries without holding the body; prints "seconds keys complete"
                                            (complete = 1 when the body ended with `"next_start_after":null`)
"""
import json
import sys
import time
import urllib.parse
import urllib.request

TIMEOUT = 600


def paged(base, bucket):
    after, lat, keys = None, [], 0
    while True:
        q = {"limit": "1000"}
        if after:
            q["start_after"] = after
        url = f"{base}/api/v4/buckets/{bucket}/metadata?{urllib.parse.urlencode(q)}"
        t = time.perf_counter()
        page = json.load(urllib.request.urlopen(url, timeout=TIMEOUT))
        lat.append(time.perf_counter() - t)
        keys += len(page["balls"])
        after = page["next_start_after"]
        if after is None:
            break
    lat.sort()

    def pick(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

    print(f"{len(lat)} {keys} {pick(0.50):.1f} {pick(0.99):.1f}")


def unpaged(base, bucket):
    # Every entry of `balls` is one Metadata object with exactly one "ball_id" field; the bench writes no
    # tags, so counting that field name counts entries. The tail is kept to find the closing field.
    marker, tail, last, keys = b'"ball_id":', b"", b"", 0
    t = time.perf_counter()
    with urllib.request.urlopen(f"{base}/api/v4/buckets/{bucket}/metadata", timeout=TIMEOUT) as resp:
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            buf = tail + chunk
            keys += buf.count(marker)
            # a tail shorter than the marker: a marker split across reads is counted once, in the next buf
            tail = buf[-(len(marker) - 1):]
            last = buf[-64:]
    seconds = time.perf_counter() - t
    complete = 1 if last.rstrip().replace(b" ", b"").endswith(b'"next_start_after":null}') else 0
    print(f"{seconds:.2f} {keys} {complete}")


if __name__ == "__main__":
    mode, base, bucket = sys.argv[1:4]
    {"paged": paged, "unpaged": unpaged}[mode](base, bucket)
