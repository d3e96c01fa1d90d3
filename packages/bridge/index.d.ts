// Types of @auroraview/bridge. The shapes are those of python/auroraview/auroraview.d.ts (the
// typings of `window.auroraview`); this file declares no globals, so both can be used together.

export interface CallOptions {
  /** Reject with a `TimeoutError` if Python has not answered within this many milliseconds. */
  timeout?: number;
}

/** The `type` of a failed call: a Python exception's name, or one of the runtime's and bridge's. */
export type AuroraViewErrorType =
  | "ParseError"
  | "InvalidRequest"
  | "MethodNotFound"
  | "TypeError"
  | "BackendExited"
  | "TimeoutError"
  | "BackendError"
  | "PermissionDenied"
  | "InvalidParams"
  | "PluginError"
  | (string & {});

/** The error a call rejects with: `message` is the Python exception's message. */
export interface AuroraViewError extends Error {
  type: AuroraViewErrorType;
  /** The Python traceback, when Python raised. */
  traceback?: string;
}

/** The data of the `__auroraview_backend__` event. */
export interface BackendStatus {
  status: "exited" | "failed" | "restarted";
  code: number | null;
  message: string;
}

export interface ProcessOutput {
  pid: number;
  line: string;
}

export interface ProcessExit {
  pid: number;
  code: number | null;
  signal: number | null;
}

export type EventHandler<T = unknown> = (data: T) => void;

/** Whether the page runs in an AuroraView window. */
export function available(): boolean;
/** Calls the Python function bound with `view.bind_call(method)`; rejects with an `AuroraViewError`. */
export function call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T>;
export function on(event: "__auroraview_backend__", handler: EventHandler<BackendStatus>): () => void;
export function on(event: "process.stdout" | "process.stderr", handler: EventHandler<ProcessOutput>): () => void;
export function on(event: "process.exit", handler: EventHandler<ProcessExit>): () => void;
/** Listens to events Python sends with `view.emit(event, data)`. Returns a function that stops listening. */
export function on<T = unknown>(event: string, handler: EventHandler<T>): () => void;
export function off<T = unknown>(event: string, handler?: EventHandler<T>): void;
export function emit(event: string, data?: unknown): void;
/** Resolves once the bridge is ready; rejects outside AuroraView. */
export function ready(): Promise<void>;
