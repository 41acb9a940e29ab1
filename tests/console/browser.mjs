// The console in real headless Chromium (Debian's), driven by playwright-core
// against the real binary in demo mode (started by tests/e2e/console.rs).
//
// Environment: CONSOLE_BASE (http://127.0.0.1:port), DEMO_PASSWORD,
// OTHER_ORG / OTHER_NAME / OTHER_PASSWORD (a tenant of another
// organisation), CPCID (the demo's compute center), VOLUME_DISCOUNT_WASM
// (examples/volume-discount's component), HELLO_WASM (examples/hello-plugin's),
// BASIC (the demo organisation's Basic key), MACHINE_PORT / MACHINE_USER /
// MACHINE_PASSWORD (a simulated machine's sshd to install a cluster master
// on: the long operation), SCREENSHOTS (a dir),
// E2E_MODULES (the node_modules holding playwright-core and axe-core),
// CHROMIUM (the browser). Prints one line per step; exits 1 on failure.
import assert from "node:assert/strict";
import { accessible, base, browser, env, shot, signIn, step } from "./lib.mjs";

let opId = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const outside = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base)) outside.push(r.url());
  });

  step("the sign-in page loads, in Chinese");
  const started = Date.now();
  await page.goto(`${base}/console/`);
  await page.getByRole("button", { name: "登录", exact: true }).waitFor();
  const loadMs = Date.now() - started;
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0];
    return {
      response: Math.round(n.responseEnd),
      dom: Math.round(n.domContentLoadedEventEnd),
      now: Math.round(performance.now()),
    };
  });
  // From the test's goto (a new tab's start included), and from the
  // navigation's own start (the browser's clock).
  console.log(
    `first page usable in ${loadMs} ms; by the page's clock: answered at ${nav.response} ms, ` +
      `modules run by ${nav.dom} ms, sign-in usable by ${nav.now} ms`,
  );
  // A figure, not a timed assertion: a loaded machine may take longer.
  assert.equal(await page.evaluate(() => document.documentElement.lang), "zh-CN");
  await accessible(page, "sign-in");
  await shot(page, "01-sign-in");
  // Again, with the hashed files cached (immutable): only the page is asked.
  const reloaded = Date.now();
  await page.reload();
  await page.getByRole("button", { name: "登录", exact: true }).waitFor();
  console.log(`page usable again in ${Date.now() - reloaded} ms (files cached by content hash)`);

  step("a wrong password is refused with the server's words");
  await signIn(page, "demo", "demo", "not-the-password");
  await page.getByRole("alert").filter({ hasText: "wrong organisation, user name or password" }).waitFor();
  assert.equal(await page.getByLabel("密码").inputValue(), "");
  await shot(page, "02-sign-in-refused");

  step("the demo user signs in with the keyboard alone and sees the organisation's centers");
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  for (let i = 0; i < 6 && (await page.evaluate(() => document.activeElement?.id)) !== "org"; i++) {
    await page.keyboard.press("Tab");
  }
  assert.equal(await page.evaluate(() => document.activeElement?.id), "org", "Tab reaches the organisation field");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("demo");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("demo");
  await page.keyboard.press("Tab");
  await page.keyboard.type(env("DEMO_PASSWORD"));
  await page.keyboard.press("Enter");
  await page.getByTestId("who").filter({ hasText: "demo @ demo" }).waitFor();
  const centers = page.getByTestId("centers");
  await centers.locator("tbody tr a").first().waitFor();
  const demoCenter = (await centers.locator("tbody tr a").first().textContent()).trim();
  await accessible(page, "centers");
  await shot(page, "03-centers");

  step("a new center is created and listed");
  await page.getByRole("button", { name: "新建算力中心" }).click();
  await page.getByLabel("名称").fill("浦东 E2E 中心");
  await page.getByLabel("算力中心API总址").fill("https://pcapi.pudong.example");
  await page.getByLabel("接口账号").fill("ops");
  await page.getByLabel("接口密码").fill("s3cret-pass");
  await page.getByLabel("联系人").fill("王工");
  await page.getByLabel("手机号").fill("13800000000");
  await accessible(page, "new center form");
  await page.getByRole("button", { name: "保存" }).click();
  await page.getByRole("status").filter({ hasText: "浦东 E2E 中心" }).waitFor();
  await centers.getByRole("link", { name: "浦东 E2E 中心" }).waitFor();
  await shot(page, "04-center-created");

  step("the table sorts on the server: by name, then by name descending");
  const firstName = () => centers.locator("tbody tr a").first().textContent();
  assert.equal(await firstName(), "浦东 E2E 中心"); // 浦 (U+6D66) before 首 (U+9996)
  await centers.getByRole("button", { name: "名称" }).click();
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="centers"] th[aria-sort="descending"]'),
  );
  await page.waitForFunction(
    (name) => document.querySelector('[data-testid="centers"] tbody tr a')?.textContent === name,
    demoCenter,
  );
  await shot(page, "04b-centers-sorted-desc");

  step("a center's devices show idle and occupied, and the idle filter");
  await centers.getByRole("link", { name: demoCenter }).click();
  const devices = page.getByTestId("devices");
  await devices.locator("tbody tr .badge").first().waitFor();
  const states = await devices.locator("tbody .badge").allTextContents();
  assert.ok(states.includes("空闲") && states.includes("占用"), `states: ${states}`);
  await accessible(page, "devices");
  await shot(page, "05-devices");
  await page.getByLabel("仅空闲").check();
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('[data-testid="devices"] tbody .badge')];
    return b.length > 0 && b.every((x) => x.textContent === "空闲");
  });
  await shot(page, "06-devices-idle");
  await page.getByLabel("仅占用").check();
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('[data-testid="devices"] tbody .badge')];
    return b.length > 0 && b.every((x) => x.textContent === "占用");
  });
  await accessible(page, "devices, occupied only");
  await shot(page, "06a-devices-occupied");

  step("a device is added to the center and listed, idle");
  await page.getByLabel("全部").check();
  await page.getByRole("button", { name: "添加算力设备" }).click();
  await page.getByLabel("名称").fill("e2e-gpu-01");
  await page.getByLabel("IP地址").fill("10.9.8.7");
  await page.getByLabel("管理密码").fill("machine-pass");
  await page.getByLabel("GPU型号").fill("RTX5090-32G");
  await page.getByLabel("GPU (卡)").fill("8");
  await accessible(page, "new device form");
  await page.getByRole("button", { name: "保存" }).click();
  await page.getByRole("status").filter({ hasText: "e2e-gpu-01" }).waitFor();
  await page.getByLabel("每页行数").selectOption("80");
  const added = devices.locator("tbody tr", { hasText: "e2e-gpu-01" });
  await added.waitFor();
  assert.equal(await added.locator(".badge").textContent(), "空闲");
  assert.match(await added.textContent(), /10\.9\.8\.7/);
  await shot(page, "06b-device-added");

  step("the quote calculator reads 64.08 for the document's accrual example");
  const cpcid = env("CPCID");
  await page.goto(`${base}/console/#/pricing/${encodeURIComponent(cpcid)}`);
  const amount = (type, model) => page.locator(`input[data-type="${type}"][data-model="${model}"]`);
  await amount("cpu", "INTEL(R) XEON(R) PLATINUM 8582C").fill("4");
  await amount("memory", "Samsung DDR4 DIMMs").fill("8192");
  await amount("disk", "DATA").fill("512");
  await amount("gpu", "RTX5090-32G").pressSequentially("2");
  await page.getByTestId("quote-total").filter({ hasText: "64.08" }).waitFor();
  // The priced components with their stock: GPUs per model.
  const gpuRow = page.getByTestId("widgets").locator("tbody tr", { hasText: "RTX5090-32G" });
  const gpuStock = Number((await gpuRow.locator("td").last().textContent()).trim());
  assert.ok(gpuStock > 0, `RTX5090-32G stock: ${gpuStock}`);
  console.log(`GPU stock, RTX5090-32G: ${gpuStock}`);
  const items = await page.getByTestId("quote").locator("tbody tr").count();
  assert.equal(items, 4);
  assert.match(await page.getByTestId("quote-total").textContent(), /64\.08\s*元/);
  await accessible(page, "pricing");
  await shot(page, "07-quote-64.08");

  step("the total follows as the user types (two hours double it)");
  await page.getByLabel("使用时长").fill("2");
  await page.getByTestId("quote-total").filter({ hasText: "128.16" }).waitFor();

  step("an error is shown as the API words it");
  await amount("gpu", "RTX5090-32G").fill("-1");
  const apiError = page.getByRole("alert");
  await apiError.waitFor();
  console.log(`API error shown: ${(await apiError.textContent()).trim()}`);
  await shot(page, "08-quote-error");

  step("English on request");
  await page.getByRole("button", { name: "English" }).first().click();
  await page.getByRole("heading", { name: "Components & quotes" }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
  await shot(page, "09-english");
  await page.getByRole("button", { name: "中文" }).first().click();
  await page.getByRole("heading", { name: "部件与询价" }).waitFor();

  step("plugins: an operator swaps the pricing engine; an open quote follows without a reload");
  const quotePage = await context.newPage();
  quotePage.on("pageerror", (e) => errors.push(String(e)));
  await quotePage.goto(`${base}/console/#/pricing/${encodeURIComponent(cpcid)}`);
  const qAmount = (type, model) => quotePage.locator(`input[data-type="${type}"][data-model="${model}"]`);
  await qAmount("cpu", "INTEL(R) XEON(R) PLATINUM 8582C").fill("4");
  await qAmount("memory", "Samsung DDR4 DIMMs").fill("8192");
  await qAmount("disk", "DATA").fill("512");
  await qAmount("gpu", "RTX5090-32G").fill("2");
  const quoteTotal = quotePage.getByTestId("quote-total");
  await quoteTotal.filter({ hasText: "64.08" }).waitFor();
  // A mark that a reload would wipe.
  await quotePage.evaluate(() => {
    window.__notReloaded = true;
  });
  await page.getByRole("link", { name: "插件" }).click();
  const plugins = page.getByTestId("plugins");
  const pricingRow = plugins.locator('tr[data-plugin="pricing"]');
  await pricingRow.waitFor();
  assert.match(await pricingRow.textContent(), /计价引擎/);
  const versionBefore = (await pricingRow.locator(".version").textContent()).trim();
  // The engine's instances as the admin API counts them: the quotes above
  // ran on it, so it created at least one; the counters only grow, so what
  // the page shows is at most what the API answers afterwards.
  const figures = pricingRow.getByTestId("instance-figures");
  const onPage = await figures.evaluate((el) => ({
    created: Number(el.dataset.created),
    reused: Number(el.dataset.reused),
  }));
  const pluginList = await page.evaluate(() => fetch("/admin/plugins").then((r) => r.json()));
  const counted = pluginList.plugins.find((p) => p.id === "pricing").instances;
  assert.equal(counted.isolation, "organisation");
  assert.ok(onPage.created >= 1, `the quotes created an engine instance: ${JSON.stringify(onPage)}`);
  assert.ok(
    onPage.created <= counted.created && onPage.reused <= counted.reused,
    `the page shows the API's figures: ${JSON.stringify(onPage)} against ${JSON.stringify(counted)}`,
  );
  assert.match(await figures.textContent(), /已创建\s*\d+/);
  assert.match(await pricingRow.locator("td.instances").textContent(), /按组织/);
  console.log(`pricing engine instances: ${JSON.stringify(counted)}`);
  await accessible(page, "plugins");
  await shot(page, "12-plugins");
  await page.getByLabel("插件ID").fill("pricing");
  assert.equal(await page.getByLabel("角色").inputValue(), "pricing", "the active plugin's role is chosen");
  await page.getByRole("heading", { name: /当前版本的路由 · / }).waitFor();
  await page.getByLabel("组件文件 (wasm)").setInputFiles(env("VOLUME_DISCOUNT_WASM"));
  await accessible(page, "plugin upload form");
  // The dry run first: what would change, nothing stored or activated.
  await page.getByRole("button", { name: "检查变更" }).click();
  const checked = page.getByTestId("check-result");
  await checked.waitFor();
  assert.match(await checked.textContent(), /增加的路由 \(0\)/);
  assert.match(await checked.textContent(), /移除的路由 \(0\)/);
  // A pricing engine computes only: it imports no capability.
  assert.equal((await checked.getByTestId("check-grants").textContent()).trim(), "无");
  assert.equal((await pricingRow.locator(".version").textContent()).trim(), versionBefore, "the dry run activated nothing");
  await quoteTotal.filter({ hasText: "64.08" }).waitFor();
  await accessible(page, "plugin dry run");
  await page.getByRole("button", { name: "上传并启用" }).click();
  const result = page.getByTestId("upload-result");
  await result.filter({ hasText: "已启用" }).waitFor();
  assert.match(await result.textContent(), /增加的路由 \(0\)/);
  assert.match(await result.textContent(), /移除的路由 \(0\)/);
  await page.waitForFunction(
    (before) => document.querySelector('tr[data-plugin="pricing"] .version')?.textContent.trim() !== before,
    versionBefore,
  );
  console.log(`pricing: ${versionBefore} -> ${(await pricingRow.locator(".version").textContent()).trim()}`);
  await shot(page, "13-plugin-swapped");
  await quoteTotal.filter({ hasText: "58.784" }).waitFor();
  assert.ok(await quotePage.evaluate(() => window.__notReloaded === true), "the quote page was not reloaded");
  await shot(quotePage, "14-quote-volume-discount");

  step("plugins: roll back, and the open quote reads 64.08 again");
  await result.getByRole("button", { name: "回滚" }).click();
  await result.filter({ hasText: "已回滚到" }).waitFor();
  await quoteTotal.filter({ hasText: "64.08" }).waitFor();
  assert.ok(await quotePage.evaluate(() => window.__notReloaded === true), "the quote page was not reloaded");
  await page.waitForFunction(
    (before) => document.querySelector('tr[data-plugin="pricing"] .version')?.textContent.trim() === before,
    versionBefore,
  );
  await shot(page, "15-plugin-rolled-back");
  // A new endpoint plugin serving a route without authentication that its
  // grant does not name: refused, saying what to grant.
  await page.getByLabel("插件ID").fill("greeter");
  await page.getByLabel("角色").selectOption("endpoint");
  await page.getByLabel("组件文件 (wasm)").setInputFiles(env("HELLO_WASM"));
  await page.getByRole("button", { name: "检查变更" }).click();
  await page.getByRole("alert").filter({ hasText: "without authentication" })
    .filter({ hasText: "public-routes: /hello/{name}" }).waitFor();
  await shot(page, "12a-plugin-check-refused");
  // The same component as `hello`, whose grant names the route (the test's
  // setup): the routes it would add, before any upload.
  await page.getByLabel("插件ID").fill("hello");
  await page.getByRole("button", { name: "检查变更" }).click();
  await checked.waitFor();
  assert.deepEqual(await checked.getByTestId("check-added").locator("code").allTextContents(),
    ["GET /hello", "GET /hello/{name}"]);
  assert.deepEqual(await checked.getByTestId("check-public").locator("code").allTextContents(),
    ["/hello/{name}"]);
  assert.match(await checked.textContent(), /新插件/);
  assert.equal(await page.evaluate(() => fetch("/hello/world").then((r) => r.status)), 404, "nothing installed");
  await accessible(page, "plugin dry run, new routes");
  await shot(page, "12b-plugin-check");
  await page.getByRole("button", { name: "取消" }).click();
  await shot(quotePage, "16-quote-rolled-back");
  await quotePage.close();

  step("API keys: listed without secrets, one revoked");
  await page.getByRole("link", { name: "API密钥" }).click();
  const keys = page.getByTestId("keys");
  await keys.locator("tbody tr[data-key]").first().waitFor();
  await page.getByLabel("组织", { exact: true }).fill("demo");
  await page.getByRole("button", { name: "筛选" }).click();
  const firstKey = keys.locator("tbody tr[data-key]").first();
  const keyId = await firstKey.getAttribute("data-key");
  assert.match(await firstKey.textContent(), /有效/);
  await accessible(page, "api keys");
  await shot(page, "17-keys");
  page.once("dialog", (d) => d.accept());
  await firstKey.getByRole("button", { name: `吊销 ${keyId}` }).click();
  await page.getByRole("status").filter({ hasText: keyId }).waitFor();
  await keys.locator(`tr[data-key="${keyId}"]`).waitFor({ state: "detached" });
  await page.getByLabel("显示已吊销").check();
  await keys.locator(`tr[data-key="${keyId}"]`).filter({ hasText: "已吊销" }).waitFor();
  await shot(page, "18-key-revoked");
  const listed = await page.evaluate(() => fetch("/admin/keys?org=demo").then((r) => r.json()));
  assert.ok(listed.keys.find((k) => k.id === keyId).revoked_at, JSON.stringify(listed));
  assert.ok(!JSON.stringify(listed).includes("secret"), "no secrets listed");
  // A new key: its credential shown once, and it is listed (never its secret).
  await page.getByLabel("所属组织").fill("demo");
  await page.getByLabel("认证方式").selectOption("bearer");
  await page.getByRole("button", { name: "新建", exact: true }).click();
  const shown = await page.getByTestId("new-credential").locator("code").textContent();
  assert.match(shown, /^chk\.[A-Za-z0-9]+\./, `credential: ${shown}`);
  const newId = shown.split(".")[1];
  await keys.locator(`tr[data-key="${newId}"]`).waitFor();
  const again = await page.evaluate(() => fetch("/admin/keys?org=demo").then((r) => r.text()));
  assert.ok(!again.includes(shown.split(".")[2]), "the new key's secret is not listed");
  await accessible(page, "api keys, a key created");

  step("the demo cluster's board: four nodes with usage bars, pods, refreshed live");
  await page.getByRole("link", { name: "集群看板" }).click();
  await page.getByLabel("算力中心").selectOption({ label: demoCenter });
  const nodes = page.getByTestId("nodes");
  await nodes.locator("tbody tr[data-node]").nth(3).waitFor();
  assert.equal(await nodes.locator("tbody tr[data-node]").count(), 4);
  const gpus = await nodes.locator('[data-testid="gpu"] [role="meter"]').evaluateAll((m) =>
    m.map((x) => x.getAttribute("aria-valuetext")),
  );
  assert.equal(gpus.length, 4, `GPU bars: ${gpus}`);
  assert.ok(gpus.every((g) => /^\d+(\.\d)?%$/.test(g)), `GPU usage: ${gpus}`);
  const gpuTotal = await nodes.locator("tbody tr[data-node] td:last-child").allTextContents();
  assert.ok(gpuTotal.some((n) => Number(n) > 0), `available GPUs: ${gpuTotal}`);
  console.log(`nodes' GPU allocation: ${gpus.join(", ")}; available GPUs: ${gpuTotal.join(", ")}`);
  await page.getByTestId("pods").locator("tbody tr").first().waitFor();
  const firstUpdate = await page.getByTestId("board-updated").textContent();
  await page.waitForFunction(
    (before) => document.querySelector('[data-testid="board-updated"]')?.textContent !== before,
    firstUpdate,
    { timeout: 10000 },
  );
  await accessible(page, "cluster board");
  await shot(page, "19-cluster-board");

  step("labels: a node label is added and listed, bound to a live node and unbound on the board");
  await page.getByRole("link", { name: "资源标签" }).click();
  await page.getByLabel("名称", { exact: true }).fill("GPU 就绪");
  await page.getByLabel("标签属性", { exact: true }).fill("kyy-gpu-ready");
  await page.getByLabel("标签属性值", { exact: true }).fill("true");
  await page.getByRole("button", { name: "保存" }).click();
  await page.getByTestId("labels").getByText("GPU 就绪").waitFor();
  await accessible(page, "labels");
  await shot(page, "20-labels");
  await page.getByRole("link", { name: "集群看板" }).click();
  await page.getByLabel("算力中心").selectOption({ label: demoCenter });
  await page.getByLabel("标签", { exact: true }).selectOption({ label: "GPU 就绪 (kyy-gpu-ready=true)" });
  await page.getByLabel("节点", { exact: true }).selectOption("worker-1");
  // The console's request and the API's own answer, for bind and unbind.
  const setup = async (button) => {
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/cpclabel/setup_cpclabel")),
      page.getByRole("button", { name: button, exact: true }).click(),
    ]);
    const body = await resp.json();
    assert.equal(body.status, true, JSON.stringify(body));
    await page.getByTestId("bind-answer").waitFor();
    assert.match(await page.getByTestId("bind-answer").textContent(), /\(worker-1\)$/);
  };
  await setup("绑定");
  await accessible(page, "cluster board, label bound");
  await shot(page, "21-label-bound");
  await setup("解绑");

  step("resource instances: one is applied and its pod appears on the board, scaled to two, deleted");
  // Pods other than the demo's own training pods (namespace usr-demo).
  const instancePods = (n) =>
    page.waitForFunction(
      (want) =>
        [...document.querySelectorAll('[data-testid="pods"] tbody tr[data-pod]')].filter(
          (r) => r.children[0].textContent !== "usr-demo",
        ).length === want,
      n,
      { timeout: 30000 },
    );
  await page.getByLabel("实例名称").fill("e2e-web");
  await page.getByRole("button", { name: "创建并下发" }).click();
  await page.getByTestId("config-answer").waitFor();
  const configRow = page.getByTestId("config-list").locator('tr[data-config="e2e-web"]');
  await configRow.waitFor();
  await instancePods(1);
  await accessible(page, "cluster board, resource instance");
  await shot(page, "22-resource-instance");
  await page.getByRole("button", { name: "扩容 e2e-web" }).click();
  await configRow.getByTestId("replicas").filter({ hasText: "2" }).waitFor();
  await instancePods(2);
  // Its limits changed: the API's stored config reads them back.
  await page.getByRole("button", { name: "修改限制 e2e-web" }).click();
  await configRow.getByLabel("CPU 限制").fill("750m");
  await configRow.getByLabel("内存限制").fill("768Mi");
  await accessible(page, "cluster board, change limits");
  await configRow.getByRole("button", { name: "保存" }).click();
  await configRow.getByTestId("cpu-limit").filter({ hasText: "750m" }).waitFor();
  assert.equal(await configRow.getByTestId("mem-limit").textContent(), "768Mi");
  await shot(page, "22b-limits-changed");
  // Deleted: the cascade is followed until none of its pods is left.
  await page.getByRole("button", { name: "删除 e2e-web" }).click();
  await configRow.waitFor({ state: "detached" });
  const cascade = page.getByTestId("cascade");
  await cascade.waitFor();
  console.log(`cascade: ${(await cascade.textContent()).trim()}`);
  await page.locator('[data-testid="cascade"][data-done="yes"]').waitFor({ timeout: 30000 });
  console.log(`cascade: ${(await cascade.textContent()).trim()}`);
  await instancePods(0);
  await accessible(page, "cluster board, cascade");
  await shot(page, "22c-cascade-done");

  step("the buy page's capacity check: which products cannot be deployed, and why");
  await page.getByRole("button", { name: "检查", exact: true }).click();
  const buy = page.getByTestId("buy-result");
  await buy.waitFor();
  const huge = buy.locator('tr[data-product="huge"]');
  assert.match(await huge.textContent(), /不可部署/);
  assert.equal(await huge.getByTestId("reason").textContent(), "static");
  assert.match(await buy.locator('tr[data-product="gpu"]').textContent(), /可部署/);
  await accessible(page, "capacity check");
  await shot(page, "23-capacity-check");

  step("a long operation: listed by the server, its phases followed live over SSE");
  await page.getByRole("link", { name: "长时操作" }).click();
  const opsTable = page.getByTestId("operations");
  await opsTable.waitFor();
  await page.evaluate(() => {
    window.__notReloaded = true;
  });
  // Another client of the organisation starts it (pcapi, its Basic key, asynchronously).
  const start = await fetch(`${base}/pcapi/api/v1/cluster/common/new_cluster`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(env("BASIC")).toString("base64")}`,
      prefer: "respond-async",
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({
      host: "127.0.0.1", port: env("MACHINE_PORT"), user: env("MACHINE_USER"),
      psssword: env("MACHINE_PASSWORD"), role: "master",
    }),
  });
  const startBody = await start.json();
  assert.equal(start.status, 202, JSON.stringify(startBody));
  opId = startBody.data.operation_id;
  await page.getByRole("button", { name: "刷新" }).click();
  const opLink = opsTable.locator(`a[data-op="${opId}"]`);
  await opLink.waitFor();
  assert.match(await opsTable.locator("tbody tr", { has: page.locator(`a[data-op="${opId}"]`) }).textContent(), /进行中/);
  await accessible(page, "operations");
  await shot(page, "24-operations");
  await opLink.click();
  // Every phase change the page shows, in order, as it happens.
  await page.evaluate(() => {
    window.__seen = [];
    const record = () => {
      for (const li of document.querySelectorAll("[data-phase]")) {
        const s = `${li.dataset.phase}:${li.dataset.status}`;
        if (!window.__seen.includes(s)) window.__seen.push(s);
      }
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true });
    record();
  });
  await page.locator('[data-phase="init"][data-status="running"]').waitFor({ timeout: 30000 });
  assert.equal(await page.getByTestId("op-live").locator(".badge").first().getAttribute("data-status"), "running");
  await accessible(page, "operation, live");
  await shot(page, "25-operation-live");
  await page.locator('[data-testid="op-live"] [data-status="succeeded"]').waitFor({ timeout: 60000 });
  const seen = await page.evaluate(() => window.__seen);
  console.log(`phases seen live: ${seen.join(", ")}`);
  assert.ok(seen.indexOf("init:running") >= 0 && seen.indexOf("init:running") < seen.indexOf("init:succeeded"), seen.join());
  assert.ok(await page.evaluate(() => window.__notReloaded === true), "the operation page was not reloaded");
  const phaseStates = await page.locator("[data-phase]").evaluateAll((l) => l.map((x) => `${x.dataset.phase}:${x.dataset.status}`));
  assert.ok(phaseStates.includes("verify:succeeded"), phaseStates.join());
  assert.ok((await page.locator("[data-phase] pre").count()) > 0, "an output tail is shown");
  // Its result, read once the stream said it finished.
  await page.getByTestId("op-result").waitFor();
  await shot(page, "26-operation-done");
  // The list, filtered on the server, has it as succeeded.
  await page.getByRole("link", { name: "返回操作列表" }).click();
  const [filtered] = await Promise.all([
    page.waitForResponse((r) => r.url().includes("/operations?") && r.url().includes("status=succeeded")),
    page.getByLabel("状态").selectOption("succeeded"),
  ]);
  assert.equal((await filtered.json()).total, 1);
  await opsTable.locator(`a[data-op="${opId}"]`).waitFor();

  step("SSH host keys: the machine's key was pinned on first use; an operator forgets it");
  await page.getByRole("link", { name: "SSH主机密钥" }).click();
  const target = `127.0.0.1:${env("MACHINE_PORT")}`;
  const pin = page.getByTestId("host-keys").locator(`tr[data-target="${target}"]`);
  await pin.waitFor();
  assert.match(await pin.textContent(), /SHA256:/);
  await accessible(page, "host keys");
  await shot(page, "27-host-keys");
  page.once("dialog", (d) => d.accept());
  await pin.getByRole("button", { name: `忘记 ${target}` }).click();
  await page.getByRole("status").filter({ hasText: target }).waitFor();
  await pin.waitFor({ state: "detached" });
  const pins = await page.evaluate(() => fetch("/admin/ssh-host-keys?org=demo").then((r) => r.json()));
  assert.ok(!pins.host_keys.some((k) => k.target === target), JSON.stringify(pins));
  await shot(page, "28-host-key-forgotten");

  step("Storage: what each organisation stores; an operator gives one a quota of its own, then the default again");
  await page.getByRole("link", { name: "存储用量" }).click();
  const storage = page.getByTestId("storage");
  const demoRow = storage.locator('tr[data-org="demo"]');
  await demoRow.waitFor();
  assert.ok(Number(await demoRow.getAttribute("data-bytes")) > 0, "the demo organisation stores something");
  assert.equal(await demoRow.getAttribute("data-quota-set"), "no");
  await accessible(page, "storage");
  await shot(page, "30-storage");
  // An empty field is not a quota of 0: refused in the page, nothing sent.
  await demoRow.getByLabel("配额 (MiB) demo").fill("");
  await demoRow.getByRole("button", { name: "设置", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: "配额须为" }).waitFor();
  const untouched = await page.evaluate(() => fetch("/admin/storage/demo").then((r) => r.json()));
  assert.equal(untouched.quota_set, false, JSON.stringify(untouched));
  await demoRow.getByLabel("配额 (MiB) demo").fill("2048");
  await demoRow.getByRole("button", { name: "设置", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "配额已设置: demo 2 GiB" }).waitFor();
  await storage.locator('tr[data-org="demo"][data-quota-set="yes"]').waitFor();
  const own = await page.evaluate(() => fetch("/admin/storage/demo").then((r) => r.json()));
  assert.equal(own.quota_bytes, 2048 * 1048576, JSON.stringify(own));
  await shot(page, "31-storage-quota-set");
  await storage.locator('tr[data-org="demo"]').getByRole("button", { name: "恢复默认" }).click();
  await storage.locator('tr[data-org="demo"][data-quota-set="no"]').waitFor();
  const back = await page.evaluate(() => fetch("/admin/storage/demo").then((r) => r.json()));
  assert.equal(back.quota_set, false, JSON.stringify(back));

  step("English on every page");
  await page.getByRole("button", { name: "English" }).first().click();
  for (const [link, heading] of [
    ["Compute centers", "Compute centers"], ["Devices", "Devices"], ["Components & quotes", "Components & quotes"],
    ["Cluster board", "Cluster board"], ["Labels", "Labels"], ["Operations", "Operations"],
    ["Plugins", "Plugins"], ["API keys", "API keys"], ["SSH host keys", "SSH host keys"], ["Storage", "Storage"],
  ]) {
    await page.getByRole("link", { name: link, exact: true }).click();
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
    const chrome = await page.evaluate(() =>
      [...document.querySelectorAll("nav a, h1, h2, h3, thead th, label, legend, button:not(.lang), caption")]
        .map((e) => e.textContent).join(" "));
    // Data (center names, API answers) may be Chinese; the console's own words may not.
    const cjk = chrome.match(/[\u4e00-\u9fff]+/g)?.filter((w) => !/中心|设备|标签|就绪/.test(w)) ?? [];
    assert.deepEqual(cjk, [], `${link}: ${cjk.join(" ")}`);
  }
  await shot(page, "29-english-operations");
  await page.getByRole("button", { name: "中文" }).first().click();
  await page.getByRole("heading", { level: 1, name: "存储用量" }).waitFor();

  step("a state-changing call without the CSRF token is refused");
  const refused = await page.evaluate(async () => {
    const post = (headers) =>
      fetch("/dev/cpcc/cpclist/add_cpclist.dspy", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams({
          name: "CSRF 中心", pcapi_url: "https://x.example", api_user: "u",
          api_pwd: "p", contactname: "c", contactphone: "",
        }),
      }).then(async (r) => ({ status: r.status, body: await r.text() }));
    const none = await post({});
    const wrong = await post({ "x-csrf-token": "not-the-token" });
    const list = await fetch("/dev/cpcc/cpclist/get_cpclist.dspy?rows=80").then((r) => r.json());
    return { none, wrong, names: list.data.rows.map((r) => r.name) };
  });
  assert.equal(refused.none.status, 403, refused.none.body);
  assert.match(refused.none.body, /X-CSRF-Token/);
  assert.equal(refused.wrong.status, 403, refused.wrong.body);
  assert.ok(!refused.names.includes("CSRF 中心"), `created anyway: ${refused.names}`);
  // The operator's admin calls too: a key revocation without the token is refused, the key stays.
  const adminRefused = await page.evaluate(async () => {
    const keys = await fetch("/admin/keys?org=demo").then((r) => r.json());
    const live = keys.keys.find((k) => !k.revoked_at);
    const r = await fetch(`/admin/keys/${live.id}`, { method: "DELETE", credentials: "same-origin" });
    const after = await fetch("/admin/keys?org=demo").then((x) => x.json());
    return { status: r.status, stillActive: !after.keys.find((k) => k.id === live.id).revoked_at };
  });
  assert.equal(adminRefused.status, 401, JSON.stringify(adminRefused));
  assert.ok(adminRefused.stillActive, "the key was not revoked");
  console.log(`CSRF refusal: ${refused.none.body}`);

  step("sign out ends the session");
  await page.getByRole("button", { name: "退出登录" }).click();
  await page.getByRole("button", { name: "登录", exact: true }).waitFor();
  const after = await page.evaluate(() => fetch("/console/api/session").then((r) => r.status));
  assert.equal(after, 401);
  assert.deepEqual(errors, [], "no script errors");
  assert.deepEqual(outside, [], "nothing loaded from elsewhere");
  await context.close();

  step("a tenant of another organisation sees none of it");
  const other = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const op = await other.newPage();
  await op.goto(`${base}/console/`);
  await signIn(op, env("OTHER_ORG"), env("OTHER_NAME"), env("OTHER_PASSWORD"));
  await op.getByTestId("who").filter({ hasText: `@ ${env("OTHER_ORG")}` }).waitFor();
  await op.getByTestId("centers").getByText("没有记录").waitFor();
  const otherText = await op.locator("main").textContent();
  assert.ok(!otherText.includes(demoCenter) && !otherText.includes("浦东 E2E 中心"), otherText);
  await shot(op, "10-other-tenant-centers");
  await op.goto(`${base}/console/#/pricing/${encodeURIComponent(cpcid)}`);
  await op.getByRole("alert").first().waitFor();
  assert.equal(await op.locator("input[data-type]").count(), 0, "no foreign components");
  assert.equal(await op.getByRole("link", { name: "插件" }).count(), 0, "no operator pages for a tenant");
  assert.equal(await op.getByRole("link", { name: "SSH主机密钥" }).count(), 0, "no host keys page for a tenant");
  assert.equal(await op.getByRole("link", { name: "存储用量" }).count(), 0, "no storage page for a tenant");
  const tenantAdmin = await op.evaluate(() => Promise.all([
    fetch("/admin/ssh-host-keys").then((r) => r.status),
    fetch("/admin/storage").then((r) => r.status),
    fetch("/admin/plugins/pricing/check", { method: "POST", body: "x" }).then((r) => r.status),
  ]));
  assert.deepEqual(tenantAdmin, [401, 401, 401]);
  const adminStatus = await op.evaluate(() => fetch("/admin/plugins").then((r) => r.status));
  assert.equal(adminStatus, 401);
  await shot(op, "11-other-tenant-foreign-center");
  const foreign = await op.evaluate(
    (id) => fetch(`/dev/cpcc/cpcnode/get_cpcnode.dspy?cpcid=${encodeURIComponent(id)}`).then((r) => r.json()),
    cpcid,
  );
  assert.equal(foreign.status, false, JSON.stringify(foreign));
  // Nor the demo organisation's operations: not listed, not found, no events.
  const theirs = await op.evaluate(async (id) => ({
    list: await fetch("/operations").then((r) => r.json()),
    one: await fetch(`/operations/${id}`).then((r) => r.status),
    events: await fetch(`/operations/${id}/events`).then((r) => r.status),
  }), opId);
  assert.equal(theirs.list.total, 0, JSON.stringify(theirs));
  assert.deepEqual([theirs.one, theirs.events], [404, 404]);
  await op.goto(`${base}/console/#/operations/${opId}`);
  await op.getByRole("alert").filter({ hasText: `no operation \`${opId}\`` }).waitFor();
  assert.equal(await op.locator("[data-phase]").count(), 0);
  await shot(op, "11b-other-tenant-operation");
  await other.close();
  console.log("console e2e: all steps passed");
} catch (e) {
  console.error(`console e2e failed: ${e.stack ?? e}`);
  let n = 0;
  for (const c of browser.contexts()) {
    for (const p of c.pages()) await shot(p, `failure-${++n}`).catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
