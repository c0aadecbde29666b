/**
 * What the RPC port checks before anything else, so a web page on the node's host cannot use it
 * (after Besu's host allow-list and CORS settings): the `Host` header against an allow-list (a
 * DNS-rebinding page names its own domain there) and a page's `Origin` against the CORS origins.
 */
import type {IncomingHttpHeaders} from "node:http"
import {RpcErrorCode, RpcServerError} from "./errors.js"
import {allowedHostNames, hostName, originName, type RpcServerOptions} from "./options.js"

export class BrowserGuard {
  private readonly hosts: ReadonlySet<string> | "any"
  private readonly origins: ReadonlySet<string> | "any"

  /** `service` names the port in refusals (the FHIR endpoint uses the same checks). */
  constructor(
    options: Pick<RpcServerOptions, "host" | "allowedHosts" | "corsOrigins">,
    private readonly service = "RPC",
  ) {
    this.hosts = allowedHostNames(options)
    this.origins = options.corsOrigins.includes("*") ? "any" : new Set(options.corsOrigins.map(originName))
  }

  /** The refusal (HTTP 403) of a request or upgrade with a foreign Host or Origin, or null. */
  screen(headers: IncomingHttpHeaders): {status: number; error: RpcServerError} | null {
    const host = headers.host
    if (this.hosts !== "any" && (host === undefined || !this.hosts.has(hostName(host)))) {
      return {status: 403, error: new RpcServerError(RpcErrorCode.HOST_NOT_ALLOWED, `host ${JSON.stringify(host ?? "")} is not on this node's ${this.service} host allow-list`)}
    }
    const origin = headers.origin
    if (origin !== undefined && !this.originAllowed(origin)) {
      return {status: 403, error: new RpcServerError(RpcErrorCode.ORIGIN_NOT_ALLOWED, `origin ${JSON.stringify(origin)} is not allowed to call this node`)}
    }
    return null
  }

  /** CORS headers for an allowed cross-origin caller; none at all when no origin is configured. */
  corsHeaders(headers: IncomingHttpHeaders): Record<string, string> {
    const origin = headers.origin
    if (origin === undefined || !this.originAllowed(origin)) return {}
    return {"access-control-allow-origin": origin, vary: "Origin"}
  }

  /** What a preflight from an allowed origin may send: POST with a JSON body and a token. */
  preflightHeaders(headers: IncomingHttpHeaders): Record<string, string> {
    const cors = this.corsHeaders(headers)
    if (Object.keys(cors).length === 0) return {}
    return {...cors, "access-control-allow-methods": "POST", "access-control-allow-headers": "content-type, authorization", "access-control-max-age": "600"}
  }

  private originAllowed(origin: string): boolean {
    return this.origins === "any" || this.origins.has(originName(origin))
  }
}
