export * from './identity';
export * from './lifecycle';
export * from './fleet';
export * from './chat';
export * from './evaluation';
export * from './compliance';
