// Page entry point: load the wasm module and mount the app.
// (A separate file because the Content-Security-Policy allows no inline script.)
import init, { start_app } from './pkg/flowlens.js';

// Offline after the first visit (see sw.js). Not being able to register
// (e.g. a private window) only costs the offline mode.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').catch((err) => console.warn('flowlens: no offline mode:', err));
}

try {
  await init();
  start_app();
} catch (err) {
  console.error(err);
  const root = document.getElementById('app');
  if (root) {
    const p = document.createElement('p');
    p.className = 'load-error';
    p.setAttribute('role', 'alert');
    p.textContent = `flowlens could not start: ${err}`;
    root.replaceChildren(p);
  }
}
