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
  | PluginErrorType
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

/**
 * The `type` of a failed plugin call: `"PermissionDenied"` (the app's `[plugins]` config does not
 * grant the command or this argument; the message names the key that would), `"InvalidParams"`,
 * or `"PluginError"` (the command itself failed, e.g. a program that is not on PATH).
 */
export type PluginErrorType = "PermissionDenied" | "InvalidParams" | "PluginError";

/** How `shell.execute`, `shell.spawn` and `process.spawn` run a program. */
export interface RunOptions {
  cwd?: string;
  /** Added to the app's environment. */
  env?: Record<string, string>;
}

export interface ExecuteOptions extends RunOptions {
  /** Written to the program's stdin, which is then closed. */
  stdin?: string;
  /** The program is killed, and the call fails, after this many milliseconds. */
  timeout_ms?: number;
}

export interface ExecuteResult {
  /** The exit code, or null when a signal ended the program. */
  code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
}

export interface ShellPlugin {
  /** Opens a URL with the system's handler. `[plugins.shell] open = ["https"]` (URL schemes). */
  open(url: string): Promise<null>;
  /** Opens a file or folder with the system's handler. `open_path = ["$HOME/**"]` (path globs). */
  openPath(path: string): Promise<null>;
  open_path(path: string): Promise<null>;
  /** Opens the folder holding `path`. `show_in_folder = [...]` (path globs). */
  showInFolder(path: string): Promise<null>;
  show_in_folder(path: string): Promise<null>;
  /** The path of a program on PATH, or null. `which = ["git"]` (names). */
  which(name: string): Promise<string | null>;
  /** Runs a program to its end. `execute = ["git", "$EXTRACT_DIR/bin/*"]` (programs). */
  execute(program: string, args?: string[], options?: ExecuteOptions): Promise<ExecuteResult>;
  /** Starts a program on its own (no pipes, not stopped with the app). `spawn = [...]` (programs). */
  spawn(program: string, args?: string[], options?: RunOptions): Promise<{ pid: number }>;
  /** An environment variable of the app, or null. `get_env = ["HOME"]` (names). */
  getEnv(name: string): Promise<string | null>;
  get_env(name: string): Promise<string | null>;
}

/** The data of the `process.stdout` and `process.stderr` events: one line, without its newline. */
export interface ProcessOutput {
  pid: number;
  line: string;
}

/** The data of the `process.exit` event, sent after the process's last output line. */
export interface ProcessExit {
  pid: number;
  code: number | null;
  signal: number | null;
}

export interface ProcessPlugin {
  /** Starts a program whose output arrives as `process.stdout`/`process.stderr` events and whose
   * end is `process.exit`; it dies with the app. `[plugins.process] spawn = [...]` (programs). */
  spawn(program: string, args?: string[], options?: RunOptions): Promise<{ pid: number }>;
  /** Writes to its stdin; `close` closes it after. `write = true`. */
  write(pid: number, data: string, options?: { close?: boolean }): Promise<null>;
  /** `kill = true`. */
  kill(pid: number): Promise<null>;
  /** `list = true`. */
  list(): Promise<Array<{ pid: number; program: string; args: string[] }>>;
}

export interface FileFilter {
  name: string;
  /** Without dots: `["png", "jpg"]`. */
  extensions: string[];
}

export interface FileDialogOptions {
  title?: string;
  filters?: FileFilter[];
  default_path?: string;
}

export interface DialogPlugin {
  /** The chosen file, or null when cancelled. `[plugins.dialog] open_file = true`. */
  openFile(options?: FileDialogOptions & { multiple?: false }): Promise<string | null>;
  openFile(options: FileDialogOptions & { multiple: true }): Promise<string[] | null>;
  open_file(options?: FileDialogOptions & { multiple?: false }): Promise<string | null>;
  open_file(options: FileDialogOptions & { multiple: true }): Promise<string[] | null>;
  openFolder(options?: { title?: string; default_path?: string; multiple?: boolean }): Promise<string | string[] | null>;
  open_folder(options?: { title?: string; default_path?: string; multiple?: boolean }): Promise<string | string[] | null>;
  saveFile(options?: FileDialogOptions & { default_name?: string }): Promise<string | null>;
  save_file(options?: FileDialogOptions & { default_name?: string }): Promise<string | null>;
  message(message: string, options?: { title?: string; level?: "info" | "warning" | "error" }): Promise<null>;
  /** True for OK. */
  confirm(message: string, options?: { title?: string }): Promise<boolean>;
}

export interface ClipboardPlugin {
  /** `[plugins.clipboard] read_text = true`. Null when the clipboard holds no text. */
  readText(): Promise<string | null>;
  read_text(): Promise<string | null>;
  writeText(text: string): Promise<null>;
  write_text(text: string): Promise<null>;
  clear(): Promise<null>;
}

/** The native plugins. Each command is denied unless the app's `[plugins]` config grants it; a
 * denied call rejects with an `AuroraViewError` whose `type` is `"PermissionDenied"`. */
export interface Plugins {
  shell: ShellPlugin;
  process: ProcessPlugin;
  dialog: DialogPlugin;
  clipboard: ClipboardPlugin;
  /** Any command by name, e.g. `call("shell.open", { url })`. */
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
}

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
  /** The native plugins (shell, process, dialog, clipboard), as far as `[plugins]` grants them. */
  readonly plugins: Plugins;
  /** Listens to the runtime's reports on the Python process. Returns a function that stops listening. */
  on(event: BackendEvent, handler: EventHandler<BackendStatus>): () => void;
  /** Output of a process started with `plugins.process.spawn` (or by Python). */
  on(event: "process.stdout" | "process.stderr", handler: EventHandler<ProcessOutput>): () => void;
  on(event: "process.exit", handler: EventHandler<ProcessExit>): () => void;
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
