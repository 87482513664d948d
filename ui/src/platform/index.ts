//! Picks the platform implementation. The desktop issue adds a Tauri one
//! (events + commands over `@tauri-apps/api`) here, selected when the page runs
//! inside the Tauri webview; every other module only sees `Platform`.

import { BrowserPlatform } from './browser/browser-platform';
import type { Platform } from './platform';

export type {
  Capabilities,
  ConnectionStatus,
  MarkReadRequest,
  OsNotifications,
  OsPermission,
  OsPopupOptions,
  Platform,
  Session,
  StreamEvent,
} from './platform';
export { ApiError } from './errors';

export function createPlatform(): Platform {
  // Seam for the desktop app: `if ('__TAURI_INTERNALS__' in window) return new TauriPlatform();`
  return new BrowserPlatform();
}
