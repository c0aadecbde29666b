/** A part of the node with the js-libp2p `Startable` shape: start() and stop() are safe to call twice. */
export interface Startable {
  start(): void | Promise<void>
  stop(): void | Promise<void>
}
