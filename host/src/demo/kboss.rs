//! The kboss demo: a compute center with CPU and GPU machines, a cluster
//! record, the labels and the priced components of the document's examples
//! (memory priced per Mi, so the document's quote is exactly 64.08), with
//! stock in the cluster. SSH passwords are random and sealed; they are never
//! printed.

use crate::store::{ids, Comparison, Condition, Query, Store, StoreError, Value};

/// The demo center's name; its presence means the demo is already seeded.
pub const CENTER: &str = "首都算力中心1";

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn fields(pairs: Vec<(&str, Value)>) -> Vec<(String, Value)> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The demo center's id, if it exists.
async fn existing(store: &Store, org: &str) -> Result<Option<String>, StoreError> {
    let q = Query {
        conditions: vec![Condition {
            field: "name".into(),
            op: Comparison::Eq,
            value: text(CENTER),
        }],
        limit: Some(1),
        ..Default::default()
    };
    Ok(store
        .query(org, "compute_centers", &q)
        .await?
        .rows
        .first()
        .map(|r| r.id.clone()))
}

/// (name, ip, devicetype, node_status, role, cpu, memory Gi, gpu model, gpus)
type Machine = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    &'static str,
    i64,
);

const MACHINES: &[Machine] = &[
    (
        "3-虚拟机ubuntu2204",
        "192.168.0.3",
        "0",
        "1",
        "master",
        16,
        64,
        "STANDARD",
        0,
    ),
    (
        "2-虚拟机ubuntu2204",
        "192.168.0.2",
        "0",
        "1",
        "worker",
        32,
        128,
        "STANDARD",
        0,
    ),
    (
        "gpu设备1",
        "192.168.0.8",
        "1",
        "0",
        "",
        64,
        512,
        "RTX5090-32G",
        8,
    ),
    (
        "假算力设备",
        "192.168.110.120",
        "1",
        "0",
        "",
        96,
        768,
        "A100-80G",
        4,
    ),
];

/// (type, model, unit price, resource unit, stock in the cluster)
const WIDGETS: &[(&str, &str, &str, &str, i64)] = &[
    ("cpu", "INTEL(R) XEON(R) PLATINUM 8582C", "1.5", "核", 128),
    ("cpu", "STANDARD", "2.2", "核", 64),
    ("cpu", "AMD EPYC 7542 32-Core Processor", "0.8", "核", 64),
    ("disk", "DATA", "0.01", "Gi", 8192),
    ("disk", "SYS", "0.005", "Gi", 2048),
    ("gpu", "STANDARD-8G", "2", "卡", 3),
    ("gpu", "A100-80G", "18", "卡", 4),
    ("gpu", "RTX5090-32G", "6", "卡", 8),
    ("gpu", "RTX4090-24G", "4", "卡", 0),
    ("gpu", "V100-32G", "12", "卡", 0),
    ("memory", "Samsung DDR4 DIMMs", "0.005", "Mi", 524288),
    ("memory", "STANDARD", "0.0004", "Gi", 256),
    ("memory", "Crucial P-series", "0.0005", "Gi", 256),
    ("memory", "Kingston FURY", "0.0002", "Gi", 256),
];

/// (name, labeltype, key, value)
const LABELS: &[(&str, &str, &str, &str)] = &[
    ("非GPU设备", "1", "kyy-gpu", "false"),
    ("GPU设备", "1", "kyy-gpu", "true"),
    ("测试标签", "0", "kyy-test", "ok"),
    ("cd", "0", "kyy-we", "qwe"),
];

/// Seed `org` (once) and print how to call the kboss endpoints; the
/// compute center's id.
pub async fn seed(store: &Store, org: &str, base_url: &str) -> Result<String, StoreError> {
    let cpcid = match existing(store, org).await? {
        Some(id) => id,
        None => seed_records(store, org).await?,
    };
    let resources = r#"[{"type":"cpu","model":"INTEL(R) XEON(R) PLATINUM 8582C","amount":4},{"type":"memory","model":"Samsung DDR4 DIMMs","amount":8192},{"type":"disk","model":"DATA","amount":512},{"type":"gpu","model":"RTX5090-32G","amount":2}]"#;
    println!("kboss demo: compute center `{CENTER}` (cpcid {cpcid}) with 4 devices, cluster 朝阳区, 4 labels, 14 priced components.");
    println!("try (KEY is the bearer key above):");
    println!(
        "  curl -H \"Authorization: Bearer $KEY\" '{base_url}/dev/cpcc/cpcnode/get_cpcnode.dspy?cpcid={cpcid}&rows=10&sort=name'"
    );
    println!(
        "  curl -G -H \"Authorization: Bearer $KEY\" '{base_url}/dev/cpcc/cpcwidget/accrual_price.dspy' --data-urlencode cpcid={cpcid} --data-urlencode 'resources={resources}' --data-urlencode duration=1 --data-urlencode duration_unit=小时"
    );
    println!(
        "  curl -H \"Authorization: Bearer $KEY\" '{base_url}/dev/cpcc/cpcwidget/obtaining_gpuinfo.dspy?cpcid={cpcid}'"
    );
    Ok(cpcid)
}

async fn seed_records(store: &Store, org: &str) -> Result<String, StoreError> {
    let center = store
        .insert(
            org,
            "compute_centers",
            &fields(vec![
                ("name", text(CENTER)),
                ("pcapi_url", text("https://opencomputing.ai")),
                ("api_user", text("ysh")),
                ("api_pwd", Value::Secret(ids::random_id(20))),
                ("contactname", text("Ahexl")),
                ("contactphone", text("13141005621")),
                ("enable_date", text("2025-05-16")),
                ("expire_date", text("2026-06-17")),
            ]),
        )
        .await?;
    let cpcid = center.id;
    let mut devices = Vec::new();
    for &(name, ip, kind, status, role, cpu, memory, gpu_model, gpus) in MACHINES {
        let row = store
            .insert(
                org,
                "devices",
                &fields(vec![
                    ("cpcid", text(&cpcid)),
                    ("name", text(name)),
                    ("ip", text(ip)),
                    ("devicetype", text(kind)),
                    ("sshport", Value::Integer(22)),
                    ("adminuser", text("root")),
                    ("adminpwd", Value::Secret(ids::random_id(20))),
                    ("node_status", text(status)),
                    ("cpu_model", text("STANDARD")),
                    ("cpu_stock", Value::Integer(cpu)),
                    ("memory_model", text("STANDARD")),
                    ("memory_stock", Value::Integer(memory)),
                    ("sysdisk_stock", Value::Integer(100)),
                    ("datadisk_stock", Value::Integer(2000)),
                    ("gpu_model", text(gpu_model)),
                    ("gpu_stock", Value::Integer(gpus)),
                    (
                        "role",
                        if role.is_empty() {
                            Value::Null
                        } else {
                            text(role)
                        },
                    ),
                    ("enable_date", text("2025-03-31")),
                    ("export_date", text("2029-10-30")),
                ]),
            )
            .await?;
        devices.push(row.id);
    }
    // The cluster record the install flow would leave (no kubeconfig: the
    // demo installs nothing).
    let cluster = store
        .insert(
            org,
            "clusters",
            &fields(vec![
                ("cpcid", text(&cpcid)),
                ("name", text("朝阳区")),
                ("clustertype", text("0")),
                ("controllerid", text(&devices[0])),
                ("enable_date", text("2025-04-03")),
                ("export_date", text("2026-05-10")),
                ("ready", Value::Integer(1)),
            ]),
        )
        .await?;
    for id in &devices[..2] {
        store
            .update(
                org,
                "devices",
                id,
                &fields(vec![("clusterid", text(&cluster.id))]),
            )
            .await?;
    }
    for &(name, kind, key, value) in LABELS {
        store
            .insert(
                org,
                "labels",
                &fields(vec![
                    ("name", text(name)),
                    ("labeltype", text(kind)),
                    ("label_key", text(key)),
                    ("symbol", text(if kind == "1" { "=" } else { ":" })),
                    ("label_value", text(value)),
                ]),
            )
            .await?;
    }
    for &(kind, model, price, unit, stock) in WIDGETS {
        let widget = store
            .insert(
                org,
                "widgets",
                &fields(vec![
                    ("cpcid", text(&cpcid)),
                    ("type", text(kind)),
                    ("model", text(model)),
                    ("unit_price", Value::Decimal(price.to_string())),
                    ("resource_unit", text(unit)),
                    ("charge_unit", text("小时")),
                    ("account_unit", text("元")),
                    ("stock", Value::Integer(stock)),
                    ("consumed", Value::Integer(0)),
                ]),
            )
            .await?;
        store
            .insert(
                org,
                "widget_stock",
                &fields(vec![
                    ("widgetid", text(&widget.id)),
                    ("cpcid", text(&cpcid)),
                    ("clusterid", text(&cluster.id)),
                    ("stock", Value::Integer(stock)),
                    ("consumed", Value::Integer(0)),
                ]),
            )
            .await?;
    }
    Ok(cpcid)
}
