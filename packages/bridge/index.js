// @auroraview/bridge: `window.auroraview` (installed by the AuroraView window before any page
// script runs) as plain functions. Every function fails with a clear Error outside AuroraView.

function bridge() {
  const av = typeof window === "undefined" ? undefined : window.auroraview;
  if (!av) {
    throw new Error(
      "@auroraview/bridge: window.auroraview is missing: this page is not running in an AuroraView window " +
        "(open it with `auroraview-pack dev`, or in the packed app)",
    );
  }
  return av;
}

/** Whether the page runs in an AuroraView window. */
export function available() {
  return typeof window !== "undefined" && !!window.auroraview;
}

/** Calls the Python function bound with `view.bind_call(method)`. */
export async function call(method, params, options) {
  return bridge().call(method, params, options);
}

/** Listens to an event Python sends with `view.emit(event, data)`; returns a function that stops. */
export function on(event, handler) {
  return bridge().on(event, handler);
}

/** Stops listening: one handler, or every handler of the event. */
export function off(event, handler) {
  bridge().off(event, handler);
}

/** Sends an event to Python's `view.on(event)` handlers. */
export function emit(event, data) {
  bridge().emit(event, data);
}

/** Resolves once the bridge is ready (the `auroraviewready` event has fired). */
export function ready() {
  let av;
  try {
    av = bridge();
  } catch (e) {
    return Promise.reject(e);
  }
  if (av.ready) return Promise.resolve();
  return new Promise((resolve) => window.addEventListener("auroraviewready", () => resolve(), { once: true }));
}
