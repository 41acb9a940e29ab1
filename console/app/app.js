// The console's shell: sign-in, the header (user, language, sign-out), the
// navigation and the hash router (#/centers, #/devices/<cpcid>,
// #/pricing/<cpcid>, #/clusters/<cpcid>, #/operations[/<id>]; for
// operators #/plugins, #/keys, #/hostkeys, #/storage).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html, ErrorBox, Field } from "@console/ui";
import { currentSession, signIn, signOut, whenSignedOut } from "@console/api";
import { t, currentLang, setLang } from "@console/i18n";
import { Centers } from "@console/centers";
import { Devices } from "@console/devices";
import { Pricing } from "@console/pricing";
import { Plugins } from "@console/plugins";
import { Keys } from "@console/keys";
import { Clusters } from "@console/clusters";
import { Labels } from "@console/labels";
import { Operations } from "@console/operations";
import { HostKeys } from "@console/hostkeys";
import { Storage } from "@console/storage";

function LangSwitch({ onChange }) {
  return html`<button type="button" class="lang" lang=${currentLang() === "zh" ? "en" : "zh-CN"}
    title=${t("languageLabel")}
    onClick=${() => {
      setLang(currentLang() === "zh" ? "en" : "zh");
      onChange();
    }}>${t("language")}</button>`;
}

function SignIn({ onSignedIn, onLang }) {
  const [org, setOrg] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(org.trim(), name.trim(), password));
    } catch (err) {
      setError(err);
      setPassword("");
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form class="card" onSubmit=${submit} aria-labelledby="signin-title">
      <div class="page-head">
        <h1 id="signin-title">${t("title")}</h1>
        <${LangSwitch} onChange=${onLang} />
      </div>
      <${ErrorBox} error=${error} />
      <${Field} id="org" label=${t("org")} value=${org} onInput=${setOrg} autocomplete="organization" required />
      <${Field} id="name" label=${t("user")} value=${name} onInput=${setName} autocomplete="username" required />
      <${Field} id="password" label=${t("password")} type="password" value=${password}
        onInput=${setPassword} autocomplete="current-password" required />
      <button type="submit" class="primary" disabled=${busy}>${busy ? t("signingIn") : t("signIn")}</button>
    </form>
  </main>`;
}

function route(hash) {
  const [page, arg] = hash.replace(/^#\/?/, "").split("/");
  return { page: page || "centers", arg: arg ? decodeURIComponent(arg) : undefined };
}

function Shell({ session, onSignOut, onLang }) {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const f = () => setHash(location.hash);
    addEventListener("hashchange", f);
    return () => removeEventListener("hashchange", f);
  }, []);
  const navigate = (h) => {
    if (location.hash !== h) location.hash = h;
  };
  const { page, arg } = route(hash);
  const links = [
    ["centers", t("centers")],
    ["devices", t("devices")],
    ["pricing", t("pricing")],
    ["clusters", t("clusters")],
    ["labels", t("labels")],
    ["operations", t("operations")],
    ...(session.admin
      ? [["plugins", t("plugins")], ["keys", t("apiKeys")], ["hostkeys", t("hostKeys")], ["storage", t("storage")]]
      : []),
  ];
  return html`<div class="shell">
    <header class="top">
      <a class="brand" href="#/centers">${t("title")}</a>
      <span class="who" data-testid="who">${session.name} @ ${session.org}${session.admin ? ` (${t("operator")})` : ""}</span>
      <${LangSwitch} onChange=${onLang} />
      <button type="button" onClick=${onSignOut}>${t("signOut")}</button>
    </header>
    <nav class="side" aria-label=${t("nav")}>
      <ul>
        ${links.map(([p, label]) => html`<li><a href=${`#/${p}`} aria-current=${page === p ? "page" : undefined}>${label}</a></li>`)}
      </ul>
    </nav>
    <main class="content">
      ${page === "devices"
        ? html`<${Devices} cpcid=${arg} navigate=${navigate} />`
        : page === "pricing"
          ? html`<${Pricing} cpcid=${arg} navigate=${navigate} />`
          : page === "clusters"
            ? html`<${Clusters} cpcid=${arg} navigate=${navigate} />`
          : page === "labels"
            ? html`<${Labels} />`
          : page === "operations"
            ? html`<${Operations} id=${arg} navigate=${navigate} />`
          : page === "hostkeys" && session.admin
            ? html`<${HostKeys} />`
          : page === "storage" && session.admin
            ? html`<${Storage} />`
          : page === "plugins" && session.admin
            ? html`<${Plugins} />`
            : page === "keys" && session.admin
              ? html`<${Keys} />`
              : html`<${Centers} navigate=${navigate} />`}
    </main>
  </div>`;
}

// Asked as the module runs, not after the first paint (when effects run):
// the sign-in page or the console shows as soon as the answer is in.
const firstSession = currentSession();
// Handled once the app mounts; never reported as unhandled before that.
firstSession.catch(() => {});

function App() {
  const [session, setSession] = useState(undefined);
  const [error, setError] = useState(null);
  const [, setLangTick] = useState(0);
  const relang = () => setLangTick((n) => n + 1);
  useEffect(() => {
    whenSignedOut(() => setSession(null));
    firstSession.then(setSession).catch((e) => {
      setError(e);
      setSession(null);
    });
  }, []);
  if (session === undefined) return html`<p class="boot">${t("loading")}</p>`;
  if (session === null) {
    return html`<${ErrorBox} error=${error} /><${SignIn} onSignedIn=${setSession} onLang=${relang} />`;
  }
  return html`<${Shell} session=${session} onLang=${relang}
    onSignOut=${async () => {
      await signOut();
      setSession(null);
    }} />`;
}

render(html`<${App} />`, document.getElementById("app"));
