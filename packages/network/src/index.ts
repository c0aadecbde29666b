// The polyfill must run before anything loads libp2p (Node 20 lacks Promise.withResolvers).
import "./polyfill.js"

export * from "./errors.js"
export * from "./options.js"
export * from "./metrics.js"
export * from "./gater.js"
export * from "./publisher.js"
export * from "./limiter.js"
export * from "./gossip/topics.js"
export * from "./reqresp/protocols.js"
export {type ProtocolLimits} from "./reqresp/framing.js"
export * from "./host.js"
export * from "./sync.js"
