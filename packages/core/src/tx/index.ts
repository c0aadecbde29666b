export * from "./types.js"
export * from "./errors.js"
export * from "./transaction.js"
export * from "./payload.js"
