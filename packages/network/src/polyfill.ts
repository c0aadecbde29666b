/**
 * libp2p 3 calls `Promise.withResolvers`, which Node only ships from 22; we support Node >= 20.19,
 * so this module fills it in once. `index.ts` imports it before anything that loads libp2p.
 */

interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

declare global {
  interface PromiseConstructor {
    withResolvers<T>(): Resolvers<T>
  }
}

if (typeof (Promise as {withResolvers?: unknown}).withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new this<T>((res, rej) => {
        resolve = res
        reject = rej
      })
      return {promise, resolve, reject}
    },
  })
}

export {}
