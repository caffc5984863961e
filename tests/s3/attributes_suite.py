"""S3 object attributes with boto3: the content headers kept with an object, GetObjectAttributes, and the
paging of ListMultipartUploads, against a live router with S3 on.

    python attributes_suite.py ENDPOINT ACCESS SECRET [CHECK ...]

Runs every check (or the named ones) in order, prints `ok NAME` or `FAIL NAME: why`, exits 1 when one
failed. Each check uses buckets of its own (names starting with `a-`).
"""
import datetime

from suite_lib import client, error_code, run_checks

MIB = 1024 * 1024
S3 = client()
CONTENT = {
    "CacheControl": "public, max-age=14400",
    "ContentDisposition": 'attachment; filename="report.txt"',
    "ContentEncoding": "gzip",
    "ContentLanguage": "es-MX",
}
EXPIRES = datetime.datetime(2031, 5, 17, 8, 30, tzinfo=datetime.timezone.utc)


def content_of(answer):
    """The content headers of a GetObject or HeadObject answer, as boto3 names them."""
    out = {name: answer[name] for name in CONTENT if name in answer}
    if "Expires" in answer:
        out["Expires"] = answer["Expires"]
    return out


def check_content_headers():
    S3.create_bucket(Bucket="a-content")
    b = {"Bucket": "a-content"}
    want = dict(CONTENT, Expires=EXPIRES)
    S3.put_object(Key="k", Body=b"bar", Expires=EXPIRES, **CONTENT, **b)
    assert content_of(S3.head_object(Key="k", **b)) == want, S3.head_object(Key="k", **b)
    got = S3.get_object(Key="k", **b)
    assert got["Body"].read() == b"bar"
    assert content_of(got) == want, got
    # the response-* query parameters override them in the answer only
    later = datetime.datetime(2032, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    over = S3.get_object(Key="k", ResponseCacheControl="no-cache", ResponseContentLanguage="en",
                         ResponseExpires=later, **b)
    assert content_of(over) == dict(want, CacheControl="no-cache", ContentLanguage="en", Expires=later), over
    assert content_of(S3.head_object(Key="k", **b)) == want
    # an object written without them has none
    S3.put_object(Key="plain", Body=b"x", **b)
    assert content_of(S3.get_object(Key="plain", **b)) == {}
    # aws-chunked names the request's transfer, not the object
    S3.put_object(Key="chunked", Body=b"x", ContentEncoding="aws-chunked, gzip", **b)
    assert S3.head_object(Key="chunked", **b).get("ContentEncoding") == "gzip"
    S3.put_object(Key="chunked", Body=b"x", ContentEncoding="aws-chunked", **b)
    assert "ContentEncoding" not in S3.head_object(Key="chunked", **b)


def check_content_headers_of_copies():
    S3.create_bucket(Bucket="a-copies")
    b = {"Bucket": "a-copies"}
    want = dict(CONTENT, Expires=EXPIRES)
    S3.put_object(Key="src", Body=b"data", Expires=EXPIRES, **CONTENT, **b)
    # COPY (the default) keeps the source's
    S3.copy_object(Key="copied", CopySource={"Bucket": "a-copies", "Key": "src"}, **b)
    assert content_of(S3.head_object(Key="copied", **b)) == want
    # REPLACE takes the request's, and only those
    S3.copy_object(Key="replaced", CopySource={"Bucket": "a-copies", "Key": "src"},
                   MetadataDirective="REPLACE", CacheControl="no-store", **b)
    assert content_of(S3.head_object(Key="replaced", **b)) == {"CacheControl": "no-store"}
    # onto itself with REPLACE: new headers, same bytes
    S3.copy_object(Key="src", CopySource={"Bucket": "a-copies", "Key": "src"},
                   MetadataDirective="REPLACE", ContentLanguage="fr", **b)
    got = S3.get_object(Key="src", **b)
    assert got["Body"].read() == b"data"
    assert content_of(got) == {"ContentLanguage": "fr"}, got


def check_content_headers_of_multipart():
    S3.create_bucket(Bucket="a-mp-content")
    b = {"Bucket": "a-mp-content", "Key": "big"}
    up = S3.create_multipart_upload(Expires=EXPIRES, **CONTENT, **b)["UploadId"]
    parts = []
    for n, data in enumerate([b"a" * (5 * MIB), b"tail"], start=1):
        etag = S3.upload_part(UploadId=up, PartNumber=n, Body=data, **b)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    S3.complete_multipart_upload(UploadId=up, MultipartUpload={"Parts": parts}, **b)
    assert content_of(S3.head_object(**b)) == dict(CONTENT, Expires=EXPIRES)


ALL_ATTRIBUTES = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def check_object_attributes():
    S3.create_bucket(Bucket="a-attrs")
    b = {"Bucket": "a-attrs"}
    etag = S3.put_object(Key="obj", Body=b"foo", **b)["ETag"].strip('"')
    got = S3.get_object_attributes(Key="obj", ObjectAttributes=ALL_ATTRIBUTES, **b)
    assert got["ETag"] == etag and got["ObjectSize"] == 3 and got["StorageClass"] == "STANDARD", got
    assert "ObjectParts" not in got and "VersionId" not in got and "DeleteMarker" not in got, got
    assert got["LastModified"] == S3.head_object(Key="obj", **b)["LastModified"], got
    # only what was asked for
    only = S3.get_object_attributes(Key="obj", ObjectAttributes=["ObjectSize"], **b)
    assert only["ObjectSize"] == 3 and "ETag" not in only and "StorageClass" not in only, only
    assert error_code(lambda: S3.get_object_attributes(Key="nope", ObjectAttributes=["ETag"], **b)) == \
        ("NoSuchKey", 404)
    assert error_code(lambda: S3.get_object_attributes(
        Bucket="a-no-such-bucket", Key="obj", ObjectAttributes=["ETag"]))[1] == 404


def check_object_attributes_of_multipart():
    S3.create_bucket(Bucket="a-mp-attrs")
    b = {"Bucket": "a-mp-attrs", "Key": "mp"}
    sizes = [5 * MIB, 5 * MIB + 1, 7]
    up = S3.create_multipart_upload(**b)["UploadId"]
    parts = []
    for n, size in zip([1, 3, 4], sizes):
        etag = S3.upload_part(UploadId=up, PartNumber=n, Body=b"p" * size, **b)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    etag = S3.complete_multipart_upload(UploadId=up, MultipartUpload={"Parts": parts}, **b)["ETag"].strip('"')
    got = S3.get_object_attributes(ObjectAttributes=ALL_ATTRIBUTES, **b)
    assert got["ETag"] == etag and got["ObjectSize"] == sum(sizes), got
    op = got["ObjectParts"]
    assert op["TotalPartsCount"] == 3 and op["IsTruncated"] is False, op
    assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == [(1, sizes[0]), (3, sizes[1]), (4, sizes[2])], op
    page = S3.get_object_attributes(ObjectAttributes=["ObjectParts"], MaxParts=1, PartNumberMarker=1, **b)
    op = page["ObjectParts"]
    assert [p["PartNumber"] for p in op["Parts"]] == [3], op
    assert op["IsTruncated"] is True and op["NextPartNumberMarker"] == 3 and op["MaxParts"] == 1, op
    assert op["PartNumberMarker"] == 1 and op["TotalPartsCount"] == 3, op
    rest = S3.get_object_attributes(ObjectAttributes=["ObjectParts"], PartNumberMarker=3, **b)["ObjectParts"]
    assert [p["PartNumber"] for p in rest["Parts"]] == [4] and rest["IsTruncated"] is False, rest


def check_list_multipart_uploads_paged():
    S3.create_bucket(Bucket="a-uploads")
    S3.create_bucket(Bucket="a-uploads-other")
    b = {"Bucket": "a-uploads"}
    keys = ["top", "a", "dir/x", "b", "a", "other/z", "dir/y", "a"]
    created = [(k, S3.create_multipart_upload(Key=k, **b)["UploadId"]) for k in keys]
    # S3 order: key bytes, then initiation (the creation order above)
    want = sorted(created, key=lambda c: c[0].encode())
    # neither another bucket's uploads nor a completed one are listed
    S3.create_multipart_upload(Bucket="a-uploads-other", Key="a")
    done = S3.create_multipart_upload(Key="a", **b)["UploadId"]
    etag = S3.upload_part(UploadId=done, PartNumber=1, Body=b"x", Key="a", **b)["ETag"]
    S3.complete_multipart_upload(UploadId=done, Key="a", MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, **b)
    everything = S3.list_multipart_uploads(**b)
    assert [(u["Key"], u["UploadId"]) for u in everything["Uploads"]] == want, everything
    assert everything["IsTruncated"] is False and everything["MaxUploads"] == 1000, everything
    # pages of 3 by hand: key and upload id markers
    seen, markers, pages = [], {}, 0
    while True:
        page = S3.list_multipart_uploads(MaxUploads=3, **markers, **b)
        pages += 1
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        assert len(page["Uploads"]) == 3, page
        markers = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == want and pages == 3, (pages, seen)
    # boto3's paginator follows the same markers
    paged = S3.get_paginator("list_multipart_uploads").paginate(PaginationConfig={"PageSize": 2}, **b)
    assert [(u["Key"], u["UploadId"]) for p in paged for u in p.get("Uploads", [])] == want
    # a key marker alone starts after that key
    after_a = S3.list_multipart_uploads(KeyMarker="a", **b)
    assert [u["Key"] for u in after_a["Uploads"]] == ["b", "dir/x", "dir/y", "other/z", "top"], after_a
    # prefix and delimiter: common prefixes count as entries of a page
    grouped = S3.list_multipart_uploads(Delimiter="/", **b)
    assert [u["Key"] for u in grouped["Uploads"]] == ["a", "a", "a", "b", "top"], grouped
    assert [c["Prefix"] for c in grouped["CommonPrefixes"]] == ["dir/", "other/"], grouped
    first = S3.list_multipart_uploads(Delimiter="/", KeyMarker="b", MaxUploads=1, **b)
    assert "Uploads" not in first or not first["Uploads"], first
    assert [c["Prefix"] for c in first["CommonPrefixes"]] == ["dir/"] and first["IsTruncated"] is True, first
    assert first["NextKeyMarker"] == "dir/", first
    rest = S3.list_multipart_uploads(Delimiter="/", KeyMarker="dir/", **b)
    assert [c["Prefix"] for c in rest["CommonPrefixes"]] == ["other/"], rest
    assert [u["Key"] for u in rest["Uploads"]] == ["top"], rest
    in_dir = S3.list_multipart_uploads(Prefix="dir/", **b)
    assert [u["Key"] for u in in_dir["Uploads"]] == ["dir/x", "dir/y"] and in_dir["Prefix"] == "dir/", in_dir
    for key, upload_id in created:
        S3.abort_multipart_upload(Key=key, UploadId=upload_id, **b)
    assert "Uploads" not in S3.list_multipart_uploads(**b) or not S3.list_multipart_uploads(**b)["Uploads"]


run_checks(globals())
