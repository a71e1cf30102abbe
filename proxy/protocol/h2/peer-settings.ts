/**
 * The peer's SETTINGS as they bind what we send (RFC 9113 §6.5.2), each value checked against
 * its bounds (a bad one is a connection error). Pure. A setting given twice in one frame counts
 * once, with its last value; SETTINGS_MAX_HEADER_LIST_SIZE is advisory and unknown settings are
 * ignored.
 */
import { DEFAULT_MAX_FRAME_SIZE, MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW, SettingId, readSettings } from './frames';
import { H2Code } from './grpc-status';
import { H2Error } from './h2-error';

export interface PeerSettings {
  headerTableSize?: number;
  maxConcurrentStreams?: number;
  initialWindowSize?: number;
  maxFrameSize?: number;
}

export function readPeerSettings(payload: Buffer): PeerSettings {
  const out: PeerSettings = {};
  for (const [id, value] of readSettings(payload)) {
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        out.headerTableSize = value;
        break;
      case SettingId.ENABLE_PUSH:
        if (value > 1) throw new H2Error(H2Code.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        out.maxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW) throw new H2Error(H2Code.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
        out.initialWindowSize = value;
        break;
      case SettingId.MAX_FRAME_SIZE:
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) throw new H2Error(H2Code.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        out.maxFrameSize = value;
        break;
      default:
        break;
    }
  }
  return out;
}
