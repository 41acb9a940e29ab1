//! Request paths parsed into their targets (resource, namespace, name,
//! subresource), and query strings decoded.

use super::*;

#[test]
fn targets() {
    let t = parse_target("", "v1", &["namespaces", "ns1", "pods", "p", "eviction"]).unwrap();
    assert_eq!(
        (
            t.def.plural,
            t.ns.as_deref(),
            t.name.as_deref(),
            t.sub.as_deref()
        ),
        ("pods", Some("ns1"), Some("p"), Some("eviction"))
    );
    let t = parse_target("", "v1", &["namespaces", "ns1"]).unwrap();
    assert_eq!(
        (t.def.plural, t.ns, t.name.as_deref()),
        ("namespaces", None, Some("ns1"))
    );
    let t = parse_target("", "v1", &["namespaces", "ns1", "finalize"]).unwrap();
    assert_eq!(t.sub.as_deref(), Some("finalize"));
    assert!(parse_target("", "v1", &["namespaces", "x", "nodes"]).is_none());
    assert!(parse_target("apps", "v1", &["deployments", "d", "nope"]).is_none());
    assert_eq!(parse_query("a=b%2Fc&labelSelector=x+in+(1)&w")["a"], "b/c");
    assert_eq!(
        parse_query("labelSelector=x+in+(1)")["labelSelector"],
        "x in (1)"
    );
}
