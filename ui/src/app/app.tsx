//! The application shell: header (brand, navigation, connection, bell),
//! the current page, and the toaster; or the login screen when signed out.

import { useEffect } from 'react';
import { BellIcon, InboxIcon, SettingsIcon } from '../components/icons';
import { ConnectionIndicator } from '../features/bell/connection-indicator';
import { Bell } from '../features/bell/bell';
import { InboxPage } from '../features/inbox/inbox-page';
import { LoginScreen } from '../features/login/login-screen';
import { SettingsPage } from '../features/settings/settings-page';
import { Toaster } from '../features/toasts/toaster';
import { AppContext, navigate, useApp, useRoute, type AppModel } from '../stores/app-context';
import { useStore } from '../stores/create-store';

export function App({ model }: { model: AppModel }) {
  return (
    <AppContext.Provider value={model}>
      <Root />
    </AppContext.Provider>
  );
}

function Root() {
  const app = useApp();
  const session = useStore(app.session, (s) => s);
  const status = useStore(app.notifications.store, (s) => s.status);

  useEffect(() => {
    if (app.session.get()) app.start();
  }, [app]);

  if (!session) {
    return <LoginScreen reason={status.state === 'signed-out' ? status.reason : undefined} />;
  }
  return <Shell />;
}

function Shell() {
  const route = useRoute();
  const app = useApp();
  // A click on a native pop-up or tray entry (desktop) opens that notification.
  useEffect(() => app.platform.desktop?.onOpenRequest((id) => navigate(`/inbox/${id}`)), [app]);
  const unread = useStore(app.notifications.store, (s) => s.unread.total);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread > 99 ? '99+' : unread}) Belfry` : 'Belfry';
  }, [unread]);
  const link = (path: string, label: string, icon: React.ReactNode, active: boolean) => (
    <a
      href={path}
      className={`nav__link${active ? ' is-active' : ''}`}
      aria-current={active ? 'page' : undefined}
      onClick={(e) => {
        e.preventDefault();
        navigate(path);
      }}
    >
      {icon}
      <span className="nav__text">{label}</span>
    </a>
  );
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="brand">
          <span className="brand__mark" aria-hidden="true">
            <BellIcon size={18} />
          </span>
          <span className="brand__name">Belfry</span>
        </div>
        <nav className="nav" aria-label="Main">
          {link('/inbox', 'Inbox', <InboxIcon size={16} />, route.page === 'inbox')}
          {link('/settings', 'Settings', <SettingsIcon size={16} />, route.page === 'settings')}
        </nav>
        <div className="topbar__right">
          <ConnectionIndicator />
          <Bell />
        </div>
      </header>
      <main id="main" className="content" tabIndex={-1}>
        <h1 className="page-title">{route.page === 'settings' ? 'Settings' : 'Inbox'}</h1>
        {route.page === 'settings' ? <SettingsPage /> : <InboxPage selectedId={route.id} />}
      </main>
      <Toaster />
    </div>
  );
}
