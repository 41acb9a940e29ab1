// What every step of tests/console/browser.mjs uses: the environment it is
// given, the browser, one line per step, screenshots, axe-core and sign-in.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
export const base = env("CONSOLE_BASE");
const shots = env("SCREENSHOTS");
const require = createRequire(join(env("E2E_MODULES"), "noop.js"));
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
mkdirSync(shots, { recursive: true });

export const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

export const step = (name) => console.log(`step: ${name}`);
/**
 * A screenshot of the whole page. One that does not come within 15 s (a page
 * that re-renders live, fonts that never settle on a loaded machine) is
 * taken again of the viewport alone, and said so; only a second failure fails.
 */
export async function shot(page, name) {
  const path = join(shots, `${name}.png`);
  try {
    await page.screenshot({ path, fullPage: true, animations: "disabled", timeout: 15000 });
  } catch (e) {
    console.log(`screenshot ${name}: the whole page did not come (${String(e.message).split("\n")[0]}); the viewport instead`);
    await page.screenshot({ path, animations: "disabled", caret: "initial", timeout: 30000 });
  }
}

/** axe-core on the page as it is: no serious or critical violations. */
export async function accessible(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ["violations"] }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const found = bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  assert.deepEqual(found, [], `axe on ${name}: ${found.join("; ")}`);
  console.log(`axe ${name}: ${result.violations.length} violations, none serious`);
}

export async function signIn(page, org, name, password) {
  await page.getByLabel("组织").fill(org);
  await page.getByLabel("用户名").fill(name);
  await page.getByLabel("密码").fill(password);
  await page.getByRole("button", { name: "登录", exact: true }).click();
}
