//! Errors the platform reports, classified so screens can explain them.

import type { ErrorKind } from '../lib/types';

/**
 * The shared classification of a failure (Rust's `belfry_proto::ErrorKind`,
 * generated): the desktop app's commands send it as is.
 */
export type ApiErrorKind = ErrorKind;

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

/**
 * The kind of an error answer, from its status and the body's stable `code`:
 * the same table as `ErrorKind::of` in Rust, both tested against
 * `fixtures/error-kinds.json`.
 */
export function errorKind(status: number, code: string | null | undefined): ApiErrorKind {
  if (code === 'invalid_credentials') return 'invalid_credentials';
  switch (status) {
    case 429:
      return 'throttled';
    case 403:
      return 'disabled';
    case 401:
      return 'unauthorized';
    case 409:
      return 'conflict';
    case 400:
    case 422:
      return 'validation';
    case 404:
      return 'not_found';
    default:
      return 'server';
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
  const kind = errorKind(res.status, code);
  return new ApiError(kind, message, res.status, code, field, retryAfter);
}
