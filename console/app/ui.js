// Shared pieces: a server-paged, server-sorted table (the documented page,
// rows and sort parameters), an error box that shows the API's own words,
// a labelled field, a hook that loads a kboss list, and the operator pages'
// organisation filter and table rows.
import { h } from "preact";
import { useEffect, useState, useCallback } from "preact/hooks";
import htm from "htm";
import { t } from "@console/i18n";

export const html = htm.bind(h);

/** The API's message (and detail), as it worded them. */
export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${t("error")}:</strong> <span class="msg">${error.message}</span>
    ${error.detail ? html`<div class="detail">${error.detail}</div>` : null}
  </div>`;
}

/** A labelled input; extra props go to the input. */
export function Field({ id, label, value, onInput, type = "text", ...rest }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} name=${id} type=${type} value=${value}
      onInput=${(e) => onInput(e.currentTarget.value)} ...${rest} />
  </div>`;
}

/** Parse `field` / `field desc` into [field, desc]. */
function sortOf(sort) {
  if (!sort) return [null, false];
  const [f, dir] = sort.split(/\s+/);
  return f.startsWith("-") ? [f.slice(1), true] : [f, dir === "desc"];
}

/**
 * A table over one page of `{total, rows}`; `query` is `{page, rows,
 * sort}`, `onQuery` asks for another page or order (the server sorts).
 */
export function Table({ caption, columns, data, query, onQuery, testid }) {
  const [sortField, desc] = sortOf(query.sort);
  const total = data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / query.rows));
  const sortBy = (key) => {
    const next = sortField === key && !desc ? `${key} desc` : key;
    onQuery({ ...query, sort: next, page: 1 });
  };
  return html`<div class="table-wrap">
    <table data-testid=${testid}>
      <caption>${caption}</caption>
      <thead><tr>
        ${columns.map((c) => {
          const active = sortField === c.key;
          const ariaSort = active ? (desc ? "descending" : "ascending") : undefined;
          return html`<th scope="col" aria-sort=${ariaSort}>
            ${c.sort
              ? html`<button type="button" class="sort" title=${t("sortBy")}
                  onClick=${() => sortBy(c.key)}>${c.label}${active ? (desc ? " ▼" : " ▲") : ""}</button>`
              : c.label}
          </th>`;
        })}
      </tr></thead>
      <tbody>
        ${data === null
          ? html`<tr><td colspan=${columns.length}>${t("loading")}</td></tr>`
          : data.rows.length === 0
            ? html`<tr><td colspan=${columns.length}>${t("empty")}</td></tr>`
            : data.rows.map(
                (r) => html`<tr key=${r.id}>
                  ${columns.map((c) => html`<td>${c.render ? c.render(r) : String(r[c.key] ?? "")}</td>`)}
                </tr>`,
              )}
      </tbody>
    </table>
    <nav class="pager" aria-label=${caption}>
      <span>${t("total", { n: total })}</span>
      <button type="button" disabled=${query.page <= 1}
        onClick=${() => onQuery({ ...query, page: query.page - 1 })}>${t("prev")}</button>
      <span>${t("page", { p: query.page, n: pages })}</span>
      <button type="button" disabled=${query.page >= pages}
        onClick=${() => onQuery({ ...query, page: query.page + 1 })}>${t("next")}</button>
      <label>${t("rowsPerPage")}
        <select value=${query.rows}
          onChange=${(e) => onQuery({ ...query, rows: Number(e.currentTarget.value), page: 1 })}>
          ${[10, 20, 50, 80].map((n) => html`<option value=${n}>${n}</option>`)}
        </select>
      </label>
    </nav>
  </div>`;
}

/**
 * Load a kboss list with `params` and the paging `query`; `reload()` asks
 * again. Returns [data, error, reload].
 */
export function useList(load, deps) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    load()
      .then((d) => live && setData(d))
      .catch((e) => {
        if (!live) return;
        setError(e);
        setData({ total: 0, rows: [] });
      });
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return [data, error, reload];
}

/**
 * The operator pages' filter on one organisation: `onApply` gets the
 * trimmed text on submit (empty: every organisation); `children` follow
 * the button.
 */
export function OrgFilter({ id, onApply, children }) {
  const [org, setOrg] = useState("");
  return html`<form class="filters" onSubmit=${(e) => {
    e.preventDefault();
    onApply(org.trim());
  }}>
    <div class="field inline">
      <label for=${id}>${t("org")}</label>
      <input id=${id} value=${org} placeholder=${t("all")} onInput=${(e) => setOrg(e.currentTarget.value)} />
    </div>
    <button type="submit">${t("filter")}</button>
    ${children}
  </form>`;
}

/** A table's rows: loading while `data` is null, one "empty" row for an
 * empty `list`, else `row` of each item; `cols` columns wide. */
export function Rows({ data, list, cols, row }) {
  if (data === null) return html`<tr><td colspan=${cols}>${t("loading")}</td></tr>`;
  if (list.length === 0) return html`<tr><td colspan=${cols}>${t("empty")}</td></tr>`;
  return list.map(row);
}
