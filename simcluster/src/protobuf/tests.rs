//! Bodies built field by field as Go's marshaller writes them.
#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

fn key(num: u32, wire: u64) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_varint((u64::from(num) << 3) | wire, &mut out);
    out
}

/// A varint field.
fn int(num: u32, v: u64) -> Vec<u8> {
    let mut out = key(num, 0);
    prost::encoding::encode_varint(v, &mut out);
    out
}

/// A length-delimited field.
fn len(num: u32, b: &[u8]) -> Vec<u8> {
    let mut out = key(num, 2);
    prost::encoding::encode_varint(b.len() as u64, &mut out);
    out.extend_from_slice(b);
    out
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The envelope around `raw`, an object of `kind`.
fn body(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let meta = cat(&[len(1, api_version.as_bytes()), len(2, kind.as_bytes())]);
    let unknown = cat(&[len(1, &meta), len(2, raw), len(3, b""), len(4, b"")]);
    cat(&[b"k8s\0".to_vec(), unknown])
}

/// ObjectMeta as Go writes it: every non-pointer field, the zero time.
fn meta(name: &str, labels: &[(&str, &str)]) -> Vec<u8> {
    let zero_time = int(1, ZERO_TIME as u64);
    let mut parts = vec![
        len(1, name.as_bytes()),
        len(2, b""),
        len(3, b""),
        len(4, b""),
        len(5, b""),
        len(6, b""),
        int(7, 0),
        len(8, &zero_time),
    ];
    for (k, v) in labels {
        parts.push(len(11, &cat(&[len(1, k.as_bytes()), len(2, v.as_bytes())])));
    }
    cat(&parts)
}

#[test]
fn a_configmap_reads_as_its_json() {
    let raw = cat(&[
        len(1, &meta("cfg", &[("app", "web")])),
        len(2, &cat(&[len(1, b"greeting"), len(2, b"hello")])),
        len(3, &cat(&[len(1, b"blob"), len(2, &[0, 1, 2])])),
        int(4, 0),
    ]);
    let v = to_json(&body("v1", "ConfigMap", &raw)).unwrap();
    assert_eq!(
        v,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "labels": {"app": "web"}},
            "data": {"greeting": "hello"},
            "binaryData": {"blob": "AAEC"},
            // A pointer: false was set on purpose.
            "immutable": false,
        })
    );
}

#[test]
fn a_time_a_negative_int32_and_an_unset_time() {
    let time = cat(&[int(1, 1_700_000_000), int(2, 0)]);
    // deletionTimestamp set, deletionGracePeriodSeconds -1 (ten bytes on
    // the wire), creationTimestamp the zero time.
    let meta = cat(&[meta("p", &[]), len(9, &time), int(10, (-1i64) as u64)]);
    let v = to_json(&body("v1", "ConfigMap", &len(1, &meta))).unwrap();
    assert_eq!(v["metadata"]["deletionTimestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(v["metadata"]["deletionGracePeriodSeconds"], -1);
    assert!(v["metadata"].get("creationTimestamp").is_none(), "{v}");
}

#[test]
fn kinds_and_fields_without_a_table_are_refused_not_dropped() {
    let e = to_json(&body("autoscaling/v2", "HorizontalPodAutoscaler", &[])).unwrap_err();
    assert!(e.unsupported(), "{e}");
    assert!(
        e.to_string().contains("Kind=HorizontalPodAutoscaler"),
        "{e}"
    );
    assert!(
        e.to_string().contains("Deployment"),
        "names what is read: {e}"
    );
    // Field 99 of a ConfigMap holding a value.
    let e = to_json(&body("v1", "ConfigMap", &len(99, b"x"))).unwrap_err();
    assert_eq!(
        e,
        ProtoError::Field {
            msg: "ConfigMap",
            num: 99
        }
    );
    // Holding its zero value, it says nothing.
    let v = to_json(&body("v1", "ConfigMap", &cat(&[len(99, b""), int(98, 0)]))).unwrap();
    assert_eq!(v, json!({"apiVersion": "v1", "kind": "ConfigMap"}));
}

#[test]
fn malformed_bodies_are_refused() {
    assert_eq!(to_json(b"{}"), Err(ProtoError::Magic));
    let good = body("v1", "ConfigMap", &len(1, &meta("cfg", &[])));
    for cut in 4..good.len() {
        // Every truncation is an error or a smaller object, never a panic.
        let _ = to_json(&good[..cut]);
    }
    // A length past the end.
    let mut bad = body("v1", "ConfigMap", &[]);
    bad.extend_from_slice(&[0x12, 0x7f]);
    assert!(matches!(to_json(&bad), Err(ProtoError::Malformed(_))));
    // A string that is not UTF-8.
    let raw = len(1, &len(1, &[0xff, 0xfe]));
    assert!(matches!(
        to_json(&body("v1", "ConfigMap", &raw)),
        Err(ProtoError::Utf8("name", "ObjectMeta"))
    ));
    // An encoded body.
    let meta = cat(&[len(1, b"v1"), len(2, b"ConfigMap")]);
    let gz = cat(&[b"k8s\0".to_vec(), len(1, &meta), len(3, b"gzip")]);
    assert_eq!(to_json(&gz), Err(ProtoError::Encoding("gzip".into())));
}

#[test]
fn int_or_string_and_quantities() {
    let port = |name: &str, target: Vec<u8>| {
        cat(&[
            len(1, name.as_bytes()),
            len(2, b"TCP"),
            int(3, 80),
            len(4, &target),
            int(5, 0),
        ])
    };
    let spec = cat(&[
        len(
            1,
            &port("by-number", cat(&[int(1, 0), int(2, 8080), len(3, b"")])),
        ),
        len(
            1,
            &port("by-name", cat(&[int(1, 1), int(2, 0), len(3, b"http")])),
        ),
    ]);
    let raw = cat(&[len(1, &meta("svc", &[])), len(2, &spec)]);
    let v = to_json(&body("v1", "Service", &raw)).unwrap();
    let ports = &v["spec"]["ports"];
    assert_eq!(ports[0]["targetPort"], 8080, "{v}");
    assert_eq!(ports[1]["targetPort"], "http", "{v}");
    assert_eq!(ports[1]["port"], 80);
}

#[test]
fn every_table_names_each_number_and_each_json_name_once() {
    fn walk(msg: &'static Msg, seen: &mut Vec<*const Msg>) {
        if seen.contains(&(msg as *const Msg)) {
            return;
        }
        seen.push(msg);
        for (i, a) in msg.fields.iter().enumerate() {
            for b in &msg.fields[i + 1..] {
                assert_ne!(a.num, b.num, "{}: field {} twice", msg.name, a.num);
                assert_ne!(a.name, b.name, "{}: {} twice", msg.name, a.name);
            }
            if let Ty::Msg(inner) | Ty::Inline(inner) = a.ty {
                walk(inner, seen);
            }
        }
    }
    let mut seen = Vec::new();
    for (_, _, msg) in schema::ROOTS {
        walk(msg, &mut seen);
    }
    assert!(seen.len() > 100, "{} messages", seen.len());
}

#[test]
fn no_byte_of_a_body_makes_it_panic() {
    let port = cat(&[len(1, b"web"), int(2, 0), int(3, 80), len(4, b"TCP")]);
    let container = cat(&[len(1, b"c"), len(2, b"nginx"), len(6, &port), len(3, b"sh")]);
    let spec = cat(&[len(2, &container), len(3, b"Always")]);
    let template = cat(&[len(1, &meta("", &[("app", "web")])), len(2, &spec)]);
    let deployment = cat(&[
        len(1, &meta("web", &[])),
        len(2, &cat(&[int(1, 0), len(3, &template)])),
    ]);
    let good = body("apps/v1", "Deployment", &deployment);
    let v = to_json(&good).unwrap();
    assert_eq!(v["spec"]["replicas"], 0, "{v}");
    let c = &v["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["ports"][0],
        json!({"name": "web", "containerPort": 80, "protocol": "TCP"})
    );
    assert_eq!(c["command"], json!(["sh"]));
    for i in 0..good.len() {
        for b in [0x00, 0x01, 0x08, 0x0a, 0x7f, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] = b;
            let _ = to_json(&bad);
        }
    }
}
