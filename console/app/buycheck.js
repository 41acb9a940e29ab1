// The buy page's capacity check of a cluster (kboss cpcbuy/
// determine_accommodat.dspy with explain=true): which products cannot be
// deployed, and why: the center's stock first (`static`), then the live
// nodes (`dynamic`), with each product's shortfalls as the API gives them.
import { useState } from "preact/hooks";
import { html, ErrorBox } from "@console/ui";
import { kboss } from "@console/api";
import { t } from "@console/i18n";

const EXAMPLE = JSON.stringify([
  { id: "gpu", gpu: 2, gpu_model: "RTX5090-32G" },
  { id: "huge", cpu: "512" },
]);

/** A shortfall object as `key value` pairs. */
function shortfall(s) {
  return Object.entries(s)
    .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(", ");
}

export function BuyCheck({ cpcid, clusterid }) {
  const [resources, setResources] = useState(EXAMPLE);
  const [labels, setLabels] = useState("");
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const check = async (e) => {
    e.preventDefault();
    setError(null);
    setAnswer(null);
    try {
      setAnswer(await kboss("GET", "cpcbuy/determine_accommodat", {
        cpcid, clusterid, kyylabels: labels, resources, explain: "true",
      }));
    } catch (err) {
      setError(err);
    }
  };
  const excluded = new Set(answer?.data ?? []);
  return html`<section aria-labelledby="buy-title" data-testid="buy-check">
    <h2 id="buy-title">${t("buyCheck")}</h2>
    <form class="card" onSubmit=${check}>
      <div class="field">
        <label for="buy-resources">${t("products")}</label>
        <textarea id="buy-resources" rows="3" value=${resources}
          onInput=${(e) => setResources(e.currentTarget.value)}></textarea>
      </div>
      <div class="field">
        <label for="buy-labels">${t("nodeLabels")}</label>
        <input id="buy-labels" value=${labels} placeholder="kyy-gpu=true"
          onInput=${(e) => setLabels(e.currentTarget.value)} />
      </div>
      <div class="actions"><button type="submit" class="primary">${t("check")}</button></div>
    </form>
    <${ErrorBox} error=${error} />
    ${answer ? html`<div class="table-wrap">
      <p class="notice" role="status">${answer.msg}</p>
      <table data-testid="buy-result">
        <caption>${t("buyCheck")}</caption>
        <thead><tr>
          <th scope="col">${t("product")}</th><th scope="col">${t("verdict")}</th>
          <th scope="col">${t("reason")}</th><th scope="col">${t("node")}</th>
          <th scope="col">${t("shortfalls")}</th>
        </tr></thead>
        <tbody>
          ${(answer.explain ?? []).map((x) => html`<tr key=${x.id} data-product=${x.id}>
            <th scope="row">${x.id}</th>
            <td>${excluded.has(x.id)
              ? html`<span class="badge busy">${t("notDeployable")}</span>`
              : html`<span class="badge idle">${t("deployable")}</span>`}</td>
            <td data-testid="reason">${x.reason ?? "—"}</td>
            <td>${x.node ?? "—"}</td>
            <td>${[...(x.stock_shortfalls ?? []), ...(x.shortfalls ?? [])].map(shortfall).join("; ") || "—"}</td>
          </tr>`)}
        </tbody>
      </table>
    </div>` : null}
  </section>`;
}
