"""Small S3 actions for the Rust tests (boto3): one action per run, bytes through files.

    python s3cli.py ENDPOINT ACCESS SECRET put BUCKET KEY FILE
    python s3cli.py ENDPOINT ACCESS SECRET get BUCKET KEY FILE
    python s3cli.py ENDPOINT ACCESS SECRET head BUCKET KEY        (prints the ETag)
    python s3cli.py ENDPOINT ACCESS SECRET mb BUCKET
    python s3cli.py ENDPOINT ACCESS SECRET mpu-start BUCKET KEY   (prints the upload id)
    python s3cli.py ENDPOINT ACCESS SECRET mpu-list BUCKET        (prints the open upload ids)
    python s3cli.py ENDPOINT ACCESS SECRET put-cut BUCKET KEY     (a PUT that disconnects mid-body)
    python s3cli.py ENDPOINT ACCESS SECRET put-class BUCKET KEY CLASS   (a small PUT with that storage class)
    python s3cli.py ENDPOINT ACCESS SECRET mpu-class BUCKET KEY CLASS   (a two-part upload with that class)
    python s3cli.py ENDPOINT ACCESS SECRET class BUCKET KEY       (prints HEAD's and the listing's class)
Exits 0 on success; prints the S3 error code and exits 3 on an S3 error.
"""
import base64
import hashlib
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cut_upload import put_cut


def client(endpoint, access, secret):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def main(argv):
    endpoint, access, secret, action, *args = argv
    s3 = client(endpoint, access, secret)
    try:
        if action in ("put", "put-md5"):
            # put-md5 sends Content-MD5, so the ETag is known before the body
            bucket, key, path = args
            with open(path, "rb") as f:
                data = f.read()
            extra = {}
            if action == "put-md5":
                extra["ContentMD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
            out = s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
            print(out["ETag"])
        elif action == "get":
            bucket, key, path = args
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            with open(path, "wb") as f:
                f.write(body)
        elif action == "head":
            bucket, key = args
            print(s3.head_object(Bucket=bucket, Key=key)["ETag"])
        elif action == "mb":
            (bucket,) = args
            s3.create_bucket(Bucket=bucket)
        elif action == "mpu-start":
            # an upload with one part, left open
            bucket, key = args
            uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"part one")
            print(uid)
        elif action == "mpu-list":
            (bucket,) = args
            for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
                print(u["UploadId"])
        elif action == "put-class":
            bucket, key, cls = args
            print(s3.put_object(Bucket=bucket, Key=key, Body=b"classy", StorageClass=cls)["ETag"])
        elif action == "mpu-class":
            bucket, key, cls = args
            uid = s3.create_multipart_upload(Bucket=bucket, Key=key, StorageClass=cls)["UploadId"]
            parts = []
            for n, body in [(1, b"a" * (5 * 1024 * 1024)), (2, b"b" * 1024)]:
                etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=body)["ETag"]
                parts.append({"PartNumber": n, "ETag": etag})
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts})
        elif action == "class":
            bucket, key = args
            head = s3.head_object(Bucket=bucket, Key=key).get("StorageClass", "STANDARD")
            listed = [o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]
                      if o["Key"] == key]
            print(f"head={head} list={listed[0]}")
        elif action == "put-cut":
            bucket, key = args
            put_cut(s3, bucket, key)
        else:
            raise SystemExit(f"unknown action {action}")
    except ClientError as e:
        print(e.response["Error"]["Code"])
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
