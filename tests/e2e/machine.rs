//! Simulated machines behind a real OpenSSH `sshd`: one `sshd -D` per machine
//! on a free 127.0.0.1 port, with its own config, host key and environment,
//! logging in the test user [`USER`] (created once, password [`PASSWORD`],
//! one authorised client key). Every command goes through the fixture shell
//! of `tests/fixtures/machine` (see its README): `kubeadm`, `systemctl`,
//! `apt-get` and friends are fixtures that record what they were given.
//!
//! Needs root (to run sshd and create the user), as CI has.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use simcluster::SimCluster;

pub const USER: &str = "chtest";
pub const PASSWORD: &str = "Kyy@123456-test";
const SSHD: &str = "/usr/sbin/sshd";

fn fixtures_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/machine")
}

fn uid_gid() -> (u32, u32) {
    static IDS: OnceLock<(u32, u32)> = OnceLock::new();
    *IDS.get_or_init(|| {
        let exists = Command::new("id")
            .arg(USER)
            .output()
            .unwrap()
            .status
            .success();
        if !exists {
            let out = Command::new("useradd")
                .args(["-m", "-s", "/bin/bash", USER])
                .output()
                .expect("useradd (the e2e ssh tests need root)");
            // Another test process may have created it meanwhile.
            let again = Command::new("id").arg(USER).output().unwrap();
            assert!(
                again.status.success(),
                "cannot create user {USER}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        use std::io::Write;
        chpasswd
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{USER}:{PASSWORD}\n").as_bytes())
            .unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd failed");
        std::fs::create_dir_all("/run/sshd").unwrap();
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, USER]).output().unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        (id("-u"), id("-g"))
    })
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn keygen(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen");
}

/// Ids of the processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(id) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(id);
        }
    }
    out
}

/// One simulated machine: a running sshd and the machine's fixture home.
pub struct Machine {
    pub name: String,
    /// The machine's "internal" address (a loopback address never contacted).
    pub ip: String,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Machine {
    /// Start a machine whose hostname is `name` and internal address `ip`.
    pub fn start(name: &str, ip: &str) -> Machine {
        let (uid, gid) = uid_gid();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let fixtures = dir.path().join("fixtures");
        copy_dir(&fixtures_src(), &fixtures);
        let home = dir.path().join("home");
        for d in ["state", "fail", "slow", "root/etc"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(home.join("commands.log"), "").unwrap();
        std::fs::write(home.join("ssh.log"), "").unwrap();
        chown_tree(&home, uid, gid);
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("client_key"));
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        let mut m = Machine {
            name: name.into(),
            ip: ip.into(),
            port: 0,
            dir,
            child: None,
        };
        m.launch();
        m
    }

    fn launch(&mut self) {
        let d = self.dir.path();
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {d}/sshd.pid\n\
             UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nAuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n\
             PermitRootLogin no\nAllowUsers {USER}\nForceCommand {d}/fixtures/shell\n\
             SetEnv FIXTURE_HOME={d}/home FIXTURE_BIN={d}/fixtures/bin MACHINE_NAME={name} MACHINE_IP={ip} READY_DELAY=1\n\
             MaxStartups 200\nMaxSessions 200\nLogLevel INFO\n",
            hk = d.join("host_key").display(),
            d = d.display(),
            name = self.name,
            ip = self.ip,
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd (apt-get install openssh-server)");
        self.child = Some(child);
        self.port = port;
        // Ready when it greets.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut buf = [0u8; 7];
                if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not start: {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop sshd, give the machine a new host key and start it again on
    /// the same port (a reinstalled machine, or a man in the middle).
    pub fn new_host_key(&mut self) {
        self.stop();
        keygen(&self.dir.path().join("host_key"));
        let d = self.dir.path().to_path_buf();
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not restart");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many logins sshd accepted (one per SSH connection).
    pub fn logins(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("sshd.log"))
            .unwrap_or_default()
            .matches("Accepted ")
            .count()
    }

    /// Stop sshd and the per-connection processes it forked (found by
    /// parent id in /proc), so open connections end too.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            for child in children(c.id()) {
                let _ = Command::new("kill").arg(child.to_string()).status();
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The client private key authorised for [`USER`] (OpenSSH format).
    pub fn client_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("client_key")).unwrap()
    }

    /// Point the machine's fixtures at a simulated cluster.
    pub fn attach(&self, sim: &SimCluster) {
        let home = self.home();
        std::fs::write(home.join("sim-ca.pem"), sim.ca_pem()).unwrap();
        std::fs::write(
            home.join("sim.env"),
            format!(
                "SIM_SERVER={}\nSIM_PORT={}\nSIM_TOKEN={}\nSIM_CA={}\n",
                sim.url(),
                sim.addr().port(),
                sim.token(),
                home.join("sim-ca.pem").display()
            ),
        )
        .unwrap();
        self.chown();
    }

    fn chown(&self) {
        let (uid, gid) = uid_gid();
        chown_tree(&self.home(), uid, gid);
    }

    /// Make `step` fail once with `message` on stderr.
    pub fn fail_once(&self, step: &str, message: &str) {
        std::fs::write(self.home().join("fail").join(step), message).unwrap();
        self.chown();
    }

    /// Make `step` sleep `secs` seconds first.
    pub fn slow(&self, step: &str, secs: f64) {
        std::fs::write(self.home().join("slow").join(step), secs.to_string()).unwrap();
        self.chown();
    }

    /// What the fixtures were given, one command per line, in order.
    pub fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.home().join("commands.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Every command line sshd ran, as received.
    pub fn ssh_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.home().join("ssh.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A file of the machine's own filesystem root (`/etc/kubernetes/...`).
    pub fn file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.home().join("root").join(path.trim_start_matches('/'))).ok()
    }

    /// The path of a scratch file in the machine's home.
    pub fn scratch(&self, name: &str) -> String {
        self.home().join(name).display().to_string()
    }

    /// A JSON target for the explicit form.
    pub fn target(&self) -> serde_json::Value {
        serde_json::json!({"host": "127.0.0.1", "port": self.port, "user": USER, "password": PASSWORD})
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.stop();
    }
}
