// preload.js: loaded by Electron as a preload script; these are its exports for tests and bundlers.
import type { SweatshopApi } from './api';

export function buildSweatshopApi(ipcRenderer: {
  invoke(channel: string, ...args: any[]): Promise<any>;
  on(channel: string, listener: (event: unknown, payload: any) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, payload: any) => void): unknown;
}): SweatshopApi;
export function decodeIpcError(err: unknown): Error & { code: string; detail: string };
export function exposeSweatshopApi(electron: unknown): boolean;
