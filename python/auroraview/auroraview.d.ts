// Type declarations for `window.auroraview`, the bridge every AuroraView page gets before its
// first script runs. Copy or reference this file from a TypeScript frontend.

export interface CallOptions {
  /** Reject with a `TimeoutError` if Python has not answered within this many milliseconds. */
  timeout?: number;
}

/** The error a call rejects with: `message` is the Python exception's message. */
export interface AuroraViewError extends Error {
  /** The Python exception type, e.g. `"ValueError"`; `"TimeoutError"` or `"BackendError"` from the bridge. */
  type: string;
  /** The Python traceback, when Python raised. */
  traceback?: string;
}

export type EventHandler<T = unknown> = (data: T) => void;

export interface AuroraViewBridge {
  /**
   * Calls the Python function bound with `view.bind_call(method)`. An object `params` becomes
   * keyword arguments, an array positional arguments, and no params no arguments.
   */
  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T>;
  /** `auroraview.api.name(...args)` calls `api.name`; a single plain object is passed as keyword arguments. */
  readonly api: Record<string, <T = unknown>(...args: unknown[]) => Promise<T>>;
  /** Listens to events Python sends with `view.emit(event, data)`. Returns a function that stops listening. */
  on<T = unknown>(event: string, handler: EventHandler<T>): () => void;
  /** Stops listening: one handler, or every handler of the event. */
  off(event: string, handler?: EventHandler): void;
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
