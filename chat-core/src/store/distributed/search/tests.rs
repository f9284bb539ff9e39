use super::*;

#[test]
fn a_comma_separated_list_names_each_node() {
    let urls = parse_urls("http://127.0.0.1:9200, http://127.0.0.1:9201,").unwrap();
    let hosts: Vec<_> = urls.iter().map(|u| u.port()).collect();
    assert_eq!(hosts, [Some(9200), Some(9201)]);
}

#[test]
fn an_empty_list_or_a_bad_url_is_a_clear_error() {
    for bad in [" , ", "", "http://127.0.0.1:9200,not a url"] {
        match parse_urls(bad) {
            Err(Error::BadRequest(m)) => assert!(m.contains("Elasticsearch URL"), "{m}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_shard_count_out_of_range_is_refused_before_connecting() {
    for shards in [0, MAX_SHARDS + 1] {
        match ElasticSearch::open("http://127.0.0.1:9", "x", shards, 0).await {
            Err(Error::BadRequest(m)) => assert!(m.contains("shards"), "{m}"),
            other => panic!("{shards}: {other:?}"),
        }
    }
}

#[test]
fn a_chats_documents_share_one_routing_value() {
    let doc = |chat, number| Doc {
        app: 7,
        chat,
        number,
        body: String::new(),
        created_at: 0,
        updated_at: 0,
    };
    assert_eq!(doc(3, 1).routing(), doc(3, 2).routing());
    assert_ne!(doc(3, 1).routing(), doc(4, 1).routing());
    assert_eq!(doc(3, 1).routing(), routing(7, 3));
    assert_eq!(doc(3, 2).id(), doc_id(7, 3, 2));
}
