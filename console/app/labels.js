// Resource labels (get_cpclabel, paged and sorted by the server; add_cpclabel;
// delete_cpclabel), and the form the cluster board uses to bind a stored
// node label to a live node or unbind it (setup_cpclabel).
import { useState } from "preact/hooks";
import { html, Table, ErrorBox, Field, useList } from "@console/ui";
import { kboss } from "@console/api";
import { t } from "@console/i18n";

const empty = { name: "", labeltype: "1", label_key: "", label_value: "" };

function NewLabel({ onCreated }) {
  const [form, setForm] = useState(empty);
  const [error, setError] = useState(null);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await kboss("POST", "cpclabel/add_cpclabel", form);
      setForm(empty);
      onCreated(form.name);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="new-label-title">
    <h2 id="new-label-title">${t("newLabel")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} id="label-name" label=${t("name")} value=${form.name} onInput=${set("name")} required />
      <div class="field">
        <label for="label-type">${t("labelType")}</label>
        <select id="label-type" value=${form.labeltype} onChange=${(e) => set("labeltype")(e.currentTarget.value)}>
          <option value="1">${t("nodeLabel")}</option>
          <option value="0">${t("instanceLabel")}</option>
        </select>
      </div>
      <${Field} id="label-key" label=${t("labelKey")} value=${form.label_key} onInput=${set("label_key")} required />
      <${Field} id="label-value" label=${t("labelValue")} value=${form.label_value} onInput=${set("label_value")} required />
    </div>
    <div class="actions"><button type="submit" class="primary">${t("save")}</button></div>
  </form>`;
}

export function Labels() {
  const [query, setQuery] = useState({ page: 1, rows: 10, sort: "name" });
  const [notice, setNotice] = useState(null);
  const [rowError, setRowError] = useState(null);
  const [data, error, reload] = useList(
    () => kboss("GET", "cpclabel/get_cpclabel", query).then((b) => b.data),
    [query.page, query.rows, query.sort],
  );
  const remove = async (r) => {
    setRowError(null);
    try {
      const b = await kboss("POST", "cpclabel/delete_cpclabel", { id: r.id });
      setNotice(b.msg);
      reload();
    } catch (e) {
      setRowError(e);
    }
  };
  const columns = [
    { key: "name", label: t("name"), sort: true },
    { key: "labeltype", label: t("labelType"),
      render: (r) => (String(r.labeltype) === "1" ? t("nodeLabel") : t("instanceLabel")) },
    { key: "label_key", label: t("labelKey"), sort: true },
    { key: "label_value", label: t("labelValue") },
    { key: "actions", label: t("actions"),
      render: (r) => html`<button type="button" class="danger" aria-label=${`${t("delete")} ${r.name}`}
        onClick=${() => remove(r)}>${t("delete")}</button>` },
  ];
  return html`<section aria-labelledby="labels-title">
    <div class="page-head"><h1 id="labels-title">${t("labels")}</h1></div>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorBox} error=${error ?? rowError} />
    <${NewLabel} onCreated=${(name) => {
      setNotice(`${t("created")}: ${name}`);
      reload();
    }} />
    <${Table} testid="labels" caption=${t("labels")} columns=${columns} data=${data}
      query=${query} onQuery=${setQuery} />
  </section>`;
}

/** Bind a stored node label to a node of the cluster, or unbind it. */
export function BindLabel({ cpcid, clusterid, nodes }) {
  const [labels] = useList(
    () => kboss("GET", "cpclabel/get_cpclabel", { page: 1, rows: 80, sort: "name" }).then((b) => b.data),
    [],
  );
  const nodeLabels = (labels?.rows ?? []).filter((l) => String(l.labeltype) === "1");
  const [label, setLabel] = useState("");
  const [node, setNode] = useState("");
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const run = async (opt) => {
    setError(null);
    setAnswer(null);
    try {
      const chosen = label || nodeLabels[0]?.id || "";
      const on = node || nodes[0] || "";
      const b = await kboss("POST", "cpclabel/setup_cpclabel", {
        cpcid, clusterid, label: chosen, worker_node: on, opt,
      });
      setAnswer(`${b.msg} (${on})`);
    } catch (e) {
      setError(e);
    }
  };
  return html`<form class="filters" aria-labelledby="bind-title" onSubmit=${(e) => {
    e.preventDefault();
    run("label");
  }}>
    <h2 id="bind-title">${t("bindLabel")}</h2>
    <div class="field inline">
      <label for="bind-label">${t("label")}</label>
      <select id="bind-label" value=${label} onChange=${(e) => setLabel(e.currentTarget.value)}>
        ${nodeLabels.map((l) => html`<option value=${l.id}>${l.name} (${l.label_key}=${l.label_value})</option>`)}
      </select>
    </div>
    <div class="field inline">
      <label for="bind-node">${t("node")}</label>
      <select id="bind-node" value=${node} onChange=${(e) => setNode(e.currentTarget.value)}>
        ${nodes.map((n) => html`<option value=${n}>${n}</option>`)}
      </select>
    </div>
    <button type="submit">${t("bind")}</button>
    <button type="button" onClick=${() => run("unlabel")}>${t("unbind")}</button>
    ${answer ? html`<p class="notice" role="status" data-testid="bind-answer">${answer}</p>` : null}
    <${ErrorBox} error=${error} />
  </form>`;
}
