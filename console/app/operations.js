// Long operations (cluster provisioning and the like): the organisation's
// operations (GET /operations, paged, sorted and filtered by the server) and
// one operation followed live (GET /operations/{id} for what it is, then its
// server-sent events, GET /operations/{id}/events, through an EventSource
// with the session cookie: phases as they start and end, each phase's
// output tail, the outcome). The stream replays every event from the
// first, so the view is built from the events alone; a dropped connection
// resumes after the last event seen (Last-Event-ID, sent by the browser).
import { useEffect, useState } from "preact/hooks";
import { html, ErrorBox, Table, useList } from "@console/ui";
import { operations, ApiError } from "@console/api";
import { t } from "@console/i18n";

/** Bytes of output kept per phase, as the server keeps. */
const TAIL = 8192;
/** How often the list asks again while an operation runs. */
const LIST_REFRESH_MS = 3000;
const STATUSES = ["running", "succeeded", "failed", "interrupted"];

export function StatusBadge({ status }) {
  return html`<span class=${`badge op-${status}`} data-status=${status}>${t(`op_${status}`)}</span>`;
}

function OperationList({ navigate }) {
  const [query, setQuery] = useState({ page: 1, rows: 10, sort: "created_at desc" });
  const [status, setStatus] = useState("");
  const [data, error, reload] = useList(
    () => operations("", { ...query, status }),
    [query.page, query.rows, query.sort, status],
  );
  // While anything runs, the list follows it.
  const running = (data?.rows ?? []).some((r) => r.status === "running");
  useEffect(() => {
    if (!running) return undefined;
    const timer = setTimeout(reload, LIST_REFRESH_MS);
    return () => clearTimeout(timer);
  }, [data, running]);
  const columns = [
    { key: "id", label: t("operation"),
      render: (r) => html`<a href=${`#/operations/${encodeURIComponent(r.id)}`} data-op=${r.id}>${r.id}</a>` },
    { key: "kind", label: t("kind"), sort: true },
    { key: "target", label: t("target"), sort: true },
    { key: "status", label: t("status"), sort: true, render: (r) => html`<${StatusBadge} status=${r.status} />` },
    { key: "progress", label: t("progress"),
      render: (r) => `${r.phases_done}/${r.phases}${r.current_phase ? ` · ${r.current_phase}` : ""}` },
    { key: "created_at", label: t("createdAt"), sort: true },
    { key: "updated_at", label: t("updatedAt"), sort: true },
  ];
  return html`<section aria-labelledby="ops-title">
    <div class="page-head">
      <h1 id="ops-title">${t("operations")}</h1>
      <div class="field inline">
        <label for="ops-status">${t("status")}</label>
        <select id="ops-status" value=${status} onChange=${(e) => {
          setStatus(e.currentTarget.value);
          setQuery({ ...query, page: 1 });
        }}>
          <option value="">${t("all")}</option>
          ${STATUSES.map((s) => html`<option value=${s}>${t(`op_${s}`)}</option>`)}
        </select>
      </div>
      <button type="button" onClick=${reload}>${t("refresh")}</button>
    </div>
    <p class="help">${t("operationsHelp")}</p>
    <${ErrorBox} error=${error} />
    <${Table} testid="operations" caption=${t("operations")} columns=${columns} data=${data}
      query=${query} onQuery=${setQuery} />
  </section>`;
}

/** The view after one more event. */
function step(state, event, payload) {
  const d = payload?.data ?? {};
  const phases = state.phases.map((p) => ({ ...p }));
  const phase = (name) => {
    let p = phases.find((x) => x.name === name);
    if (!p) {
      p = { name, status: "pending", message: "", output: "" };
      phases.push(p);
    }
    return p;
  };
  const next = { ...state, phases, seen: state.seen + 1, at: payload?.at ?? state.at };
  if (event === "started") {
    for (const name of d.phases ?? []) phase(name);
  } else if (event === "phase") {
    const p = phase(d.phase);
    p.status = d.status;
    if (d.message) p.message = d.message;
  } else if (event === "output") {
    const p = phase(d.phase);
    const joined = p.output && !p.output.endsWith("\n") ? `${p.output}\n${d.text}` : `${p.output}${d.text}`;
    p.output = joined.slice(-TAIL);
  } else if (event === "finished") {
    next.status = d.status;
    next.error = d.error ?? null;
  }
  return next;
}

function OperationView({ id }) {
  const [op, setOp] = useState(null);
  const [error, setError] = useState(null);
  const [view, setView] = useState({ status: "running", phases: [], seen: 0, at: null, error: null });
  const [link, setLink] = useState("connecting");
  useEffect(() => {
    let live = true;
    operations(`/${encodeURIComponent(id)}`)
      .then((o) => live && setOp(o))
      .catch((e) => live && setError(e));
    const source = new EventSource(`/operations/${encodeURIComponent(id)}/events`, { withCredentials: true });
    const on = (name) => source.addEventListener(name, (e) => {
      let payload = null;
      try {
        payload = JSON.parse(e.data);
      } catch {
        return;
      }
      setView((s) => step(s, name, payload));
      // The stream ends with the operation: do not reconnect; its result
      // is read once.
      if (name === "finished") {
        source.close();
        setLink("ended");
        operations(`/${encodeURIComponent(id)}`)
          .then((o) => live && setOp(o))
          .catch((e) => live && setError(e));
      }
    });
    ["started", "phase", "output", "finished"].forEach(on);
    source.onopen = () => setLink("open");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setLink((l) => (l === "ended" ? l : "closed"));
      } else {
        setLink("reconnecting");
      }
    };
    return () => {
      live = false;
      source.close();
    };
  }, [id]);
  const current = view.phases.find((p) => p.status === "running");
  return html`<section aria-labelledby="op-title">
    <div class="page-head">
      <h1 id="op-title">${t("operation")} <code>${id}</code></h1>
      <a href="#/operations">${t("backToOperations")}</a>
    </div>
    <${ErrorBox} error=${error} />
    ${op
      ? html`<dl class="facts">
          <dt>${t("kind")}</dt><dd>${op.kind}</dd>
          <dt>${t("target")}</dt><dd>${op.target}</dd>
          <dt>${t("plugin")}</dt><dd>${op.plugin}</dd>
          <dt>${t("createdAt")}</dt><dd>${op.created_at}</dd>
        </dl>`
      : null}
    <p class="live" aria-live="polite" data-testid="op-live">
      <${StatusBadge} status=${view.status} />
      ${current ? html` ${t("phaseNow")}: <strong>${current.name}</strong>` : null}
      <span class="help"> · ${t(`link_${link}`)} · ${t("eventsSeen", { n: view.seen })}${view.at ? ` · ${view.at}` : ""}</span>
    </p>
    ${view.error ? html`<${ErrorBox} error=${new ApiError(view.error, 0)} />` : null}
    ${op?.result != null
      ? html`<details data-testid="op-result"><summary>${t("result")}</summary>
          <pre tabindex="0" aria-label=${t("result")}>${JSON.stringify(op.result, null, 2)}</pre></details>`
      : null}
    <ol class="phases" data-testid="phases">
      ${view.phases.map((p) => html`<li key=${p.name} data-phase=${p.name} data-status=${p.status}>
        <span class="phase-name">${p.name}</span> <${StatusBadge} status=${p.status} />
        ${p.message ? html` <span class="help">${p.message}</span>` : null}
        ${p.output
          ? html`<details open=${p.status === "running"}>
              <summary>${t("outputTail")}</summary>
              <pre tabindex="0" aria-label=${`${p.name} ${t("outputTail")}`}>${p.output}</pre>
            </details>`
          : null}
      </li>`)}
    </ol>
  </section>`;
}

export function Operations({ id, navigate }) {
  return id ? html`<${OperationView} key=${id} id=${id} />` : html`<${OperationList} navigate=${navigate} />`;
}
