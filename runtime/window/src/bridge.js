// window.auroraview: the page's side of the JSON-RPC bridge. Injected before any page script.
(function () {
  "use strict";
  if (window.auroraview) return;
  var seq = 0;
  var pending = new Map();
  var listeners = new Map();
  var ready = false;

  function post(msg) {
    window.ipc.postMessage(JSON.stringify(msg));
  }

  function makeError(message, type, traceback) {
    var err = new Error(message);
    err.name = type || "Error";
    err.type = type || "Error";
    if (traceback) err.traceback = traceback;
    return err;
  }

  function call(method, params, options) {
    var id = "av" + ++seq;
    return new Promise(function (resolve, reject) {
      var entry = { resolve: resolve, reject: reject, timer: null };
      var timeout = options && options.timeout;
      if (timeout > 0) {
        entry.timer = setTimeout(function () {
          pending.delete(id);
          reject(makeError("call to " + method + " timed out after " + timeout + " ms", "TimeoutError"));
        }, timeout);
      }
      pending.set(id, entry);
      var msg = { id: id, method: method };
      if (params !== undefined) msg.params = params;
      try {
        post(msg);
      } catch (e) {
        pending.delete(id);
        reject(e);
      }
    });
  }

  function rejectAll(message) {
    pending.forEach(function (entry) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(makeError(message, "BackendError"));
    });
    pending.clear();
  }

  function fire(event, data) {
    var hs = listeners.get(event);
    if (!hs) return;
    hs.slice().forEach(function (h) {
      try {
        h(data);
      } catch (e) {
        console.error("auroraview: handler for event " + event + " failed", e);
      }
    });
  }

  // Called by the runtime with a batch of responses and events.
  function dispatch(batch) {
    for (var i = 0; i < batch.length; i++) {
      var m = batch[i];
      if (m.event !== undefined && m.id === undefined) {
        if (m.event === "__auroraview_backend__" && m.data && m.data.status !== "ready") {
          rejectAll(m.data.message || "backend " + m.data.status);
        }
        fire(m.event, m.data);
        continue;
      }
      var entry = pending.get(m.id);
      if (!entry) continue;
      pending.delete(m.id);
      if (entry.timer) clearTimeout(entry.timer);
      if (m.ok) entry.resolve(m.result);
      else entry.reject(makeError(m.error, m.type, m.traceback));
    }
  }

  function isPlainObject(v) {
    return v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype;
  }

  var api = new Proxy(
    {},
    {
      get: function (_, name) {
        if (typeof name !== "string" || name === "then") return undefined;
        return function () {
          var args = Array.prototype.slice.call(arguments);
          var params = args.length === 0 ? undefined : args.length === 1 && isPlainObject(args[0]) ? args[0] : args;
          return call("api." + name, params);
        };
      },
    }
  );

  var bridge = {
    call: call,
    api: api,
    on: function (event, handler) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(handler);
      return function () {
        bridge.off(event, handler);
      };
    },
    off: function (event, handler) {
      var hs = listeners.get(event);
      if (!hs) return;
      if (handler === undefined) listeners.delete(event);
      else listeners.set(event, hs.filter(function (h) { return h !== handler; }));
    },
    emit: function (event, data) {
      post({ event: event, data: data === undefined ? null : data });
    },
    get ready() {
      return ready;
    },
  };
  Object.defineProperty(window, "auroraview", { value: bridge, writable: false, configurable: false });
  Object.defineProperty(window, "__auroraview_dispatch", { value: dispatch, writable: false, configurable: false });

  function announce() {
    if (ready) return;
    ready = true;
    // Delivers what Python sent before the page could listen.
    window.ipc.postMessage("\u0001ready");
    window.dispatchEvent(new Event("auroraviewready"));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", announce);
  else setTimeout(announce, 0);
})();
