// Operators: the SSH host keys pinned on first use (GET
// /admin/ssh-host-keys[?org=ORG]: organisation, target, fingerprint, key,
// when pinned) and forgetting one (DELETE
// /admin/ssh-host-keys/{org}/{target}), after which the next connection to
// that machine pins the key it presents then: how a reinstalled machine's
// new key is accepted (replacing the pin).
import { useState } from "preact/hooks";
import { html, ErrorBox, OrgFilter, Rows, useList } from "@console/ui";
import { admin } from "@console/api";
import { t } from "@console/i18n";

export function HostKeys() {
  const [applied, setApplied] = useState("");
  const [notice, setNotice] = useState(null);
  const [rowError, setRowError] = useState(null);
  const [data, error, reload] = useList(
    () => admin("GET", "ssh-host-keys", { query: applied ? { org: applied } : {} }).then((b) => b.host_keys),
    [applied],
  );
  const rows = data ?? [];
  const forget = async (k) => {
    if (!confirm(t("forgetConfirm", { target: k.target, org: k.org }))) return;
    setRowError(null);
    setNotice(null);
    try {
      await admin("DELETE", `ssh-host-keys/${encodeURIComponent(k.org)}/${encodeURIComponent(k.target)}`);
      setNotice(`${t("forgotten")}: ${k.org} ${k.target}`);
      reload();
    } catch (e) {
      setRowError(e);
    }
  };
  return html`<section aria-labelledby="hostkeys-title">
    <div class="page-head"><h1 id="hostkeys-title">${t("hostKeys")}</h1></div>
    <p class="help">${t("hostKeysHelp")}</p>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorBox} error=${error ?? rowError} />
    <${OrgFilter} id="hostkeys-org" onApply=${setApplied} />
    <div class="table-wrap" tabindex="0" role="region" aria-label=${t("hostKeys")}>
      <table data-testid="host-keys">
        <caption>${t("hostKeys")} (${rows.length})</caption>
        <thead><tr>
          <th scope="col">${t("org")}</th>
          <th scope="col">${t("target")}</th>
          <th scope="col">${t("fingerprint")}</th>
          <th scope="col">${t("pinnedAt")}</th>
          <th scope="col">${t("actions")}</th>
        </tr></thead>
        <tbody>
          <${Rows} data=${data} list=${rows} cols="5" row=${(k) => html`<tr key=${`${k.org}/${k.target}`} data-target=${k.target}>
                  <td>${k.org}</td>
                  <th scope="row"><code>${k.target}</code></th>
                  <td><code title=${k.public_key}>${k.fingerprint}</code></td>
                  <td>${k.pinned_at}</td>
                  <td><button type="button" class="danger" aria-label=${`${t("forget")} ${k.target}`}
                    onClick=${() => forget(k)}>${t("forget")}</button></td>
                </tr>`} />
        </tbody>
      </table>
    </div>
  </section>`;
}
