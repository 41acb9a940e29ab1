// Operators: the plugins (GET /admin/plugins: id, role, name, version,
// isolation and its instances' live figures, routes, collections), a new version checked first (POST
// /admin/plugins/{id}/check?role=...: a dry run, nothing stored; the
// routes it would add, remove and keep, the capabilities it imports and its
// collections), then uploaded on confirmation (PUT
// /admin/plugins/{id}?role=... with the wasm component as the body) and
// rolled back (POST /admin/plugins/{id}/rollback).
import { useState } from "preact/hooks";
import { html, ErrorBox, useList } from "@console/ui";
import { admin, announce } from "@console/api";
import { t } from "@console/i18n";

const ROLES = ["endpoint", "pricing", "scheduling"];

const routeKey = (r) => `${r.method} ${r.path}`;

/** Routes of `after` not in `before` (added) and of `before` not in `after` (removed). */
function diffRoutes(before, after) {
  const b = new Set((before ?? []).map(routeKey));
  const a = new Set((after ?? []).map(routeKey));
  return {
    added: [...a].filter((k) => !b.has(k)).sort(),
    removed: [...b].filter((k) => !a.has(k)).sort(),
    kept: [...a].filter((k) => b.has(k)).sort(),
  };
}

function RouteList({ routes, testid, fold }) {
  if (!routes?.length) return html`<span class="help">${t("noRoutes")}</span>`;
  if (fold && routes.length > fold) {
    return html`<details><summary>${t("routeCount", { n: routes.length })}</summary>
      <${RouteList} routes=${routes} testid=${testid} /></details>`;
  }
  return html`<ul class="routes" data-testid=${testid}>
    ${routes.map((r) => html`<li><code>${typeof r === "string" ? r : routeKey(r)}</code>${typeof r === "string" ? null : html` <span class="help">${r.auth}</span>`}</li>`)}
  </ul>`;
}

const DISCARD_REASONS = [
  "failed", "resources", "high-water", "max-uses", "idle", "pool-full", "budget", "retired", "isolation",
];

/** A plugin's isolation and its instances as `instances` counts them since the
 * version went live: idle now, created, reused, and discarded by reason. */
function Instances({ i, asked }) {
  if (!i?.isolation) return "—";
  const byPlugin = asked === "request" ? html` <span class="help">(${t("isolationAsked")})</span>` : null;
  const discarded = DISCARD_REASONS.map((why) => [why, i.discarded?.[why] ?? 0]).filter(([, n]) => n > 0);
  const total = discarded.reduce((sum, [, n]) => sum + n, 0);
  return html`${t(`isolation_${i.isolation}`)}${byPlugin}
    <dl class="figures" data-testid="instance-figures" data-created=${i.created} data-reused=${i.reused}
      data-idle=${i.idle} data-discarded=${total}>
      <div><dt>${t("instancesIdle")}</dt><dd>${i.idle}</dd></div>
      <div><dt>${t("instancesCreated")}</dt><dd>${i.created}</dd></div>
      <div><dt>${t("instancesReused")}</dt><dd>${i.reused}</dd></div>
      <div><dt>${t("instancesDiscarded")}</dt><dd>${total}${discarded.length
        ? html` <span class="help">(${discarded.map(([why, n]) => `${t(`discard_${why}`)} ${n}`).join(", ")})</span>`
        : null}</dd></div>
    </dl>`;
}

function Version({ p }) {
  return html`${p.name} ${p.version} <span class="help">(${(p.sha256 ?? "").slice(0, 12)})</span>`;
}

/** What a dry run answered: the routes that change, the grants, the collections. */
function CheckResult({ checked }) {
  const { routes, grants, collections } = checked;
  return html`<div class="card result" data-testid="check-result">
    <p>${t("checkedVersion")}: <strong>${checked.id}</strong> →
      <${Version} p=${checked.plugin} />${checked.active
        ? html` (${t("replaces")} <${Version} p=${checked.active} />)`
        : html` (${t("newPlugin")})`}</p>
    <h3>${t("routesAdded")} (${routes.added.length})</h3>
    <${RouteList} routes=${routes.added} testid="check-added" />
    <h3>${t("routesRemoved")} (${routes.removed.length})</h3>
    <${RouteList} routes=${routes.removed} testid="check-removed" />
    <p class="help">${t("routesKept", { n: routes.kept.length })}</p>
    <h3>${t("grantsAsked")}</h3>
    <p data-testid="check-grants">${grants.imports.length
      ? grants.imports.map((g) => html`<code class=${grants.missing.includes(g) ? "missing" : ""}>${g}</code> `)
      : t("none")}</p>
    ${grants["public-routes"]?.length
      ? html`<h3>${t("publicRoutes")}</h3>
          <p data-testid="check-public">${grants["public-routes"].map((r) => html`<code>${r}</code> `)}</p>`
      : null}
    ${collections.length
      ? html`<h3>${t("collections")}</h3>
          <ul class="routes">${collections.map((c) => html`<li><code>${c.name}</code>
            <span class="help">${c.exists ? t("collectionExists") : t("collectionNew")}</span></li>`)}</ul>`
      : null}
    <p class="help">${t("nothingStored")}</p>
  </div>`;
}

function Upload({ plugins, onDone }) {
  const [id, setId] = useState("");
  const [role, setRole] = useState("endpoint");
  const [file, setFile] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [checked, setChecked] = useState(null);
  const [result, setResult] = useState(null);
  const active = plugins.find((p) => p.id === id.trim());
  // Any change to what would be uploaded asks for a new check.
  const changed = (f) => (v) => {
    f(v);
    setChecked(null);
    setResult(null);
  };
  const pickId = (v) => {
    changed(setId)(v);
    const p = plugins.find((x) => x.id === v.trim());
    if (p) setRole(p.role);
  };
  const run = async (f) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const check = (e) => {
    e.preventDefault();
    run(async () => {
      setResult(null);
      setChecked(await admin("POST", `plugins/${encodeURIComponent(id.trim())}/check`, {
        query: { role },
        body: file,
      }));
    });
  };
  const upload = () => run(async () => {
    const before = active ?? null;
    const after = await admin("PUT", `plugins/${encodeURIComponent(id.trim())}`, {
      query: { role },
      body: file,
    });
    setChecked(null);
    setResult({ before, after, diff: diffRoutes(before?.routes, after.routes) });
    announce("plugins");
    onDone();
  });
  const rollback = () => run(async () => {
    const now = await admin("POST", `plugins/${encodeURIComponent(result.after.id)}/rollback`);
    setResult({ ...result, rolledBack: now });
    announce("plugins");
    onDone();
  });
  return html`<form class="card" onSubmit=${check} aria-labelledby="upload-title">
    <h2 id="upload-title">${t("uploadVersion")}</h2>
    <p class="help">${t("uploadHelp")}</p>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div class="field">
        <label for="plugin-id">${t("pluginId")}</label>
        <input id="plugin-id" name="plugin-id" list="plugin-ids" value=${id} required
          onInput=${(e) => pickId(e.currentTarget.value)} />
        <datalist id="plugin-ids">${plugins.map((p) => html`<option value=${p.id} />`)}</datalist>
      </div>
      <div class="field">
        <label for="plugin-role">${t("pluginRole")}</label>
        <select id="plugin-role" value=${role} onChange=${(e) => changed(setRole)(e.currentTarget.value)}>
          ${ROLES.map((r) => html`<option value=${r}>${t(`role_${r}`)}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="plugin-file">${t("pluginFile")}</label>
        <input id="plugin-file" type="file" accept=".wasm,application/wasm" required
          onChange=${(e) => changed(setFile)(e.currentTarget.files?.[0] ?? null)} />
      </div>
    </div>
    ${id.trim() && !result && !checked
      ? html`<div class="active-routes">
          <h3>${t("activeRoutes")}${active ? html` · <${Version} p=${active} />` : null}</h3>
          ${active ? html`<${RouteList} routes=${active.routes} testid="active-routes" />` : html`<p class="help">${t("newPlugin")}</p>`}
        </div>`
      : null}
    ${checked ? html`<${CheckResult} checked=${checked} />` : null}
    <div class="actions">
      <button type="submit" class=${checked ? "" : "primary"} disabled=${busy || !file || !id.trim()}>${t("checkChanges")}</button>
      ${checked
        ? html`<button type="button" class="primary" disabled=${busy} onClick=${upload}>${t("uploadAndSwap")}</button>
            <button type="button" disabled=${busy} onClick=${() => setChecked(null)}>${t("cancel")}</button>`
        : null}
    </div>
    ${result
      ? html`<div class="card result" role="status" data-testid="upload-result">
          <p>${result.rolledBack
            ? html`${t("rolledBackTo")}: <${Version} p=${result.rolledBack} />`
            : html`${t("swapped")}: <strong>${result.after.id}</strong> → <${Version} p=${result.after} />`}</p>
          <h3>${t("routesAdded")} (${result.diff.added.length})</h3>
          <${RouteList} routes=${result.diff.added} testid="routes-added" />
          <h3>${t("routesRemoved")} (${result.diff.removed.length})</h3>
          <${RouteList} routes=${result.diff.removed} testid="routes-removed" />
          <p class="help">${t("routesKept", { n: result.diff.kept.length })}</p>
          ${result.rolledBack
            ? null
            : html`<button type="button" disabled=${busy} onClick=${rollback}>${t("rollBack")}</button>`}
        </div>`
      : null}
  </form>`;
}

export function Plugins() {
  const [data, error, reload] = useList(() => admin("GET", "plugins").then((b) => b.plugins), []);
  const [rowError, setRowError] = useState(null);
  const [notice, setNotice] = useState(null);
  const plugins = [...(data ?? [])].sort((a, b) => a.id.localeCompare(b.id));
  const rollback = async (id) => {
    setRowError(null);
    try {
      const p = await admin("POST", `plugins/${encodeURIComponent(id)}/rollback`);
      setNotice(`${t("rolledBackTo")}: ${p.id} ${p.name} ${p.version}`);
      announce("plugins");
      reload();
    } catch (e) {
      setRowError(e);
    }
  };
  return html`<section aria-labelledby="plugins-title">
    <div class="page-head"><h1 id="plugins-title">${t("plugins")}</h1></div>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorBox} error=${error ?? rowError} />
    <div class="table-wrap">
      <table data-testid="plugins">
        <caption>${t("plugins")}</caption>
        <thead><tr>
          <th scope="col">${t("pluginId")}</th>
          <th scope="col">${t("pluginRole")}</th>
          <th scope="col">${t("version")}</th>
          <th scope="col">${t("isolation")}</th>
          <th scope="col">${t("routes")}</th>
          <th scope="col">${t("collections")}</th>
          <th scope="col">${t("activeSince")}</th>
          <th scope="col">${t("actions")}</th>
        </tr></thead>
        <tbody>
          ${data === null
            ? html`<tr><td colspan="8">${t("loading")}</td></tr>`
            : plugins.length === 0
              ? html`<tr><td colspan="8">${t("empty")}</td></tr>`
              : plugins.map((p) => html`<tr key=${p.id} data-plugin=${p.id}>
                  <th scope="row">${p.id}</th>
                  <td>${t(`role_${p.role}`)}</td>
                  <td class="version"><${Version} p=${p} /></td>
                  <td class="instances"><${Instances} i=${p.instances} asked=${p.isolation_asked} /></td>
                  <td><${RouteList} routes=${p.routes} fold=${3} /></td>
                  <td>${(p.collections ?? []).join(", ") || "—"}</td>
                  <td>${p.active_since ?? ""}</td>
                  <td><button type="button" aria-label=${`${t("rollBack")} ${p.id}`}
                    onClick=${() => rollback(p.id)}>${t("rollBack")}</button></td>
                </tr>`)}
        </tbody>
      </table>
    </div>
    <${Upload} plugins=${plugins} onDone=${reload} />
  </section>`;
}
