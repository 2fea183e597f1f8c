// Service worker: flowlens opens and classifies without a network after the
// first visit. Network first (the page is always the newest when online),
// the cache when offline. Only this origin's GET requests are handled;
// nothing is sent anywhere else (the page's CSP forbids it too).
//
// Cached at install: the page, its wasm and JS, the model list and the
// weights of every model pack (the default pack first), so that any pack
// can be picked offline; any other same-origin file as it is fetched.

const CACHE = 'flowlens-v1';
const SHELL = [
  './',
  'index.html',
  'style.css',
  'main.js',
  'worker.js',
  'pkg/flowlens.js',
  'pkg/flowlens_bg.wasm',
];

async function precache() {
  const cache = await caches.open(CACHE);
  await Promise.all(SHELL.map((url) => cache.add(url).catch(() => undefined)));
  // The model list and every pack's weights, when published.
  try {
    const response = await fetch('models/manifest.json');
    if (!response.ok) return;
    await cache.put('models/manifest.json', response.clone());
    const manifest = await response.json();
    for (const pack of manifest?.packs ?? []) {
      const files = (pack?.models ?? []).map((m) => `models/${m.weights.file}`);
      await Promise.all(files.map((url) => cache.add(url).catch(() => undefined)));
    }
  } catch {
    // Offline at install or no models: the page still works for flows.
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok) await cache.put(request, response.clone());
        return response;
      } catch (err) {
        const hit = await cache.match(request, { ignoreSearch: true });
        if (hit) return hit;
        throw err;
      }
    })(),
  );
});
