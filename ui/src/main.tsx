import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/app';
import { createAppModel } from './app/app-model';
import './app/theme.css';
import { createPlatform } from './platform';

async function main() {
  const platform = createPlatform();
  await platform.init?.();
  const model = createAppModel(platform);
  const root = document.getElementById('root');
  if (root) {
    createRoot(root).render(
      <StrictMode>
        <App model={model} />
      </StrictMode>,
    );
  }
}

void main();
