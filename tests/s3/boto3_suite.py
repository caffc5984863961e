"""The boto3 acceptance checks of the S3 facade, against a live router with S3 on.

    python boto3_suite.py ENDPOINT ACCESS SECRET [CHECK ...]

Runs every check (or the named ones) in order, prints `ok NAME` or `FAIL NAME: why`, exits 1 when one
failed. Each check uses a bucket of its own.
"""
import concurrent.futures
import hashlib
import urllib.request

from cut_upload import put_cut
from suite_lib import ENDPOINT, client, error_code, md5, run_checks

S3 = client()


def check_buckets():
    S3.create_bucket(Bucket="b-buckets")
    S3.head_bucket(Bucket="b-buckets")
    names = [b["Name"] for b in S3.list_buckets()["Buckets"]]
    assert "b-buckets" in names, names
    assert error_code(lambda: S3.create_bucket(Bucket="b-buckets"))[1] == 409
    code, status = error_code(lambda: S3.head_bucket(Bucket="b-missing"))
    assert status == 404, (code, status)
    S3.put_object(Bucket="b-buckets", Key="x", Body=b"1")
    assert error_code(lambda: S3.delete_bucket(Bucket="b-buckets")) == ("BucketNotEmpty", 409)
    S3.delete_object(Bucket="b-buckets", Key="x")
    S3.delete_bucket(Bucket="b-buckets")
    assert error_code(lambda: S3.head_bucket(Bucket="b-buckets"))[1] == 404
    # a dotted bucket name round-trips
    S3.create_bucket(Bucket="my.dotted.bucket")
    assert "my.dotted.bucket" in [b["Name"] for b in S3.list_buckets()["Buckets"]]


KEYS = ["hello.txt", "dir/sub/file with space.txt", "ünïcødé/ключ/文件", "a.b.c", "s3x-61", "x" * 1000]


def check_objects():
    S3.create_bucket(Bucket="b-objects")
    for i, key in enumerate(KEYS):
        data = f"payload {i} of {key}".encode() * (i + 1)
        put = S3.put_object(Bucket="b-objects", Key=key, Body=data)
        assert put["ETag"] == f'"{md5(data)}"', (key, put["ETag"])
        got = S3.get_object(Bucket="b-objects", Key=key)
        assert got["Body"].read() == data, key
        assert got["ETag"] == f'"{md5(data)}"', key
        head = S3.head_object(Bucket="b-objects", Key=key)
        assert head["ContentLength"] == len(data), key
    listed = [o["Key"] for o in S3.list_objects_v2(Bucket="b-objects")["Contents"]]
    assert listed == sorted(KEYS, key=lambda k: k.encode()), listed
    # overwrite
    S3.put_object(Bucket="b-objects", Key="hello.txt", Body=b"second")
    assert S3.get_object(Bucket="b-objects", Key="hello.txt")["Body"].read() == b"second"
    for key in KEYS:
        S3.delete_object(Bucket="b-objects", Key=key)
        assert error_code(lambda: S3.head_object(Bucket="b-objects", Key=key))[1] == 404, key


def check_missing():
    S3.create_bucket(Bucket="b-missing-keys")
    S3.put_object(Bucket="b-missing-keys", Key="folder/inner", Body=b"x")
    assert error_code(lambda: S3.get_object(Bucket="b-missing-keys", Key="nope")) == ("NoSuchKey", 404)
    # a key that is only a prefix ("folder") is 404 too
    assert error_code(lambda: S3.head_object(Bucket="b-missing-keys", Key="folder/"))[1] == 404
    assert error_code(lambda: S3.head_object(Bucket="b-missing-keys", Key="folder"))[1] == 404
    assert error_code(lambda: S3.get_object(Bucket="no-such-bucket", Key="k")) == ("NoSuchBucket", 404)


def check_ranges():
    S3.create_bucket(Bucket="b-ranges")
    data = bytes(range(256)) * 40
    S3.put_object(Bucket="b-ranges", Key="r", Body=data)
    got = S3.get_object(Bucket="b-ranges", Key="r", Range="bytes=100-299")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes 100-299/{len(data)}", got["ContentRange"]
    assert got["Body"].read() == data[100:300]
    tail = S3.get_object(Bucket="b-ranges", Key="r", Range="bytes=-10")["Body"].read()
    assert tail == data[-10:]
    assert error_code(lambda: S3.get_object(Bucket="b-ranges", Key="r", Range=f"bytes={len(data) + 5}-"))[1] == 416
    # conditional reads
    etag = S3.head_object(Bucket="b-ranges", Key="r")["ETag"]
    assert error_code(lambda: S3.get_object(Bucket="b-ranges", Key="r", IfNoneMatch=etag))[1] == 304
    assert error_code(lambda: S3.get_object(Bucket="b-ranges", Key="r", IfMatch='"nope"'))[1] == 412
    assert S3.get_object(Bucket="b-ranges", Key="r", IfMatch=etag)["Body"].read() == data


def check_read_after_write():
    # sizes from empty to several MiB: the ETag (recorded by a metadata update after the commit when no
    # Content-MD5 came) reads back at once; GET is one call that brings the metadata with the bytes
    S3.create_bucket(Bucket="b-raw")
    mib = 1024 * 1024
    for size in [0, 1, 64 * 1024, mib, mib + 1, 3 * mib]:
        data = (bytes(range(251)) * (size // 251 + 1))[:size]
        key = f"k{size}"
        put = S3.put_object(Bucket="b-raw", Key=key, Body=data, Metadata={"n": str(size)})
        assert put["ETag"] == f'"{md5(data)}"', (size, put["ETag"])
        got = S3.get_object(Bucket="b-raw", Key=key, ResponseContentType="application/x-override")
        assert got["Body"].read() == data, size
        assert (got["ETag"], got["ContentLength"]) == (put["ETag"], size), (size, got)
        assert got["ContentType"] == "application/x-override", got["ContentType"]
        assert got["Metadata"] == {"n": str(size)}, got["Metadata"]
        assert S3.head_object(Bucket="b-raw", Key=key)["ETag"] == put["ETag"], size
        if size == 0:
            assert error_code(lambda: S3.get_object(Bucket="b-raw", Key=key, Range="bytes=0-")) == \
                ("InvalidRange", 416)
            continue
        # a suffix longer than the object is all of it; a range past its end selects nothing
        whole = S3.get_object(Bucket="b-raw", Key=key, Range=f"bytes=-{size + 10}")
        assert whole["ContentRange"] == f"bytes 0-{size - 1}/{size}", whole["ContentRange"]
        assert whole["Body"].read() == data and whole["ETag"] == put["ETag"], size
        assert error_code(lambda: S3.get_object(Bucket="b-raw", Key=key, Range=f"bytes={size}-")) == \
            ("InvalidRange", 416)
        S3.delete_object(Bucket="b-raw", Key=key)
        assert error_code(lambda: S3.get_object(Bucket="b-raw", Key=key)) == ("NoSuchKey", 404), size


def check_metadata():
    S3.create_bucket(Bucket="b-meta")
    S3.put_object(Bucket="b-meta", Key="m", Body=b"meta", Metadata={"color": "blue", "Owner-Name": "ana"},
                  ContentType="text/x-mictlanx")
    head = S3.head_object(Bucket="b-meta", Key="m")
    assert head["Metadata"] == {"color": "blue", "owner-name": "ana"}, head["Metadata"]
    assert head["ContentType"] == "text/x-mictlanx", head["ContentType"]
    got = S3.get_object(Bucket="b-meta", Key="m")
    assert got["Metadata"] == {"color": "blue", "owner-name": "ana"}
    assert got["ContentType"] == "text/x-mictlanx"


def check_listing():
    S3.create_bucket(Bucket="b-list")
    for k in ["tree/a/1", "tree/a/2", "tree/b/1", "tree/c", "top"]:
        S3.put_object(Bucket="b-list", Key=k, Body=k.encode())
    out = S3.list_objects_v2(Bucket="b-list", Prefix="tree/", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["tree/a/", "tree/b/"], out
    assert [o["Key"] for o in out["Contents"]] == ["tree/c"], out
    # v1 with a marker, and start-after
    assert S3.list_objects_v2(Bucket="b-list", MaxKeys=0)["IsTruncated"] is False
    v1 = S3.list_objects(Bucket="b-list", Marker="tree/a/2")
    assert [o["Key"] for o in v1["Contents"]] == ["tree/b/1", "tree/c"], v1
    sa = S3.list_objects_v2(Bucket="b-list", StartAfter="tree/b/1")
    assert [o["Key"] for o in sa["Contents"]] == ["tree/c"], sa
    # encoding-type=url
    S3.put_object(Bucket="b-list", Key="sp ace/ü", Body=b"u")
    raw = S3.list_objects_v2(Bucket="b-list", Prefix="sp", EncodingType="url")
    # asked for explicitly, boto3 leaves the names encoded
    assert [o["Key"] for o in raw["Contents"]] == ["sp%20ace/%C3%BC"], raw
    # versions stub
    vers = S3.list_object_versions(Bucket="b-list", Prefix="tree/")
    assert all(v["VersionId"] == "null" for v in vers["Versions"]) and len(vers["Versions"]) == 4
    assert S3.get_bucket_versioning(Bucket="b-list").get("Status") is None


def check_pagination():
    S3.create_bucket(Bucket="b-pages")
    keys = [f"many/{i:05d}" for i in range(2500)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: S3.put_object(Bucket="b-pages", Key=k, Body=k.encode()), keys))
    seen, pages = [], 0
    for page in S3.get_paginator("list_objects_v2").paginate(Bucket="b-pages", Prefix="many/",
                                                             PaginationConfig={"PageSize": 1000}):
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert pages == 3, pages
    assert seen == keys, (len(seen), seen[:3])


def check_copy():
    S3.create_bucket(Bucket="b-copy")
    data = b"copy me " * 1000
    S3.put_object(Bucket="b-copy", Key="src", Body=data, Metadata={"k": "v"})
    out = S3.copy_object(Bucket="b-copy", Key="dst/copy", CopySource={"Bucket": "b-copy", "Key": "src"})
    assert out["CopyObjectResult"]["ETag"] == f'"{md5(data)}"'
    got = S3.get_object(Bucket="b-copy", Key="dst/copy")
    assert got["Body"].read() == data and got["Metadata"] == {"k": "v"}


def check_delete_objects():
    S3.create_bucket(Bucket="b-delete")
    keys = [f"d/{i}" for i in range(10)]
    for k in keys:
        S3.put_object(Bucket="b-delete", Key=k, Body=b"x")
    out = S3.delete_objects(Bucket="b-delete", Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted(keys), out
    assert S3.list_objects_v2(Bucket="b-delete").get("KeyCount") == 0


def check_presigned():
    S3.create_bucket(Bucket="b-presigned")
    assert "X-Amz-Signature=" in S3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    url = S3.generate_presigned_url("put_object", Params={"Bucket": "b-presigned", "Key": "p/one"}, ExpiresIn=300)
    req = urllib.request.Request(url, data=b"presigned body", method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(req) as r:
            assert r.status == 200
    except urllib.error.HTTPError as e:
        raise AssertionError(f"presigned PUT: {e.code} {e.read()!r}") from e
    url = S3.generate_presigned_url("get_object", Params={"Bucket": "b-presigned", "Key": "p/one"}, ExpiresIn=300)
    try:
        with urllib.request.urlopen(url) as r:
            assert r.read() == b"presigned body"
    except urllib.error.HTTPError as e:
        raise AssertionError(f"presigned GET: {e.code} {e.read()!r}") from e


def check_wrong_signature():
    bad = client(secret="not-the-secret")
    code, status = error_code(lambda: bad.list_buckets())
    assert status == 403 and code == "SignatureDoesNotMatch", (code, status)
    # unsigned
    try:
        urllib.request.urlopen(ENDPOINT + "/")
        raise AssertionError("anonymous request served")
    except urllib.error.HTTPError as e:
        assert e.code == 403, e.code


def check_multipart():
    S3.create_bucket(Bucket="b-multipart")
    mib = 1024 * 1024
    parts = [bytes([i + 1]) * (5 * mib) for i in range(2)] + [b"tail" * (mib // 4)]
    up = S3.create_multipart_upload(Bucket="b-multipart", Key="big/object.bin", Metadata={"kind": "mp"},
                                    ContentType="application/x-parts")
    uid = up["UploadId"]
    listed = S3.list_multipart_uploads(Bucket="b-multipart")["Uploads"]
    assert [u["UploadId"] for u in listed] == [uid], listed
    etags = []
    for n, body in enumerate(parts, start=1):
        out = S3.upload_part(Bucket="b-multipart", Key="big/object.bin", UploadId=uid, PartNumber=n, Body=body)
        assert out["ETag"] == f'"{md5(body)}"', out["ETag"]
        etags.append(out["ETag"])
    lp = S3.list_parts(Bucket="b-multipart", Key="big/object.bin", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in lp] == [(1, 5 * mib), (2, 5 * mib), (3, len(parts[2]))], lp
    bad = [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]
    assert error_code(lambda: S3.complete_multipart_upload(
        Bucket="b-multipart", Key="big/object.bin", UploadId=uid, MultipartUpload={"Parts": bad}))[0] == "InvalidPart"
    done = S3.complete_multipart_upload(
        Bucket="b-multipart", Key="big/object.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert done["ETag"] == f'"{want}"', (done["ETag"], want)
    again = S3.complete_multipart_upload(
        Bucket="b-multipart", Key="big/object.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    assert again["ETag"] == done["ETag"], "a repeated complete answers the same"
    assert error_code(lambda: S3.upload_part(Bucket="b-multipart", Key="big/object.bin", UploadId=uid,
                                             PartNumber=4, Body=b"late"))[0] == "NoSuchUpload"
    whole = b"".join(parts)
    head = S3.head_object(Bucket="b-multipart", Key="big/object.bin")
    assert head["ContentLength"] == len(whole) and head["ETag"] == f'"{want}"', head
    assert head["Metadata"] == {"kind": "mp"} and head["ContentType"] == "application/x-parts", head
    assert S3.get_object(Bucket="b-multipart", Key="big/object.bin")["Body"].read() == whole
    # a range across the boundary of parts 1 and 2, and one inside the last part
    a, b = 5 * mib - 10, 5 * mib + 9
    got = S3.get_object(Bucket="b-multipart", Key="big/object.bin", Range=f"bytes={a}-{b}")
    assert got["ContentRange"] == f"bytes {a}-{b}/{len(whole)}" and got["Body"].read() == whole[a:b + 1]
    tail = S3.get_object(Bucket="b-multipart", Key="big/object.bin", Range="bytes=-7")["Body"].read()
    assert tail == whole[-7:]
    listed = S3.list_objects_v2(Bucket="b-multipart")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("big/object.bin", len(whole))], listed
    assert S3.list_multipart_uploads(Bucket="b-multipart").get("Uploads", []) == []
    # abort
    other = S3.create_multipart_upload(Bucket="b-multipart", Key="gone")["UploadId"]
    S3.upload_part(Bucket="b-multipart", Key="gone", UploadId=other, PartNumber=1, Body=b"x")
    S3.abort_multipart_upload(Bucket="b-multipart", Key="gone", UploadId=other)
    assert error_code(lambda: S3.list_parts(Bucket="b-multipart", Key="gone", UploadId=other))[0] == "NoSuchUpload"
    S3.delete_object(Bucket="b-multipart", Key="big/object.bin")
    assert error_code(lambda: S3.head_object(Bucket="b-multipart", Key="big/object.bin"))[1] == 404


def check_incomplete_uploads():
    S3.create_bucket(Bucket="b-incomplete")
    # a body that is not its Content-MD5 is refused, and nothing is visible
    code, status = error_code(lambda: S3.put_object(Bucket="b-incomplete", Key="bad-md5", Body=b"hello",
                                                    ContentMD5="XrY7u+Ae7tCTyyK7j1rNww=="))
    assert (code, status) == ("BadDigest", 400), (code, status)
    assert error_code(lambda: S3.head_object(Bucket="b-incomplete", Key="bad-md5"))[1] == 404
    # SDK checksums: a wrong one is refused, the ones boto3 computes (header or trailer) pass
    code, status = error_code(lambda: S3.put_object(Bucket="b-incomplete", Key="bad-crc", Body=b"hello",
                                                    ChecksumCRC32="AAAAAA=="))
    assert (code, status) == ("BadDigest", 400), (code, status)
    assert error_code(lambda: S3.head_object(Bucket="b-incomplete", Key="bad-crc"))[1] == 404
    # the checked value is echoed, kept, and answered to a GET or HEAD that asks for it
    for algorithm in ["CRC32", "SHA1", "SHA256"]:
        key, field = f"sum-{algorithm}", f"Checksum{algorithm}"
        out = S3.put_object(Bucket="b-incomplete", Key=key, Body=b"checked " * 1000, ChecksumAlgorithm=algorithm)
        assert out.get(field), (algorithm, out)
        got = S3.get_object(Bucket="b-incomplete", Key=key, ChecksumMode="ENABLED")
        assert got.get(field) == out[field] and got["Body"].read() == b"checked " * 1000, (algorithm, got)
        head = S3.head_object(Bucket="b-incomplete", Key=key, ChecksumMode="ENABLED")
        assert head.get(field) == out[field], (algorithm, head)
        assert field not in S3.head_object(Bucket="b-incomplete", Key=key), "only when asked"
        S3.delete_object(Bucket="b-incomplete", Key=key)
    # a client that disconnects mid-body leaves nothing visible
    put_cut(S3, "b-incomplete", "cut")
    assert error_code(lambda: S3.head_object(Bucket="b-incomplete", Key="cut"))[1] == 404
    assert S3.list_objects_v2(Bucket="b-incomplete").get("KeyCount") == 0


run_checks(globals())
