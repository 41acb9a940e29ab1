use super::*;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A kubeconfig with `user` as the user's fields and `cluster_extra` added
/// to the cluster's.
fn kc(user: &str, cluster_extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: {ca}\n{cluster_extra}contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: team\ncurrent-context: x\nusers:\n- name: u\n  user:\n{user}",
        ca = b64(simcluster::CA_PEM)
    )
}

#[test]
fn inline_credentials_pass() {
    let c = check(&kc("    token: abc\n", "")).unwrap();
    assert_eq!(c.token.as_deref(), Some("abc"));
    assert_eq!(c.server.as_str(), "https://127.0.0.1:6443/");
    assert_eq!(c.host_port(), ("127.0.0.1".into(), 6443));
    assert_eq!(c.namespace.as_deref(), Some("team"));
    assert_eq!(c.ca.len(), 1);
    let basic = check(&kc("    username: a\n    password: b\n", "")).unwrap();
    assert_eq!(basic.basic, Some(("a".into(), "b".into())));
    let pem = simcluster::CA_PEM;
    let cert = check(&kc(
        &format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(pem),
            b64(pem)
        ),
        "",
    ))
    .unwrap();
    assert!(cert.client_cert.is_some());
    // The simulated cluster's own kubeconfig is accepted as it is.
    let sim = simcluster::SimCluster::start(simcluster::ClusterSpec::default()).unwrap();
    check(&sim.kubeconfig_yaml()).unwrap();
}

#[test]
fn programs_files_and_proxies_are_refused_by_field() {
    let cases = [
        (
            kc("    exec:\n      command: /bin/sh\n      apiVersion: client.authentication.k8s.io/v1\n", ""),
            "users[0].user.exec is not accepted: it runs a program on the server",
        ),
        (
            kc("    auth-provider:\n      name: gcp\n      config:\n        cmd-path: /bin/sh\n", ""),
            "users[0].user.auth-provider is not accepted: it runs a program",
        ),
        (kc("    tokenFile: /etc/shadow\n", ""), "users[0].user.tokenFile is not accepted: it names a file"),
        (
            kc("    client-certificate: /tmp/c.pem\n    client-key: /tmp/k.pem\n", ""),
            "users[0].user.client-certificate is not accepted: it names a file",
        ),
        (kc("    as: admin\n", ""), "users[0].user.as is not accepted"),
        (
            kc("    token: t\n", "    certificate-authority: /etc/ssl/ca.pem\n"),
            "clusters[0].cluster.certificate-authority is not accepted: it names a file",
        ),
        (
            kc("    token: t\n", "    proxy-url: http://127.0.0.1:3128\n"),
            "clusters[0].cluster.proxy-url is not accepted",
        ),
    ];
    for (yaml, want) in cases {
        let e = check(&yaml).unwrap_err().to_string();
        assert!(e.contains(want), "{e} should contain {want}");
    }
}

#[test]
fn an_unused_user_is_checked_too() {
    let yaml = format!(
        "{}- name: other\n  user:\n    exec:\n      command: touch\n",
        kc("    token: t\n", "")
    );
    let e = check(&yaml).unwrap_err().to_string();
    assert!(e.contains("users[1].user.exec"), "{e}");
}

#[test]
fn shapes_that_are_not_kubeconfigs() {
    for (yaml, want) in [
        ("just text", "not a kubeconfig"),
        ("clusters: []\n", "names no context"),
        (
            "clusters:\n- name: c\n  cluster:\n    server: file:///etc/passwd\ncontexts:\n- name: x\n  context:\n    cluster: c\n",
            "must be an http(s) URL",
        ),
        (
            "clusters:\n- name: c\n  cluster:\n    server: https://a:b@h\ncontexts:\n- name: x\n  context:\n    cluster: c\n",
            "must be an http(s) URL",
        ),
        ("contexts:\n- name: x\n  context:\n    cluster: nope\n", "`nope` is not among clusters"),
        (
            "clusters:\n- name: c\n  cluster:\n    server: https://h\n    certificate-authority-data: bm90IHBlbQ==\ncontexts:\n- name: x\n  context:\n    cluster: c\n",
            "certificate-authority-data is not PEM",
        ),
    ] {
        let e = check(yaml).unwrap_err().to_string();
        assert!(e.contains(want), "{e} should contain {want}");
    }
    let big = "x".repeat(MAX_KUBECONFIG + 1);
    assert!(check(&big).unwrap_err().to_string().contains("256 KiB"));
}

#[test]
fn the_client_config_holds_only_checked_values() {
    let c = check(&kc("    token: abc\n", "")).unwrap();
    let cfg = c.client_config(None).unwrap();
    assert_eq!(cfg.cluster_url.to_string(), "https://127.0.0.1:6443/");
    assert!(cfg.auth_info.exec.is_none() && cfg.auth_info.auth_provider.is_none());
    assert!(cfg.auth_info.token_file.is_none() && cfg.root_cert_file.is_none());
    assert!(cfg.proxy_url.is_none());
    assert_eq!(cfg.default_namespace, "team");
    // A name resolved by the egress check: the client connects to the
    // checked address and verifies the certificate against the name.
    let mut named = c.clone();
    named.server = url::Url::parse("https://api.example.test:6443").unwrap();
    let cfg = named
        .client_config(Some("127.0.0.9:6443".parse().unwrap()))
        .unwrap();
    assert_eq!(cfg.cluster_url.host(), Some("127.0.0.9"));
    assert_eq!(cfg.tls_server_name.as_deref(), Some("api.example.test"));
}
