//! The app model, handed down through React context.

import { createContext, useContext } from 'react';
import type { AppModel } from './app-model';

export const AppContext = createContext<AppModel | null>(null);

export function useApp(): AppModel {
  const m = useContext(AppContext);
  if (!m) throw new Error('AppContext missing');
  return m;
}
