//! Picks the platform implementation: the Tauri one (events + commands over
//! `@tauri-apps/api`) inside the desktop app's webview, the browser one
//! everywhere else. Every other module only sees `Platform`.

import { BrowserPlatform } from './browser/browser-platform';
import type { Platform } from './platform';
import { TauriPlatform } from './tauri/tauri-platform';

export type {
  Capabilities,
  ConnectionStatus,
  DesktopControls,
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
  if (typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window) return new TauriPlatform();
  return new BrowserPlatform();
}
