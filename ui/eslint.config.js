import { readdirSync } from 'node:fs';
import { URL } from 'node:url';
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Import fences, checked by `no-restricted-imports`. Imports run one way:
// app → features → shared (components, stores, lib, platform); features reach
// the app only through `src/stores/app-context.ts`, never through `app/` or
// another feature; and only `src/platform/` touches Tauri. A file matched by
// several blocks below gets the last block's options, so each block lists
// every fence that applies to its files.

/** An import that climbs (`../`, any depth) into one of the named folders. */
const into = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

const tauri = { group: ['@tauri-apps/*'], message: 'Only src/platform/ may import @tauri-apps/*.' };
const sharedUp = {
  regex: into(['app', 'features']),
  message: 'Shared code (components, stores, lib, platform) never imports app/ or features/: imports run app → features → shared.',
};
const featureUp = {
  regex: into(['app', 'features']),
  message: 'A feature reaches the app only through stores/app-context.ts, never app/ or features/.',
};
const features = readdirSync(new URL('./src/features', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const otherFeatures = (own) => {
  const others = features.filter((f) => f !== own);
  return others.length === 0
    ? []
    : [{ regex: into(others), message: `Features never import each other: move what ${own}/ shares into components/, stores/ or lib/.` }];
};

export default tseslint.config(
  { ignores: ['dist', 'artifacts', 'node_modules'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'react-hooks/set-state-in-effect': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']",
          message: 'Publisher text is rendered as text, never as HTML.',
        },
      ],
    },
  },
  {
    // Only the platform layer may know about Tauri.
    files: ['src/**/*.{ts,tsx}'],
    ignores: ['src/platform/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [tauri] }],
    },
  },
  {
    files: ['src/platform/**/*.{ts,tsx}'],
    rules: { 'no-restricted-imports': ['error', { patterns: [sharedUp] }] },
  },
  {
    files: ['src/{components,lib,stores}/**/*.{ts,tsx}'],
    rules: { 'no-restricted-imports': ['error', { patterns: [tauri, sharedUp] }] },
  },
  ...features.map((f) => ({
    files: [`src/features/${f}/**/*.{ts,tsx}`],
    rules: { 'no-restricted-imports': ['error', { patterns: [tauri, featureUp, ...otherFeatures(f)] }] },
  })),
);
