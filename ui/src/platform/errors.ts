//! Errors the platform reports, classified so screens can explain them.

export type ApiErrorKind =
  | 'invalid_credentials'
  | 'throttled'
  | 'disabled'
  | 'unreachable'
  | 'unauthorized'
  | 'conflict'
  | 'validation'
  | 'not_found'
  | 'server';

export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status = 0,
    readonly code = '',
    readonly field?: string,
    /** Seconds to wait, from Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export async function errorFromResponse(res: Response): Promise<ApiError> {
  let code = '';
  let message = `the server answered ${res.status}`;
  let field: string | undefined;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; field?: string } };
    code = body.error?.code ?? '';
    message = body.error?.message ?? message;
    field = body.error?.field;
  } catch {
    // not a JSON error body
  }
  const retry = Number(res.headers.get('retry-after'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  const kind: ApiErrorKind =
    code === 'invalid_credentials'
      ? 'invalid_credentials'
      : res.status === 429
        ? 'throttled'
        : res.status === 403
          ? 'disabled'
          : res.status === 401
            ? 'unauthorized'
            : res.status === 409
              ? 'conflict'
              : res.status === 422 || res.status === 400
                ? 'validation'
                : res.status === 404
                  ? 'not_found'
                  : 'server';
  return new ApiError(kind, message, res.status, code, field, retryAfter);
}
