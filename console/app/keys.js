// Operators: the API keys (GET /admin/keys[?org=ORG], never a secret) and
// their revocation (DELETE /admin/keys/{id}). The admin API has no call
// that creates a key yet: keys are made with `computehub keys create`, and
// the page says so.
import { useState } from "preact/hooks";
import { html, ErrorBox, useList } from "@console/ui";
import { admin } from "@console/api";
import { t } from "@console/i18n";

export function Keys() {
  const [org, setOrg] = useState("");
  const [applied, setApplied] = useState("");
  const [showRevoked, setShowRevoked] = useState(false);
  const [notice, setNotice] = useState(null);
  const [rowError, setRowError] = useState(null);
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
    <p class="help">${t("keysHelp")} <code>computehub keys create --org ORG</code></p>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorBox} error=${error ?? rowError} />
    <form class="filters" onSubmit=${(e) => {
      e.preventDefault();
      setApplied(org.trim());
    }}>
      <div class="field inline">
        <label for="keys-org">${t("org")}</label>
        <input id="keys-org" value=${org} placeholder=${t("all")} onInput=${(e) => setOrg(e.currentTarget.value)} />
      </div>
      <button type="submit">${t("filter")}</button>
      <label class="check"><input type="checkbox" checked=${showRevoked}
        onChange=${(e) => setShowRevoked(e.currentTarget.checked)} /> ${t("showRevoked")}</label>
    </form>
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
          ${data === null
            ? html`<tr><td colspan="7">${t("loading")}</td></tr>`
            : rows.length === 0
              ? html`<tr><td colspan="7">${t("empty")}</td></tr>`
              : rows.map((k) => html`<tr key=${k.id} data-key=${k.id}>
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
                </tr>`)}
        </tbody>
      </table>
    </div>
  </section>`;
}
