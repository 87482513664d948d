//! The one interface between the UI and wherever its data comes from.
//!
//! Two implementations: `browser/` (fetch + SSE against the belfry-server
//! that served the page) and `tauri/` (events + commands from the desktop
//! app's Rust core). Nothing outside `src/platform/` knows which one runs.
//!
//! How the Tauri one maps:
//! - `openStream`: `listen('belfry://event', …)` delivering the same
//!   `StreamEvent` values, the Rust client owning reconnects, dedupe and
//!   Last-Event-ID; the returned closer calls the unlisten function.
//! - `signIn` / `signOut` / REST methods: `invoke('…')` commands that return
//!   the same wire types and reject with `{kind, message}` (mapped to
//!   `ApiError`); tokens live in the Rust side's keyring, never in the page.
//! - `capabilities`: desktop, test notifications and the bundled server on;
//!   `desktop` carries the controls only the app has.
//! - `playSound`: nothing; native pop-ups carry their sound.
//! - `osNotifications`: absent. The Rust core raises native pop-ups (notify-rust)
//!   with the same policy, so the page raising Web Notifications too would show
//!   each one twice.

import type { Popup } from '../lib/popup-rules';
import type {
  AckEvent,
  ChannelList,
  ChannelTestResult,
  InboxPage,
  InboxQuery,
  Preferences,
  Severity,
  UnreadCounts,
} from '../lib/types';
import type { UiEvent } from './generated/desktop';

/**
 * Where the stream stands, and every event it delivers: generated from the
 * desktop app's Rust types (`belfry_desktop_core::ui`), which the browser
 * platform builds from the server's stream too.
 */
export type { Status as ConnectionStatus } from './generated/desktop';
export type StreamEvent = UiEvent;

export interface Session {
  email: string;
}

export interface Capabilities {
  /** Running inside the desktop app. */
  desktop: boolean;
  /** Native test notifications can be sent (desktop only). */
  testNotifications: boolean;
  /** A bundled server can be switched on and off (desktop only). */
  bundledServer: boolean;
}

/**
 * Whether this browser may show OS notifications: `unsupported` (no Web
 * Notifications API), `insecure` (the API exists only on HTTPS or localhost),
 * or the browser's permission for this site.
 */
export type OsPermission = 'unsupported' | 'insecure' | 'default' | 'denied' | 'granted';

/** How one OS pop-up was triggered. */
export interface OsPopupOptions {
  /** A re-alert of a notification that popped up before: alert again even though its tag is shown. */
  realert?: boolean;
  /** The pop-up was clicked (after the platform brought the app to the front). */
  onClick?: () => void;
}

/**
 * OS notifications raised by the page itself (the Web Notifications API).
 * Only the browser platform has it: the desktop app raises native pop-ups
 * from its Rust core, so the page must not raise them a second time.
 */
export interface OsNotifications {
  permission(): OsPermission;
  /** Turned on in this browser (a per-browser choice, besides the server preferences). */
  enabled(): boolean;
  /**
   * Asks the browser for permission (call it from a click, never on load)
   * and turns pop-ups on if granted. Returns the resulting permission.
   */
  enable(): Promise<OsPermission>;
  disable(): void;
  /**
   * Raises the pop-up if turned on and permitted, once across this browser's
   * tabs and reconnects (a tag per notification).
   */
  show(popup: Popup, options?: OsPopupOptions): void;
  /** Closes the pop-up of a notification this page raised (it was acknowledged). */
  close(id: number): void;
}

export type MarkReadRequest = { ids: number[] } | { up_to: number };

/** What only the desktop app can do. */
export interface DesktopControls {
  /** `bundled`: a server inside the app; `remote`: a server elsewhere. */
  readonly mode: 'bundled' | 'remote';
  /** The bundled server publishes demo events. */
  readonly demo: boolean;
  /** Where the sign-in is kept: the OS keyring, or memory (no keyring). */
  readonly credentials: 'keyring' | 'memory';
  /** Connect to the server at `url` (then sign in). */
  useServer(url: string): Promise<void>;
  /** Run a server on this computer and sign in to it. */
  useBundled(demo: boolean): Promise<void>;
  /** Raise a sample native pop-up of one severity. */
  testNotification(severity: Severity): Promise<void>;
  /** Whether the app starts at login; `enabled` changes it first. */
  autostart(enabled?: boolean): Promise<boolean>;
  /** The user clicked a pop-up or tray entry: show that notification. */
  onOpenRequest(listener: (id: number) => void): () => void;
}

export interface Platform {
  readonly capabilities: Capabilities;
  /** Present in the desktop app only. */
  readonly desktop?: DesktopControls;
  /** Settles start-up state before the first `session()` (desktop). */
  init?(): Promise<void>;
  /** Human-readable server address, for the login screen and settings. */
  readonly serverLabel: string;
  session(): Session | null;
  signIn(email: string, password: string): Promise<Session>;
  signOut(): Promise<void>;
  /** Called when the session ends without the user asking (refresh refused). */
  onSessionChange(listener: (session: Session | null) => void): () => void;
  /** Opens the live stream; returns a function that closes it for good. */
  openStream(onEvent: (event: StreamEvent) => void): () => void;
  listNotifications(query: InboxQuery): Promise<InboxPage>;
  markRead(request: MarkReadRequest): Promise<UnreadCounts>;
  markUnread(ids: number[]): Promise<UnreadCounts>;
  ack(id: number, note?: string, force?: boolean): Promise<AckEvent>;
  release(id: number, force?: boolean): Promise<void>;
  getPreferences(): Promise<Preferences>;
  putPreferences(preferences: Preferences): Promise<Preferences>;
  /** The server's outbound channels (Slack, email, …), without their secrets. */
  listChannels(): Promise<ChannelList>;
  /** Sends a test message through one channel; the answer says how it went. */
  testChannel(name: string, severity?: Severity): Promise<ChannelTestResult>;
  playSound(severity: Severity): void;
  /** OS notifications raised by the page; absent where the platform raises them natively. */
  readonly osNotifications?: OsNotifications;
}
