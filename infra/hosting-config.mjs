// Write the Firebase Hosting configuration for one deployment: the repository's
// firebase.json with the page's directory, the Hosting site, and the API's origin
// as the only cross-origin address the page's Content-Security-Policy lets it call.
//
//   node infra/hosting-config.mjs SOURCE_JSON OUTPUT_JSON PUBLIC_DIR SITE API_ORIGIN
import { readFileSync, writeFileSync } from "node:fs";

const [source, output, publicDir, site, apiOrigin] = process.argv.slice(2);
if (!apiOrigin || !/^https?:\/\/[^/\s;']+$/.test(apiOrigin)) {
  console.error("usage: hosting-config.mjs SOURCE OUTPUT PUBLIC_DIR SITE API_ORIGIN (scheme://host, no path)");
  process.exit(2);
}
const config = JSON.parse(readFileSync(source, "utf8"));
const hosting = config.hosting;
hosting.public = publicDir;
hosting.site = site;
let replaced = 0;
for (const rule of hosting.headers) {
  for (const header of rule.headers) {
    if (header.key.toLowerCase() !== "content-security-policy") continue;
    header.value = header.value
      .split(";")
      .map((directive) => {
        const [name] = directive.trim().split(/\s+/);
        if (name !== "connect-src") return directive;
        replaced += 1;
        return ` connect-src 'self' ${apiOrigin}`;
      })
      .join(";")
      .trim();
  }
}
if (replaced !== 1) {
  console.error(`${source}: expected one Content-Security-Policy with a connect-src directive, found ${replaced}`);
  process.exit(1);
}
writeFileSync(output, JSON.stringify(config, null, 2) + "\n");
