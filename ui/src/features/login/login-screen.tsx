//! Sign-in with errors an admin can act on: wrong password, server
//! unreachable, throttled (with a live countdown), account disabled.

import { useEffect, useState } from 'react';
import { BellIcon } from '../../components/icons';
import { ServerChoice } from '../../components/server-choice';
import { ApiError } from '../../platform';
import { useApp } from '../../stores/app-context';

export function loginErrorText(e: unknown, secondsLeft: number): string {
  if (e instanceof ApiError) {
    switch (e.kind) {
      case 'invalid_credentials':
        return 'Wrong email or password.';
      case 'throttled':
        return secondsLeft > 0
          ? `Too many attempts. Try again in ${secondsLeft} s.`
          : 'Too many attempts. You can try again now.';
      case 'disabled':
        return 'This account is disabled. Ask another admin to enable it.';
      case 'unreachable':
        return 'Can’t reach the Belfry server. Check that it is running and reachable.';
      default:
        return e.message;
    }
  }
  return 'Sign-in failed. Try again.';
}

export function LoginScreen({ reason }: { reason?: string | undefined }) {
  const app = useApp();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [until, setUntil] = useState(0);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    if (until <= Date.now()) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [until]);

  const secondsLeft = Math.max(0, Math.ceil((until - now) / 1000));

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await app.signIn(email.trim(), password);
    } catch (err) {
      if (err instanceof ApiError && err.kind === 'throttled') {
        setUntil(Date.now() + (err.retryAfter ?? 30) * 1000);
        setNow(Date.now());
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login__card card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <div className="brand brand--large">
          <span className="brand__mark" aria-hidden="true">
            <BellIcon size={22} />
          </span>
          <span className="brand__name">Belfry</span>
        </div>
        <h1 id="login-title" className="login__title">
          Sign in
        </h1>
        <p className="muted">Real-time alerts for {app.platform.serverLabel || 'your store'}.</p>
        {reason && !error && (
          <p className="form-note" role="status">
            {reason}
          </p>
        )}
        <label className="field">
          <span>Email</span>
          <input
            className="input"
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            className="input"
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error !== null && (
          <p className="form-error" role="alert" data-testid="login-error">
            {loginErrorText(error, secondsLeft)}
          </p>
        )}
        <button type="submit" className="btn btn--primary btn--block" disabled={busy || secondsLeft > 0}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {app.platform.desktop && <ServerChoice desktop={app.platform.desktop} serverLabel={app.platform.serverLabel} />}
      </form>
    </main>
  );
}
