//! Store behaviour plugins rely on: scoping, sealing, uniqueness, atomicity
//! (`rows`), queries and their totals (`queries`), and input bounds kept alike
//! on both backends (`bounds`). Every test runs twice: on SQLite and on a
//! real PostgreSQL server ([`pgtest`]).

use super::*;
use crate::store::collections::FieldKind;

/// A store with organisations `a` and `b`, each with a center `c1`.
async fn seeded(s: Store) -> Store {
    for org in ["a", "b"] {
        s.ensure_organisation(org).await.unwrap();
        center(&s, org, "c1").await;
    }
    s
}

async fn sqlite() -> Store {
    seeded(
        Store::in_memory(Sealer::from_key(&[1u8; 32]))
            .await
            .unwrap(),
    )
    .await
}

async fn postgres() -> Store {
    let s = Store::open_postgres(&pgtest::database(), 4, Sealer::from_key(&[1u8; 32]), "test")
        .await
        .unwrap();
    seeded(s).await
}

/// `both!(name)`: the async test `name(store)` on SQLite and on PostgreSQL.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::sqlite().await).await
            })+
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::postgres().await).await
            })+
        }
    };
}

mod bounds;
mod queries;
mod rows;
mod usage;

fn text(v: &str) -> Value {
    Value::Text(v.into())
}

/// A compute center named `name` in `org`; answers its id.
async fn center(s: &Store, org: &str, name: &str) -> String {
    let fields = [
        ("name", text(name)),
        ("pcapi_url", text("https://pcapi.example")),
        ("api_user", text("u")),
        ("api_pwd", Value::Secret("api-s3cret".into())),
        ("contactname", text("c")),
        ("contactphone", text("")),
    ];
    let fields: Vec<(String, Value)> = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    s.insert(org, "compute_centers", &fields).await.unwrap().id
}

/// The id of the center `c1` of `org`.
async fn c1(s: &Store, org: &str) -> String {
    let q = Query {
        conditions: vec![Condition {
            field: "name".into(),
            op: Comparison::Eq,
            value: text("c1"),
        }],
        ..Default::default()
    };
    s.query(org, "compute_centers", &q).await.unwrap().rows[0]
        .id
        .clone()
}

fn device_in(cpcid: &str, name: &str) -> Vec<(String, Value)> {
    vec![
        ("cpcid".into(), text(cpcid)),
        ("name".into(), text(name)),
        ("ip".into(), text("127.0.0.1")),
        ("devicetype".into(), text("1")),
        ("sshport".into(), Value::Integer(22)),
        ("adminuser".into(), text("root")),
        ("adminpwd".into(), Value::Secret("s3cret-pw".into())),
        ("node_status".into(), text("0")),
    ]
}

async fn device(s: &Store, org: &str, name: &str) -> Vec<(String, Value)> {
    device_in(&c1(s, org).await, name)
}

/// A priced component of center `cpcid`: a GPU `model` at `unit_price`.
fn widget_in(cpcid: &str, model: &str, unit_price: &str, stock: i64) -> Vec<(String, Value)> {
    [
        ("cpcid", text(cpcid)),
        ("type", text("gpu")),
        ("model", text(model)),
        ("unit_price", Value::Decimal(unit_price.into())),
        ("resource_unit", text("卡")),
        ("charge_unit", text("小时")),
        ("account_unit", text("元")),
        ("stock", Value::Integer(stock)),
        ("consumed", Value::Integer(0)),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .into()
}

/// A query with one condition.
fn one_condition(field: &str, op: Comparison, value: Value) -> Query {
    Query {
        conditions: vec![Condition {
            field: field.into(),
            op,
            value,
        }],
        ..Default::default()
    }
}
