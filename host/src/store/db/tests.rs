//! The same checks against both backends: values round-trip by kind,
//! unique violations name their column, transactions commit or roll back.

use super::postgres::Postgres;
use super::sqlite::Sqlite;
use super::*;

async fn backends() -> Vec<Box<dyn Database>> {
    let sqlite = Sqlite::new(rusqlite::Connection::open_in_memory().unwrap()).unwrap();
    let pg = Postgres::connect(&pgtest::database(), 4).await.unwrap();
    vec![Box::new(sqlite), Box::new(pg)]
}

async fn table(db: &dyn Database) {
    let d = db.dialect();
    db.batch(&format!(
        "CREATE TABLE t (id {text} PRIMARY KEY, n {int}, r {real}, b {blob}, name {text}, UNIQUE (name))",
        text = d.text(),
        int = d.integer(),
        real = if d == Dialect::Sqlite { "REAL" } else { "DOUBLE PRECISION" },
        blob = d.blob(),
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_round_trip_by_kind() {
    for db in backends().await {
        let db = &*db;
        table(db).await;
        let n = db
            .execute(
                "INSERT INTO t (id, n, r, b, name) VALUES (?1, ?2, ?3, ?4, ?5)",
                params!["a", 42i64, 1.5f64, vec![0u8, 1, 255], None::<String>],
            )
            .await
            .unwrap();
        assert_eq!(n, 1, "{}", db.describe());
        let row = db
            .query_opt(
                "SELECT id, n, r, b, name FROM t WHERE id = ?1",
                params!["a"],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.get::<String>(0).unwrap(), "a");
        assert_eq!(row.get::<i64>(1).unwrap(), 42);
        assert_eq!(row.get::<f64>(2).unwrap(), 1.5);
        assert_eq!(row.get::<Vec<u8>>(3).unwrap(), vec![0, 1, 255]);
        assert_eq!(row.get::<Option<String>>(4).unwrap(), None);
        assert!(row.get::<i64>(0).is_err(), "text is not an integer");
        let count = db
            .query_opt("SELECT COUNT(*) FROM t", params![])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(count.get::<i64>(0).unwrap(), 1, "{}", db.describe());
        let found = db
            .query(
                &format!("SELECT id FROM t WHERE {}", d_contains(db)),
                params!["xa"],
            )
            .await;
        assert!(found.unwrap().is_empty());
    }
}

fn d_contains(db: &dyn Database) -> String {
    db.dialect().contains("id", 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_violation_is_a_conflict_naming_the_column() {
    for db in backends().await {
        let db = &*db;
        table(db).await;
        let insert = "INSERT INTO t (id, name) VALUES (?1, ?2)";
        db.execute(insert, params!["a", "x"]).await.unwrap();
        match db.execute(insert, params!["b", "x"]).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("`name`"), "{m}"),
            other => panic!("{}: {other:?}", db.describe()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_or_roll_back() {
    for db in backends().await {
        let db = &*db;
        table(db).await;
        let mut tx = db.begin().await.unwrap();
        tx.execute("INSERT INTO t (id) VALUES (?1)", params!["kept"])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute("INSERT INTO t (id) VALUES (?1)", params!["dropped"])
            .await
            .unwrap();
        let seen = tx
            .query("SELECT id FROM t ORDER BY id", params![])
            .await
            .unwrap();
        assert_eq!(seen.len(), 2, "a transaction sees its own writes");
        drop(tx);
        // The rollback of a dropped transaction may still be on its way.
        let mut ids = Vec::new();
        for _ in 0..50 {
            ids = db
                .query("SELECT id FROM t ORDER BY id", params![])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String>(0).unwrap())
                .collect::<Vec<_>>();
            if ids.len() == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(ids, vec!["kept".to_string()], "{}", db.describe());
        // The connection is usable again after the rollback.
        db.execute("INSERT INTO t (id) VALUES (?1)", params!["after"])
            .await
            .unwrap();
    }
}

/// A page's answer stops at `MAX_ANSWER_BYTES` on both backends (a pure
/// read, as the store's collection pages are): refused as the caller's to
/// fix, while fewer of the same rows are read, the host's own reads of the
/// whole table are not bounded, and the backend stays usable (PostgreSQL's
/// cut connection is closed, not given back to its pool).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_past_its_budget_is_refused_and_a_smaller_one_read() {
    let blob = vec![7u8; 4 << 20];
    for db in backends().await {
        let db = &*db;
        table(db).await;
        let rows = MAX_ANSWER_BYTES / blob.len() + 2;
        for i in 0..rows {
            db.execute(
                "INSERT INTO t (id, b) VALUES (?1, ?2)",
                params![format!("r{i:02}"), blob.clone()],
            )
            .await
            .unwrap();
        }
        let all = "SELECT id, b FROM t ORDER BY id";
        match db.query_pure(all, params![]).await {
            Err(StoreError::Invalid(m)) => assert!(m.contains("read fewer at a time"), "{m}"),
            other => panic!("{}: {:?}", db.describe(), other.map(|r| r.len())),
        }
        for _ in 0..6 {
            let page = db
                .query_pure("SELECT id, b FROM t ORDER BY id LIMIT 4", params![])
                .await
                .unwrap();
            assert_eq!(page.len(), 4, "{}", db.describe());
        }
        // The host's own read (an export's) of the same rows is whole.
        let whole = db.query(all, params![]).await.unwrap();
        assert_eq!(whole.len(), rows, "{}", db.describe());
    }
}
