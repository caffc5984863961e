//! The bucket listing's JSON, written straight from the index: the same bytes as [`super::reply::json`]
//! (object keys in sorted order), without cloning each object's metadata or building a `serde_json::Value`
//! of the whole page first. A listing page is the largest answer a peer sends, and on the router's S3 and
//! paged listings every peer holding a replica sends one per page.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use mictlanx_proto::model::Metadata;

/// One object, its fields in sorted order (the order `serde_json::Value` writes them).
struct Sorted<'a>(&'a Metadata);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut st = s.serialize_struct("Metadata", 9)?;
        st.serialize_field("ball_id", &m.ball_id)?;
        st.serialize_field("bucket_id", &m.bucket_id)?;
        st.serialize_field("checksum", &m.checksum)?;
        st.serialize_field("content_type", &m.content_type)?;
        st.serialize_field("is_disabled", &m.is_disabled)?;
        st.serialize_field("key", &m.key)?;
        st.serialize_field("producer_id", &m.producer_id)?;
        st.serialize_field("size", &m.size)?;
        // a BTreeMap: already sorted
        st.serialize_field("tags", &m.tags)?;
        st.end()
    }
}

/// `{"balls":[…],"peer_id":…}` of the objects `balls` yields.
pub fn bucket_page<'a>(peer_id: &str, balls: impl Iterator<Item = &'a Metadata>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"{\"balls\":[");
    for (i, m) in balls.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &Sorted(m)).expect("writing to a Vec cannot fail");
    }
    out.extend_from_slice(b"],\"peer_id\":");
    serde_json::to_writer(&mut out, peer_id).expect("writing to a Vec cannot fail");
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::bucket_page;
    use mictlanx_proto::model::Metadata;
    use mictlanx_proto::peer::PeerBucketMetadata;

    fn meta(key: &str, tags: &[(&str, &str)]) -> Metadata {
        Metadata {
            key: key.into(),
            size: 42,
            checksum: "c\"s".into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            content_type: "text/plain; charset=utf-8".into(),
            producer_id: "p".into(),
            ball_id: "ball ü".into(),
            bucket_id: "b".into(),
            is_disabled: true,
        }
    }

    #[test]
    fn the_bytes_are_those_of_the_sorted_value_encoding() {
        for balls in [
            vec![],
            vec![meta("k1", &[])],
            vec![
                meta("k1", &[("updated_at", "12"), ("a\nb", "x")]),
                meta("k2", &[("s3.etag", "\"e\"")]),
            ],
        ] {
            let value = serde_json::to_value(PeerBucketMetadata {
                peer_id: "peer-1".into(),
                balls: balls.clone(),
            })
            .unwrap();
            let expected = serde_json::to_vec(&value).unwrap();
            let written = bucket_page("peer-1", balls.iter());
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
