use super::*;

#[test]
fn payload_pieces_cover_the_buffer_in_order() {
    let p = Payload::generate(2 * PIECE as u64 + 5);
    let pieces: Vec<Bytes> = p.pieces().collect();
    assert_eq!(
        pieces.iter().map(Bytes::len).collect::<Vec<_>>(),
        vec![PIECE, PIECE, 5]
    );
    assert_eq!(pieces.concat(), p.bytes.to_vec());
    assert_eq!(p.len(), 2 * PIECE as u64 + 5);
}

#[test]
fn payload_checksum_is_the_sha256_hex_of_the_bytes() {
    let p = Payload::generate(1000);
    assert_eq!(p.checksum, hex::encode(Sha256::digest(&p.bytes)));
    assert_eq!(p.checksum.len(), 64);
    let empty = Payload::generate(0);
    assert!(empty.is_empty());
    assert_eq!(empty.pieces().count(), 0);
    assert_eq!(
        empty.checksum,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn error_messages_name_the_step() {
    let e = OpError::Length {
        step: "get",
        expected: 10,
        got: 3,
    };
    assert_eq!(e.to_string(), "get: expected 10 bytes, got 3");
    let e = OpError::Status {
        step: "put data",
        status: 502,
        body: "{}".into(),
    };
    assert_eq!(e.to_string(), "put data: HTTP 502: {}");
}
