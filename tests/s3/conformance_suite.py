"""S3 conformance checks with boto3 (the edge cases ceph/s3-tests found), against a live router with S3 on.

    python conformance_suite.py ENDPOINT ACCESS SECRET [CHECK ...]

Runs every check (or the named ones) in order, prints `ok NAME` or `FAIL NAME: why`, exits 1 when one
failed. Each check uses buckets of its own (names starting with `c-`).
"""
import datetime
import http.client
import urllib.parse
import urllib.request

from botocore.exceptions import ClientError

from suite_lib import client, md5, run_checks

MIB = 1024 * 1024
S3 = client()


def failure(fn):
    """The (code, status, response) of a call that must fail."""
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response
    raise AssertionError("no error")


def error_code(fn):
    return failure(fn)[:2]


def check_listing_edges():
    S3.create_bucket(Bucket="c-list")
    for k in ["foo/bar", "foo/baz", "quux"]:
        S3.put_object(Bucket="c-list", Key=k, Body=b"x")
    # an empty delimiter is no delimiter, and is not echoed
    for out in (S3.list_objects(Bucket="c-list", Delimiter=""), S3.list_objects_v2(Bucket="c-list", Delimiter="")):
        assert "Delimiter" not in out and len(out["Contents"]) == 3, out
    # ListObjectsV2 names owners only with fetch-owner
    assert all("Owner" not in o for o in S3.list_objects_v2(Bucket="c-list")["Contents"])
    assert all("Owner" in o for o in S3.list_objects_v2(Bucket="c-list", FetchOwner=True)["Contents"])
    # ListObjects (v1) answers its Prefix as asked, even with the url encoding boto3 asks for
    out = S3.list_objects(Bucket="c-list", Prefix="\n")
    assert out["Prefix"] == "\n" and "Contents" not in out, out


def check_list_buckets_paged():
    names = ["c-page-a", "c-page-b", "c-page-c"]
    for n in names:
        S3.create_bucket(Bucket=n)
    first = S3.list_buckets(MaxBuckets=2, Prefix="c-page-")
    assert [b["Name"] for b in first["Buckets"]] == names[:2], first
    rest = S3.list_buckets(MaxBuckets=2, Prefix="c-page-", ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == names[2:] and "ContinuationToken" not in rest, rest
    assert error_code(lambda: S3.list_buckets(ContinuationToken="not hex"))[1] == 400


def check_bucket_names_and_location():
    for bad in ["c-foo.-bar", "c-foo-.bar"]:
        assert error_code(lambda: S3.create_bucket(Bucket=bad)) == ("InvalidBucketName", 400), bad
    assert "c-foo.-bar" not in [b["Name"] for b in S3.list_buckets()["Buckets"]]
    S3.create_bucket(Bucket="c-located", CreateBucketConfiguration={"LocationConstraint": "default"})
    assert S3.get_bucket_location(Bucket="c-located")["LocationConstraint"] == "default"
    S3.create_bucket(Bucket="c-unlocated")
    assert S3.get_bucket_location(Bucket="c-unlocated").get("LocationConstraint") is None


def check_upload_part_copy():
    S3.create_bucket(Bucket="c-partcopy")
    src = bytes(range(256)) * (24 * 1024)  # 6 MiB
    S3.put_object(Bucket="c-partcopy", Key="src ?versionId", Body=src)
    source = {"Bucket": "c-partcopy", "Key": "src ?versionId"}
    uid = S3.create_multipart_upload(Bucket="c-partcopy", Key="dst")["UploadId"]
    # the whole source when no range is given
    whole = S3.upload_part_copy(Bucket="c-partcopy", Key="dst", UploadId=uid, PartNumber=2, CopySource=source)
    assert whole["CopyPartResult"]["ETag"] == f'"{md5(src)}"', whole
    head = S3.upload_part_copy(Bucket="c-partcopy", Key="dst", UploadId=uid, PartNumber=1, CopySource=source,
                               CopySourceRange=f"bytes=0-{5 * MIB - 1}")
    assert head["CopyPartResult"]["ETag"] == f'"{md5(src[:5 * MIB])}"', head
    tail = S3.upload_part_copy(Bucket="c-partcopy", Key="dst", UploadId=uid, PartNumber=3, CopySource=source,
                               CopySourceRange=f"bytes={5 * MIB}-{len(src) - 1}")
    for bad in ["0-2", "bytes=0", "bytes=hello-world", "bytes=0-bar", "bytes=hello-", "bytes=0-2,3-5"]:
        got = error_code(lambda: S3.upload_part_copy(Bucket="c-partcopy", Key="dst", UploadId=uid, PartNumber=4,
                                                     CopySource=source, CopySourceRange=bad))
        assert got == ("InvalidArgument", 400), (bad, got)
    code, _ = error_code(lambda: S3.upload_part_copy(Bucket="c-partcopy", Key="dst", UploadId=uid, PartNumber=4,
                                                     CopySource=source, CopySourceRange=f"bytes=0-{len(src)}"))
    assert code == "InvalidRange", code
    parts = [{"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]} for n, r in [(1, head), (2, whole), (3, tail)]]
    S3.complete_multipart_upload(Bucket="c-partcopy", Key="dst", UploadId=uid, MultipartUpload={"Parts": parts})
    got = S3.get_object(Bucket="c-partcopy", Key="dst")["Body"].read()
    assert got == src[:5 * MIB] + src + src[5 * MIB:], len(got)


def check_copy_conditions():
    S3.create_bucket(Bucket="c-copyif")
    etag = S3.put_object(Bucket="c-copyif", Key="foo", Body=b"bar")["ETag"]
    source = "c-copyif/foo"
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    for kwargs in [{"CopySourceIfMatch": '"nope"'}, {"CopySourceIfNoneMatch": etag},
                   {"CopySourceIfModifiedSince": future}, {"CopySourceIfUnmodifiedSince": past}]:
        got = error_code(lambda: S3.copy_object(Bucket="c-copyif", Key="bar", CopySource=source, **kwargs))
        assert got == ("PreconditionFailed", 412), (kwargs, got)
    assert error_code(lambda: S3.head_object(Bucket="c-copyif", Key="bar"))[1] == 404
    S3.copy_object(Bucket="c-copyif", Key="bar", CopySource=source, CopySourceIfMatch=etag)
    S3.copy_object(Bucket="c-copyif", Key="baz", CopySource=source, CopySourceIfNoneMatch='"nope"',
                   CopySourceIfModifiedSince=past)
    assert S3.get_object(Bucket="c-copyif", Key="baz")["Body"].read() == b"bar"


def check_conditional_writes():
    S3.create_bucket(Bucket="c-condput")
    etag = S3.put_object(Bucket="c-condput", Key="obj", Body=b"one", IfNoneMatch="*")["ETag"]
    for kwargs in [{"IfNoneMatch": "*"}, {"IfNoneMatch": etag}, {"IfMatch": '"bad"'}]:
        got = error_code(lambda: S3.put_object(Bucket="c-condput", Key="obj", Body=b"two", **kwargs))
        assert got == ("PreconditionFailed", 412), (kwargs, got)
    assert S3.get_object(Bucket="c-condput", Key="obj")["Body"].read() == b"one"
    S3.put_object(Bucket="c-condput", Key="obj", Body=b"two", IfMatch=etag)
    assert error_code(lambda: S3.put_object(Bucket="c-condput", Key="new", Body=b"x", IfMatch="*")) == \
        ("NoSuchKey", 404)
    # CompleteMultipartUpload takes the same conditions
    uid = S3.create_multipart_upload(Bucket="c-condput", Key="obj")["UploadId"]
    part = S3.upload_part(Bucket="c-condput", Key="obj", UploadId=uid, PartNumber=1, Body=b"three")["ETag"]
    done = {"Parts": [{"PartNumber": 1, "ETag": part}]}
    got = error_code(lambda: S3.complete_multipart_upload(Bucket="c-condput", Key="obj", UploadId=uid,
                                                          MultipartUpload=done, IfNoneMatch="*"))
    assert got == ("PreconditionFailed", 412), got
    S3.complete_multipart_upload(Bucket="c-condput", Key="obj", UploadId=uid, MultipartUpload=done, IfMatch="*")
    assert S3.get_object(Bucket="c-condput", Key="obj")["Body"].read() == b"three"


def check_conditional_deletes():
    S3.create_bucket(Bucket="c-conddel")
    etag = S3.put_object(Bucket="c-conddel", Key="obj", Body=b"abc")["ETag"]
    mtime = S3.head_object(Bucket="c-conddel", Key="obj")["LastModified"]
    old = datetime.datetime(2015, 1, 1)
    for kwargs in [{"IfMatch": '"bad"'}, {"IfMatchSize": 9}, {"IfMatchLastModifiedTime": old}]:
        got = error_code(lambda: S3.delete_object(Bucket="c-conddel", Key="obj", **kwargs))
        assert got == ("PreconditionFailed", 412), (kwargs, got)
    S3.head_object(Bucket="c-conddel", Key="obj")
    S3.delete_object(Bucket="c-conddel", Key="obj", IfMatch=etag, IfMatchSize=3, IfMatchLastModifiedTime=mtime)
    assert error_code(lambda: S3.head_object(Bucket="c-conddel", Key="obj"))[1] == 404
    # a missing object: nothing to delete, no error
    S3.delete_object(Bucket="c-conddel", Key="obj", IfMatch='"bad"')
    etag = S3.put_object(Bucket="c-conddel", Key="obj", Body=b"abc")["ETag"]
    out = S3.delete_objects(Bucket="c-conddel", Delete={"Objects": [{"Key": "obj", "ETag": '"bad"'}]})
    assert out["Errors"][0]["Code"] == "PreconditionFailed", out
    out = S3.delete_objects(Bucket="c-conddel", Delete={"Objects": [{"Key": "obj", "ETag": etag}]})
    assert out["Deleted"][0]["Key"] == "obj", out
    # at most 1000 keys per request
    many = {"Objects": [{"Key": f"k{i}"} for i in range(1001)]}
    assert error_code(lambda: S3.delete_objects(Bucket="c-conddel", Delete=many)) == ("MalformedXML", 400)


def check_get_part():
    S3.create_bucket(Bucket="c-getpart")
    sizes = [5 * MIB, 5 * MIB, MIB]
    bodies = [bytes([i + 1]) * s for i, s in enumerate(sizes)]
    uid = S3.create_multipart_upload(Bucket="c-getpart", Key="mp")["UploadId"]
    parts = [{"PartNumber": n, "ETag": S3.upload_part(Bucket="c-getpart", Key="mp", UploadId=uid, PartNumber=n,
                                                      Body=b)["ETag"]} for n, b in enumerate(bodies, start=1)]
    etag = S3.complete_multipart_upload(Bucket="c-getpart", Key="mp", UploadId=uid,
                                        MultipartUpload={"Parts": parts})["ETag"]
    for n, body in enumerate(bodies, start=1):
        head = S3.head_object(Bucket="c-getpart", Key="mp", PartNumber=n)
        assert (head["PartsCount"], head["ContentLength"], head["ETag"]) == (3, len(body), etag), head
        got = S3.get_object(Bucket="c-getpart", Key="mp", PartNumber=n)
        assert got["PartsCount"] == 3 and got["Body"].read() == body, n
    assert error_code(lambda: S3.get_object(Bucket="c-getpart", Key="mp", PartNumber=4)) == ("InvalidPart", 400)
    S3.put_object(Bucket="c-getpart", Key="single", Body=b"body")
    assert S3.get_object(Bucket="c-getpart", Key="single", PartNumber=1)["Body"].read() == b"body"
    assert error_code(lambda: S3.get_object(Bucket="c-getpart", Key="single", PartNumber=2))[0] == "InvalidPart"


def check_request_id_and_not_modified():
    S3.create_bucket(Bucket="c-reqid")
    etag = S3.put_object(Bucket="c-reqid", Key="foo", Body=b"bar")["ETag"]
    ok = S3.head_object(Bucket="c-reqid", Key="foo")
    assert ok["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id"), ok
    code, status, res = failure(lambda: S3.get_object(Bucket="c-reqid", Key="missing"))
    assert (code, status) == ("NoSuchKey", 404)
    assert res["ResponseMetadata"]["RequestId"], res
    # the id of the header is the RequestId of the XML
    req = urllib.request.Request(S3.generate_presigned_url("get_object", Params={"Bucket": "c-reqid", "Key": "no"}))
    try:
        urllib.request.urlopen(req)
        raise AssertionError("a missing key was served")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert f"<RequestId>{e.headers['x-amz-request-id']}</RequestId>" in body, (e.headers, body)
    code, status, res = failure(lambda: S3.get_object(Bucket="c-reqid", Key="foo", IfNoneMatch=etag))
    assert status == 304 and res["ResponseMetadata"]["HTTPHeaders"]["etag"] == etag, res


def check_presigned_lifetime():
    S3.create_bucket(Bucket="c-presign")
    S3.put_object(Bucket="c-presign", Key="foo", Body=b"bar")
    params = {"Bucket": "c-presign", "Key": "foo"}
    with urllib.request.urlopen(S3.generate_presigned_url("get_object", Params=params, ExpiresIn=60)) as r:
        assert r.read() == b"bar"
    # longer than 7 days, or negative: refused
    for expires in [7 * 24 * 3600 + 1, -7]:
        url = S3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
        try:
            urllib.request.urlopen(url)
            raise AssertionError(f"a presigned URL of {expires} s was served")
        except urllib.error.HTTPError as e:
            assert e.code == 403 and b"<Code>AccessDenied</Code>" in e.read(), (expires, e.code)


def check_early_error_closes_the_connection():
    """An error answered before the body was read ends the connection: the unread bytes of the body must
    not be taken for the next request."""
    url = S3.generate_presigned_url("put_object", Params={"Bucket": "c-no-such-bucket", "Key": "k"}, ExpiresIn=60)
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("PUT", parts.path + "?" + parts.query, skip_accept_encoding=True)
    conn.putheader("Content-Length", "1000")
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    res = conn.getresponse()
    body = res.read()
    assert res.status == 404 and b"<Code>NoSuchBucket</Code>" in body, (res.status, body)
    assert (res.getheader("Connection") or "").lower() == "close", res.getheaders()
    conn.close()


def check_not_implemented():
    """What the space does not have answers S3's NotImplemented (501 XML), never another 5xx."""
    S3.create_bucket(Bucket="c-features")
    S3.put_object(Bucket="c-features", Key="k", Body=b"x")
    b = {"Bucket": "c-features"}
    calls = [
        lambda: S3.put_bucket_acl(ACL="public-read", **b),
        lambda: S3.get_object_acl(Key="k", **b),
        lambda: S3.put_bucket_versioning(VersioningConfiguration={"Status": "Enabled"}, **b),
        lambda: S3.put_bucket_policy(Policy="{}", **b),
        lambda: S3.get_bucket_lifecycle_configuration(**b),
        lambda: S3.put_bucket_encryption(ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}, **b),
        lambda: S3.put_object_tagging(Key="k", Tagging={"TagSet": []}, **b),
        lambda: S3.get_bucket_website(**b),
        lambda: S3.get_bucket_cors(**b),
        lambda: S3.get_bucket_logging(**b),
        lambda: S3.get_object_lock_configuration(**b),
    ]
    for i, call in enumerate(calls):
        got = error_code(call)
        assert got == ("NotImplemented", 501), (i, got)


run_checks(globals())
