export interface MetricsServerOptions {
  /** Bind address; loopback unless the operator exposes it to a Prometheus server. */
  host: string
  /** 0 picks a free port. */
  port: number
}

export const defaultMetricsServerOptions: MetricsServerOptions = {host: "127.0.0.1", port: 9464}
