//! Helpers for the kboss tests: calls by the documented short path
//! (`cpclist/get_cpclist` is `/dev/cpcc/cpclist/get_cpclist.dspy`) with the
//! parameters in the query string, and the records tests need.

use serde_json::Value;

use crate::common::*;
use computehub::store::Value as V;

pub const ORG: &str = "acme";
pub const OTHER: &str = "globex";

/// A running server with a bearer key for `acme` and one for `globex`.
pub struct Kb {
    pub s: Server,
    pub key: String,
    pub other: String,
}

pub fn path(short: &str) -> String {
    format!("/dev/cpcc/{short}.dspy")
}

impl Kb {
    pub fn start() -> Kb {
        Self::with(Options::default())
    }

    pub fn with(opts: Options) -> Kb {
        let s = Server::with(opts);
        let key = s.key(ORG, "bearer");
        let other = s.key(OTHER, "bearer");
        Kb { s, key, other }
    }

    /// A call with the parameters in the query string; `key` `None` sends none.
    pub async fn call(
        &self,
        method: reqwest::Method,
        short: &str,
        key: Option<&str>,
        params: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut r = self
            .s
            .http
            .request(method, self.s.url(&path(short)))
            .query(params);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// The raw body text of a POST (to check what JSON values cannot show:
    /// key order, number spelling).
    pub async fn post_text(&self, short: &str, params: &[(&str, &str)]) -> String {
        self.raw(reqwest::Method::POST, short, params).await
    }

    pub async fn get_text(&self, short: &str, params: &[(&str, &str)]) -> String {
        self.raw(reqwest::Method::GET, short, params).await
    }

    async fn raw(&self, method: reqwest::Method, short: &str, params: &[(&str, &str)]) -> String {
        let r = self
            .s
            .http
            .request(method, self.s.url(&path(short)))
            .query(params)
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    }

    pub async fn get(&self, short: &str, params: &[(&str, &str)]) -> (u16, Value) {
        self.call(reqwest::Method::GET, short, Some(&self.key), params)
            .await
    }

    pub async fn post(&self, short: &str, params: &[(&str, &str)]) -> (u16, Value) {
        self.call(reqwest::Method::POST, short, Some(&self.key), params)
            .await
    }

    /// `add_cpclist` with the document's example values; answers the id.
    pub async fn center(&self, name: &str) -> String {
        let (status, body) = self
            .post(
                "cpclist/add_cpclist",
                &[
                    ("name", name),
                    ("pcapi_url", "https://opencomputing.ai"),
                    ("api_user", "ysh"),
                    ("api_pwd", "Kyy@123456"),
                    ("contactname", "Ahexl"),
                    ("contactphone", "13141005621"),
                    ("enable_date", "2025-05-16"),
                    ("expire_date", "2026-06-17"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["id"].as_str().unwrap().to_string()
    }

    /// `add_cpcnode` with the example's values, `extra` overriding them.
    pub async fn device(&self, cpcid: &str, name: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut params: Vec<(&str, &str)> = vec![
            ("cpcid", cpcid),
            ("ip", "192.168.0.8"),
            ("name", name),
            ("devicetype", "1"),
            ("sshport", "22"),
            ("adminuser", "ysh"),
            ("adminpwd", "Kyy@123456"),
            ("node_status", "0"),
            ("external_ip", ""),
            ("cpu_model", "STANDARD"),
            ("cpu_stock", "64"),
            ("memory_model", "STANDARD"),
            ("memory_stock", "256"),
            ("sysdisk_stock", "100"),
            ("datadisk_stock", "2000"),
            ("gpu_model", "RTX5090-32G"),
            ("gpu_stock", "8"),
            ("role", ""),
            ("enable_date", "2025-05-16"),
            ("export_date", "2026-06-17"),
        ];
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            params.push((k, v));
        }
        self.post("cpcnode/add_cpcnode", &params).await
    }

    /// `add_cpcwidget` into `clusterid`.
    #[allow(clippy::too_many_arguments)]
    pub async fn widget(
        &self,
        cpcid: &str,
        clusterid: &str,
        kind: &str,
        model: &str,
        price: &str,
        unit: &str,
        stock: &str,
        add_opt: &str,
    ) -> (u16, Value) {
        self.post(
            "cpcwidget/add_cpcwidget",
            &[
                ("cpcid", cpcid),
                ("clusterid", clusterid),
                ("type", kind),
                ("resource_unit", unit),
                ("unit_price", price),
                ("model", model),
                ("stock", stock),
                ("charge_unit", "小时"),
                ("account_unit", "元"),
                ("add_opt", add_opt),
            ],
        )
        .await
    }

    /// The document's components (memory priced per Mi, as the accrual
    /// example prices it) with `stock` of each in `clusterid`.
    pub async fn document_widgets(&self, cpcid: &str, clusterid: &str, stock: &[&str; 4]) {
        let example = [
            ("cpu", "INTEL(R) XEON(R) PLATINUM 8582C", "1.5", "核"),
            ("memory", "Samsung DDR4 DIMMs", "0.005", "Mi"),
            ("disk", "DATA", "0.01", "Gi"),
            ("gpu", "RTX5090-32G", "6", "卡"),
        ];
        for ((kind, model, price, unit), n) in example.iter().zip(stock) {
            let (status, body) = self
                .widget(cpcid, clusterid, kind, model, price, unit, n, "no")
                .await;
            assert_eq!(status, 200, "{body}");
        }
        let others = [
            ("cpu", "STANDARD", "2.2", "核"),
            ("cpu", "AMD EPYC 7542 32-Core Processor", "0.8", "核"),
            ("disk", "SYS", "0.005", "Gi"),
            ("gpu", "A100-80G", "18", "卡"),
            ("memory", "Kingston FURY", "0.0002", "Gi"),
        ];
        for (kind, model, price, unit) in others {
            let (status, body) = self
                .widget(cpcid, clusterid, kind, model, price, unit, "0", "no")
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }

    /// A cluster record in `org`'s center, as the cluster install flow
    /// leaves it (no kboss endpoint creates one).
    pub async fn cluster(
        &self,
        org: &str,
        cpcid: &str,
        name: &str,
        controller: Option<&str>,
    ) -> String {
        let store = self.s.store().await;
        let t = |s: &str| V::Text(s.to_string());
        let mut fields = vec![
            ("cpcid".to_string(), t(cpcid)),
            ("name".to_string(), t(name)),
            ("clustertype".to_string(), t("0")),
            ("enable_date".to_string(), t("2025-04-03")),
            ("export_date".to_string(), t("2025-05-10")),
            (
                "clusterjoin".to_string(),
                V::Secret(format!(
                    "kubeadm join 192.168.0.3:6443 --token {JOIN_TOKEN}"
                )),
            ),
            ("kubeconfig".to_string(), V::Secret(KUBECONFIG.to_string())),
            ("ready".to_string(), V::Integer(1)),
        ];
        if let Some(c) = controller {
            fields.push(("controllerid".to_string(), t(c)));
        }
        store.insert(org, "clusters", &fields).await.unwrap().id
    }

    /// What the store holds ([`Server::stored_bytes`]).
    pub async fn database_bytes(&self) -> Vec<u8> {
        self.s.stored_bytes().await
    }
}

/// Extra parameters, the `msg` they must get, and what the `detail` names.
pub type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

pub const JOIN_TOKEN: &str = "nt80u6.gzpj9dxsrw79270c";
pub const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-key-data: S3CR3T-KEY-DATA\n";

/// Asserts that `"key":` occurs in `text` for each key, in this order.
pub fn assert_key_order(text: &str, keys: &[&str]) {
    let mut at = 0;
    for k in keys {
        let needle = format!("\"{k}\":");
        match text[at..].find(&needle) {
            Some(i) => at += i + needle.len(),
            None => panic!("`{k}` missing or out of order in {text}"),
        }
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The `msg` of a kboss failure the host answers itself (401, ...),
/// asserting the envelope's shape.
pub fn failure(status: u16, body: &Value, want_status: u16) -> String {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["status"], false, "{body}");
    body["msg"].as_str().unwrap_or_default().to_string()
}

/// A failure as the kboss document answers it: HTTP 200, `status: false`,
/// `msg` and `detail` (both returned), nothing else but the quote's `data`.
pub fn refused(status: u16, body: &Value) -> (String, String) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], false, "{body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "status" | "msg" | "detail" | "data"))
        .collect();
    assert!(keys.is_empty(), "unexpected members {keys:?}: {body}");
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    (text("msg"), text("detail"))
}

/// [`refused`] with `msg` exactly `msg` and the detail naming `needle`.
pub fn refused_as(status: u16, body: &Value, msg: &str, needle: &str) {
    let (got, detail) = refused(status, body);
    assert_eq!(got, msg, "{body}");
    assert!(
        detail.contains(needle),
        "`{needle}` not in the detail: {body}"
    );
}

/// A refused parameter: `参数错误`, the detail naming it.
pub const INVALID: &str = "参数错误";
