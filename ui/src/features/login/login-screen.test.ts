import { describe, expect, it } from 'vitest';
import { ApiError } from '../../platform/errors';
import { loginErrorText } from './login-screen';

describe('login errors', () => {
  it('tell a wrong password, a throttle with its seconds, a disabled account and an unreachable server apart', () => {
    expect(loginErrorText(new ApiError('invalid_credentials', 'x', 401), 0)).toBe('Wrong email or password.');
    expect(loginErrorText(new ApiError('throttled', 'x', 429, '', undefined, 30), 27)).toBe('Too many attempts. Try again in 27 s.');
    expect(loginErrorText(new ApiError('disabled', 'x', 403), 0)).toMatch(/disabled/);
    expect(loginErrorText(new ApiError('unreachable', 'x'), 0)).toMatch(/reach the Belfry server/);
  });
});
