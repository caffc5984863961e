//! S3 storage classes as replication factors, the S3 way to choose an object's redundancy: `STANDARD` (the
//! default) is written with `MICTLANX_S3_REPLICATION_FACTOR` copies, `REDUCED_REDUNDANCY` with
//! `MICTLANX_S3_REDUCED_REPLICATION_FACTOR`. Any other class is `InvalidStorageClass`. A reduced object
//! keeps its class in the tag `s3.storage-class`, so reads, listings and copies show it; a standard one has
//! no tag (objects the MictlanX client wrote are standard).

use std::collections::BTreeMap;

use s3s::dto::StorageClass;
use s3s::{S3Error, S3ErrorCode, S3Result};

use mictlanx_proto::model::Metadata;

/// The tag of a class other than `STANDARD`.
pub const TAG: &str = "s3.storage-class";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Class {
    #[default]
    Standard,
    Reduced,
}

impl Class {
    /// The class a request asks for (`x-amz-storage-class`); none is `STANDARD`.
    pub fn asked(given: Option<&StorageClass>) -> S3Result<Class> {
        match given.map(StorageClass::as_str) {
            None | Some(StorageClass::STANDARD) => Ok(Class::Standard),
            Some(StorageClass::REDUCED_REDUNDANCY) => Ok(Class::Reduced),
            Some(other) => Err(S3Error::with_message(
                S3ErrorCode::InvalidStorageClass,
                format!("{other}: only STANDARD and REDUCED_REDUNDANCY are offered"),
            )),
        }
    }

    /// The class recorded in `tags`.
    pub fn of_tags(tags: &BTreeMap<String, String>) -> Class {
        match tags.get(TAG).map(String::as_str) {
            Some(StorageClass::REDUCED_REDUNDANCY) => Class::Reduced,
            _ => Class::Standard,
        }
    }

    pub fn of(meta: &Metadata) -> Class {
        Class::of_tags(&meta.tags)
    }

    /// The tags that record this class (none for `STANDARD`).
    pub fn tags(self) -> BTreeMap<String, String> {
        match self {
            Class::Standard => BTreeMap::new(),
            Class::Reduced => BTreeMap::from([(
                TAG.to_string(),
                StorageClass::REDUCED_REDUNDANCY.to_string(),
            )]),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Standard => StorageClass::STANDARD,
            Class::Reduced => StorageClass::REDUCED_REDUNDANCY,
        }
    }

    /// The `x-amz-storage-class` of a read: absent for `STANDARD`, as S3 answers.
    pub fn header(self) -> Option<StorageClass> {
        (self != Class::Standard).then(|| StorageClass::from(self.name().to_string()))
    }

    /// The replicas of a write of this class: `standard` or `reduced`.
    pub fn replication_factor(self, (standard, reduced): (u32, u32)) -> u32 {
        match self {
            Class::Standard => standard,
            Class::Reduced => reduced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_factors_and_round_trip_through_tags() {
        let reduced = StorageClass::from_static(StorageClass::REDUCED_REDUNDANCY);
        let standard = StorageClass::from_static(StorageClass::STANDARD);
        assert_eq!(Class::asked(None).unwrap(), Class::Standard);
        assert_eq!(Class::asked(Some(&standard)).unwrap(), Class::Standard);
        assert_eq!(Class::asked(Some(&reduced)).unwrap(), Class::Reduced);
        let glacier = StorageClass::from_static(StorageClass::GLACIER);
        let e = Class::asked(Some(&glacier)).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidStorageClass);
        assert_eq!(Class::Reduced.replication_factor((3, 1)), 1);
        assert_eq!(Class::Standard.replication_factor((3, 1)), 3);
        assert_eq!(Class::of_tags(&Class::Reduced.tags()), Class::Reduced);
        assert_eq!(Class::of_tags(&Class::Standard.tags()), Class::Standard);
        assert!(Class::Standard.header().is_none());
        assert_eq!(
            Class::Reduced.header().unwrap().as_str(),
            "REDUCED_REDUNDANCY"
        );
    }
}
