// SPICE protocol constants, named once (spice-protocol enums.h / protocol.h; digest §1-§8).

export const LINK_MAGIC = 0x51444552; // "REDQ" as u32 LE
export const PROTOCOL_MAJOR = 2;
export const PROTOCOL_MINOR = 2;

export const ChannelType = {
  main: 1,
  display: 2,
  inputs: 3,
  cursor: 4,
  playback: 5,
  record: 6,
  tunnel: 7,
  smartcard: 8,
  usbredir: 9,
  port: 10,
  webdav: 11,
} as const;
export type ChannelName = keyof typeof ChannelType;

export function channelName(type: number): string {
  for (const [name, t] of Object.entries(ChannelType)) if (t === type) return name;
  return `type${type}`;
}

export const LinkError = {
  0: 'OK',
  1: 'ERROR',
  2: 'INVALID_MAGIC',
  3: 'INVALID_DATA',
  4: 'VERSION_MISMATCH',
  5: 'NEED_SECURED',
  6: 'NEED_UNSECURED',
  7: 'PERMISSION_DENIED',
  8: 'BAD_CONNECTION_ID',
  9: 'CHANNEL_NOT_AVAILABLE',
} as Record<number, string>;
export const LINK_ERR_NEED_SECURED = 5;
export const LINK_ERR_PERMISSION_DENIED = 7;

export const CommonCap = { authSelection: 0, authSpice: 1, authSasl: 2, miniHeader: 3 } as const;
export const MainCap = { semiSeamlessMigrate: 0, nameAndUuid: 1, agentConnectedTokens: 2, seamlessMigrate: 3 } as const;
export const DisplayCap = {
  sizedStream: 0, monitorsConfig: 1, composite: 2, a8Surface: 3, streamReport: 4, lz4Compression: 5,
  prefCompression: 6, glScanout: 7, multiCodec: 8, codecMjpeg: 9, codecVp8: 10, codecH264: 11,
  prefVideoCodecType: 12, codecVp9: 13, codecH265: 14,
} as const;
export const InputsCap = { keyScancode: 0 } as const;
export const SpicevmcCap = { dataCompressLz4: 0 } as const;

export const AuthMechanism = { spice: 1, sasl: 2 } as const;

/** Server -> client messages valid on every channel. */
export const MsgBase = {
  migrate: 1, migrateData: 2, setAck: 3, ping: 4, waitForChannels: 5, disconnecting: 6, notify: 7, list: 8,
} as const;
/** Client -> server messages valid on every channel. */
export const MsgcBase = {
  ackSync: 1, ack: 2, pong: 3, migrateFlushMark: 4, migrateData: 5, disconnecting: 6,
} as const;

export const MsgMain = {
  migrateBegin: 101, migrateCancel: 102, init: 103, channelsList: 104, mouseMode: 105, multiMediaTime: 106,
  agentConnected: 107, agentDisconnected: 108, agentData: 109, agentToken: 110, migrateSwitchHost: 111,
  migrateEnd: 112, name: 113, uuid: 114, agentConnectedTokens: 115, migrateBeginSeamless: 116,
  migrateDstSeamlessAck: 117, migrateDstSeamlessNack: 118,
} as const;
export const MsgcMain = {
  clientInfo: 101, migrateConnected: 102, migrateConnectError: 103, attachChannels: 104, mouseModeRequest: 105,
  agentStart: 106, agentData: 107, agentToken: 108, migrateEnd: 109,
} as const;

export const MouseMode = { server: 1, client: 2 } as const;

export const MsgDisplay = {
  mode: 101, mark: 102, reset: 103, copyBits: 104, invalList: 105, invalAllPixmaps: 106, invalPalette: 107,
  invalAllPalettes: 108, streamCreate: 122, streamData: 123, streamClip: 124, streamDestroy: 125,
  streamDestroyAll: 126, drawFill: 302, drawOpaque: 303, drawCopy: 304, drawBlend: 305, drawBlackness: 306,
  drawWhiteness: 307, drawInvers: 308, drawRop3: 309, drawStroke: 310, drawText: 311, drawTransparent: 312,
  drawAlphaBlend: 313, surfaceCreate: 314, surfaceDestroy: 315, streamDataSized: 316, monitorsConfig: 317,
  drawComposite: 318, streamActivateReport: 319, glScanoutUnix: 320, glDraw: 321, qualityIndicator: 322,
} as const;
export const MsgcDisplay = { init: 101, streamReport: 102, preferredCompression: 103, glDrawDone: 104, preferredVideoCodecType: 105 } as const;

export const ImageCompression = { off: 1, autoGlz: 2, autoLz: 3, quic: 4, glz: 5, lz: 6, lz4: 7 } as const;

export const MsgInputs = { init: 101, keyModifiers: 102, mouseMotionAck: 111 } as const;
export const MsgcInputs = {
  keyDown: 101, keyUp: 102, keyModifiers: 103, keyScancode: 104, mouseMotion: 111, mousePosition: 112,
  mousePress: 113, mouseRelease: 114,
} as const;
export const MOTION_ACK_BUNCH = 4;

export const MsgCursor = { init: 101, reset: 102, set: 103, move: 104, hide: 105, trail: 106, invalOne: 107, invalAll: 108 } as const;

export const MsgSpicevmc = { data: 101, compressedData: 102 } as const;
