"""What the boto3 suites share: the command line, the client, small helpers and the runner.

A suite is run as `python SUITE.py ENDPOINT ACCESS SECRET [CHECK ...]`: it runs every `check_*` function (or
the named ones) in order, prints `ok NAME` or `FAIL NAME: why`, and exits 1 when one failed or none ran.
"""
import hashlib
import sys
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT, ACCESS, SECRET = sys.argv[1:4]
ONLY = set(sys.argv[4:])


def client(secret=SECRET):
    return boto3.client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=ACCESS, aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4"),
    )


def md5(b):
    return hashlib.md5(b).hexdigest()


def error_code(fn):
    """The (code, HTTP status) of a call that must fail."""
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("no error")


def run_checks(namespace):
    """Run the `check_*` functions of `namespace` (a suite's `globals()`) and exit with the outcome."""
    checks = [(name[len("check_"):], fn) for name, fn in list(namespace.items()) if name.startswith("check_")]
    failed = ran = 0
    for name, fn in checks:
        if ONLY and name not in ONLY:
            continue
        ran += 1
        try:
            fn()
            print(f"ok {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc()
    if not ran:
        print("FAIL no check ran", flush=True)
    sys.exit(1 if failed or not ran else 0)
