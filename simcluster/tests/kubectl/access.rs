//! Who may do what: `kubectl create token` issues a service account's
//! token, and the cluster allows that account exactly what its RBAC
//! bindings grant, refusing the rest with kube-apiserver's `403` and
//! changing nothing; `kubectl auth can-i` and `kubectl auth whoami` answer
//! for the account.

use super::*;

/// kubectl with `token` in place of the kubeconfig's administrator token.
fn as_token(k: &Kube, token: &str, args: &[&str]) -> Output {
    let mut all = vec!["--token", token];
    all.extend_from_slice(args);
    k.run(&all)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn a_service_account_may_do_what_its_bindings_grant_and_nothing_else() {
    let k = Kube::standard();
    k.ok(&["create", "serviceaccount", "ci"]);
    let token = k.ok(&["create", "token", "ci"]).trim().to_string();
    assert!(!token.is_empty() && token != k.cluster.token());

    let who = stdout(&as_token(&k, &token, &["auth", "whoami"]));
    assert!(who.contains("system:serviceaccount:default:ci"), "{who}");
    assert!(who.contains("system:serviceaccounts:default"), "{who}");

    // No binding yet: discovery works, reading pods does not.
    let out = as_token(&k, &token, &["get", "pods"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "Error from server (Forbidden): pods is forbidden: User \"system:serviceaccount:default:ci\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        ),
        "{}",
        stderr(&out)
    );
    let out = as_token(&k, &token, &["auth", "can-i", "list", "pods"]);
    assert_eq!((stdout(&out).trim(), out.status.code()), ("no", Some(1)));

    // `view` in `default`: reading there, nothing else.
    k.ok(&[
        "create",
        "rolebinding",
        "ci-view",
        "--clusterrole=view",
        "--serviceaccount=default:ci",
    ]);
    let out = as_token(&k, &token, &["auth", "can-i", "list", "pods"]);
    assert_eq!((stdout(&out).trim(), out.status.code()), ("yes", Some(0)));
    k.cluster.create(deployment("default", "web", 1)).unwrap();
    let out = as_token(&k, &token, &["get", "deployments"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("web"));

    let out = as_token(&k, &token, &["scale", "deployment", "web", "--replicas=3"]);
    assert!(
        stderr(&out).contains("cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"default\""),
        "{}",
        stderr(&out)
    );
    let out = as_token(&k, &token, &["delete", "deployment", "web"]);
    assert!(stderr(&out).contains("(Forbidden)"), "{}", stderr(&out));
    let web = k
        .cluster
        .get("apps/v1", "Deployment", Some("default"), "web")
        .expect("still there");
    assert_eq!(web["spec"]["replicas"], 1);

    let out = as_token(
        &k,
        &token,
        &["create", "configmap", "c", "--from-literal=a=b"],
    );
    assert!(
        stderr(&out).contains("cannot create resource \"configmaps\""),
        "{}",
        stderr(&out)
    );
    assert!(k
        .cluster
        .get("v1", "ConfigMap", Some("default"), "c")
        .is_none());

    let out = as_token(&k, &token, &["get", "pods", "-n", "kube-system"]);
    assert!(
        stderr(&out).contains("in the namespace \"kube-system\""),
        "{}",
        stderr(&out)
    );
    let out = as_token(&k, &token, &["cordon", "worker-1"]);
    assert!(!out.status.success());
    assert_ne!(k.node("worker-1")["spec"]["unschedulable"], true);

    // A role naming one config map: that one, not another.
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default"}, "data": {"a": "1"}}))
        .unwrap();
    k.ok(&[
        "create",
        "role",
        "settings-editor",
        "--verb=get,patch",
        "--resource=configmaps",
        "--resource-name=settings",
    ]);
    k.ok(&[
        "create",
        "rolebinding",
        "ci-settings",
        "--role=settings-editor",
        "--serviceaccount=default:ci",
    ]);
    // `can-i --list`: the rules of every role bound to it here.
    let list = stdout(&as_token(&k, &token, &["auth", "can-i", "--list"]));
    let settings_rule = list
        .lines()
        .find(|l| l.starts_with("configmaps ") && l.contains("[settings]"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(settings_rule.contains("[get patch]"), "{list}");
    assert!(
        list.lines().any(|l| l.starts_with("deployments.apps ")),
        "{list}"
    );
    assert!(list.contains("/healthz"), "{list}");
    let patch = [
        "patch",
        "configmap",
        "settings",
        "-p",
        r#"{"data":{"a":"2"}}"#,
    ];
    let out = as_token(&k, &token, &patch);
    assert!(out.status.success(), "{}", stderr(&out));
    let settings = k
        .cluster
        .get("v1", "ConfigMap", Some("default"), "settings")
        .unwrap();
    assert_eq!(settings["data"]["a"], "2");
}

/// A token is good only while its account lives: deleted, the account's
/// token is `401`; and a token shorter than ten minutes is refused.
#[test]
fn tokens_end_with_their_account_and_are_at_least_ten_minutes_long() {
    let k = Kube::standard();
    k.ok(&["create", "serviceaccount", "ci"]);
    let err = fails(&k, &["create", "token", "ci", "--duration=5m"]);
    assert!(
        err.contains("may not specify a duration less than 10 minutes"),
        "{err}"
    );
    let token = k
        .ok(&["create", "token", "ci", "--duration=20m"])
        .trim()
        .to_string();
    let out = as_token(&k, &token, &["auth", "whoami"]);
    assert!(out.status.success(), "{}", stderr(&out));

    k.ok(&["delete", "serviceaccount", "ci"]);
    let out = as_token(&k, &token, &["auth", "whoami"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Unauthorized"), "{}", stderr(&out));
    // The same name again is another account: the old token stays dead.
    k.ok(&["create", "serviceaccount", "ci"]);
    let out = as_token(&k, &token, &["get", "--raw", "/api"]);
    assert!(stderr(&out).contains("Unauthorized"), "{}", stderr(&out));
    let err = fails(&k, &["create", "token", "nobody"]);
    assert!(
        err.contains("serviceaccounts \"nobody\" not found"),
        "{err}"
    );
}

/// `admin`, `edit` and `view` hold what the roles labelled
/// `aggregate-to-<role>` hold, as the aggregation controller keeps them: a
/// new labelled role widens every account bound to them.
#[test]
fn aggregated_roles_grow_with_the_roles_they_select() {
    let k = Kube::standard();
    k.ok(&["create", "serviceaccount", "ci"]);
    k.ok(&[
        "create",
        "clusterrolebinding",
        "ci-view",
        "--clusterrole=view",
        "--serviceaccount=default:ci",
    ]);
    let token = k.ok(&["create", "token", "ci"]).trim().to_string();
    let can = |args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        stdout(&as_token(&k, &token, &all)).trim().to_string()
    };
    assert_eq!(can(&["list", "deployments.apps", "-A"]), "yes");
    assert_eq!(can(&["list", "nodes"]), "no");
    assert_eq!(can(&["get", "secrets"]), "no");
    k.ok(&[
        "create",
        "clusterrole",
        "nodes-view",
        "--verb=get,list,watch",
        "--resource=nodes",
    ]);
    k.ok(&[
        "label",
        "clusterrole",
        "nodes-view",
        "rbac.authorization.k8s.io/aggregate-to-view=true",
    ]);
    assert_eq!(can(&["list", "nodes"]), "yes");
    let out = as_token(&k, &token, &["get", "nodes"]);
    assert!(stdout(&out).contains("worker-1"), "{}", stderr(&out));
    // `view` holds the rule, and `edit` and `admin` too, through `view`'s
    // aggregate-to-edit label and `edit`'s aggregate-to-admin.
    for role in ["view", "edit", "admin"] {
        let r = k
            .cluster
            .get("rbac.authorization.k8s.io/v1", "ClusterRole", None, role)
            .unwrap();
        let rules = r["rules"].as_array().unwrap();
        assert!(
            rules.iter().any(|r| r["resources"] == json!(["nodes"])),
            "{role}: {r}"
        );
    }
}

/// The long-lived token a compute center puts in the kubeconfig it
/// registers: a `kubernetes.io/service-account-token` secret gets the
/// account's token (and `ca.crt`, `namespace`), which authenticates as the
/// account; the account deleted, the secret goes and the token with it.
#[test]
fn a_token_secret_holds_a_token_for_as_long_as_its_account() {
    let k = Kube::standard();
    k.ok(&["create", "serviceaccount", "registrar"]);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: registrar-token\n  annotations:\n    kubernetes.io/service-account.name: registrar\ntype: kubernetes.io/service-account-token\n",
    )
    .unwrap();
    k.ok(&["apply", "-f", file.path().to_str().unwrap()]);
    let filled = |k: &Kube| {
        k.cluster
            .get("v1", "Secret", Some("default"), "registrar-token")
            .filter(|s| s["data"]["token"].is_string())
    };
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| filled(&k).is_some()));
    let secret = filled(&k).unwrap();
    let account = k
        .cluster
        .get("v1", "ServiceAccount", Some("default"), "registrar")
        .unwrap();
    assert_eq!(
        secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"],
        account["metadata"]["uid"]
    );
    assert!(secret["data"]["ca.crt"].is_string() && secret["data"]["namespace"].is_string());
    let encoded = k.ok(&[
        "get",
        "secret",
        "registrar-token",
        "-o",
        "jsonpath={.data.token}",
    ]);
    let token = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.trim()).unwrap(),
    )
    .unwrap();
    let who = as_token(&k, &token, &["auth", "whoami"]);
    assert!(
        stdout(&who).contains("system:serviceaccount:default:registrar"),
        "{}",
        stderr(&who)
    );
    // Without a binding it may not list nodes; with one it may.
    assert!(!as_token(&k, &token, &["get", "nodes"]).status.success());
    k.ok(&[
        "create",
        "clusterrolebinding",
        "registrar",
        "--clusterrole=cluster-admin",
        "--serviceaccount=default:registrar",
    ]);
    let out = as_token(&k, &token, &["get", "nodes"]);
    assert!(stdout(&out).contains("worker-1"), "{}", stderr(&out));

    k.ok(&["delete", "serviceaccount", "registrar"]);
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| c
        .get("v1", "Secret", Some("default"), "registrar-token")
        .is_none()));
    let out = as_token(&k, &token, &["get", "nodes"]);
    assert!(stderr(&out).contains("Unauthorized"), "{}", stderr(&out));
}

/// `kubectl --as`: the administrator checks what an account may do by
/// acting as it; acting as someone needs the `impersonate` verb on them.
#[test]
fn the_administrator_acts_as_an_account_and_others_may_not() {
    let k = Kube::standard();
    k.ok(&["create", "serviceaccount", "ci"]);
    let as_ci = ["--as=system:serviceaccount:default:ci"];
    let can = |extra: &[&str], args: &[&str]| {
        let mut all: Vec<&str> = extra.to_vec();
        all.extend_from_slice(&["auth", "can-i"]);
        all.extend_from_slice(args);
        let out = k.run(&all);
        (stdout(&out).trim().to_string(), out.status.code())
    };
    assert_eq!(can(&as_ci, &["list", "pods"]), ("no".into(), Some(1)));
    k.ok(&[
        "create",
        "rolebinding",
        "ci-view",
        "--clusterrole=view",
        "--serviceaccount=default:ci",
    ]);
    assert_eq!(can(&as_ci, &["list", "pods"]), ("yes".into(), Some(0)));
    assert_eq!(can(&as_ci, &["delete", "pods"]), ("no".into(), Some(1)));
    let who = k.ok(&["auth", "whoami", "--as=bob", "--as-group=devs"]);
    assert!(who.contains("bob") && who.contains("devs"), "{who}");
    let err = fails(&k, &["get", "pods", "--as=bob"]);
    assert!(
        err.contains("pods is forbidden: User \"bob\" cannot list resource \"pods\""),
        "{err}"
    );

    // The account itself may not act as anyone.
    let token = k.ok(&["create", "token", "ci"]).trim().to_string();
    let out = as_token(&k, &token, &["get", "pods", "--as=bob"]);
    assert!(
        stderr(&out).contains("users \"bob\" is forbidden: User \"system:serviceaccount:default:ci\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{}",
        stderr(&out)
    );
    let out = as_token(
        &k,
        &token,
        &[
            "get",
            "pods",
            "--as=system:serviceaccount:kube-system:default",
        ],
    );
    assert!(
        stderr(&out).contains("cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"kube-system\""),
        "{}",
        stderr(&out)
    );
}
