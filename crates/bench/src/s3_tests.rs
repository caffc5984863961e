use super::*;

#[test]
fn list_pages_count_contents_and_read_the_continuation_token() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>r</Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>r-1</Key><Size>4</Size></Contents><Contents><Key>r-2</Key><Size>4</Size></Contents>
<NextContinuationToken>abc/+=</NextContinuationToken></ListBucketResult>"#;
    let page = parse_list_page(xml).unwrap();
    assert_eq!(
        page,
        ListPage {
            keys: 2,
            next_token: Some("abc/+=".into())
        }
    );
    let last = br#"<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>"#;
    assert_eq!(parse_list_page(last).unwrap(), ListPage::default());
}

#[test]
fn answers_that_are_not_listings_are_refused() {
    assert!(parse_list_page(b"<Error><Code>NoSuchBucket</Code></Error>").is_err());
    assert!(parse_list_page(b"").is_err());
}

#[test]
fn keys_and_tokens_are_percent_encoded_except_unreserved_and_slash() {
    assert_eq!(encode("dir/a b.txt"), "dir/a%20b.txt");
    assert_eq!(encode("t+k=="), "t%2Bk%3D%3D");
    assert_eq!(encode("ñ~_-"), "%C3%B1~_-");
}
