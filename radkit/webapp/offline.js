// RadKit browser app: keep working offline. Registers the service worker (sw.js), which stores this
// site's own files on the device after the first visit. A file of its own because the page's
// Content-Security-Policy forbids inline scripts. Registers after the model has loaded, so the
// first visit is not slowed down by the copying.
'use strict';

(() => {
  const hooks = window.radkitApp || (window.radkitApp = {});
  if (!('serviceWorker' in navigator)) {  // plain http on another computer, or an old browser
    hooks.offline = Promise.resolve({ installed: false, why: 'this browser or address does not allow offline use' });
    return;
  }
  hooks.offline = Promise.resolve(hooks.ready)
    .then(() => navigator.serviceWorker.register('sw.js', { scope: './' }))
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => {
      const note = document.getElementById('offline-note');
      if (note) {
        note.textContent = 'Saved on this device: the app now opens without a network connection too. On a phone, '
          + 'add it to the home screen from the browser\'s menu.';
      }
      return { installed: true, scope: registration.scope };
    })
    .catch((error) => {
      console.warn('Offline use could not be set up:', error);
      return { installed: false, why: String(error && error.message) };
    });
})();
