// Resource-instance configs of a cluster (kboss `cpcpodyaml`): the list
// (get_cpcpodyaml), a new one (new_cpcpodyaml: stored and applied to the
// cluster, so its pods appear on the board), scaling (update_cpcpodyaml
// with the new replica count only: the stored config keeps the rest) and
// its limits changed (update_cpcpodyaml with the new cpu and memory limits
// only) and removal (delete_cpcpodyaml: everything it made in the cluster
// goes), whose cascade is then followed on the cluster: the config's pods
// are counted (get_cpcpod) every second until none is left.
import { useEffect, useState } from "preact/hooks";
import { html, ErrorBox, Field, useList } from "@console/ui";
import { kboss } from "@console/api";
import { t } from "@console/i18n";

const empty = {
  source_name: "",
  source_podengine: "StatefulSet",
  source_replicasetnum: "1",
  pod_imagepath: "docker.io/library/ubuntu:22.04",
  source_cpurate: "500m",
  source_memrate: "512Mi",
};

const CASCADE_POLL_MS = 1000;

/** The pods a config's workload still has on the cluster, until none. */
function Cascade({ cpcid, clusterid, gone }) {
  const [left, setLeft] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    let timer;
    const tick = async () => {
      try {
        const b = await kboss("GET", "cpcpod/get_cpcpod", { cpcid, clusterid, page: 1, rows: 80 });
        if (!live) return;
        const pods = (b.data?.rows ?? []).filter((p) => p.pod_namespace === gone.namespace
          && p.pod_name.startsWith(`${gone.workload}-`));
        setLeft(pods.map((p) => p.pod_name));
        setError(null);
        if (pods.length === 0) return;
      } catch (e) {
        if (live) setError(e);
      }
      if (live) timer = setTimeout(tick, CASCADE_POLL_MS);
    };
    tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [gone.id]);
  const done = left !== null && left.length === 0;
  return html`<div class="card" role="status" data-testid="cascade" data-done=${done ? "yes" : "no"}>
    <strong>${t("cascadeOf", { name: gone.name })}</strong>:
    ${left === null
      ? t("loading")
      : done
        ? html` <span class="badge idle">${t("cascadeDone")}</span>`
        : html` ${t("podsLeft", { n: left.length })} <span class="help">(${left.join(", ")})</span>`}
    <${ErrorBox} error=${error} />
  </div>`;
}

/** Change a config's cpu and memory limits (update_cpcpodyaml). */
function Limits({ row, onSave, onCancel }) {
  const [cpu, setCpu] = useState(row.source_cpurate ?? "");
  const [mem, setMem] = useState(row.source_memrate ?? "");
  const id = `limits-${row.id}`;
  return html`<form class="filters" aria-label=${`${t("changeLimits")} ${row.source_name}`} onSubmit=${(e) => {
    e.preventDefault();
    onSave({ source_cpurate: cpu.trim(), source_memrate: mem.trim() });
  }}>
    <${Field} id=${`${id}-cpu`} label=${t("cpuLimit")} value=${cpu} onInput=${setCpu} required />
    <${Field} id=${`${id}-mem`} label=${t("memLimit")} value=${mem} onInput=${setMem} required />
    <button type="submit" class="primary">${t("save")}</button>
    <button type="button" onClick=${onCancel}>${t("cancel")}</button>
  </form>`;
}

export function Configs({ cpcid, clusterid }) {
  const [form, setForm] = useState(empty);
  const [editing, setEditing] = useState(null);
  const [cascades, setCascades] = useState([]);
  const [notice, setNotice] = useState(null);
  const [error, setError] = useState(null);
  const [data, listError, reload] = useList(
    () => kboss("GET", "cpcpodyaml/get_cpcpodyaml", { cpcid, clusterid }).then((b) => b.data),
    [cpcid, clusterid],
  );
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const act = async (path, params, done) => {
    setError(null);
    setNotice(null);
    try {
      const b = await kboss("POST", path, params);
      setNotice(`${b.msg}${done ? ` (${done})` : ""}`);
      reload();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  const remove = async (r) => {
    const gone = { id: r.id, name: r.source_name, namespace: r.namespace_name, workload: r.podcd_name };
    if (await act("cpcpodyaml/delete_cpcpodyaml", { id: r.id }, r.source_name)) {
      setCascades((c) => [...c.filter((x) => x.id !== r.id), gone]);
    }
  };
  const rows = data?.rows ?? [];
  return html`<section aria-labelledby="configs-title" data-testid="configs">
    <h2 id="configs-title">${t("configs")}</h2>
    ${notice ? html`<p class="notice" role="status" data-testid="config-answer">${notice}</p>` : null}
    <${ErrorBox} error=${error ?? listError} />
    ${cascades.map((g) => html`<${Cascade} key=${g.id} cpcid=${cpcid} clusterid=${clusterid} gone=${g} />`)}
    <form class="card" aria-labelledby="new-config-title" onSubmit=${(e) => {
      e.preventDefault();
      act("cpcpodyaml/new_cpcpodyaml", { cpcid, clusterid, ...form }, form.source_name);
    }}>
      <h3 id="new-config-title">${t("newConfig")}</h3>
      <div class="grid">
        <${Field} id="config-name" label=${t("configName")} value=${form.source_name} onInput=${set("source_name")} required />
        <div class="field">
          <label for="config-engine">${t("engine")}</label>
          <select id="config-engine" value=${form.source_podengine}
            onChange=${(e) => set("source_podengine")(e.currentTarget.value)}>
            ${["StatefulSet", "Deployment"].map((v) => html`<option value=${v}>${v}</option>`)}
          </select>
        </div>
        <${Field} id="config-replicas" label=${t("replicas")} type="number" value=${form.source_replicasetnum}
          onInput=${set("source_replicasetnum")} required />
        <${Field} id="config-image" label=${t("image")} value=${form.pod_imagepath} onInput=${set("pod_imagepath")} required />
        <${Field} id="config-cpu" label=${t("cpuLimit")} value=${form.source_cpurate} onInput=${set("source_cpurate")} required />
        <${Field} id="config-mem" label=${t("memLimit")} value=${form.source_memrate} onInput=${set("source_memrate")} required />
      </div>
      <div class="actions"><button type="submit" class="primary">${t("apply")}</button></div>
    </form>
    <div class="table-wrap">
      <table data-testid="config-list">
        <caption>${t("configs")} (${data?.total ?? 0})</caption>
        <thead><tr>
          <th scope="col">${t("configName")}</th><th scope="col">${t("engine")}</th>
          <th scope="col">${t("replicas")}</th><th scope="col">${t("cpuLimit")}</th>
          <th scope="col">${t("memLimit")}</th><th scope="col">${t("actions")}</th>
        </tr></thead>
        <tbody>
          ${data === null
            ? html`<tr><td colspan="6">${t("loading")}</td></tr>`
            : rows.length === 0
              ? html`<tr><td colspan="6">${t("empty")}</td></tr>`
              : rows.map((r) => {
                  const n = Number(r.source_replicasetnum) || 0;
                  const scale = (to) => act("cpcpodyaml/update_cpcpodyaml",
                    { cpcid, clusterid, id: r.id, source_replicasetnum: String(to) }, `${r.source_name} × ${to}`);
                  return html`<tr key=${r.id} data-config=${r.source_name}>
                    <th scope="row">${r.source_name}</th><td>${r.source_podengine}</td>
                    <td class="num" data-testid="replicas">${n}</td>
                    <td data-testid="cpu-limit">${r.source_cpurate}</td>
                    <td data-testid="mem-limit">${r.source_memrate}</td>
                    <td>
                      ${editing === r.id
                        ? html`<${Limits} row=${r} onCancel=${() => setEditing(null)}
                            onSave=${async (limits) => {
                              const ok = await act("cpcpodyaml/update_cpcpodyaml",
                                { cpcid, clusterid, id: r.id, ...limits },
                                `${r.source_name}: cpu ${limits.source_cpurate} · mem ${limits.source_memrate}`);
                              if (ok) setEditing(null);
                            }} />`
                        : html`<button type="button" aria-label=${`${t("scaleUp")} ${r.source_name} +1`} onClick=${() => scale(n + 1)}>+1</button>
                      <button type="button" aria-label=${`${t("scaleDown")} ${r.source_name} −1`} disabled=${n <= 0}
                        onClick=${() => scale(n - 1)}>−1</button>
                      <button type="button" aria-label=${`${t("changeLimits")} ${r.source_name}`}
                        onClick=${() => setEditing(r.id)}>${t("changeLimits")}</button>
                      <button type="button" class="danger" aria-label=${`${t("delete")} ${r.source_name}`}
                        onClick=${() => remove(r)}>${t("delete")}</button>`}
                    </td>
                  </tr>`;
                })}
        </tbody>
      </table>
    </div>
  </section>`;
}
