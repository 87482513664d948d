// Runs the shared table of error answers, fixtures/error-kinds.json, against
// `errorKind` and `errorFromResponse`; `ErrorKind::of` in Rust runs the same
// table, so the browser and the desktop app explain a failure alike.
import { describe, expect, it } from 'vitest';
import fixture from '../../../fixtures/error-kinds.json';
import type { ErrorKind } from '../lib/types';
import { errorFromResponse, errorKind } from './errors';

interface Case {
  status: number;
  code: string | null;
  kind: ErrorKind;
}

const cases = (fixture as { cases: Case[] }).cases.map((c) => [`${c.status} ${c.code ?? '(no code)'}`, c] as const);

describe('error kinds (fixtures/error-kinds.json)', () => {
  it.each(cases)('%s', (_name, c) => {
    expect(errorKind(c.status, c.code)).toBe(c.kind);
  });

  it.each(cases)('an answer of %s', async (_name, c) => {
    const body = c.code === null ? '' : JSON.stringify({ error: { code: c.code, message: 'no' } });
    const err = await errorFromResponse(new Response(body, { status: c.status }));
    expect([err.kind, err.status]).toEqual([c.kind, c.status]);
  });
});
