// Write the Firebase Hosting configuration for one deployment: the repository's
// firebase.json with the page's directory, the Hosting site, and the API's origin
// as the only cross-origin address the page's Content-Security-Policy lets it call.
//
//   node infra/hosting-config.mjs SOURCE_JSON OUTPUT_JSON PUBLIC_DIR SITE API_ORIGIN [app-check]
//
// With "app-check", the policy also lets reCAPTCHA Enterprise load its script and
// frame (Google's documented CSP sources, as scripts/build_page.py adds to the page's
// own meta policy) and the App Check SDK exchange its token.
import { readFileSync, writeFileSync } from "node:fs";

const [source, output, publicDir, site, apiOrigin, mode] = process.argv.slice(2);
const appCheck = mode === "app-check";
const RECAPTCHA_SCRIPTS = "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/";
const RECAPTCHA_FRAMES = "https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/";
const APP_CHECK_EXCHANGE = "https://content-firebaseappcheck.googleapis.com";
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
        if (appCheck && name === "script-src") return ` ${directive.trim()} ${RECAPTCHA_SCRIPTS}`;
        if (name !== "connect-src") return directive;
        replaced += 1;
        return ` connect-src 'self' ${apiOrigin}${appCheck ? ` ${APP_CHECK_EXCHANGE}` : ""}`;
      })
      .join(";")
      .trim();
    if (appCheck) header.value += `; frame-src ${RECAPTCHA_FRAMES}`;
  }
}
if (replaced !== 1) {
  console.error(`${source}: expected one Content-Security-Policy with a connect-src directive, found ${replaced}`);
  process.exit(1);
}
writeFileSync(output, JSON.stringify(config, null, 2) + "\n");
