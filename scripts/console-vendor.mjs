#!/usr/bin/env node
// The console's vendored npm modules (console/vendor/vendor.lock.json).
//
//   node scripts/console-vendor.mjs check    fail when a vendored file differs
//                                            from its npm package, or a tarball
//                                            from the recorded integrity
//   node scripts/console-vendor.mjs update   re-copy the files at the locked
//                                            versions and rewrite the hashes
//
// Both fetch tarballs with `npm pack` from the configured registry; `check`
// also names newer published versions (a notice, not a failure).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const vendor = join(root, "console", "vendor");
const lockPath = join(vendor, "vendor.lock.json");
const lock = JSON.parse(readFileSync(lockPath, "utf8"));
const mode = process.argv[2] ?? "check";
if (mode !== "check" && mode !== "update") {
  console.error("usage: console-vendor.mjs check|update");
  process.exit(2);
}
const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const work = mkdtempSync(join(tmpdir(), "console-vendor-"));
let failed = false;
try {
  for (const pkg of lock.packages) {
    const spec = `${pkg.name}@${pkg.version}`;
    const packed = JSON.parse(
      execFileSync("npm", ["pack", spec, "--json", "--pack-destination", work], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      }),
    )[0];
    if (packed.integrity !== pkg.integrity) {
      console.error(`${spec}: registry integrity ${packed.integrity} != locked ${pkg.integrity}`);
      failed = true;
      continue;
    }
    const dir = join(work, pkg.name);
    execFileSync("mkdir", ["-p", dir]);
    execFileSync("tar", ["xzf", join(work, packed.filename), "-C", dir]);
    for (const [file, entry] of Object.entries(pkg.files)) {
      const upstream = readFileSync(join(dir, entry.from));
      if (mode === "update") {
        writeFileSync(join(vendor, file), upstream);
        entry.sha256 = sha256(upstream);
        continue;
      }
      const ours = readFileSync(join(vendor, file));
      if (!ours.equals(upstream)) {
        console.error(`console/vendor/${file} differs from ${spec} ${entry.from}`);
        failed = true;
      } else if (sha256(ours) !== entry.sha256) {
        console.error(`console/vendor/${file}: sha256 differs from the lock`);
        failed = true;
      } else {
        console.log(`ok ${file} = ${spec} ${entry.from}`);
      }
    }
    const latest = execFileSync("npm", ["view", pkg.name, "version"], { encoding: "utf8" }).trim();
    if (latest !== pkg.version) {
      console.log(`notice: ${pkg.name} ${latest} is published (vendored: ${pkg.version})`);
    }
  }
  if (mode === "update") writeFileSync(lockPath, JSON.stringify(lock, null, 2) + "\n");
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
