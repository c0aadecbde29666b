export * from "./options.js"
export * from "./metrics.js"
export * from "./server.js"
export * from "./status.js"
