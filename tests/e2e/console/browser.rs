//! The console's pages in real headless Chromium.

use std::process::Command;

use super::*;
use crate::machine::{Machine, PASSWORD, USER};

/// The browser test: install playwright-core and axe-core (npm ci), find
/// Chromium, run `tests/console/browser.mjs` against a demo server.
///
/// A failure ends the test with a short `Err` (no backtrace): the step that
/// failed and the browser's error, last in the output, where a truncated CI
/// log still shows them.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_headless_chromium() -> Result<(), BrowserFailure> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the console's browser test needs Chromium at {chromium} (Debian: apt-get install chromium; \
         or set CHROMIUM); .ci/run installs it"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let modules = target_dir().join("console-e2e");
    std::fs::create_dir_all(&modules).unwrap();
    let lock = std::fs::read(root.join("tests/console/package-lock.json")).unwrap();
    let installed = std::fs::read(modules.join("package-lock.json")).ok();
    if installed.as_deref() != Some(&lock[..])
        || !modules.join("node_modules/playwright-core").exists()
    {
        std::fs::copy(
            root.join("tests/console/package.json"),
            modules.join("package.json"),
        )
        .unwrap();
        std::fs::write(modules.join("package-lock.json"), &lock).unwrap();
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&modules)
            .output()
            .unwrap_or_else(|e| panic!("the console's browser test needs npm (Node.js): {e}"));
        assert!(
            npm.status.success(),
            "npm ci of playwright-core and axe-core failed: {}",
            String::from_utf8_lossy(&npm.stderr)
        );
    }

    let s = Server::with(Options {
        args: vec!["--demo"],
        config: CONSOLE_CONFIG,
        ..Options::default()
    });
    let lines = s.stdout.lock().unwrap().clone();
    let (_, password) = demo_password(&lines);
    let cpcid = export(&lines, "CPCID");
    // A machine to install a cluster master on: its init phase takes 3 s,
    // long enough to watch the phases move.
    let sim = simcluster::SimCluster::start(simcluster::ClusterSpec::new("console-op")).unwrap();
    let machine = Machine::start("console-m", "127.0.0.2");
    machine.attach(&sim);
    machine.slow("kubeadm-init", 3.0);
    create_user(&s, "other", "bob", "bob-password-123", false);
    let shots = target_dir().join("console-screenshots");
    // Last run's pictures must not stand in for this run's.
    let _ = std::fs::remove_dir_all(&shots);
    // The plugins page checks the example plugin as `hello`, whose grant
    // names its anonymous route (and as `greeter`, whose grant does not).
    s.grant(
        "hello",
        serde_json::json!({"public-routes": ["/hello/{name}"]}),
    )
    .await;
    let started = std::time::Instant::now();
    let out = Command::new("node")
        .arg(root.join("tests/console/browser.mjs"))
        .env("CONSOLE_BASE", &s.base)
        .env("DEMO_PASSWORD", &password)
        .env("OTHER_ORG", "other")
        .env("OTHER_NAME", "bob")
        .env("OTHER_PASSWORD", "bob-password-123")
        .env("CPCID", &cpcid)
        .env("BASIC", export(&lines, "BASIC"))
        .env("MACHINE_PORT", machine.port.to_string())
        .env("MACHINE_USER", USER)
        .env("MACHINE_PASSWORD", PASSWORD)
        .env("HELLO_WASM", Path::new(PLUGINS).join("hello_plugin.wasm"))
        .env(
            "VOLUME_DISCOUNT_WASM",
            Path::new(PLUGINS).join("volume_discount.wasm"),
        )
        .env("SCREENSHOTS", &shots)
        .env("E2E_MODULES", modules.join("node_modules"))
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs the browser script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "{stdout}{stderr}browser steps took {:.1} s",
        started.elapsed().as_secs_f32()
    );
    if !out.status.success() || !stdout.contains("console e2e: all steps passed") {
        return Err(browser_failure(&stdout, &stderr));
    }
    for shot in [
        "01-sign-in",
        "03-centers",
        "05-devices",
        "06b-device-added",
        "07-quote-64.08",
        "13-plugin-swapped",
        "14-quote-volume-discount",
        "16-quote-rolled-back",
        "17-keys",
        "19-cluster-board",
        "24-operations",
        "25-operation-live",
        "26-operation-done",
        "27-host-keys",
        "30-storage",
        "12b-plugin-check",
        "22c-cascade-done",
        "10-other-tenant-centers",
    ] {
        if !shots.join(format!("{shot}.png")).exists() {
            return Err(BrowserFailure(format!(
                "the screenshot {shot}.png was not taken"
            )));
        }
    }
    Ok(())
}

/// The browser script's failure in a few lines: the last step it began and
/// the first lines of its error (the whole output was printed above).
fn browser_failure(stdout: &str, stderr: &str) -> BrowserFailure {
    let step = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("step: "))
        .unwrap_or("step: (none began)");
    let error: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("console e2e failed"))
        .take(12)
        .collect();
    let error = if error.is_empty() {
        stderr
            .lines()
            .rev()
            .take(12)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    } else {
        error
    };
    BrowserFailure(format!(
        "the console's browser test failed\nlast {step}\n{}",
        error.join("\n")
    ))
}

/// A failure the test harness prints as written (its `Debug` is the text,
/// lines unescaped).
struct BrowserFailure(String);

impl std::fmt::Debug for BrowserFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
