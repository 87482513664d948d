import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/app';
import { createAppModel } from './app/app-model';
import './app/theme.css';
import { createPlatform } from './platform';

const model = createAppModel(createPlatform());
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App model={model} />
    </StrictMode>,
  );
}
