//! The capability's logic against an in-test [`Backend`]: what a plugin may
//! not reach never gets to the backend, a granted target's host key is
//! pinned on first use and checked after, connections are pooled, and a
//! connection's failure reaches the plugin as one sentence. The russh
//! backend is exercised end to end against a real sshd (`tests/e2e`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::backend::{Backend, Connection, Endpoint, Output};
use super::pins::{self, Pin};
use super::{wit, ExplicitTarget, Host, Ssh, SshError, SshView, Target};
use crate::capabilities::CallContext;
use crate::policy::{egress, PluginGrant, Policy};
use crate::store::seal::Sealer;
use crate::store::Store;

/// What reached the backend: `host:port as user (pinned?)` per connect and
/// the command lines run.
#[derive(Default)]
struct Seen {
    connects: Vec<String>,
    commands: Vec<(String, usize)>,
}

/// A backend whose servers all present `key`, or that cannot reach any.
#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Seen>>,
    key: Pin,
    unreachable: bool,
}

impl Fake {
    fn new(key: &str) -> Self {
        Fake {
            seen: Arc::default(),
            key: Pin {
                public_key: format!("ssh-ed25519 {key}"),
                fingerprint: format!("SHA256:{key}"),
            },
            unreachable: false,
        }
    }
    fn connects(&self) -> Vec<String> {
        self.seen.lock().unwrap().connects.clone()
    }
    fn commands(&self) -> Vec<(String, usize)> {
        self.seen.lock().unwrap().commands.clone()
    }
}

#[async_trait]
impl Backend for Fake {
    async fn connect(
        &self,
        e: &Endpoint,
        pinned: Option<Pin>,
        target: &str,
    ) -> Result<Arc<dyn Connection>, SshError> {
        let pin_note = if pinned.is_some() {
            "pinned"
        } else {
            "unpinned"
        };
        self.seen
            .lock()
            .unwrap()
            .connects
            .push(format!("{}:{} as {} ({pin_note})", e.host, e.port, e.user));
        if self.unreachable {
            return Err(SshError::Unreachable(
                "os error 111: connection refused".into(),
            ));
        }
        if pinned.is_some_and(|p| p != self.key) {
            return Err(SshError::HostKeyChanged(format!("{target}: another key")));
        }
        Ok(Arc::new(self.clone()))
    }
}

#[async_trait]
impl Connection for Fake {
    fn host_key(&self) -> &Pin {
        &self.key
    }
    fn is_closed(&self) -> bool {
        false
    }
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        _cap: usize,
        _timeout: Duration,
    ) -> Result<Output, SshError> {
        let fed = stdin.map_or(0, <[u8]>::len);
        self.seen
            .lock()
            .unwrap()
            .commands
            .push((command.to_string(), fed));
        Ok(Output {
            exit_status: 0,
            stdout: command.as_bytes().to_vec(),
            ..Default::default()
        })
    }
    async fn close(&self) {}
}

async fn store() -> Arc<Store> {
    Arc::new(
        Store::in_memory(Sealer::from_key(&[1u8; 32]))
            .await
            .unwrap(),
    )
}

/// Plugin `pcapi` granted `ssh_targets`.
fn policy(ssh_targets: &[&str]) -> Arc<Policy> {
    let policy = Policy::default();
    let rules: Vec<String> = ssh_targets.iter().map(|s| s.to_string()).collect();
    let grant = PluginGrant {
        ssh_targets: egress::parse_all(&rules).unwrap(),
        ..Default::default()
    };
    policy.set_grants([("pcapi".to_string(), grant)].into());
    Arc::new(policy)
}

fn ctx(organisation: Option<&str>) -> CallContext {
    CallContext {
        plugin: "pcapi".into(),
        request_id: "req-7".into(),
        organisation: organisation.map(str::to_string),
        operation: None,
    }
}

fn explicit(host: &str) -> Target {
    Target::Explicit(ExplicitTarget {
        host: host.into(),
        port: 2222,
        user: "root".into(),
        password: Some("secret".into()),
        private_key: None,
    })
}

#[tokio::test]
async fn denied_targets_never_reach_the_backend() {
    let fake = Fake::new("one");
    let acme = ctx(Some("acme"));
    for grant in [&[][..], &["10.0.0.0/8"][..]] {
        let ssh = Ssh::with_backend(Arc::new(fake.clone()), store().await, policy(grant));
        let r = SshView::new(&ssh, &acme)
            .run(explicit("127.0.0.1"), "uptime".into(), vec![], 0)
            .await;
        assert!(matches!(r, Err(wit::Error::Denied(_))), "{grant:?}");
    }
    let ssh = Ssh::with_backend(
        Arc::new(fake.clone()),
        store().await,
        policy(&["127.0.0.0/8"]),
    );
    let mut view = SshView::new(&ssh, &acme);
    // A name is not an address the grant can be checked against.
    let r = view
        .run(explicit("localhost"), "uptime".into(), vec![], 0)
        .await;
    assert!(matches!(r, Err(wit::Error::Invalid(_))));
    // Injection is refused before anything connects.
    let r = view
        .run(explicit("127.0.0.1"), "ls;reboot".into(), vec![], 0)
        .await;
    assert!(matches!(r, Err(wit::Error::Invalid(_))));
    let r = view
        .upload(explicit("127.0.0.1"), "/tmp/a b`x`".into(), vec![1], 0o644)
        .await;
    assert!(matches!(r, Err(wit::Error::Invalid(_))));
    // Devices are the organisation's own: none here, and none without one.
    let r = view
        .run(Target::Device("d1".into()), "uptime".into(), vec![], 0)
        .await;
    assert!(matches!(r, Err(wit::Error::Invalid(_))));
    let anonymous = ctx(None);
    let r = SshView::new(&ssh, &anonymous)
        .run(explicit("127.0.0.1"), "uptime".into(), vec![], 0)
        .await;
    assert!(matches!(r, Err(wit::Error::Denied(_))));
    assert!(fake.connects().is_empty(), "nothing connected");
}

#[tokio::test]
async fn host_keys_are_pinned_on_first_use_and_connections_pooled() {
    let fake = Fake::new("one");
    let store = store().await;
    let grant = policy(&["127.0.0.0/8"]);
    let ssh = Ssh::with_backend(
        Arc::new(fake.clone()),
        Arc::clone(&store),
        Arc::clone(&grant),
    );
    let acme = ctx(Some("acme"));
    let mut view = SshView::new(&ssh, &acme);
    let out = view
        .run(explicit("127.0.0.1"), "echo".into(), vec!["hi".into()], 0)
        .await
        .unwrap();
    assert_eq!(out.exit_status, 0);
    assert!(String::from_utf8(out.stdout).unwrap().contains("hi"));
    view.upload(explicit("127.0.0.1"), "/tmp/f".into(), vec![0; 5], 0o600)
        .await
        .unwrap();
    let got = view
        .download(explicit("127.0.0.1"), "/tmp/f".into())
        .await
        .unwrap();
    assert!(!got.is_empty());
    assert_eq!(
        fake.connects(),
        ["127.0.0.1:2222 as root (unpinned)"],
        "one connection, reused"
    );
    let fed: Vec<usize> = fake.commands().iter().map(|(_, n)| *n).collect();
    assert_eq!(fed, [0, 5, 0], "the upload's bytes went in as input");
    let pinned = pins::get(&store, "acme", "127.0.0.1:2222").await.unwrap();
    assert_eq!(pinned.as_ref(), Some(&fake.key));
    // Another organisation pins its own.
    assert_eq!(
        pins::get(&store, "other", "127.0.0.1:2222").await.unwrap(),
        None
    );

    // A new server (fresh pool) with another key is checked against the pin.
    let changed = Fake::new("two");
    let ssh = Ssh::with_backend(Arc::new(changed.clone()), Arc::clone(&store), grant);
    let r = SshView::new(&ssh, &acme)
        .run(explicit("127.0.0.1"), "uptime".into(), vec![], 0)
        .await;
    assert!(matches!(r, Err(wit::Error::HostKeyChanged(_))));
    assert_eq!(changed.connects(), ["127.0.0.1:2222 as root (pinned)"]);
    let kept = pins::get(&store, "acme", "127.0.0.1:2222").await.unwrap();
    assert_eq!(kept.as_ref(), Some(&fake.key), "the pin is kept");
}

#[tokio::test]
async fn an_unreachable_machine_is_one_sentence_naming_the_request() {
    let mut fake = Fake::new("one");
    fake.unreachable = true;
    let ssh = Ssh::with_backend(Arc::new(fake), store().await, policy(&["127.0.0.0/8"]));
    let acme = ctx(Some("acme"));
    let r = SshView::new(&ssh, &acme)
        .run(explicit("127.0.0.1"), "uptime".into(), vec![], 0)
        .await;
    let Err(wit::Error::Unreachable(m)) = r else {
        panic!("{r:?}")
    };
    assert!(m.contains("127.0.0.1:2222") && m.contains("req-7"), "{m}");
    assert!(
        !m.contains("os error"),
        "the library's text stays in the log: {m}"
    );
}
