//! The S3 facade with real clients (boto3, aws-cli, rclone from a venv named by
//! `MICTLANX_S3_CLIENTS_VENV`, which `.ci/run` creates) against a real router and three real peers:
//! bucket and object operations, listings, ranges, copies, presigned URLs, signatures, and the same
//! objects seen through the MictlanX API and through a second router on the same Redis.

mod access;
mod attributes;
mod aws_cli;
mod boto3;
mod calls;
mod conformance;
mod cross_api;
mod overwrite;
mod rclone;
mod s3s_e2e;
mod storage_class;
mod support;
mod sweep;
