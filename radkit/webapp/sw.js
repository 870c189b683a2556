// RadKit service worker: keeps this site's own files on the device, so the app opens with the network off.
// build_webapp fills in FILES (every file it wrote into the site) and VERSION (a hash of their contents).
// A rebuilt site has a new VERSION, so the browser installs this worker again and deletes the old copy.
// It only ever answers requests for this site's own address; it never fetches anything from elsewhere.
'use strict';

const VERSION = '{{VERSION}}';
const FILES = ['{{FILES}}'];
const PREFIX = `radkit ${self.registration.scope} `;
const CACHE = PREFIX + VERSION;

self.addEventListener('install', (event) => {
  // All or nothing: if one file cannot be fetched, this version is not installed and the old one stays.
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(FILES.map((file) => new Request(file, { cache: 'reload' }))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE)
      .map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  // The stored copy first (so it works offline and opens fast); the network only for files not stored.
  // ignoreSearch: "./?backend=cpu" is the same page as "./".
  event.respondWith(caches.open(CACHE)
    .then((cache) => cache.match(request, { ignoreSearch: true }))
    .then((stored) => stored || fetch(request)));
});
