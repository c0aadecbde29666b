import type {Permission, Route} from "@careledger/core"
import {RpcErrorCode, RpcServerError} from "./errors.js"
import type {ParamsParser} from "./params.js"

export type {Permission}

const RANK: Record<Permission, number> = {read: 0, submit: 1, admin: 2}

/** True when a caller holding `held` may call a method that needs `needed`. */
export function permits(held: Permission, needed: Permission): boolean {
  return RANK[held] >= RANK[needed]
}

/** What a handler knows about its caller. */
export interface CallContext {
  /** The permission the caller's token carries (admin when auth is off on loopback). */
  permission: Permission
  /** Remote address of the HTTP or WebSocket client. */
  clientAddress: string
}

export interface RpcMethodSpec<P, R> {
  permission: Permission
  handler: (params: P, call: CallContext) => Promise<R> | R
  /** One line for docs and listings. */
  summary: string
}

/** A method with its types erased behind parse-then-handle, so a table can hold many of them. */
export interface RpcMethod {
  readonly permission: Permission
  readonly summary: string
  invoke(params: unknown, call: CallContext): Promise<unknown>
}

/**
 * Declares a method: `parse` checks the raw params first (its result types the handler's input), so
 * a handler never sees unchecked input. The parser comes first so TypeScript infers from it.
 */
export function method<P, R>(parse: ParamsParser<P>, spec: RpcMethodSpec<P, R>): RpcMethod {
  return {
    permission: spec.permission,
    summary: spec.summary,
    async invoke(raw, call) {
      return await spec.handler(parse(raw), call)
    },
  }
}

/**
 * Implements a route declared in core (`coreRoutes`): its parser, permission and summary come from
 * the declaration, and the handler must return the route's result type.
 */
export function serve<P, R>(route: Route<P, R>, handler: (params: P, call: CallContext) => Promise<R> | R): RpcMethod {
  return method(route.params, {permission: route.permission, summary: route.summary, handler})
}

/** One namespace module's methods, keyed by full method name (`chain_head`). */
export type RpcNamespace = Readonly<Record<string, RpcMethod>>

/** The same methods, each waiting for `ready` first: a part still opening its store when calls arrive answers once it is open. */
export function afterReady(ns: RpcNamespace, ready: () => Promise<void>): RpcNamespace {
  const gated: Record<string, RpcMethod> = {}
  for (const [name, m] of Object.entries(ns)) {
    gated[name] = {
      permission: m.permission,
      summary: m.summary,
      invoke: async (params, call) => {
        await ready()
        return m.invoke(params, call)
      },
    }
  }
  return gated
}

/** Joins namespaces into one table, refusing duplicate names so one module cannot shadow another. */
export function joinNamespaces(...namespaces: RpcNamespace[]): Map<string, RpcMethod> {
  const table = new Map<string, RpcMethod>()
  for (const ns of namespaces) {
    for (const [name, m] of Object.entries(ns)) {
      if (table.has(name)) throw new RpcServerError(RpcErrorCode.INTERNAL, `RPC method ${name} is defined twice`, {method: name})
      table.set(name, m)
    }
  }
  return table
}
