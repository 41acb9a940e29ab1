//! `deploy/`: the container build and the Kubernetes manifests, checked
//! without a registry. The Dockerfile is parsed: what it copies exists, is
//! not excluded by `.dockerignore`, and covers every directory the host build
//! reads; its entrypoint's flags (with the Deployment's `args`) start the real
//! binary, which answers the probes' paths on the probed port. The manifests
//! go through the machine's `kubectl` to a simulated cluster: a server-side
//! dry run stores nothing, a real apply gives a Deployment of 3 ready
//! replicas whose probes, ports, secret references and security context fit
//! the image and the Secret, and broken copies are refused as a real API
//! server refuses them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::BIN;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the host crate is in the repository")
        .to_path_buf()
}

/// The Dockerfile's instructions: (keyword, arguments), continuations joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut line = String::new();
    for raw in text.lines() {
        let t = raw.trim();
        if t.starts_with('#') || (t.is_empty() && line.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => line.push_str(part),
            None => {
                line.push_str(t);
                let (k, rest) = line.split_once(' ').unwrap_or((&line, ""));
                out.push((k.to_ascii_uppercase(), rest.trim().to_string()));
                line.clear();
            }
        }
    }
    out
}

fn last(ins: &[(String, String)], key: &str) -> String {
    ins.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {key} in the Dockerfile"))
}

/// The runtime stage's entrypoint as an exec-form array.
fn entrypoint(ins: &[(String, String)]) -> Vec<String> {
    serde_json::from_str(&last(ins, "ENTRYPOINT")).expect("ENTRYPOINT in exec form")
}

fn flag<'a>(args: &'a [String], name: &str) -> &'a str {
    let at = args
        .iter()
        .position(|a| a == name)
        .unwrap_or_else(|| panic!("{name} not in {args:?}"));
    &args[at + 1]
}

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes").join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// Top-level directories the host build reads: workspace members, path
/// dependencies, `include_*!` targets, and what host/build.rs builds.
fn build_inputs() -> BTreeSet<String> {
    let root = repo();
    let mut dirs = BTreeSet::new();
    let ws: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    for m in ws["workspace"]["members"].as_array().unwrap() {
        dirs.insert(m.as_str().unwrap().split('/').next().unwrap().to_string());
    }
    let top = |p: &Path| -> Option<String> {
        let p = p.canonicalize().ok()?;
        let rel = p.strip_prefix(root.canonicalize().ok()?).ok()?;
        Some(
            rel.components()
                .next()?
                .as_os_str()
                .to_string_lossy()
                .into_owned(),
        )
    };
    let mut stack = vec![root.join("host/src"), root.join("simcluster/src")];
    let mut files = vec![root.join("host/build.rs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let dir = f.parent().unwrap();
        for (marker, base) in [
            ("include_str!(\"", dir.to_path_buf()),
            ("include_bytes!(\"", dir.to_path_buf()),
            ("include_dir!(\"$CARGO_MANIFEST_DIR/", root.join("host")),
            ("repo.join(\"", root.clone()),
        ] {
            for piece in text.split(marker).skip(1) {
                let rel = piece.split('"').next().unwrap();
                if let Some(t) = top(&base.join(rel)) {
                    dirs.insert(t);
                }
            }
        }
    }
    for manifest in ["host/Cargo.toml", "simcluster/Cargo.toml"] {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        for piece in text.split("path = \"../").skip(1) {
            let rel = piece.split('"').next().unwrap();
            if !rel.starts_with("tests/") {
                dirs.insert(rel.split('/').next().unwrap().to_string());
            }
        }
    }
    // The nested wasm build's own output directory is not an input.
    dirs.remove("target");
    dirs
}

#[test]
fn the_dockerfile_copies_the_build_inputs_and_runs_flags_the_binary_has() {
    let ins = dockerfile();
    let froms: Vec<&String> = ins
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(froms.len(), 2, "a builder and a runtime stage: {froms:?}");
    assert!(
        froms[0].starts_with("rust:") && froms[0].ends_with("AS builder"),
        "{froms:?}"
    );
    let build = ins
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(build.contains("rustup target add wasm32-wasip2"), "{build}");
    assert!(
        build.contains("cargo build --release --locked -p computehub"),
        "{build}"
    );

    // What it copies exists, is in the context, and covers the build's inputs.
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut copied = BTreeSet::new();
    for (_, args) in ins
        .iter()
        .filter(|(k, a)| k == "COPY" && !a.starts_with("--from"))
    {
        let parts: Vec<&str> = args.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(repo().join(src).exists(), "COPY {src}: no such path");
            for pat in &ignored {
                let hit = match pat.strip_prefix("**/") {
                    Some(name) => src.split('/').any(|c| c == name),
                    None => *src == *pat || src.starts_with(&format!("{pat}/")),
                };
                assert!(!hit, "COPY {src} is excluded by .dockerignore's {pat}");
            }
            copied.insert(src.split('/').next().unwrap().to_string());
        }
    }
    let inputs = build_inputs();
    for must in [
        "host",
        "simcluster",
        "crates",
        "plugins",
        "examples",
        "wit",
        "console",
    ] {
        assert!(inputs.contains(must), "the scan finds {must}: {inputs:?}");
    }
    let missing: Vec<&String> = inputs.difference(&copied).collect();
    assert!(
        missing.is_empty(),
        "the build reads {missing:?}, which the Dockerfile does not copy"
    );
    assert!(copied.contains("Cargo.lock") && copied.contains("Cargo.toml"));

    // The runtime stage: non-root, /data, the port, `computehub serve`.
    let user = last(&ins, "USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric USER");
    assert!(uid > 0, "USER {user}");
    let ep = entrypoint(&ins);
    assert_eq!(ep[..2], ["computehub", "serve"]);
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let dep = yaml("deployment.yaml");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<String> = serde_json::from_value(c["args"].clone()).unwrap();
    for f in ep.iter().chain(&args).filter(|a| a.starts_with("--")) {
        assert!(
            help.contains(&format!("{f} ")),
            "{f} is not a flag of `computehub serve`:\n{help}"
        );
    }
    let port = flag(&ep, "--listen")
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(last(&ins, "EXPOSE"), port);
    let data = flag(&ep, "--data-dir").to_string();
    assert!(last(&ins, "VOLUME").contains(&format!("\"{data}\"")));
    assert_eq!(
        c["ports"][0]["containerPort"].as_u64().unwrap().to_string(),
        port
    );
    let pod_sc = &dep["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(
        pod_sc["runAsUser"].as_u64(),
        Some(uid as u64),
        "the image's user"
    );
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert!(
        mounts.contains(&data.as_str()),
        "{data} is writable under readOnlyRootFilesystem"
    );

    // The binary starts with the image's flags and the Deployment's args
    // (on loopback and a temporary data dir) and answers the probes.
    let dir = tempfile::tempdir().unwrap();
    let mut argv: Vec<String> = ep[1..].to_vec();
    let at = argv.iter().position(|a| a == "--listen").unwrap();
    argv[at + 1] = "127.0.0.1:0".into();
    let at = argv.iter().position(|a| a == "--data-dir").unwrap();
    argv[at + 1] = dir.path().join("data").display().to_string();
    argv.extend(args);
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut child = Command::new(BIN)
        .args(&argv)
        .arg("--cache-dir")
        .arg(&cache)
        .env("COMPUTEHUB_ADMIN_TOKEN", crate::common::ADMIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = crate::common::printed_until_listening(child.stdout.take().unwrap());
    let base = lines
        .iter()
        .find_map(|l| l.strip_prefix("listening on "))
        .map(String::from);
    let probe = |path: &str| -> Option<u16> {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{}{path}", base.as_deref()?))
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).parse().ok()
    };
    let mut answers = Vec::new();
    for p in ["livenessProbe", "readinessProbe", "startupProbe"] {
        assert_eq!(c[p]["httpGet"]["port"], "http", "{p} probes the named port");
        let path = c[p]["httpGet"]["path"].as_str().unwrap();
        answers.push((path.to_string(), probe(path)));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        base.is_some(),
        "the server did not start with {argv:?}: {lines:?}"
    );
    assert!(answers.iter().all(|(_, s)| *s == Some(200)), "{answers:?}");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
}

struct Kubectl {
    cluster: SimCluster,
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Server-side dry-run apply of `obj` as a file; kubectl's stderr when
    /// refused, `None` when accepted.
    fn refused(&self, name: &str, obj: &Value) -> Option<String> {
        // A new object (a create, as on a fresh cluster), not a change of
        // the applied one.
        let mut obj = obj.clone();
        obj["metadata"]["name"] = format!("broken-{name}").into();
        let file = self.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, serde_yaml::to_string(&obj).unwrap()).unwrap();
        let f = file.display().to_string();
        let out = self.run(&["apply", "--server-side", "--dry-run=server", "-f", &f]);
        (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[test]
fn the_manifests_apply_to_a_cluster_and_broken_copies_are_refused() {
    let mut spec = ClusterSpec::new("deploy").node(NodeSpec::control_plane("master-1"));
    for w in ["worker-1", "worker-2", "worker-3"] {
        spec = spec.node(NodeSpec::new(w).cpu("4").memory("8Gi"));
    }
    let k = Kubectl {
        cluster: SimCluster::start(spec).unwrap(),
        dir: tempfile::tempdir().unwrap(),
    };
    k.cluster
        .write_kubeconfig(&k.dir.path().join("kubeconfig"))
        .unwrap();
    let manifests = repo().join("deploy/kubernetes").display().to_string();

    let dry = k.ok(&[
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        &manifests,
    ]);
    for obj in [
        "deployment.apps/computehub",
        "service/computehub",
        "secret/computehub",
        "poddisruptionbudget.policy/computehub",
    ] {
        assert!(
            dry.contains(&format!("{obj} serverside-applied (server dry run)")),
            "{dry}"
        );
    }
    assert!(k
        .cluster
        .get("apps/v1", "Deployment", Some("default"), "computehub")
        .is_none());
    assert!(k
        .cluster
        .get("v1", "Secret", Some("default"), "computehub")
        .is_none());

    k.ok(&["apply", "-f", &manifests]);
    let d = k.json(&["get", "deployment", "computehub", "-o", "json"]);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(
        c["readinessProbe"]["httpGet"]["scheme"], "HTTP",
        "defaulted"
    );
    assert_eq!(c["ports"][0]["name"], "http");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(
        c["resources"]["requests"]["cpu"].is_string()
            && c["resources"]["limits"]["memory"].is_string()
    );

    // Every secret reference names a key the Secret has; the seal key file
    // is where the Secret volume puts it.
    let secret = k.json(&["get", "secret", "computehub", "-o", "json"]);
    let keys: BTreeSet<&str> = secret["data"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let env: Vec<&Value> = c["env"].as_array().unwrap().iter().collect();
    let by_name = |n: &str| {
        *env.iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("no {n}"))
    };
    for (var, key) in [
        ("COMPUTEHUB_DATABASE_URL", "database-url"),
        ("COMPUTEHUB_ADMIN_TOKEN", "admin-token"),
    ] {
        let r = &by_name(var)["valueFrom"]["secretKeyRef"];
        assert_eq!(
            (r["name"].as_str(), r["key"].as_str()),
            (Some("computehub"), Some(key))
        );
        assert!(keys.contains(key), "{keys:?}");
    }
    let vol = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["secret"].is_object())
        .unwrap();
    assert_eq!(vol["secret"]["secretName"], "computehub");
    let item = &vol["secret"]["items"][0];
    assert!(keys.contains(item["key"].as_str().unwrap()));
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == vol["name"])
        .unwrap();
    assert_eq!(
        by_name("COMPUTEHUB_SEAL_KEY_FILE")["value"]
            .as_str()
            .unwrap(),
        format!(
            "{}/{}",
            mount["mountPath"].as_str().unwrap(),
            item["path"].as_str().unwrap()
        )
    );

    // The Service and the budget select the Deployment's pods.
    let labels = d["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    let svc = k.json(&["get", "service", "computehub", "-o", "json"]);
    for (l, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(labels.get(l), Some(v), "service selector {l}");
    }
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http");
    let pdb = k.json(&["get", "pdb", "computehub", "-o", "json"]);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"].as_object(),
        d["spec"]["selector"]["matchLabels"].as_object()
    );
    assert!(pdb["spec"]["minAvailable"].as_i64().unwrap() < 3);

    // The simulated controllers run the three replicas (nothing is pulled).
    let ready = k.cluster.wait_until(Duration::from_secs(10), |c| {
        c.get("apps/v1", "Deployment", Some("default"), "computehub")
            .is_some_and(|d| d["status"]["readyReplicas"] == 3)
    });
    assert!(ready, "{}", k.ok(&["get", "pods", "-o", "wide"]));
    k.ok(&["scale", "deployment", "computehub", "--replicas=4"]);
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| {
        c.list_selected(
            "v1",
            "Pod",
            Some("default"),
            "app.kubernetes.io/name=computehub",
            "status.phase=Running",
        )
        .is_ok_and(|p| p.len() == 4)
    }));

    // Broken copies, refused with the API server's words.
    let dep = yaml("deployment.yaml");
    let mut broken: Vec<(&str, Value, &str)> = Vec::new();
    let mut v = dep.clone();
    v["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = "other".into();
    broken.push(("selector", v, "spec.template.metadata.labels: Invalid value: map[string]string{\"app.kubernetes.io/component\":\"other\", \"app.kubernetes.io/name\":\"computehub\"}: `selector` does not match template `labels`"));
    let mut v = dep.clone();
    v["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = 0.into();
    broken.push(("surge", v, "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"));
    let mut v = dep.clone();
    v["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["successThreshold"] = 2.into();
    broken.push(("liveness", v, "spec.template.spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"));
    let mut v = dep.clone();
    v["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    broken.push((
        "secret-ref",
        v,
        "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value",
    ));
    let mut v = yaml("service.yaml");
    v["spec"].as_object_mut().unwrap().remove("ports");
    broken.push((
        "no-ports",
        v,
        "Service \"broken-no-ports\" is invalid: spec.ports: Required value",
    ));
    let mut v = yaml("pdb.yaml");
    v["spec"]["minAvailable"] = "two".into();
    broken.push(("budget", v, "spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"two\"}: a valid percent string"));
    for (name, obj, words) in &broken {
        let refused = k
            .refused(name, obj)
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(refused.contains(words), "{name}: {refused}");
        assert!(refused.contains("is invalid"), "{name}: {refused}");
    }
    // Nothing of the refused copies was stored.
    assert!(k
        .cluster
        .get("apps/v1", "Deployment", Some("default"), "broken-surge")
        .is_none());
    let d = k
        .cluster
        .get("apps/v1", "Deployment", Some("default"), "computehub")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 4);
}
