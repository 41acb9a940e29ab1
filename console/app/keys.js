// Operators: the API keys (GET /admin/keys[?org=ORG], never a secret),
// a new key (POST /admin/keys: its credential is shown once, here) and
// their revocation (DELETE /admin/keys/{id}).
import { useState } from "preact/hooks";
import { html, ErrorBox, OrgFilter, Rows, useList } from "@console/ui";
import { admin } from "@console/api";
import { t } from "@console/i18n";

export function Keys() {
  const [applied, setApplied] = useState("");
  const [showRevoked, setShowRevoked] = useState(false);
  const [notice, setNotice] = useState(null);
  const [rowError, setRowError] = useState(null);
  const [newOrg, setNewOrg] = useState("");
  const [newScheme, setNewScheme] = useState("bearer");
  const [created, setCreated] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    setRowError(null);
    setCreated(null);
    try {
      const k = await admin("POST", "keys", { body: { org: newOrg.trim(), scheme: newScheme } });
      setCreated(k);
      reload();
    } catch (err) {
      setRowError(err);
    }
  };
  const [data, error, reload] = useList(
    () => admin("GET", "keys", { query: applied ? { org: applied } : {} }).then((b) => b.keys),
    [applied],
  );
  const rows = (data ?? []).filter((k) => showRevoked || !k.revoked_at);
  const revoke = async (k) => {
    if (!confirm(t("revokeConfirm", { id: k.id, org: k.organisation }))) return;
    setRowError(null);
    try {
      await admin("DELETE", `keys/${encodeURIComponent(k.id)}`);
      setNotice(`${t("revoked")}: ${k.id}`);
      reload();
    } catch (e) {
      setRowError(e);
    }
  };
  return html`<section aria-labelledby="keys-title">
    <div class="page-head"><h1 id="keys-title">${t("apiKeys")}</h1></div>
    <p class="help">${t("keysHelp")}</p>
    <form class="filters" aria-labelledby="new-key-title" onSubmit=${create}>
      <h2 id="new-key-title">${t("newKey")}</h2>
      <div class="field inline">
        <label for="new-key-org">${t("keyOrg")}</label>
        <input id="new-key-org" required value=${newOrg} onInput=${(e) => setNewOrg(e.currentTarget.value)} />
      </div>
      <div class="field inline">
        <label for="new-key-scheme">${t("keyScheme")}</label>
        <select id="new-key-scheme" value=${newScheme} onChange=${(e) => setNewScheme(e.currentTarget.value)}>
          ${["bearer", "x-auth-token", "basic", "aksk"].map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </div>
      <button type="submit">${t("createKey")}</button>
    </form>
    ${created ? html`<p class="notice" role="status" data-testid="new-credential">
      ${t("credentialOnce")} <code>${created.credential}</code></p>` : null}
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorBox} error=${error ?? rowError} />
    <${OrgFilter} id="keys-org" onApply=${setApplied}>
      <label class="check"><input type="checkbox" checked=${showRevoked}
        onChange=${(e) => setShowRevoked(e.currentTarget.checked)} /> ${t("showRevoked")}</label>
    <//>
    <div class="table-wrap">
      <table data-testid="keys">
        <caption>${t("apiKeys")}</caption>
        <thead><tr>
          <th scope="col">${t("keyId")}</th>
          <th scope="col">${t("org")}</th>
          <th scope="col">${t("scheme")}</th>
          <th scope="col">${t("project")}</th>
          <th scope="col">${t("createdAt")}</th>
          <th scope="col">${t("status")}</th>
          <th scope="col">${t("actions")}</th>
        </tr></thead>
        <tbody>
          <${Rows} data=${data} list=${rows} cols="7" row=${(k) => html`<tr key=${k.id} data-key=${k.id}>
                  <th scope="row"><code>${k.id}</code></th>
                  <td>${k.organisation}</td>
                  <td>${k.scheme}</td>
                  <td>${k.project ?? "—"}</td>
                  <td>${k.created_at}</td>
                  <td>${k.revoked_at
                    ? html`<span class="badge busy">${t("revoked")} ${k.revoked_at}</span>`
                    : html`<span class="badge idle">${t("active")}</span>`}</td>
                  <td>${k.revoked_at
                    ? null
                    : html`<button type="button" class="danger" aria-label=${`${t("revoke")} ${k.id}`}
                        onClick=${() => revoke(k)}>${t("revoke")}</button>`}</td>
                </tr>`} />
        </tbody>
      </table>
    </div>
  </section>`;
}
