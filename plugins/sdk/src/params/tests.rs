use super::*;

fn route(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn precedence_route_then_query_then_body() {
    let p = Params::from_parts(
        &route(&[("id", "from-route")]),
        "id=from-query&name=q&name=second",
        Some("application/x-www-form-urlencoded"),
        b"id=from-body&name=b&extra=e",
    )
    .unwrap();
    assert_eq!(p.required_str("id").unwrap(), "from-route");
    assert_eq!(p.required_str("name").unwrap(), "q");
    assert_eq!(p.required_str("extra").unwrap(), "e");
}

#[test]
fn query_decodes_utf8_and_plus() {
    let p = Params::from_parts(
        &[],
        "name=%E9%A6%96%E9%83%BD+%E7%AE%97%E5%8A%9B&x=a%2Bb",
        None,
        b"",
    )
    .unwrap();
    assert_eq!(p.required_str("name").unwrap(), "首都 算力");
    assert_eq!(p.required_str("x").unwrap(), "a+b");
}

#[test]
fn json_body_members() {
    let body = br#"{"name":"n","page":3,"flag":true,"resources":{"cpu":"1"},"nothing":null}"#;
    let p =
        Params::from_parts(&[], "page=1", Some("application/json; charset=utf-8"), body).unwrap();
    assert_eq!(p.optional_u32("page").unwrap(), Some(1));
    assert_eq!(p.required_str("name").unwrap(), "n");
    assert_eq!(p.optional_bool("flag").unwrap(), Some(true));
    assert!(!p.contains("nothing"));
    let r: BTreeMap<String, String> = p.json("resources").unwrap();
    assert_eq!(r["cpu"], "1");
    assert!(p.required_str("resources").is_err());
}

#[test]
fn json_text_parameter() {
    let p = Params::from_parts(&[], "resources=%7B%22cpu%22%3A2%7D", None, b"").unwrap();
    let r: serde_json::Value = p.json("resources").unwrap();
    assert_eq!(r["cpu"], 2);
    let e = p.json::<Vec<u8>>("resources").unwrap_err();
    assert_eq!(e.field(), Some("resources"));
}

#[test]
fn sniffs_bodies_without_content_type() {
    let p = Params::from_parts(&[], "", None, br#" {"a":"1"}"#).unwrap();
    assert_eq!(p.required_i64("a").unwrap(), 1);
    let p = Params::from_parts(&[], "", None, b"a=2").unwrap();
    assert_eq!(p.required_i64("a").unwrap(), 2);
    let p = Params::from_parts(&[], "", Some("application/yaml"), b"a=2").unwrap();
    assert!(p.is_empty());
    let e = Params::from_parts(&[], "", Some("application/json"), b"{nope").unwrap_err();
    assert!(matches!(e, ParamError::Body { .. }));
    let p = Params::from_parts(&[], "", Some("application/json"), b"[1,2]").unwrap();
    assert!(p.is_empty());
}

#[test]
fn typed_errors_name_the_field() {
    let p = Params::from_parts(&[], "page=abc&rows=-1&b=maybe&d=1e5&blank=", None, b"").unwrap();
    assert_eq!(
        p.optional_u32("page").unwrap_err().to_string(),
        "parameter `page` must be an integer, got `abc`"
    );
    assert!(p.optional_u32("rows").is_err());
    assert_eq!(p.optional_i64("rows").unwrap(), Some(-1));
    assert_eq!(
        p.optional_bool("b").unwrap_err().to_string(),
        "parameter `b` must be a boolean, got `maybe`"
    );
    assert!(p.decimal("d").is_err());
    assert_eq!(
        p.required_str("missing").unwrap_err().to_string(),
        "parameter `missing` is required"
    );
    assert_eq!(
        p.required_str("blank").unwrap_err(),
        ParamError::Missing {
            name: "blank".into()
        }
    );
    assert_eq!(p.optional_str("blank").unwrap(), Some(""));
    assert_eq!(p.optional_u32("blank").unwrap(), None);
}

#[test]
fn booleans_and_decimals() {
    let p = Params::from_parts(&[], "a=YES&b=0&c=no&d=12.50&e=-3&f=.5&g=5.", None, b"").unwrap();
    assert!(p.required_bool("a").unwrap());
    assert!(!p.required_bool("b").unwrap());
    assert!(!p.required_bool("c").unwrap());
    assert_eq!(p.decimal("d").unwrap(), "12.50");
    assert_eq!(p.decimal("e").unwrap(), "-3");
    assert!(p.decimal("f").is_err());
    assert!(p.decimal("g").is_err());
}

#[test]
fn list_parameters_in_every_form() {
    let one = r#"{"type":"cpu","amount":4}"#;
    let two = r#"{"type":"gpu","amount":2}"#;
    let want = vec![
        serde_json::from_str::<serde_json::Value>(one).unwrap(),
        serde_json::from_str(two).unwrap(),
    ];
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let array = format!("r={}", enc(&format!("[{one},{two}]")));
    let repeated = format!("r={}&r={}", enc(one), enc(two));
    let axios = format!("r%5B%5D={}&r%5B%5D={}", enc(one), enc(two));
    for query in [&array, &repeated, &axios] {
        let p = Params::from_parts(&[], query, None, b"").unwrap();
        assert_eq!(p.items("r").unwrap().as_ref(), Some(&want), "{query}");
    }
    // In a form body, and in a JSON body as an array.
    let p = Params::from_parts(
        &[],
        "",
        Some("application/x-www-form-urlencoded"),
        repeated.as_bytes(),
    )
    .unwrap();
    assert_eq!(p.items("r").unwrap().as_ref(), Some(&want));
    assert_eq!(p.repeated("r").len(), 1);
    assert_eq!(p.occurrences("r"), [one, two]);
    let body = format!(r#"{{"r":[{one},{two}]}}"#);
    let p = Params::from_parts(&[], "", Some("application/json"), body.as_bytes()).unwrap();
    assert_eq!(p.items("r").unwrap().as_ref(), Some(&want));
    // One item alone is a list of one; the first value is what the
    // single-value accessors see.
    let p = Params::from_parts(&[], &format!("r={}", enc(one)), None, b"").unwrap();
    assert_eq!(p.items("r").unwrap().unwrap().len(), 1);
    let p = Params::from_parts(&[], &repeated, None, b"").unwrap();
    assert_eq!(p.optional_str("r").unwrap(), Some(one));
    // The query string wins over the body: no mixing of sources.
    let p = Params::from_parts(
        &[],
        &format!("r={}", enc(one)),
        Some("application/x-www-form-urlencoded"),
        format!("r={}", enc(two)).as_bytes(),
    )
    .unwrap();
    assert_eq!(p.items("r").unwrap().unwrap().len(), 1);
    assert!(p.repeated("r").is_empty());
    // Absent, blank, or not JSON.
    let p = Params::from_parts(&[], "blank=&bad=%7Bx&bad=1", None, b"").unwrap();
    assert_eq!(p.items("none").unwrap(), None);
    assert_eq!(p.items("blank").unwrap(), None);
    assert_eq!(p.items("bad").unwrap_err().field(), Some("bad"));
}

#[test]
fn long_values_are_shortened_in_errors() {
    let long = "x".repeat(200);
    let p = Params::from_parts(&[], &format!("n={long}"), None, b"").unwrap();
    let msg = p.required_i64("n").unwrap_err().to_string();
    assert!(msg.len() < 120, "{msg}");
}

#[test]
fn json_errors_are_told_in_the_sdks_words() {
    let e = Params::from_parts(&[], "", Some("application/json"), b"{nope").unwrap_err();
    assert_eq!(
        e.to_string(),
        "request body is not valid JSON: a syntax error at line 1, column 2"
    );
    let e = Params::from_parts(&[], "", Some("application/json"), b"{\"a\":").unwrap_err();
    assert_eq!(
        e.to_string(),
        "request body is not valid JSON: it ends before it is complete at line 1, column 5"
    );
    // A value of the wrong shape names what was expected, once, with where.
    let p = Params::from_parts(&[], "resources=[\"x\"]", None, b"").unwrap();
    let e = p.json::<Vec<u8>>("resources").unwrap_err().to_string();
    assert_eq!(
        e,
        "parameter `resources` is not valid: invalid type: string \"x\", expected u8 at line 1, column 4"
    );
}
