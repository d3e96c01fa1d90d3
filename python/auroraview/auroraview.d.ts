// Type declarations for `window.auroraview`, the bridge every AuroraView page gets before its
// first script runs. Copy or reference this file from a TypeScript frontend.

export interface CallOptions {
  /** Reject with a `TimeoutError` if Python has not answered within this many milliseconds. */
  timeout?: number;
}

/**
 * The `type` of a failed call. From Python's router: `"MethodNotFound"`, `"TypeError"` (also for
 * arguments that do not fit the function, or a result that cannot be turned into JSON), the name
 * of any other exception the function raised, and `"ParseError"` or `"InvalidRequest"` for a
 * request that is not a JSON object or has neither `method` nor `event` (which the bridge never
 * sends). From the runtime: `"BackendExited"` (the Python process died, or was restarted, while
 * answering). From the bridge: `"TimeoutError"` (`CallOptions.timeout`) and `"BackendError"` (the
 * runtime gave up restarting Python).
 */
export type AuroraViewErrorType =
  | "ParseError"
  | "InvalidRequest"
  | "MethodNotFound"
  | "TypeError"
  | "BackendExited"
  | "TimeoutError"
  | "BackendError"
  // Any other Python exception name; `string & {}` keeps the names above offered as completions.
  | (string & {});

/** The error a call rejects with: `message` is the Python exception's message. */
export interface AuroraViewError extends Error {
  /** The Python exception type, e.g. `"ValueError"`, or one of the runtime's and the bridge's own. */
  type: AuroraViewErrorType;
  /** The Python traceback, when Python raised. */
  traceback?: string;
}

/** The event the runtime sends when the Python process of a `system` app, or of
 * `isolation = "process"`, exits or is restarted. */
export type BackendEvent = "__auroraview_backend__";

/** The data of the `__auroraview_backend__` event. */
export interface BackendStatus {
  /**
   * `"exited"`: it died, and is restarted unless `"failed"` follows; `"failed"`: it died once too
   * often and is not restarted (calls still waiting reject with `"BackendError"`); `"restarted"`:
   * it was restarted because its code changed.
   */
  status: "exited" | "failed" | "restarted";
  /** The process's exit code (128 + N when killed by signal N), or null when not known. */
  code: number | null;
  /** Why, with the process's last stderr lines when it died. */
  message: string;
}

export type EventHandler<T = unknown> = (data: T) => void;

export interface AuroraViewBridge {
  /**
   * Calls the Python function bound with `view.bind_call(method)`. An object `params` becomes
   * keyword arguments, an array positional arguments, and no params no arguments. Rejects with an
   * `AuroraViewError`, except when `params` cannot be turned into JSON: then with the error of
   * `JSON.stringify`, which has no `type`.
   */
  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T>;
  /** `auroraview.api.name(...args)` calls `api.name`; a single plain object is passed as keyword arguments. */
  readonly api: Record<string, <T = unknown>(...args: unknown[]) => Promise<T>>;
  /** Listens to the runtime's reports on the Python process. Returns a function that stops listening. */
  on(event: BackendEvent, handler: EventHandler<BackendStatus>): () => void;
  /** Listens to events Python sends with `view.emit(event, data)`. Returns a function that stops listening. */
  on<T = unknown>(event: string, handler: EventHandler<T>): () => void;
  /** Stops listening: one handler, or every handler of the event. */
  off<T = unknown>(event: string, handler?: EventHandler<T>): void;
  /** Sends an event to Python, where `view.on(event)` handlers receive `data`. */
  emit(event: string, data?: unknown): void;
  /** True once the `auroraviewready` event has fired. */
  readonly ready: boolean;
}

declare global {
  interface Window {
    readonly auroraview: AuroraViewBridge;
  }
  interface WindowEventMap {
    /** Fired once the bridge is installed and the document has loaded. */
    auroraviewready: Event;
  }
  const auroraview: AuroraViewBridge;
}
