use super::sql::{chunks, insert_sql, InsertKind, CHUNKS};
use crate::store::embedded::numbering::number_in;

#[test]
fn chunks_cover_every_row_with_fixed_sizes() {
    for total in [0, 1, 7, 8, 9, 128, 200, 1024, 1031] {
        let c = chunks(total);
        assert_eq!(c.iter().sum::<usize>(), total);
        assert!(c.iter().all(|n| CHUNKS.contains(n)));
    }
}

#[test]
fn insert_sql_has_one_placeholder_group_per_row() {
    let sql = insert_sql(InsertKind::Messages, 8);
    assert_eq!(sql.matches("?1,?1)").count(), 8);
    assert!(sql.ends_with("(?30,?31,?32,?33,?1,?1)"), "{sql}");
}

#[test]
fn numbers_are_handed_out_in_order() {
    assert_eq!(number_in(10, 3, 0).unwrap(), 8);
    assert_eq!(number_in(10, 3, 2).unwrap(), 10);
    assert!(number_in(i64::from(u32::MAX), 1, 0).is_err());
}
