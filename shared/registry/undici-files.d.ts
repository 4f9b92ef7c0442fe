// Types for the undici files shared/registry/undici.ts loads one by one (each file's
// module.exports is the class or function of the same name in undici's own types).
declare module 'undici/lib/dispatcher/agent.js' {
  const value: typeof import('undici').Agent;
  export default value;
}
declare module 'undici/lib/dispatcher/pool.js' {
  const value: typeof import('undici').Pool;
  export default value;
}
declare module 'undici/lib/dispatcher/proxy-agent.js' {
  const value: typeof import('undici').ProxyAgent;
  export default value;
}
declare module 'undici/lib/core/connect.js' {
  const value: typeof import('undici').buildConnector;
  export default value;
}
declare module 'undici/lib/dispatcher/dispatcher.js' {
  const value: typeof import('undici').Dispatcher;
  export default value;
}
declare module 'undici/lib/api/index.js' {
  const value: Pick<import('undici').Dispatcher, 'request' | 'stream' | 'pipeline' | 'upgrade' | 'connect'>;
  export default value;
}
