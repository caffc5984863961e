"""A PutObject whose client disconnects mid-body, for the suites and s3cli.py."""
import http.client
import time
import urllib.parse


def put_cut(s3, bucket, key):
    """Presigned PUT announcing 4 MiB that sends 256 KiB, then closes the connection (waits 1 s after)."""
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("PUT", parts.path + "?" + parts.query, skip_accept_encoding=True)
    conn.putheader("Content-Length", str(4 * 1024 * 1024))
    conn.endheaders()
    conn.send(b"x" * (256 * 1024))
    conn.sock.close()
    time.sleep(1)
