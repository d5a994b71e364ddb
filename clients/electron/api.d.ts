// Hand-written declarations of the JavaScript API (the client, the IPC forwarding, window.sweatshop).
// The wire shapes come from types.d.ts, which scripts/gen_types.py generates from the sidecar's models.
import type { EventEmitter } from 'node:events';
import type {
  FullHome,
  OrgChanged,
  OrgDiscovery,
  Overview,
  PoolStatus,
  ReapplyOutcome,
  RegisterOptions,
  RemoveOptions,
  ScratchOrg,
  SidecarErrorCode,
  SidecarMethod,
  SidecarMethods,
  SidecarNotifications,
  SignedIn,
  SignedOut,
  SoloHome,
} from './types';

export * from './types';

/** Codes the client itself produces, next to the sidecar's own `SidecarErrorCode`s. */
export type ClientErrorCode =
  | 'REQUEST_TIMEOUT'
  | 'SIDECAR_EXITED'
  | 'SIDECAR_UNAVAILABLE'
  | 'SIDECAR_CLOSED'
  | 'REQUEST_ABORTED'
  | 'PROTOCOL_MISMATCH'
  | 'INTERNAL';

export class SidecarError extends Error {
  name: 'SidecarError';
  /** The sidecar's `error.data.code`, or a client code. */
  code: SidecarErrorCode | ClientErrorCode | (string & {});
  /** The JSON-RPC numeric code; null for errors raised by the client. */
  rpcCode: number | null;
  /** The JSON-RPC `error.data` as sent. */
  data: unknown;
  method: string | null;
}

export type Framing = 'ndjson' | 'content-length';

export interface RestartOptions {
  enabled?: boolean;
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  maxAttempts?: number;
  resetAfterMs?: number;
}

export interface SidecarClientOptions {
  python?: string;
  module?: string;
  home?: string;
  framing?: Framing;
  logLevel?: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
  extraArgs?: string[];
  command?: string;
  args?: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  requestTimeoutMs?: number;
  methodTimeoutsMs?: Record<string, number>;
  closeGraceMs?: number;
  killGraceMs?: number;
  restart?: RestartOptions;
  killOnExit?: boolean;
}

export interface RequestOptions {
  /** 0 disables the timeout; default per method (`methodTimeoutsMs`), else `requestTimeoutMs`. */
  timeoutMs?: number;
  /** Aborting it cancels the request: it rejects with `REQUEST_ABORTED` and the sidecar stops the work. */
  signal?: AbortSignal;
}

export type ClientState = 'idle' | 'running' | 'restarting' | 'failed' | 'closing' | 'closed';

type ParamsOf<M extends string> = M extends SidecarMethod
  ? SidecarMethods[M]['params'] | SidecarMethods[M]['namedParams']
  : unknown[] | Record<string, unknown>;
type ResultOf<M extends string> = M extends SidecarMethod ? SidecarMethods[M]['result'] : unknown;

export interface ExitInfo {
  pid: number | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  expected: boolean;
  error: Error | null;
}

export class SidecarClient extends EventEmitter {
  constructor(options?: SidecarClientOptions);
  readonly state: ClientState;
  readonly pid: number | null;
  readonly argv: string[];
  start(): Promise<void>;
  /** Try again now: after `'gave-up'` a fresh sidecar with a fresh backoff; during a restart, without the delay. */
  restart(): Promise<void>;
  /** A timeout or an aborted `signal` rejects at once and sends `$/cancelRequest` (the sidecar stops its `sf`). */
  request<M extends SidecarMethod | (string & {})>(method: M, params?: ParamsOf<M>, options?: RequestOptions): Promise<ResultOf<M>>;
  notify(method: string, params?: unknown[] | Record<string, unknown>): void;
  checkProtocol(expected?: string): Promise<SidecarMethods['sidecar:health']['result']>;
  close(): Promise<void>;

  on<N extends keyof SidecarNotifications>(event: N, listener: (params: SidecarNotifications[N]) => void): this;
  on(event: 'notification', listener: (method: string, params: unknown) => void): this;
  on(event: 'spawn', listener: (info: { pid: number }) => void): this;
  on(event: 'exit', listener: (info: ExitInfo) => void): this;
  on(event: 'restarting', listener: (info: { attempt: number; delayMs: number; code: number | null; signal: NodeJS.Signals | null }) => void): this;
  on(event: 'restarted', listener: (info: { attempt: number; pid: number | null }) => void): this;
  on(event: 'gave-up', listener: (info: { attempts: number; error: Error | null }) => void): this;
  on(event: 'stderr' | 'protocol-error', listener: (line: string) => void): this;
  on(event: 'closed', listener: () => void): this;
  on(event: string, listener: (...args: any[]) => void): this;
}

export function startSidecar(options?: SidecarClientOptions): Promise<SidecarClient>;

// errors.js
export function fromRpcError(error: { code?: number; message?: string; data?: any }, method?: string | null): SidecarError;
export function toIpcError(err: unknown): Error;
export function decodeIpcError(err: unknown): Error & { code: string; detail: string };
export const ClientErrorCode: Readonly<Record<Exclude<ClientErrorCode, "PROTOCOL_MISMATCH">, string>>;

// ipc.js
export const RENDERER_CHANNELS: readonly string[];
export const SIDECAR_STATE_CHANNEL: 'sidecar:state';
export const LOCAL_CHANNELS: Readonly<{ state: 'sidecar:state'; restart: 'sidecar:restart'; open: 'agent:open' }>;

/**
 * What a handler of `ipcMain.handle` receives, as far as this package reads it (Electron's `IpcMainInvokeEvent`
 * fits). `senderFrame` is null when the frame navigated away or was destroyed: refuse such a caller.
 */
export interface InvokeEventLike {
  readonly senderFrame: { readonly url: string } | null;
}

/** Where the app opens an org for QA: its QA browser pane, or `shell.openExternal(url)`. */
export type OpenLoginUrl = (
  url: string,
  info: { agentId: string; org: ScratchOrg; event: InvokeEventLike },
) => unknown;

export interface RegisterOptionsIpc {
  channels?: readonly string[];
  /** Return false to refuse the caller (`ACCESS_DENIED`). */
  validateSender?: (event: InvokeEventLike, channel: string) => boolean;
  forward?: (notification: string) => boolean;
  /**
   * The one place a single-use login URL (a credential) goes. Without it `agent:open` is not registered and
   * the components show no Open button. Never log or store the URL.
   */
  openLoginUrl?: OpenLoginUrl;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: any, ...args: any[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface WebContentsLike {
  send(channel: string, ...args: any[]): void;
  isDestroyed?(): boolean;
}

export function registerOrgChannels(
  ipcMain: IpcMainLike,
  client: Pick<SidecarClient, 'request' | 'on' | 'removeListener'> & Partial<Pick<SidecarClient, 'state' | 'restart'>>,
  getWindows: () => Iterable<{ webContents: WebContentsLike; isDestroyed?(): boolean } | WebContentsLike>,
  options?: RegisterOptionsIpc,
): () => void;

// preload.js: window.sweatshop
export type Unsubscribe = () => void;

/** What `sidecar:state` tells the windows. */
export type SidecarState =
  | { state: 'exited'; code: number | null; signal: string | null }
  | { state: 'restarting'; attempt: number; delayMs: number }
  | { state: 'running'; attempt: number }
  | { state: 'failed'; attempts: number };

/** The answer of `window.sweatshop.sidecar.state()`. */
export interface SidecarStateNow {
  state: ClientState;
  /** whether the app registered `openLoginUrl` (the Open action) */
  canOpenOrgs: boolean;
}

export interface SweatshopApi {
  orgs: {
    list(): Promise<ScratchOrg[]>;
    getStatus(): Promise<PoolStatus>;
    claim(agentId: string): Promise<ScratchOrg | null>;
    release(orgId: string, agentId?: string): Promise<null>;
    discover(): Promise<ScratchOrg[]>;
    register(alias: string, options?: RegisterOptions): Promise<ScratchOrg>;
    remove(orgId: string, options?: RemoveOptions): Promise<null>;
    onChanged(callback: (change: OrgChanged) => void): Unsubscribe;
    onDiscovery(callback: (report: OrgDiscovery) => void): Unsubscribe;
  };
  auth: {
    session(): Promise<SignedIn | SignedOut>;
    signOut(): Promise<null>;
  };
  governance: {
    home(): Promise<SoloHome | FullHome>;
    overview(): Promise<Overview>;
    reapplyDefaults(poolId: string): Promise<ReapplyOutcome>;
    onChanged(callback: (change: SidecarNotifications extends { 'governance:changed': infer G } ? G : unknown) => void): Unsubscribe;
  };
  agents: {
    /** Opens the org the agent holds through the app's `openLoginUrl`; the URL never reaches the page. */
    open(agentId: string): Promise<{ opened: true; org: ScratchOrg }>;
    onStatus(callback: (status: SidecarNotifications extends { 'agent:status': infer S } ? S : unknown) => void): Unsubscribe;
    onTerminalOutput(callback: (output: SidecarNotifications extends { 'terminal:output': infer T } ? T : unknown) => void): Unsubscribe;
  };
  sidecar: {
    state(): Promise<SidecarStateNow>;
    /** The person's Retry after the client gave up: `client.restart()` in the main process. */
    restart(): Promise<{ state: ClientState }>;
    onState(callback: (state: SidecarState) => void): Unsubscribe;
  };
}

/**
 * Errors from window.sweatshop: in the preload they carry `.code`; in the page, behind contextBridge, only the
 * message survives, so it starts with `[CODE] ` (components/errors.js reads both).
 */
export interface SweatshopError extends Error {
  code?: SidecarErrorCode | ClientErrorCode | (string & {});
  detail?: string;
}

declare global {
  interface Window {
    sweatshop: SweatshopApi;
  }
}
