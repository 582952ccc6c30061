// The service worker: keeps the page and the offline first-aid guide in the
// browser's cache, so the guide and the emergency number open with no network.
// Same-origin GET requests only; the chat API (another origin) is never cached.
// The page is served from the cache at once and refreshed from the network in
// the background (stale-while-revalidate); config.json is asked of the network
// first, since a deployment may point the page at another API.

const CACHE = "firstaid-page-v1";
const SHELL = [
  "./",
  "index.html",
  "styles.css",
  "app.js",
  "api.js",
  "messages.js",
  "render.js",
  "i18n.js",
  "guide.js",
  "rhythm.js",
  "speech.js",
  "appcheck.js",
  "favicon.svg",
  "config.json",
  "guide.json",
  "i18n/en.json",
];
const NETWORK_FIRST = new Set(["config.json"]);
const NETWORK_TIMEOUT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // What the page just loaded comes from the HTTP cache, so a slow link does not carry it twice;
      // stale-while-revalidate refreshes it on the next visit.
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return; // the API and the rest: untouched
  const name = url.pathname.split("/").pop();
  event.respondWith(NETWORK_FIRST.has(name) ? networkFirst(request) : staleWhileRevalidate(request, event));
});

async function fromNetwork(request) {
  const response = await fetch(request);
  if (response.ok && response.type === "basic") {
    const cache = await caches.open(CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}

async function cached(request) {
  return caches.match(request, { ignoreSearch: true, ignoreVary: true });
}

async function staleWhileRevalidate(request, event) {
  const hit = await cached(request);
  const refresh = fromNetwork(request);
  if (hit) {
    event.waitUntil(refresh.catch(() => undefined));
    return hit;
  }
  try {
    return await refresh;
  } catch (error) {
    if (request.mode === "navigate") {
      const page = await cached(new Request("./"));
      if (page) return page;
    }
    throw error;
  }
}

async function networkFirst(request) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, NETWORK_TIMEOUT_MS);
  });
  try {
    const response = await Promise.race([fromNetwork(request).catch(() => undefined), timeout]);
    if (response) return response;
  } finally {
    clearTimeout(timer);
  }
  const hit = await cached(request);
  return hit || fetch(request);
}
