export * from "./errors.js"
export * from "./read.js"
export * from "./assertion.js"
