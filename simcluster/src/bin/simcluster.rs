//! `simcluster`: run a simulated cluster by hand and point kubectl at it.
//!
//! ```text
//! cargo run -p simcluster -- [--name N] [--port P] [--version v1.32.4] [--token T]
//!     [--kubeconfig PATH] [--nodes 3 | --nodes 'master-1:role=control-plane;w1:cpu=8,memory=32Gi;g1:gpus=4,gpu-model=A100']
//! ```
//!
//! `--nodes N` makes a control-plane node and N workers, the last one with 4
//! GPUs (`NVIDIA-A100-SXM4-80GB`). A node list gives `name[:key=value,...]`
//! entries separated by `;`, keys: `cpu`, `memory`, `pods`, `gpus`,
//! `gpu-model`, `role`, `label` (`k=v`, repeatable), `taint` (`k=v:Effect`),
//! `usage-cpu`, `usage-memory`, `unschedulable`. Prints the kubeconfig path
//! and serves until interrupted.

use anyhow::{bail, Context, Result};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

fn parse_node(entry: &str) -> Result<NodeSpec> {
    let (name, opts) = entry.split_once(':').unwrap_or((entry, ""));
    let mut n = NodeSpec::new(name.trim());
    let mut usage = (None, None);
    let mut gpus = 0;
    let mut model = "NVIDIA-A100-SXM4-80GB".to_string();
    for opt in opts.split(',').filter(|o| !o.trim().is_empty()) {
        let (k, v) = opt
            .split_once('=')
            .with_context(|| format!("node option {opt:?} is not key=value"))?;
        match k.trim() {
            "cpu" => n = n.cpu(v),
            "memory" | "mem" => n = n.memory(v),
            "pods" => n = n.pods(v.parse().context("pods")?),
            "gpus" => gpus = v.parse().context("gpus")?,
            "gpu-model" => model = v.to_string(),
            "role" if v == "control-plane" => {
                n = NodeSpec {
                    name: n.name.clone(),
                    ..NodeSpec::control_plane(&n.name)
                }
                .cpu(&n.cpu)
                .memory(&n.memory)
            }
            "role" => n = n.role(v),
            "label" => {
                let (lk, lv) = v.split_once('=').unwrap_or((v, ""));
                n = n.label(lk, lv);
            }
            "taint" => {
                let (kv, effect) = v.split_once(':').unwrap_or((v, "NoSchedule"));
                let (tk, tv) = kv.split_once('=').unwrap_or((kv, ""));
                n = n.taint(tk, tv, effect);
            }
            "usage-cpu" => usage.0 = Some(v.to_string()),
            "usage-memory" => usage.1 = Some(v.to_string()),
            "unschedulable" => n = n.unschedulable(v == "true"),
            other => bail!("unknown node option {other:?}"),
        }
    }
    if gpus > 0 {
        n = n.gpus(gpus, &model);
    }
    if let (Some(c), Some(m)) = usage {
        n = n.usage(&c, &m);
    }
    Ok(n)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut name = "simcluster".to_string();
    let mut port = 0u16;
    let mut version = None;
    let mut token = None;
    let mut kubeconfig = None;
    let mut nodes = "3".to_string();
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--name" => name = val()?,
            "--port" => port = val()?.parse().context("--port")?,
            "--version" => version = Some(val()?),
            "--token" => token = Some(val()?),
            "--kubeconfig" => kubeconfig = Some(val()?),
            "--nodes" => nodes = val()?,
            "-h" | "--help" => {
                println!("usage: simcluster [--name N] [--port P] [--version vX.Y.Z] [--token T] [--kubeconfig PATH] [--nodes N | --nodes 'name:k=v,..;name2']");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    let mut spec = match nodes.parse::<usize>() {
        Ok(workers) => ClusterSpec::demo(&name, workers, 4, "NVIDIA-A100-SXM4-80GB"),
        Err(_) => {
            let mut s = ClusterSpec::new(&name);
            for entry in nodes.split(';').filter(|e| !e.trim().is_empty()) {
                s = s.node(parse_node(entry)?);
            }
            s
        }
    };
    if let Some(v) = version {
        spec = spec.git_version(&v);
    }
    if let Some(t) = token {
        spec = spec.token(&t);
    }
    let cluster = SimCluster::start_on(spec, port).context("starting the cluster")?;
    let path = kubeconfig.unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("simcluster-{name}-{}.yaml", cluster.addr().port()))
            .display()
            .to_string()
    });
    cluster
        .write_kubeconfig(std::path::Path::new(&path))
        .with_context(|| format!("writing {path}"))?;
    println!("{path}");
    eprintln!(
        "simcluster {name} serving {} (kubectl --kubeconfig {path} get nodes); Ctrl-C stops it",
        cluster.url()
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
