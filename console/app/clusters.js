// The cluster board: a center's clusters (get_cpccluster), and the chosen
// one's nodes (get_cpcworker: cpu and memory in use, GPUs requested, as
// bars) and pods (get_cpcpod), read live from the cluster and asked again
// every few seconds while the page is open.
import { useEffect, useState } from "preact/hooks";
import { html, ErrorBox, useList } from "@console/ui";
import { kboss } from "@console/api";
import { t } from "@console/i18n";
import { CenterPicker } from "@console/pricing";
import { BindLabel } from "@console/labels";
import { Configs } from "@console/configs";
import { BuyCheck } from "@console/buycheck";

const REFRESH_MS = 4000;

/** `25.0%` -> 25 (0 when the API says otherwise). */
function pct(s) {
  const v = parseFloat(String(s ?? "").replace("%", ""));
  return Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : 0;
}

function Bar({ value, label, testid }) {
  const v = pct(value);
  return html`<span class="meter" data-testid=${testid}>
    <span class="bar" role="meter" aria-label=${label} aria-valuemin="0" aria-valuemax="100"
      aria-valuenow=${v} aria-valuetext=${value}>
      <span class=${v >= 85 ? "hot" : ""} style=${{ width: `${v}%` }}></span>
    </span>
    <span class="num">${value}</span>
  </span>`;
}

/** Ask `load` now and every REFRESH_MS; returns [data, error, updatedAt]. */
function useLive(load, deps) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [at, setAt] = useState(null);
  useEffect(() => {
    let live = true;
    let timer;
    const tick = async () => {
      try {
        const d = await load();
        if (!live) return;
        setData(d);
        setError(null);
        setAt(new Date());
      } catch (e) {
        if (live) setError(e);
      }
      if (live) timer = setTimeout(tick, REFRESH_MS);
    };
    setData(null);
    tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, deps);
  return [data, error, at];
}

function Board({ cpcid, clusterid }) {
  const at = { cpcid, clusterid };
  const [nodes, nodesError, nodesAt] = useLive(
    () => kboss("GET", "cpcworker/get_cpcworker", at).then((b) => b.data),
    [cpcid, clusterid],
  );
  const [pods, podsError] = useLive(
    () => kboss("GET", "cpcpod/get_cpcpod", { ...at, page: 1, rows: 80 }).then((b) => b.data),
    [cpcid, clusterid],
  );
  return html`<div>
    <p class="help" aria-live="off">${t("refreshEvery", { s: REFRESH_MS / 1000 })}${nodesAt
      ? html` · ${t("updatedAt")} <time data-testid="board-updated">${nodesAt.toLocaleTimeString()}</time>`
      : null}</p>
    <${ErrorBox} error=${nodesError} />
    ${nodes ? html`<${BindLabel} cpcid=${cpcid} clusterid=${clusterid}
      nodes=${nodes.rows.map((n) => n.node_name)} />` : null}
    <div class="table-wrap" tabindex="0" role="region" aria-label=${t("nodes")}>
      <table data-testid="nodes">
        <caption>${t("nodes")} (${nodes?.total ?? 0})</caption>
        <thead><tr>
          <th scope="col">${t("name")}</th><th scope="col">${t("role")}</th>
          <th scope="col">${t("status")}</th><th scope="col">${t("cpuUse")}</th>
          <th scope="col">${t("memUse")}</th><th scope="col">${t("gpuUse")}</th>
          <th scope="col">${t("availableCpu")}</th><th scope="col">${t("availableMemory")}</th>
          <th scope="col">${t("availableGpu")}</th>
        </tr></thead>
        <tbody>
          ${nodes === null
            ? html`<tr><td colspan="9">${t("loading")}</td></tr>`
            : nodes.rows.map((n) => html`<tr key=${n.node_name} data-node=${n.node_name}>
                <th scope="row">${n.node_name}</th><td>${n.node_role}</td><td>${n.node_status}</td>
                <td><${Bar} value=${n.node_cpurate} label=${`${n.node_name} ${t("cpuUse")}`} /></td>
                <td><${Bar} value=${n.node_memrate} label=${`${n.node_name} ${t("memUse")}`} /></td>
                <td><${Bar} value=${n.node_gpu} label=${`${n.node_name} ${t("gpuUse")}`} testid="gpu" /></td>
                <td class="num">${n.available_cpu}</td><td class="num">${n.available_memory}</td>
                <td class="num">${n.available_gpu}</td>
              </tr>`)}
        </tbody>
      </table>
    </div>
    <${ErrorBox} error=${podsError} />
    <div class="table-wrap" tabindex="0" role="region" aria-label=${t("pods")}>
      <table data-testid="pods">
        <caption>${t("pods")} (${pods?.total ?? 0})</caption>
        <thead><tr>
          <th scope="col">${t("namespace")}</th><th scope="col">${t("name")}</th>
          <th scope="col">${t("node")}</th><th scope="col">${t("ready")}</th>
          <th scope="col">${t("status")}</th><th scope="col">${t("restarts")}</th>
          <th scope="col">${t("cpuNow")}</th><th scope="col">${t("memNow")}</th>
          <th scope="col">${t("limits")}</th>
        </tr></thead>
        <tbody>
          ${pods === null
            ? html`<tr><td colspan="9">${t("loading")}</td></tr>`
            : pods.rows.length === 0
              ? html`<tr><td colspan="9">${t("empty")}</td></tr>`
              : pods.rows.map((p) => html`<tr key=${`${p.pod_namespace}/${p.pod_name}`} data-pod=${p.pod_name}>
                  <td>${p.pod_namespace}</td><th scope="row">${p.pod_name}</th><td>${p.pod_node}</td>
                  <td>${p.pod_ready}</td><td>${p.pod_running}</td><td class="num">${p.pod_restart}</td>
                  <td class="num">${p.pod_cpurate}</td><td class="num">${p.pod_memrate}</td>
                  <td>cpu ${p.pod_cpu_limit} · mem ${p.pod_memory_limit} · gpu ${p.pod_gpu_limit}</td>
                </tr>`)}
        </tbody>
      </table>
    </div>
  </div>`;
}

export function Clusters({ cpcid, navigate }) {
  const [clusterid, setClusterid] = useState("");
  const [clusters, error] = useList(
    () => (cpcid
      ? kboss("GET", "cpccluster/get_cpccluster", { cpcid, page: 1, rows: 80 }).then((b) => b.data)
      : Promise.resolve({ total: 0, rows: [] })),
    [cpcid],
  );
  useEffect(() => {
    const rows = clusters?.rows ?? [];
    if (!rows.some((c) => c.id === clusterid)) setClusterid(rows[0]?.id ?? "");
  }, [clusters]);
  return html`<section aria-labelledby="clusters-title">
    <div class="page-head">
      <h1 id="clusters-title">${t("clusters")}</h1>
      <${CenterPicker} cpcid=${cpcid} onPick=${(id) => navigate(`#/clusters/${encodeURIComponent(id)}`)} />
      <div class="field inline">
        <label for="cluster-picker">${t("cluster")}</label>
        <select id="cluster-picker" value=${clusterid} onChange=${(e) => setClusterid(e.currentTarget.value)}>
          ${(clusters?.rows ?? []).length === 0 ? html`<option value="">${t("noClusters")}</option>` : null}
          ${(clusters?.rows ?? []).map((c) => html`<option value=${c.id}>${c.name}</option>`)}
        </select>
      </div>
    </div>
    <${ErrorBox} error=${error} />
    ${cpcid && clusterid ? html`<${Board} key=${`${cpcid}/${clusterid}`} cpcid=${cpcid} clusterid=${clusterid} />` : null}
    ${cpcid && clusterid ? html`<${Configs} key=${`c/${cpcid}/${clusterid}`} cpcid=${cpcid} clusterid=${clusterid} />` : null}
    ${cpcid && clusterid ? html`<${BuyCheck} key=${`b/${cpcid}/${clusterid}`} cpcid=${cpcid} clusterid=${clusterid} />` : null}
  </section>`;
}
