// oidc-provider ships no types (and @types/oidc-provider trails its releases): the tests use a few calls, typed where they are used.
declare module 'oidc-provider' {
  const Provider: new (issuer: string, configuration: Record<string, unknown>) => {
    use(middleware: (ctx: any, next: () => Promise<void>) => Promise<void>): void;
    callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  };
  export default Provider;
}
