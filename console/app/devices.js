// Devices of a compute center (get_cpcnode, paged and sorted by the server)
// with their idle/occupied state; the idle filter asks get_cpcidle_device.
import { useState } from "preact/hooks";
import { html, Table, ErrorBox, useList } from "@console/ui";
import { kboss } from "@console/api";
import { t } from "@console/i18n";
import { CenterPicker } from "@console/pricing";

function State({ row }) {
  const idle = String(row.node_status) === "0";
  return html`<span class=${idle ? "badge idle" : "badge busy"}>${idle ? t("idle") : t("occupied")}</span>`;
}

export function Devices({ cpcid, navigate }) {
  const [query, setQuery] = useState({ page: 1, rows: 10, sort: "name" });
  const [idleOnly, setIdleOnly] = useState(false);
  const [data, error] = useList(async () => {
    if (!cpcid) return { total: 0, rows: [] };
    if (idleOnly) {
      const b = await kboss("GET", "cpcnode/get_cpcidle_device", { cpcid });
      const rows = Array.isArray(b.data) ? b.data : (b.data?.rows ?? []);
      return { total: rows.length, rows };
    }
    return (await kboss("GET", "cpcnode/get_cpcnode", { cpcid, ...query })).data;
  }, [cpcid, idleOnly, query.page, query.rows, query.sort]);
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
        <label><input type="radio" name="device-filter" checked=${!idleOnly}
          onChange=${() => setIdleOnly(false)} /> ${t("all")}</label>
        <label><input type="radio" name="device-filter" checked=${idleOnly}
          onChange=${() => setIdleOnly(true)} /> ${t("idleOnly")}</label>
      </fieldset>
    </div>
    <${ErrorBox} error=${error} />
    ${cpcid
      ? html`<${Table} testid="devices" caption=${t("devices")} columns=${columns} data=${data}
          query=${idleOnly ? { page: 1, rows: Math.max(10, data?.total ?? 10), sort: "" } : query}
          onQuery=${setQuery} />`
      : null}
  </section>`;
}
