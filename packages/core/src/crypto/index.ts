export * from "./hash.js"
export * from "./keys.js"
export * from "./base58.js"
