// Priced components of a compute center (get_cpcwidget) and the quote
// calculator: every amount typed asks accrual_price (through the active
// pricing engine) and shows each item and the total as the API answers.
// When an operator swaps or rolls back the pricing engine (in this tab or
// another), the same quote is asked again: no reload needed.
import { useEffect, useRef, useState } from "preact/hooks";
import { html, Table, ErrorBox, useList } from "@console/ui";
import { kboss, onAnnounce } from "@console/api";
import { t } from "@console/i18n";

/** A select of the organisation's compute centers. */
export function CenterPicker({ cpcid, onPick }) {
  const [centers, error] = useList(
    () => kboss("GET", "cpclist/get_cpclist", { page: 1, rows: 80, sort: "name" }).then((b) => b.data),
    [],
  );
  useEffect(() => {
    // Only when no center is named yet: the user may have picked one between
    // this render and this effect (the route then names it already).
    const named = location.hash.split("/")[2];
    if (!cpcid && !named && centers?.rows?.length) onPick(centers.rows[0].id);
  }, [cpcid, centers]);
  return html`<div class="field inline">
    <label for="center-picker">${t("center")}</label>
    <select id="center-picker" value=${cpcid ?? ""} onChange=${(e) => onPick(e.currentTarget.value)}>
      ${!cpcid ? html`<option value="">${centers?.rows?.length === 0 ? t("noCenters") : t("chooseCenter")}</option>` : null}
      ${(centers?.rows ?? []).map((c) => html`<option value=${c.id}>${c.name}</option>`)}
    </select>
    <${ErrorBox} error=${error} />
  </div>`;
}

const UNITS = ["小时", "天", "周", "月"];
const UNIT_WORD = { 小时: "hour", 天: "day", 周: "week", 月: "month" };

function Calculator({ cpcid, widgets }) {
  const [amounts, setAmounts] = useState({});
  const [duration, setDuration] = useState("1");
  const [unit, setUnit] = useState("小时");
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);
  const [engineTick, setEngineTick] = useState(0);
  useEffect(() => onAnnounce((what) => what === "plugins" && setEngineTick((n) => n + 1)), []);
  const lines = widgets.map((w) => ({ ...w, key: `${w.type}\u0000${w.model}` }));
  const resources = lines
    .filter((l) => (amounts[l.key] ?? "").trim() !== "")
    .map((l) => ({ type: l.type, model: l.model, amount: Number(amounts[l.key]) }));
  const ask = JSON.stringify({ resources, duration, unit });
  useEffect(() => {
    if (resources.length === 0) {
      setAnswer(null);
      setError(null);
      return;
    }
    const mine = ++seq.current;
    setBusy(true);
    const timer = setTimeout(async () => {
      try {
        const b = await kboss("GET", "cpcwidget/accrual_price", {
          cpcid, resources, duration, duration_unit: unit,
        });
        if (mine !== seq.current) return;
        setAnswer(b.data);
        setError(null);
      } catch (e) {
        if (mine !== seq.current) return;
        setAnswer(null);
        setError(e);
      } finally {
        if (mine === seq.current) setBusy(false);
      }
    }, 120);
    return () => clearTimeout(timer);
  }, [cpcid, ask, engineTick]);
  return html`<section class="card" aria-labelledby="quote-title">
    <h2 id="quote-title">${t("quote")}</h2>
    <p class="help">${t("quoteHelp")}</p>
    <div class="grid">
      ${lines.map((l, i) => html`<div class="field">
        <label for=${`amount-${i}`}>${l.type} · ${l.model} (${l.type === "memory" ? "Mi" : l.resource_unit})</label>
        <input id=${`amount-${i}`} type="number" min="0" inputmode="decimal" data-type=${l.type}
          data-model=${l.model} value=${amounts[l.key] ?? ""}
          onInput=${(e) => setAmounts({ ...amounts, [l.key]: e.currentTarget.value })} />
      </div>`)}
      <div class="field">
        <label for="quote-duration">${t("duration")}</label>
        <input id="quote-duration" type="number" min="1" value=${duration}
          onInput=${(e) => setDuration(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="quote-unit">${t("durationUnit")}</label>
        <select id="quote-unit" value=${unit} onChange=${(e) => setUnit(e.currentTarget.value)}>
          ${UNITS.map((u) => html`<option value=${u}>${t(UNIT_WORD[u])}</option>`)}
        </select>
      </div>
    </div>
    <${ErrorBox} error=${error} />
    <div aria-live="polite">
      ${answer
        ? html`<table class="quote" data-testid="quote">
            <caption>${t("quote")}</caption>
            <thead><tr>
              <th scope="col">${t("item")}</th><th scope="col">${t("amount")}</th>
              <th scope="col">${t("unitPrice")}</th><th scope="col">${t("duration")}</th>
              <th scope="col">${t("subtotal")}</th>
            </tr></thead>
            <tbody>
              ${(answer.price_details ?? []).map((d) => html`<tr>
                <td>${d.resource_name}</td><td>${d.amount} ${d.resource_unit}</td>
                <td>${d.unit_price}</td><td>${d.duration} ${d.duration_unit}</td>
                <td class="num">${d.subtotal}</td>
              </tr>`)}
            </tbody>
            <tfoot><tr>
              <th scope="row" colspan="4">${t("totalPrice")}</th>
              <td class="num total" data-testid="quote-total">${answer.total_price} ${answer.currency ?? ""}</td>
            </tr></tfoot>
          </table>`
        : html`<p class="help">${busy ? t("computing") : t("nothingToQuote")}</p>`}
    </div>
  </section>`;
}

export function Pricing({ cpcid, navigate }) {
  const [query, setQuery] = useState({ page: 1, rows: 80, sort: "type" });
  const [data, error] = useList(
    () => (cpcid ? kboss("GET", "cpcwidget/get_cpcwidget", { cpcid, ...query }).then((b) => b.data) : Promise.resolve({ total: 0, rows: [] })),
    [cpcid, query.page, query.rows, query.sort],
  );
  const columns = [
    { key: "type", label: t("type"), sort: true },
    { key: "model", label: t("model"), sort: true },
    { key: "unit_price", label: t("unitPrice"), sort: true },
    { key: "resource_unit", label: t("resourceUnit") },
    { key: "charge_unit", label: t("chargeUnit") },
    { key: "account_unit", label: t("accountUnit") },
    { key: "stock", label: t("stock") },
  ];
  return html`<section aria-labelledby="pricing-title">
    <div class="page-head">
      <h1 id="pricing-title">${t("pricing")}</h1>
      <${CenterPicker} cpcid=${cpcid} onPick=${(id) => navigate(`#/pricing/${encodeURIComponent(id)}`)} />
    </div>
    <${ErrorBox} error=${error} />
    ${cpcid && data?.rows?.length ? html`<${Calculator} key=${cpcid} cpcid=${cpcid} widgets=${data.rows} />` : null}
    ${cpcid
      ? html`<${Table} testid="widgets" caption=${t("widgets")} columns=${columns} data=${data}
          query=${query} onQuery=${setQuery} />`
      : null}
  </section>`;
}
