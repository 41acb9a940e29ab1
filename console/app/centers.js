// Compute centers: the organisation's list (get_cpclist, paged and sorted
// by the server) and a form to add one (add_cpclist).
import { useState } from "preact/hooks";
import { html, Table, ErrorBox, Field, useList } from "@console/ui";
import { kboss } from "@console/api";
import { t } from "@console/i18n";

const empty = { name: "", pcapi_url: "", api_user: "", api_pwd: "", contactname: "", contactphone: "" };

function NewCenter({ onCreated, onCancel }) {
  const [form, setForm] = useState(empty);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await kboss("POST", "cpclist/add_cpclist", form);
      onCreated(form.name);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="new-center-title">
    <h2 id="new-center-title">${t("newCenter")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} id="center-name" label=${t("name")} value=${form.name} onInput=${set("name")} required />
      <${Field} id="center-pcapi" label=${t("pcapiUrl")} value=${form.pcapi_url} onInput=${set("pcapi_url")}
        placeholder="https://pcapi.example.com" required />
      <${Field} id="center-user" label=${t("apiUser")} value=${form.api_user} onInput=${set("api_user")} required />
      <${Field} id="center-pwd" label=${t("apiPwd")} type="password" value=${form.api_pwd}
        onInput=${set("api_pwd")} autocomplete="new-password" required />
      <${Field} id="center-contact" label=${t("contactName")} value=${form.contactname}
        onInput=${set("contactname")} required />
      <${Field} id="center-phone" label=${t("contactPhone")} value=${form.contactphone}
        onInput=${set("contactphone")} />
    </div>
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>${t("save")}</button>
      <button type="button" onClick=${onCancel}>${t("cancel")}</button>
    </div>
  </form>`;
}

export function Centers({ navigate }) {
  const [query, setQuery] = useState({ page: 1, rows: 10, sort: "name" });
  const [adding, setAdding] = useState(false);
  const [notice, setNotice] = useState(null);
  const [data, error, reload] = useList(
    () => kboss("GET", "cpclist/get_cpclist", query).then((b) => b.data),
    [query.page, query.rows, query.sort],
  );
  const columns = [
    { key: "name", label: t("name"), sort: true,
      render: (r) => html`<a href=${`#/devices/${encodeURIComponent(r.id)}`}>${r.name}</a>` },
    { key: "pcapi_url", label: t("pcapiUrl"), sort: true },
    { key: "contactname", label: t("contactName"), sort: true },
    { key: "contactphone", label: t("contactPhone") },
    { key: "enable_date", label: t("enableDate"), sort: true },
    { key: "expire_date", label: t("expireDate"), sort: true },
    { key: "id", label: t("pricing"),
      render: (r) => html`<a href=${`#/pricing/${encodeURIComponent(r.id)}`}>${t("quote")}</a>` },
  ];
  return html`<section aria-labelledby="centers-title">
    <div class="page-head">
      <h1 id="centers-title">${t("centers")}</h1>
      ${adding ? null : html`<button type="button" class="primary" onClick=${() => setAdding(true)}>${t("newCenter")}</button>`}
    </div>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    ${adding
      ? html`<${NewCenter} onCancel=${() => setAdding(false)}
          onCreated=${(name) => {
            setAdding(false);
            setNotice(`${t("created")}: ${name}`);
            reload();
          }} />`
      : null}
    <${ErrorBox} error=${error} />
    <${Table} testid="centers" caption=${t("centers")} columns=${columns} data=${data}
      query=${query} onQuery=${setQuery} />
  </section>`;
}
