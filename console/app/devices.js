// Devices of a compute center (get_cpcnode, paged and sorted by the server)
// with their idle/occupied state; the idle filter asks get_cpcidle_device.
// The documented API has no occupied-only list, so that filter reads the
// center's devices in one page (get_cpcnode, sorted by name) and keeps the
// occupied ones.
import { useState } from "preact/hooks";
import { html, Table, ErrorBox, Field, useList } from "@console/ui";
import { kboss } from "@console/api";
import { t } from "@console/i18n";
import { CenterPicker } from "@console/pricing";

function State({ row }) {
  const idle = String(row.node_status) === "0";
  return html`<span class=${idle ? "badge idle" : "badge busy"}>${idle ? t("idle") : t("occupied")}</span>`;
}

const blank = {
  name: "", ip: "", devicetype: "1", sshport: "22", adminuser: "root", adminpwd: "",
  node_status: "0", external_ip: "", cpu_model: "STANDARD", cpu_stock: "0",
  memory_model: "STANDARD", memory_stock: "0", sysdisk_stock: "0", datadisk_stock: "0",
  gpu_model: "", gpu_stock: "0", role: "",
};

function Select({ id, label, value, onChange, options }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
      ${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}
    </select>
  </div>`;
}

/** add_cpcnode: every documented field, with the usual defaults. */
function NewDevice({ cpcid, onCreated, onCancel }) {
  const [form, setForm] = useState(blank);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await kboss("POST", "cpcnode/add_cpcnode", { cpcid, ...form });
      onCreated(form.name);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const text = (k, label, extra = {}) =>
    html`<${Field} id=${`device-${k}`} label=${label} value=${form[k]} onInput=${set(k)} ...${extra} />`;
  return html`<form class="card" onSubmit=${submit} aria-labelledby="new-device-title">
    <h2 id="new-device-title">${t("newDevice")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      ${text("name", t("name"), { required: true })}
      ${text("ip", t("ip"), { required: true })}
      <${Select} id="device-devicetype" label=${t("deviceType")} value=${form.devicetype}
        onChange=${set("devicetype")} options=${[["1", t("physical")], ["0", t("vm")]]} />
      <${Select} id="device-node_status" label=${t("status")} value=${form.node_status}
        onChange=${set("node_status")} options=${[["0", t("idle")], ["1", t("occupied")]]} />
      ${text("sshport", t("sshPort"), { type: "number", min: 1, max: 65535 })}
      ${text("adminuser", t("adminUser"), { autocomplete: "off" })}
      ${text("adminpwd", t("adminPwd"), { type: "password", autocomplete: "new-password" })}
      ${text("external_ip", t("externalIp"))}
      ${text("cpu_model", t("cpuModel"))}
      ${text("cpu_stock", t("cpu"), { type: "number", min: 0 })}
      ${text("memory_model", t("memoryModel"))}
      ${text("memory_stock", t("memory"), { type: "number", min: 0 })}
      ${text("sysdisk_stock", t("sysdisk"), { type: "number", min: 0 })}
      ${text("datadisk_stock", t("datadisk"), { type: "number", min: 0 })}
      ${text("gpu_model", t("gpuModel"))}
      ${text("gpu_stock", t("gpu"), { type: "number", min: 0 })}
      <${Select} id="device-role" label=${t("role")} value=${form.role} onChange=${set("role")}
        options=${[["", "-"], ["master", "master"], ["worker", "worker"]]} />
    </div>
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>${t("save")}</button>
      <button type="button" onClick=${onCancel}>${t("cancel")}</button>
    </div>
  </form>`;
}

export function Devices({ cpcid, navigate }) {
  const [adding, setAdding] = useState(false);
  const [notice, setNotice] = useState(null);
  const [query, setQuery] = useState({ page: 1, rows: 10, sort: "name" });
  // "all", "idle" or "occupied".
  const [state, setState] = useState("all");
  const idleOnly = state !== "all";
  const [data, error, reload] = useList(async () => {
    if (!cpcid) return { total: 0, rows: [] };
    if (state === "occupied") {
      const b = await kboss("GET", "cpcnode/get_cpcnode", { cpcid, page: 1, rows: 10000, sort: "name" });
      const rows = (b.data?.rows ?? []).filter((r) => String(r.node_status) !== "0");
      return { total: rows.length, rows };
    }
    if (idleOnly) {
      const b = await kboss("GET", "cpcnode/get_cpcidle_device", { cpcid });
      const rows = Array.isArray(b.data) ? b.data : (b.data?.rows ?? []);
      return { total: rows.length, rows };
    }
    return (await kboss("GET", "cpcnode/get_cpcnode", { cpcid, ...query })).data;
  }, [cpcid, state, query.page, query.rows, query.sort]);
  const columns = [
    { key: "name", label: t("name"), sort: !idleOnly },
    { key: "ip", label: t("ip"), sort: !idleOnly },
    { key: "devicetype", label: t("deviceType"), sort: !idleOnly,
      render: (r) => (String(r.devicetype) === "1" ? t("physical") : t("vm")) },
    { key: "node_status", label: t("status"), sort: !idleOnly, render: (r) => html`<${State} row=${r} />` },
    { key: "cpu_stock", label: t("cpu"), sort: !idleOnly },
    { key: "memory_stock", label: t("memory"), sort: !idleOnly },
    { key: "gpu_model", label: t("gpuModel"), sort: !idleOnly },
    { key: "gpu_stock", label: t("gpu"), sort: !idleOnly },
    { key: "role", label: t("role") },
  ];
  return html`<section aria-labelledby="devices-title">
    <div class="page-head">
      <h1 id="devices-title">${t("devices")}</h1>
      <${CenterPicker} cpcid=${cpcid} onPick=${(id) => navigate(`#/devices/${encodeURIComponent(id)}`)} />
      <fieldset class="filter">
        <legend>${t("filter")}</legend>
        <label><input type="radio" name="device-filter" checked=${state === "all"}
          onChange=${() => setState("all")} /> ${t("all")}</label>
        <label><input type="radio" name="device-filter" checked=${state === "idle"}
          onChange=${() => setState("idle")} /> ${t("idleOnly")}</label>
        <label><input type="radio" name="device-filter" checked=${state === "occupied"}
          onChange=${() => setState("occupied")} /> ${t("occupiedOnly")}</label>
      </fieldset>
      ${cpcid && !adding
        ? html`<button type="button" class="primary" onClick=${() => setAdding(true)}>${t("newDevice")}</button>`
        : null}
    </div>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    ${adding && cpcid
      ? html`<${NewDevice} cpcid=${cpcid} onCancel=${() => setAdding(false)}
          onCreated=${(name) => {
            setAdding(false);
            setNotice(`${t("created")}: ${name}`);
            reload();
          }} />`
      : null}
    <${ErrorBox} error=${error} />
    ${cpcid
      ? html`<${Table} testid="devices" caption=${t("devices")} columns=${columns} data=${data}
          query=${idleOnly ? { page: 1, rows: Math.max(10, data?.total ?? 10), sort: "" } : query}
          onQuery=${setQuery} />`
      : null}
  </section>`;
}
