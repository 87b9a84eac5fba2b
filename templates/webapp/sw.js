// The official hotlines when the network fails: the offline page is saved on the phone when
// the site is first opened (and again once per visit), and shown for any page that cannot be
// loaded. Only page loads are touched; everything else goes to the network as usual.
const CACHE = "shipper-check-offline-v1";
const OFFLINE = "/offline/";
const SAVED = [OFFLINE, "{{ css|escapejs }}"];
let refreshed = false;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SAVED)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method === "GET" && request.url.endsWith("{{ css|escapejs }}")) {
    event.respondWith(fetch(request).catch(() => caches.match(request)));
    return;
  }
  if (request.mode !== "navigate") {
    return;
  }
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (!refreshed) {
          refreshed = true;
          // Hotlines change rarely; refreshing once per run of the worker keeps them current.
          caches.open(CACHE).then((cache) => cache.add(OFFLINE)).catch(() => {});
        }
        return response;
      })
      .catch(() => caches.match(OFFLINE))
  );
});
