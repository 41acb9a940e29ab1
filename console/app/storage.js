// Operators: what each organisation stores in collections (GET
// /admin/storage[?org=ORG]: its bytes by collection and its quota, the
// configured default or one of its own) and setting an organisation's own
// quota (PUT /admin/storage/{org} with {"quota_mib": N}, or null for the
// default again), in force for its next write.
import { useState } from "preact/hooks";
import { html, ErrorBox, OrgFilter, Rows, useList } from "@console/ui";
import { admin } from "@console/api";
import { t } from "@console/i18n";

/** Bytes for people: B, KiB, MiB or GiB with at most one decimal. */
function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u += 1;
  }
  return `${u === 0 ? n : n.toFixed(1).replace(/\.0$/, "")} ${units[u]}`;
}

/** How much of its quota an organisation fills: "<1%" for a little. */
function share(bytes, quota) {
  if (quota <= 0) return bytes > 0 ? ">100%" : "0%";
  const pct = Math.round((bytes / quota) * 100);
  return bytes > 0 && pct === 0 ? "<1%" : `${pct}%`;
}

function QuotaForm({ entry, onSaved, onError }) {
  const [mib, setMib] = useState(String(Math.floor(entry.quota_bytes / 1048576)));
  const save = async (quota) => {
    onError(null);
    try {
      const saved = await admin("PUT", `storage/${encodeURIComponent(entry.organisation)}`, {
        body: { quota_mib: quota },
      });
      onSaved(saved);
    } catch (e) {
      onError(e);
    }
  };
  const id = `quota-${entry.organisation}`;
  return html`<form class="inline-form" onSubmit=${(e) => {
    e.preventDefault();
    const n = /^\d+$/.test(mib.trim()) ? Number(mib.trim()) : NaN;
    if (!Number.isInteger(n) || n > 4294967295) {
      onError(new Error(t("quotaInvalid")));
      return;
    }
    save(n);
  }}>
    <label class="visually-hidden" for=${id}>${t("quotaMib")} ${entry.organisation}</label>
    <input id=${id} inputmode="numeric" size="8" value=${mib} onInput=${(e) => setMib(e.currentTarget.value)} />
    <button type="submit">${t("setQuota")}</button>
    ${entry.quota_set
      ? html`<button type="button" onClick=${() => save(null)}>${t("defaultQuota")}</button>`
      : null}
  </form>`;
}

export function Storage() {
  const [applied, setApplied] = useState("");
  const [notice, setNotice] = useState(null);
  const [rowError, setRowError] = useState(null);
  const [data, error, reload] = useList(
    () => admin("GET", "storage", { query: applied ? { org: applied } : {} }),
    [applied],
  );
  const rows = data?.organisations ?? [];
  return html`<section aria-labelledby="storage-title">
    <div class="page-head"><h1 id="storage-title">${t("storage")}</h1></div>
    <p class="help">${t("storageHelp", { quota: data ? size(data.quota_bytes) : "…" })}</p>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorBox} error=${error ?? rowError} />
    <${OrgFilter} id="storage-org" onApply=${setApplied} />
    <div class="table-wrap" tabindex="0" role="region" aria-label=${t("storage")}>
      <table data-testid="storage">
        <caption>${t("storage")} (${rows.length})</caption>
        <thead><tr>
          <th scope="col">${t("org")}</th>
          <th scope="col">${t("bytesUsed")}</th>
          <th scope="col">${t("quota")}</th>
          <th scope="col">${t("collections")}</th>
          <th scope="col">${t("quotaMib")}</th>
        </tr></thead>
        <tbody>
          <${Rows} data=${data} list=${rows} cols="5" row=${(o) => html`<tr key=${o.organisation} data-org=${o.organisation}
                    data-bytes=${o.bytes} data-quota=${o.quota_bytes} data-quota-set=${o.quota_set ? "yes" : "no"}>
                  <th scope="row">${o.organisation}</th>
                  <td>${size(o.bytes)} <span class="help">(${share(o.bytes, o.quota_bytes)})</span></td>
                  <td>${size(o.quota_bytes)}${o.quota_set ? null : html` <span class="help">(${t("quotaDefault")})</span>`}</td>
                  <td><details><summary>${o.collections.length}</summary>
                    <ul class="routes">${o.collections.map((c) => html`<li><code>${c.collection}</code> ${size(c.bytes)}</li>`)}</ul>
                  </details></td>
                  <td><${QuotaForm} key=${`${o.organisation}:${o.quota_bytes}`} entry=${o} onError=${setRowError}
                    onSaved=${(saved) => {
                      setNotice(`${t("quotaSaved")}: ${saved.organisation} ${size(saved.quota_bytes)}`);
                      reload();
                    }} /></td>
                </tr>`} />
        </tbody>
      </table>
    </div>
  </section>`;
}
