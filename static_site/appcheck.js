// App Check for the chat page. When config.json has an `appCheck` section (written by
// scripts/build_page.py when a deployment sets APP_CHECK_SITE_KEY), requests carry an
// X-Firebase-AppCheck token from Firebase's own JS SDK with the reCAPTCHA Enterprise
// provider. The SDK is bundled at build time into vendor/ and loaded from this origin
// only when configured; without the section, requests carry no extra header.

const SDK_PATH = "./vendor/firebase-app-check.js";

// Started when the page loads, so the first message does not wait for config.json (and the
// reCAPTCHA check has begun by the time it is sent). Resolves to a function returning a token,
// or to null when App Check is off.
let ready = null;

async function readSettings() {
  try {
    const response = await fetch("config.json", { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) return null;
    const config = await response.json();
    const settings = config && config.appCheck;
    if (!settings || typeof settings.siteKey !== "string" || !settings.firebase) return null;
    return settings;
  } catch {
    return null;
  }
}

async function start() {
  const settings = await readSettings();
  if (!settings) return null;
  const sdk = await import(SDK_PATH);
  const app = sdk.initializeApp(settings.firebase, "firstaid-app-check");
  const appCheck = sdk.initializeAppCheck(app, {
    provider: new sdk.ReCaptchaEnterpriseProvider(settings.siteKey),
    isTokenAutoRefreshEnabled: true,
  });
  // The SDK caches the token and refreshes it before it expires.
  return async () => (await sdk.getToken(appCheck, false)).token;
}

/**
 * The headers that prove the request comes from this page: {"X-Firebase-AppCheck": token},
 * or {} when App Check is not configured. A token that cannot be had leaves the header
 * out, and the API answers 401, which the page reports like any other failure.
 */
export async function appCheckHeaders() {
  const token = await started();
  if (!token) return {};
  try {
    return { "X-Firebase-AppCheck": await token() };
  } catch {
    return {};
  }
}

function started() {
  ready ??= start().catch(() => null);
  return ready;
}

started();
