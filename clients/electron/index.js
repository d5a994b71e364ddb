'use strict';
/**
 * The main-process entry point: the client, the IPC forwarding and the error helpers.
 * (The preload is a separate file, `preload.js`; the UI components are ES modules under `components/`.)
 * @module @sweatshop/electron-sidecar-client
 */
const { SidecarClient, startSidecar } = require('./sidecar-client');
const { registerOrgChannels, RENDERER_CHANNELS, SIDECAR_STATE_CHANNEL, LOCAL_CHANNELS } = require('./ipc');
const { SidecarError, ClientErrorCode, fromRpcError, toIpcError, decodeIpcError } = require('./errors');

module.exports = {
  SidecarClient,
  startSidecar,
  registerOrgChannels,
  RENDERER_CHANNELS,
  SIDECAR_STATE_CHANNEL,
  LOCAL_CHANNELS,
  SidecarError,
  ClientErrorCode,
  fromRpcError,
  toIpcError,
  decodeIpcError,
};
